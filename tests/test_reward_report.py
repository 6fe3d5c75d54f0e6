"""Reward diagnostics for a user's own data: the library functions and the CLI's report."""
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import efjax
from efjax.data import load_demos, save_demos
from efjax.reward.diagnostics import (FLAT_LEARNED_TERM, DiagnosticsError, demo_windows,
                                      diagnose, learned_term_spread, noise_level_agreement,
                                      perturbation_preference)
from efjax.train import train_and_evaluate
from experiments.configs import demos as demos_config

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def smoke_workdir(tmp_path_factory):
  """A demos.py:smoke model on demos whose actions follow the observations."""
  tmp = tmp_path_factory.mktemp("report")
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(300, 3)).astype(np.float32)
  actions = (np.tanh(obs[:, :2]) + 0.1 * rng.normal(size=(300, 2))).astype(np.float32)
  path = str(tmp / "demos.npz")
  save_demos(path, obs, actions, np.array([100, 200, 300]))
  config = demos_config.get_config("smoke")
  config.data.path = path
  config.train.eval_every = 0
  workdir = str(tmp / "run")
  train_and_evaluate(config, workdir, log=lambda *_: None)
  return workdir, path


def test_diagnostics_on_a_smoke_model(smoke_workdir):
  workdir, path = smoke_workdir
  model = efjax.load(workdir)
  obs, actions = demo_windows(load_demos(path), model, max_windows=64)
  assert obs.shape == (64, 1, 3) and actions.shape == (64, 4, 2)
  pref = perturbation_preference(model, obs, actions, jax.random.key(0), scales=(0.1, 3.0))
  assert [p["scale"] for p in pref] == [0.1, 3.0]
  assert pref[1]["accuracy"] > pref[0]["accuracy"]        # far perturbations are seen more
  agreement = noise_level_agreement(model, obs, actions, jax.random.key(1), levels=(0.1, 0.4))
  np.testing.assert_allclose(np.diag(agreement["pearson"]), 1.0, atol=1e-5)
  result = diagnose(model, obs, actions)
  json.dumps(result)                                       # JSON-able
  assert 0.0 <= result["lines"]["demo_above_random"] <= 1.0
  assert result["reference_rule"]["relative_shift"] >= 0.0   # 8 action dims: 256 GH points
  assert result["learned_term"]["ratio"] > 0.0


def test_a_network_that_ignores_the_action_is_flagged(smoke_workdir):
  """The collapse seen on near-uniform bandit demos: the network's learned term flat in the
  action, the reward the EDM prior alone. Zeroing the first layer's action inputs makes
  exactly that network; the trained one's learned term is orders of magnitude larger."""
  import dataclasses
  workdir, path = smoke_workdir
  model = efjax.load(workdir)
  assert model.config.model.preconditioning == "edm"
  obs, actions = demo_windows(load_demos(path), model, max_windows=32)
  trained = learned_term_spread(model, obs, actions, jax.random.key(0))
  assert trained["ratio"] > 1e-2            # a 40-step smoke model: small, yet not flat
  params = jax.tree_util.tree_map(np.array, model.params)
  first = params["params"]["backbone"]["MLP_0"]["dense_0"]["kernel"]
  first[: actions.shape[1] * actions.shape[2]] = 0.0      # rows of the flattened action chunk
  blind = dataclasses.replace(model, params=params)
  collapsed = learned_term_spread(blind, obs, actions, jax.random.key(0))
  assert collapsed["ratio"] < 1e-4 < FLAT_LEARNED_TERM and collapsed["flat"]
  # ... and every noise level then agrees perfectly, which is why the check is needed
  agreement = noise_level_agreement(blind, obs, actions, jax.random.key(1), levels=(0.1, 0.6))
  np.testing.assert_allclose(agreement["pearson"], 1.0, atol=1e-4)


def test_wrong_sizes_are_refused(smoke_workdir, tmp_path):
  workdir, _ = smoke_workdir
  model = efjax.load(workdir)
  path = str(tmp_path / "other.npz")
  save_demos(path, np.zeros((10, 5)), np.zeros((10, 2)), np.array([10]))
  with pytest.raises(DiagnosticsError, match="observations have 5 dimensions, the model was "
                                             "trained on 3"):
    demo_windows(load_demos(path), model)


def _report(*args):
  return subprocess.run([sys.executable, "-m", "experiments.reward_report", *args], cwd=ROOT,
                        capture_output=True, text=True)


def test_cli_writes_the_report(smoke_workdir, tmp_path):
  workdir, path = smoke_workdir
  out = str(tmp_path / "out")
  proc = _report(f"--workdir={workdir}", f"--demos={path}", f"--out={out}", "--windows=64")
  assert proc.returncode == 0, proc.stderr[-2000:]
  files = set(os.listdir(out))
  assert {"reward_report.md", "reward_report.json", "reward_perturbation.png",
          "reward_lines.png", "reward_noise_levels.png"} <= files
  text = open(os.path.join(out, "reward_report.md")).read()
  assert "## Demo actions over perturbed ones" in text and "## Reference rule" in text
  assert "## Held-out DSM loss over training" in text and "held out no episodes" in text
  assert json.load(open(os.path.join(out, "reward_report.json")))["validation"] is None


def test_a_held_out_loss_that_rises_is_called_overfitting(tmp_path):
  from experiments.reward_report import validation_lines
  from efjax.train.metrics import MetricsWriter, validation_curve
  path = str(tmp_path)
  assert validation_curve(path) is None                           # no metrics at all
  writer = MetricsWriter(str(tmp_path), tensorboard=False)
  writer.write({"step": 100, "loss": 0.7, "eval_loss": 0.60, "eval_split": "train"})
  assert validation_curve(path) is None                           # training episodes only
  for step, loss in ((200, 0.600), (400, 0.580), (600, 0.582), (800, 0.590)):
    writer.write({"step": step, "loss": 0.5, "eval_loss": loss, "eval_split": "val"})
    writer.write({"step": step + 50, "loss": 0.5})                # a log line between
  curve = validation_curve(path)
  assert curve["steps"] == [200, 400, 600, 800] and curve["best_step"] == 400
  assert curve["rise"] == pytest.approx(0.59 / 0.58 - 1) and curve["overfits"]
  text = "\n".join(validation_lines(curve))
  assert "rose after step 400" in text and "--config.train.num_steps=400" in text
  writer.write({"step": 1000, "loss": 0.5, "eval_loss": 0.5801, "eval_split": "val"})
  flat = validation_curve(path)                                   # back near the minimum
  assert flat["best_step"] == 400 and not flat["overfits"]
  assert "rose" not in "\n".join(validation_lines(flat))


@pytest.mark.parametrize("case,match", [
    ("missing", "no such directory"),
    ("bad_npz", "not a readable npz file"),
    ("sizes", "observations have 4 dimensions, the model was trained on 3"),
])
def test_cli_bad_input_is_one_line(smoke_workdir, tmp_path, case, match):
  workdir, _ = smoke_workdir
  args = [f"--workdir={workdir}"]
  if case == "missing":
    args = [f"--workdir={tmp_path / 'nothing'}"]
  elif case == "bad_npz":
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    args.append(f"--demos={bad}")
  else:
    path = str(tmp_path / "wide.npz")
    save_demos(path, np.zeros((10, 4)), np.zeros((10, 2)), np.array([10]))
    args.append(f"--demos={path}")
  proc = _report(*args)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and lines[0].startswith("error:") and match in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr
