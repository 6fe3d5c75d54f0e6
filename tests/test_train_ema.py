"""The EMA horizon tied to the run length, old workdirs' fixed EMA, and the multi-EMA tuner."""
import json
import os

import jax
import ml_collections
import numpy as np
import pytest

import efjax
from efjax.data import save_demos
from efjax.train.ema_set import train_with_ema_set
from efjax.train.step import resumed_ema, run_ema_decay
from efjax.errors import ConfigError
from efjax.train import train_and_evaluate
from experiments.configs import demos as demos_config


def _train(**values):
  return ml_collections.ConfigDict({**dict(num_steps=24_000, ema=None, ema_horizon=0.05),
                                    **values})


def test_ema_decay_follows_the_run_length_unless_set():
  assert run_ema_decay(_train()) == pytest.approx(1 - 1 / 1200)
  assert run_ema_decay(_train(num_steps=100_000)) == pytest.approx(1 - 1 / 5000)
  assert run_ema_decay(_train(num_steps=10)) == 0.0                 # horizon under a step
  t = _train()
  t.ema = 0.9999                                                    # explicit: used as is
  assert run_ema_decay(t) == 0.9999
  old = ml_collections.ConfigDict(dict(num_steps=100, ema=0.999))   # a config.json from before
  assert run_ema_decay(old) == 0.999
  with pytest.raises(ValueError, match="train.ema_horizon must be in"):
    run_ema_decay(_train(ema_horizon=0.0))
  t.ema = 1.0
  with pytest.raises(ValueError, match=r"train.ema must be in \[0, 1\)"):
    run_ema_decay(t)


def test_resumed_ema_keeps_an_old_workdirs_decay():
  assert resumed_ema({"ema": 0.9999}, _train()) == 0.9999           # before ema_horizon
  assert resumed_ema({"ema": None, "ema_horizon": 0.05}, _train()) is None
  explicit = _train()
  explicit.ema = 0.99
  assert resumed_ema({"ema": 0.9999}, explicit) == 0.99             # the user's value wins


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(200, 3)).astype(np.float32)
  actions = np.tanh(obs[:, :2]) + 0.05 * rng.normal(size=(200, 2)).astype(np.float32)
  path = str(tmp_path_factory.mktemp("data") / "demos.npz")
  save_demos(path, obs, actions, np.array([100, 200]))
  return path


def _config(path, ema, num_steps=40):
  c = demos_config.get_config("smoke")
  c.data.path = path
  c.data.action_horizon = 1
  c.train.update(num_steps=num_steps, steps_per_call=10, checkpoint_every=20, log_every=20,
                 eval_every=0, ema_horizon=0.1)
  c.train.ema = ema
  return c


def _ema_leaves(workdir):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(efjax.load(workdir).params)]


def test_a_workdir_from_before_ema_horizon_resumes_with_its_fixed_ema(demo_path, tmp_path):
  straight = str(tmp_path / "straight")
  train_and_evaluate(_config(demo_path, 0.5), straight, log=lambda *_: None)
  old = str(tmp_path / "old")
  train_and_evaluate(_config(demo_path, 0.5, num_steps=20), old, log=lambda *_: None)
  path = os.path.join(old, "config.json")
  written = json.load(open(path))
  del written["train"]["ema_horizon"]                # as written before the key existed
  json.dump(written, open(path, "w"))
  train_and_evaluate(_config(demo_path, None), old, log=lambda *_: None)   # today's default
  for a, b in zip(_ema_leaves(straight), _ema_leaves(old)):
    np.testing.assert_array_equal(a, b)
  assert json.load(open(path))["train"]["ema"] == 0.5
  horizon = str(tmp_path / "horizon")                # the horizon: 1 - 1/4, not 0.5
  train_and_evaluate(_config(demo_path, None), horizon, log=lambda *_: None)
  assert any(not np.array_equal(a, b)
             for a, b in zip(_ema_leaves(straight), _ema_leaves(horizon)))


def test_unset_ema_without_horizon_is_refused(demo_path, tmp_path):
  config = _config(demo_path, None)
  config.train.ema_horizon = -1.0
  with pytest.raises(ConfigError, match="train.ema_horizon must be in"):
    train_and_evaluate(config, str(tmp_path / "run"), log=lambda *_: None)


def test_ema_set_gives_what_the_trainer_gives_for_each_decay(demo_path, tmp_path):
  decays = (0.9, 0.5)
  trained = train_with_ema_set(_config(demo_path, None), decays)
  for decay in decays:
    workdir = str(tmp_path / f"ema{decay}")
    train_and_evaluate(_config(demo_path, decay), workdir, log=lambda *_: None)
    ours = jax.tree_util.tree_leaves(trained["models"][decay].params)
    for a, b in zip(ours, _ema_leaves(workdir)):
      np.testing.assert_allclose(np.asarray(a), b, rtol=1e-6, atol=1e-7)


def test_ema_set_run_cut_short_resumes_to_the_same_models(demo_path, tmp_path):
  """A run stopped mid-way (here: the log raises after a save) and started again on its
  resume_dir ends with exactly the models of an unbroken run; a save of another config is
  discarded."""
  decays = (0.9, 0.5)
  config = _config(demo_path, None)
  straight = train_with_ema_set(config, decays)
  resume_dir = str(tmp_path / "resume")

  class Stop(Exception):
    pass

  def stop_after_a_save(step, loss):
    if os.path.isdir(resume_dir) and any(n.isdigit() for n in os.listdir(resume_dir)):
      raise Stop
  with pytest.raises(Stop):
    train_with_ema_set(config, decays, stop_after_a_save, resume_dir, save_every_s=0.0)
  saved = [int(n) for n in os.listdir(resume_dir) if n.isdigit()]
  assert saved and 0 < saved[0] < config.train.num_steps
  steps = []
  resumed = train_with_ema_set(config, decays, lambda step, _: steps.append(step), resume_dir)
  assert steps[0] > saved[0]                    # went on from the save, not from step 0
  assert resumed["resumed_from_step"] == saved[0] and straight["resumed_from_step"] == 0
  for decay in decays:
    for a, b in zip(jax.tree_util.tree_leaves(straight["models"][decay].params),
                    jax.tree_util.tree_leaves(resumed["models"][decay].params)):
      np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  steps.clear()
  train_with_ema_set(config, (0.8,), lambda step, _: steps.append(step), resume_dir)
  assert steps[0] == steps[1] - steps[0]         # other decays: from step 0
