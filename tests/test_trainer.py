"""experiments.train's library call: metrics, checkpoints, exact resume, refusals, efjax.load."""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import efjax
from efjax.data import save_demos
from efjax.errors import ConfigError
from efjax.train import train_and_evaluate
from experiments.configs import demos as demos_config


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
  rng = np.random.default_rng(0)
  obs = rng.normal(size=(120, 3)).astype(np.float32)
  actions = np.tanh(obs[:, :2]) + 0.05 * rng.normal(size=(120, 2)).astype(np.float32)
  path = str(tmp_path_factory.mktemp("data") / "demos.npz")
  save_demos(path, obs, actions, np.array([50, 120]))
  return path


def _config(path, **train):
  c = demos_config.get_config("smoke")
  c.data.path = path
  c.train.update(num_steps=60, steps_per_call=10, checkpoint_every=20, log_every=20)
  c.train.update(train)
  return c


def _leaves(state):
  return [np.asarray(x) for x in jax.tree_util.tree_leaves(state.params)]


def test_train_writes_metrics_checkpoints_and_loads(demo_path, tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(demo_path), workdir, log=lambda *_: None)
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["step"] for r in records] == [20, 40, 60]
  assert {"step", "loss", "grad_norm", "learning_rate", "skipped_steps",
          "samples_per_s"} <= set(records[0])
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["20", "40", "60"]
  events = os.listdir(os.path.join(workdir, "tensorboard"))
  assert len(events) == 1 and events[0].startswith("events.out.tfevents")
  model = efjax.load(workdir)
  obs = jnp.ones((5, 3))                               # horizon 1: the axis may be left out
  actions = jnp.zeros((5, 4, 2))
  assert model.energy(obs, actions, 0.1).shape == (5,)
  assert model.score(obs, actions, 0.1).shape == (5, 4, 2)
  assert model.sample(obs, jax.random.key(0)).shape == (5, 4, 2)
  assert jnp.array_equal(model.sample(obs, jax.random.key(0)), model.sample(obs, jax.random.key(0)))
  r = jax.jit(lambda o, a: model.reward(o, a))(obs, actions)
  assert r.shape == (5,) and bool(jnp.all(jnp.isfinite(r)))
  with pytest.raises(ValueError, match=r"obs must be \[B, 1, 3\]"):
    model.energy(jnp.ones((5, 4)), actions, 0.1)


def test_resume_is_exact(demo_path, tmp_path):
  straight = train_and_evaluate(_config(demo_path), str(tmp_path / "a"), log=lambda *_: None)

  def crash_at_60(message):
    if message.startswith("step      60"):
      raise KeyboardInterrupt                           # killed before step 60 is saved
  workdir = str(tmp_path / "b")
  with pytest.raises(KeyboardInterrupt):
    train_and_evaluate(_config(demo_path), workdir, log=crash_at_60)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["20", "40"]
  messages = []
  resumed = train_and_evaluate(_config(demo_path), workdir, log=messages.append)
  assert messages[0] == "resumed from step 40"
  for a, b in zip(_leaves(straight), _leaves(resumed)):
    np.testing.assert_array_equal(a, b)


