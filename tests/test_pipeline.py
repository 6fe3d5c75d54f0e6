"""The end-to-end pipeline at smoke size: every stage's outputs, the report, and resume."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
COMMAND = [sys.executable, "-m", "experiments.pipeline",
           "--config=experiments/configs/quickstart.py:smoke"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("pipeline") / "run")
  proc = subprocess.run(COMMAND + [f"--workdir={workdir}"], capture_output=True, text=True,
                        cwd=ROOT, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert proc.stdout.count("== stage") == 9 and "report: " in proc.stdout
  return workdir


def test_every_stage_leaves_its_outputs(workdir):
  for path in ("expert/agent/agent.npz", "demos.npz", "energyflow/checkpoints",
               "energyflow/export/policy.jaxexport", "imitation.json", "reward.json",
               "reward_rl/summary.json", "random.json", "controls/constant_plus/summary.json",
               "controls/random_network/summary.json", "report.md", "learning_curves.png", "returns.png",
               "reward_vs_true.png", "results.json"):
    assert os.path.exists(os.path.join(workdir, path)), path
  results = json.load(open(os.path.join(workdir, "results.json")))
  assert results["demos"]["episodes"] == 4
  assert results["imitation"]["episodes"] == 2 and results["reward_rl"]["eval_episodes_per_seed"] == 2
  assert -1.0 <= results["reward"]["return_spearman"] <= 1.0
  assert 0.0 <= results["reward"]["expert_vs_random_preference"] <= 1.0
  episodes = results["reward"]["episodes"]
  assert len(episodes["true_return"]) == len(episodes["learned_return"]) == 4
  assert set(results["controls"]) == {"constant_plus", "random_network"}
  report = open(os.path.join(workdir, "report.md")).read()
  assert "PPO from scratch on the EnergyFlow reward" in report and "Spearman" in report
  assert "a fixed random network's reward (control)" in report
  assert "| uniform random actions |" in report and "| 0.00 |" in report   # its own 0


def test_rerun_resumes_without_redoing_stages(workdir):
  before = json.load(open(os.path.join(workdir, "results.json")))
  stamp = os.path.getmtime(os.path.join(workdir, "demos.npz"))
  proc = subprocess.run(COMMAND + [f"--workdir={workdir}"], capture_output=True, text=True,
                        cwd=ROOT, timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  after = json.load(open(os.path.join(workdir, "results.json")))
  assert os.path.getmtime(os.path.join(workdir, "demos.npz")) == stamp
  for stage in ("expert", "demos", "imitation", "reward", "reward_rl", "random", "controls"):
    assert after[stage] == before[stage], stage
