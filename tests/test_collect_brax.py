"""experiments.collect_demos on a Brax env: a PPO expert, then its demos in the demo format."""
import json
import os
import subprocess
import sys

import numpy as np

from efjax.data import load_demos

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_brax_expert_demos_are_written_and_valid(tmp_path):
  workdir = tmp_path / "ip"
  proc = subprocess.run([sys.executable, "-m", "experiments.collect_demos",
                         "--config=experiments/configs/brax.py:inverted_pendulum,smoke",
                         f"--workdir={workdir}"], capture_output=True, text=True, cwd=ROOT,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  demos = load_demos(str(workdir / "demos.npz"))
  assert demos.num_episodes == 3 and demos.observations.shape[1] == 4
  assert demos.actions.shape[1] == 1 and np.all(np.abs(demos.actions) <= 1.0)
  summary = json.load(open(workdir / "demos.json"))
  assert np.isclose(float(demos.extra["expert_return"]), summary["return_mean"], rtol=1e-5)
  assert os.path.exists(workdir / "expert" / "agent" / "agent.npz")


def test_unknown_brax_env_lists_the_valid_ones(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "experiments.collect_demos",
                         "--config=experiments/configs/brax.py:pendulum", f"--workdir={tmp_path}"],
                        capture_output=True, text=True, cwd=ROOT)
  assert proc.returncode != 0
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "inverted_pendulum" in lines[0], proc.stderr


def test_ppo_cli_runs_the_seeds_its_docstring_promises(tmp_path):
  # experiments/ppo.py and README document --config.num_seeds=N; the config must have it.
  proc = subprocess.run([sys.executable, "-m", "experiments.ppo",
                         "--config=experiments/configs/ppo.py:inverted_pendulum,smoke",
                         "--config.num_seeds=2", f"--workdir={tmp_path}"],
                        capture_output=True, text=True, cwd=ROOT, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  summary = json.load(open(tmp_path / "summary.json"))
  assert summary["num_seeds"] == 2 and len(summary["eval_return_per_seed"]) == 2
  assert os.path.exists(tmp_path / "agent" / "seed1" / "agent.npz")