def test_sigkill_at_an_arbitrary_step_then_resume_is_bitwise_exact(demo_path, tmp_path):
  """A real SIGKILL (no handler runs) mid-training; the rerun ends where an uninterrupted run does."""
  args = lambda workdir: [sys.executable, "-m", "experiments.train",  # noqa: E731
                          "--config=experiments/configs/demos.py:smoke",
                          f"--config.data.path={demo_path}", f"--workdir={workdir}",
                          "--config.train.num_steps=6000", "--config.train.checkpoint_every=500",
                          "--config.train.log_every=500", "--config.train.eval_every=0"]
  root = os.path.join(os.path.dirname(__file__), "..")
  straight = subprocess.run(args(tmp_path / "a"), cwd=root, capture_output=True, text=True)
  assert straight.returncode == 0, straight.stderr[-2000:]
  workdir = tmp_path / "b"
  proc = subprocess.Popen(args(workdir), cwd=root, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
  deadline = time.time() + 300
  while time.time() < deadline and proc.poll() is None:
    if os.path.isdir(workdir / "checkpoints") and len(os.listdir(workdir / "checkpoints")) >= 2:
      break
    time.sleep(0.02)
  proc.send_signal(signal.SIGKILL)
  assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
  killed_at = max(int(d) for d in os.listdir(workdir / "checkpoints") if d.isdigit())
  assert killed_at < 6000
  resumed = subprocess.run(args(workdir), cwd=root, capture_output=True, text=True)
  assert resumed.returncode == 0, resumed.stderr[-2000:]
  assert "resumed from step" in resumed.stdout
  a, b = efjax.load(str(tmp_path / "a")), efjax.load(str(workdir))
  for x, y in zip(jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_workdir_from_before_a_new_model_option_resumes_with_its_default(demo_path, tmp_path):
  def config_without_the_option(**train):
    """A run as made before model.preconditioning existed: the model's own default ('none',
    not demos.py's 'edm')."""
    c = _config(demo_path, **train)
    c.model.preconditioning = "none"
    return c
  workdir = str(tmp_path / "run")
  train_and_evaluate(config_without_the_option(num_steps=20), workdir, log=lambda *_: None)
  path = os.path.join(workdir, "config.json")
  old = json.load(open(path))
  del old["model"]["preconditioning"]                 # written before the option existed
  json.dump(old, open(path, "w"))
  log = []
  train_and_evaluate(config_without_the_option(num_steps=40), workdir, log=log.append)
  assert any("resumed from step 20" in line for line in log)
  json.dump(old, open(path, "w"))                     # the run rewrote it: old again
  config = _config(demo_path, num_steps=60)
  config.model.preconditioning = "edm"                # not the default: another model
  with pytest.raises(ConfigError, match="model.preconditioning was 'none', now 'edm'"):
    train_and_evaluate(config, workdir, log=lambda *_: None)


def test_incompatible_workdir_is_refused_and_kept(demo_path, tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(demo_path, num_steps=20), workdir, log=lambda *_: None)
  before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
  config = _config(demo_path)
  config.model.mlp.hidden = (16, 16)
  with pytest.raises(ConfigError, match="incompatible config: model.mlp"):
    train_and_evaluate(config, workdir, log=lambda *_: None)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == before
  assert json.load(open(os.path.join(workdir, "config.json")))["model"]["mlp"]["hidden"] == [64, 64]


@pytest.mark.parametrize("key,value,match", [
    ("train.num_steps", -1, "train.num_steps must be positive"),
    ("train.checkpoint_every", 15, "train.checkpoint_every=15 must be a multiple"),
    ("data.obs_horizon", 0, "data.obs_horizon must be positive"),
    ("train.ema", 1.5, "train.ema must be in"),
    ("train.eval_every", -5, "train.eval_every must be 0 .off. or positive"),
    ("train.steps_per_call", -1, "train.steps_per_call must be 0 .auto. or positive"),
    ("data.val_fraction", 1.0, "data.val_fraction must be in"),
    ("train.param_sharding", "zero3", "train.param_sharding must be one of"),
    ("reward.reference", "grid", "unknown reward.reference 'grid'"),
    ("reward.num_reference", 0, "reward.num_reference must be >= 1"),
    ("reward.t", 2.0, "reward.t must be in"),
])
def test_bad_config_values_name_the_key(demo_path, tmp_path, key, value, match):
  config = _config(demo_path)
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ConfigError, match=match):
    train_and_evaluate(config, str(tmp_path / "run"), log=lambda *_: None)
  assert not os.path.exists(tmp_path / "run")


@pytest.mark.parametrize("checkpoint_every,eval_every", [(30, 0), (7, 25)])
def test_any_interval_works_when_steps_per_call_is_auto(demo_path, tmp_path, checkpoint_every,
                                                        eval_every):
  """Intervals need not share a divisor with an internal speed knob: with steps_per_call
  left at 0 the loop stops at every interval and at num_steps (61: not a multiple)."""
  config = _config(demo_path, eval_every=eval_every)
  config.train.update(steps_per_call=0, num_steps=61, log_every=20,
                      checkpoint_every=checkpoint_every, keep_checkpoints=100)
  workdir = str(tmp_path / "run")
  state = train_and_evaluate(config, workdir, log=lambda *_: None)
  assert int(state.step) == 61
  saved = sorted(int(d) for d in os.listdir(os.path.join(workdir, "checkpoints")) if d.isdigit())
  assert saved == list(range(checkpoint_every, 61, checkpoint_every)) + [61]
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  evals = set(range(eval_every, 61, eval_every)) if eval_every else set()
  assert [r["step"] for r in records] == sorted({20, 40, 60, 61} | evals)
  assert [r["step"] for r in records if "eval_loss" in r] == sorted(evals | ({61} if eval_every else set()))


def test_auto_steps_per_call_divides_every_interval():
  from efjax.train.config import steps_per_call
  config = demos_config.get_config()
  assert config.train.steps_per_call == 0 and steps_per_call(config.train) == 100
  config.train.checkpoint_every = 40
  assert steps_per_call(config.train) == 20
  config.train.update(checkpoint_every=7)
  assert steps_per_call(config.train) == 1
  config.train.steps_per_call = 50     # explicit: used as given (validation checks it)
  assert steps_per_call(config.train) == 50


def test_held_out_episodes_are_evaluated(demo_path, tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(demo_path, eval_every=20), workdir, log=lambda *_: None)
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["eval_split"] for r in records] == ["train"] * 3     # no held-out episodes
  config = _config(demo_path, eval_every=20)
  config.data.val_fraction = 0.5
  workdir = str(tmp_path / "val")
  train_and_evaluate(config, workdir, log=lambda *_: None)
  summary = json.load(open(os.path.join(workdir, "dataset.json")))
  assert (summary["num_episodes"], summary["val_episodes"], summary["num_steps"]) == (1, 1, 50)
  records = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  assert [r["eval_split"] for r in records] == ["val"] * 3
  assert all(np.isfinite(r["eval_loss"]) for r in records)
  config.data.val_fraction = 0.9           # would hold out both episodes
  with pytest.raises(efjax.data.DemoFileError, match="holds out all 2 episodes"):
    train_and_evaluate(config, str(tmp_path / "all"), log=lambda *_: None)


