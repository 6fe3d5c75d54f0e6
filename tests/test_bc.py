"""Gaussian MLP behaviour cloning: the NLL falls, sample shapes and units, exact resume."""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import efjax
from efjax import bc
from efjax.train import train_and_evaluate
from efjax.data import save_demos
from experiments.configs import demos as demos_config

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
  """8 episodes of 25 steps; action = a fixed linear map of the observation + 0.05 noise."""
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(200, 5)).astype(np.float32)
  actions = 3.0 + obs[:, :2] @ np.array([[1.0, -0.5], [0.5, 2.0]], np.float32)
  actions += 0.05 * rng.normal(size=actions.shape).astype(np.float32)
  path = str(tmp_path_factory.mktemp("demos") / "demos.npz")
  save_demos(path, obs, actions, np.arange(25, 201, 25))
  return path


def _config(path, num_steps=200):
  c = demos_config.get_config("smoke")
  c.data.path = path
  c.data.obs_horizon, c.data.action_horizon = 2, 3
  c.bc = bc.default_bc_config()
  c.bc.hidden = (32, 32)
  c.train.update(num_steps=num_steps, steps_per_call=20, log_every=20, checkpoint_every=100)
  return c


def _losses(workdir):
  return [json.loads(line)["loss"] for line in open(os.path.join(workdir, "metrics.jsonl"))]


def test_nll_decreases_and_sample_is_the_mean_in_demo_units(demo_path, tmp_path):
  train_and_evaluate(_config(demo_path), str(tmp_path), log=lambda *_: None, method="bc")
  losses = _losses(tmp_path)
  assert len(losses) == 10 and losses[-1] < losses[0] - 0.5, losses
  model = bc.load(str(tmp_path))
  obs = jnp.asarray(np.random.default_rng(1).normal(size=(6, 2, 5)), jnp.float32)
  a = model.sample(obs, jax.random.key(0))
  mean, std = model.distribution(obs)
  assert a.shape == mean.shape == std.shape == (6, 3, 2)
  np.testing.assert_array_equal(a, model.sample(obs, jax.random.key(1)))   # the mean
  np.testing.assert_array_equal(a, mean)
  assert bool(jnp.all(std > 0))
  # demo units: the actions are centred on 3, far from the normalized 0
  assert abs(float(a.mean()) - 3.0) < 1.0
  with pytest.raises(ValueError, match=r"obs must be \[B, 2, 5\]"):
    model.sample(obs[:, :1], jax.random.key(0))
  assert isinstance(efjax.load(str(tmp_path)), bc.BCModel)    # efjax.load knows a BC workdir
  # jit over the params works as efjax.policy.suites uses it
  import dataclasses
  f = jax.jit(lambda p, o: dataclasses.replace(model, params=p).sample(o, jax.random.key(0)))
  np.testing.assert_allclose(f(model.params, obs), a, rtol=1e-5, atol=1e-5)


def test_resume_continues_exactly(demo_path, tmp_path):
  full, cut = str(tmp_path / "full"), str(tmp_path / "cut")
  train_and_evaluate(_config(demo_path), full, log=lambda *_: None, method="bc")

  def stop_after_a_checkpoint(msg):
    if "step     120/" in msg:
      raise KeyboardInterrupt           # as a killed run: step 100 is on disk
  with pytest.raises(KeyboardInterrupt):
    train_and_evaluate(_config(demo_path), cut, log=stop_after_a_checkpoint, method="bc")
  logs = []
  train_and_evaluate(_config(demo_path), cut, log=logs.append, method="bc")
  assert logs[0] == "resumed from step 100"
  a, b = bc.load(full), bc.load(cut)
  for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
    np.testing.assert_array_equal(x, y)
  assert _losses(cut)[-1] == _losses(full)[-1]


def test_cli_refuses_a_bad_demo_file_in_one_line(tmp_path):
  bad = tmp_path / "bad.npz"
  np.savez(bad, observations=np.zeros((3, 2)))
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train_bc", "--config=experiments/configs/demos.py:smoke",
       f"--config.data.path={bad}", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert proc.returncode == 2
  assert len(proc.stderr.strip().splitlines()) == 1 and "actions" in proc.stderr, proc.stderr
