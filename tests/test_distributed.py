"""Two local processes joined with jax.distributed train a few steps and checkpoint."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

import efjax
from efjax.data import save_demos

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _train_args(demos, workdir):
  return ["-m", "experiments.train", "--config=experiments/configs/demos.py:smoke",
          f"--config.data.path={demos}", f"--workdir={workdir}", "--config.train.num_steps=40",
          "--config.train.checkpoint_every=20", "--config.train.log_every=20"]


def test_two_processes_train_and_checkpoint(tmp_path):
  rng = np.random.default_rng(0)
  demos = str(tmp_path / "demos.npz")
  save_demos(demos, rng.normal(size=(80, 3)), rng.normal(size=(80, 2)), np.array([40, 80]))
  workdir = tmp_path / "run"
  proc = subprocess.run([sys.executable, "-m", "launch.local", "--num_processes=2", "--"]
                        + _train_args(demos, workdir), capture_output=True, text=True, cwd=ROOT,
                        timeout=600)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert sorted(os.listdir(workdir / "checkpoints")) == ["20", "40"]
  records = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
  assert [r["step"] for r in records] == [20, 40]             # written once, by process 0
  model = efjax.load(str(workdir))
  assert model.sample(jnp.ones((2, 3)), jax.random.key(0)).shape == (2, 4, 2)


def test_dry_run_prints_one_command_per_process():
  proc = subprocess.run([sys.executable, "-m", "launch.local", "--num_processes=3", "--dry_run",
                         "--", "-m", "experiments.train", "--workdir=/tmp/x"],
                        capture_output=True, text=True, cwd=ROOT)
  lines = proc.stdout.strip().splitlines()
  assert proc.returncode == 0 and len(lines) == 3
  assert all("EFJAX_NUM_PROCESSES=3" in l and "-m experiments.train --workdir=/tmp/x" in l
             for l in lines)
  assert [f"EFJAX_PROCESS_ID={i}" in lines[i] for i in range(3)] == [True] * 3