def test_demo_file_of_another_environment_is_refused(demo_path, tmp_path):
  config = _config(demo_path)
  config.data.obs_dim = 39            # what a config made for one environment states
  with pytest.raises(ConfigError, match=r"has obs_dim=3, but the config \(data.obs_dim\) expects 39"):
    train_and_evaluate(config, str(tmp_path / "run"), log=lambda *_: None)
  assert not os.path.exists(tmp_path / "run")


def test_unet_action_horizon_must_fit_its_levels(demo_path, tmp_path):
  config = _config(demo_path)
  config.model.backbone = "unet"
  config.data.action_horizon = 6
  with pytest.raises(ConfigError, match="data.action_horizon=6 must be a multiple of 4") as e:
    train_and_evaluate(config, str(tmp_path / "run"), log=lambda *_: None)
  levels = len(config.model.unet.down_dims)
  dims = tuple(config.model.unet.down_dims)[:2]       # 6 = 2 x 3: two levels fit
  assert f"with {levels} levels: give it at most 2 (e.g. --config.model.unet.down_dims='{dims}')" \
      in str(e.value)


def test_cli_reports_bad_input_in_one_line(tmp_path):
  import subprocess
  import sys
  bad = tmp_path / "bad.npz"
  np.savez(bad, observations=np.zeros((4, 2)), actions=np.full((4, 1), np.nan),
           episode_ends=np.array([4]))
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", "--config=experiments/configs/demos.py:smoke",
       f"--config.data.path={bad}", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, cwd=os.path.join(os.path.dirname(__file__), ".."))
  assert proc.returncode == 2
  errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
  assert errors == [f"error: {bad}: field 'actions': has 4 NaN or inf values (first at row 0)"]
  assert "Traceback" not in proc.stderr


def test_sigterm_saves_and_stops(demo_path, tmp_path):
  import signal
  workdir = str(tmp_path / "run")

  def terminate_at_20(message):
    if message.startswith("step      20"):
      os.kill(os.getpid(), signal.SIGTERM)
  config = _config(demo_path, checkpoint_every=40, log_every=10)
  state = train_and_evaluate(config, workdir, log=terminate_at_20)
  assert int(state.step) == 20
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == ["20"]


def test_corrupt_newest_checkpoint_falls_back_with_a_warning(demo_path, tmp_path):
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(demo_path), workdir, log=lambda *_: None)
  newest = os.path.join(workdir, "checkpoints", "60")
  for root, _, files in os.walk(newest):               # truncate every data file
    for name in files:
      if name != "_CHECKPOINT_METADATA":
        open(os.path.join(root, name), "wb").close()
  messages = []
  state = train_and_evaluate(_config(demo_path, num_steps=80), workdir, log=messages.append)
  assert any("checkpoint 60 does not restore" in m for m in messages)
  assert "resumed from step 40" in messages
  assert int(state.step) == 80
  assert efjax.load(workdir).sample(jnp.ones((2, 3)), jax.random.key(0)).shape == (2, 4, 2)


@pytest.mark.parametrize("override,message", [
    ("--config.train.bogus=3", "names a key the config does not have"),
    ("--config.train.num_steps=abc", "invalid literal for int"),
])
def test_cli_refuses_unknown_keys_and_wrong_types(tmp_path, override, message):
  import subprocess
  import sys
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", "--config=experiments/configs/demos.py:smoke",
       "--config.data.path=unused.npz", f"--workdir={tmp_path / 'run'}", override],
      capture_output=True, text=True, cwd=os.path.join(os.path.dirname(__file__), ".."))
  assert proc.returncode == 2
  assert message in proc.stderr and "Traceback" not in proc.stderr
  assert not os.path.exists(tmp_path / "run")


def test_warm_up_is_steps_when_set_else_a_fraction_of_the_run():
  from efjax.train.config import optim_config
  config = demos_config.get_config()
  config.train.num_steps = 24_000
  config.optim.warmup_steps, config.optim.warmup_fraction = None, 0.1
  assert optim_config(config).warmup_steps == 2_400
  config.optim.warmup_steps = 700                      # steps, when given, win
  assert optim_config(config).warmup_steps == 700
  config.optim.warmup_steps, config.optim.warmup_fraction = None, None
  with pytest.raises(ConfigError, match="optim.warmup_fraction must be in"):
    optim_config(config)
