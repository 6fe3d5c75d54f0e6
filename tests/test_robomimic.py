"""robomimic: HDF5 reading on small synthetic files written in the official layout, the
task configs, training from HDF5, and evaluation through a fake robosuite."""
import json
import os
import subprocess
import sys
import types

import h5py
import ml_collections
import numpy as np
import pytest

from efjax.data import DemoFileError, load_training_demos, save_demos
from efjax.data.robomimic import load_robomimic
from efjax.envs import robomimic_envs
from efjax.policy.suites import evaluate_robomimic
from efjax.errors import ConfigError
from experiments.configs import robomimic as rm_config

ROOT = os.path.join(os.path.dirname(__file__), "..")
KEYS = ("object", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")
DIMS = (10, 3, 4, 2)           # lift's widths: obs_dim 19
LIFT_ENV_ARGS = {"env_name": "Lift", "type": 1, "env_kwargs": {
    "robots": ["Panda"], "has_renderer": True, "has_offscreen_renderer": True,
    "use_camera_obs": True, "reward_shaping": True, "control_freq": 20,
    "controller_configs": {"type": "OSC_POSE", "input_max": 1, "input_min": -1}}}


def _write(path, lengths=(5, 3, 4), dims=DIMS, env_args=None):
  rng = np.random.default_rng(0)
  with h5py.File(path, "w") as f:
    data = f.create_group("data")
    data.attrs["env_args"] = json.dumps(env_args or {"env_name": "Lift", "type": 1,
                                                     "env_kwargs": {}})
    for i, n in enumerate(lengths):
      demo = data.create_group(f"demo_{i}")
      demo.attrs["num_samples"] = n
      for key, d in zip(KEYS, dims):
        demo.create_dataset(f"obs/{key}", data=rng.normal(size=(n, d)))
      demo.create_dataset("actions", data=np.full((n, 7), float(i)))
      demo.create_dataset("rewards", data=np.zeros(n))
    mask = f.create_group("mask")
    mask.create_dataset("train", data=np.array([b"demo_0", b"demo_2"]))
    mask.create_dataset("valid", data=np.array([b"demo_1"]))


def test_reads_official_layout_with_filter_keys(tmp_path):
  path = str(tmp_path / "low_dim.hdf5")
  _write(path)
  demos = load_robomimic(path)
  assert demos.observations.shape == (12, sum(DIMS)) and demos.actions.shape == (12, 7)
  assert demos.episode_ends.tolist() == [5, 8, 12]
  assert demos.extra["env_args"]["env_name"] == "Lift"
  train = load_robomimic(path, filter_key="train")
  assert train.episode_ends.tolist() == [5, 9]
  assert np.unique(train.actions).tolist() == [0.0, 2.0]


def test_errors_name_what_is_missing(tmp_path):
  path = str(tmp_path / "low_dim.hdf5")
  _write(path)
  with pytest.raises(DemoFileError, match=r"mask/test'.*available: \['train', 'valid'\]"):
    load_robomimic(path, filter_key="test")
  with pytest.raises(DemoFileError, match="obs/robot1_eef_pos': missing"):
    load_robomimic(path, obs_keys=("object", "robot1_eef_pos"))
  with pytest.raises(DemoFileError, match="no such file.*BUILD.md"):
    load_robomimic(str(tmp_path / "can_ph.hdf5"))


def _run(*args, env=None):
  return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT,
                        timeout=900, env={**os.environ, **(env or {})})


def test_config_of_every_task_builds(monkeypatch):
  monkeypatch.setenv("EFJAX_ROBOMIMIC_DIR", "/data/rm")
  paper = {"lift": 100.0, "can": 100.0, "square": 95.3, "transport": 89.4, "tool_hang": 84.2}
  horizon = {"lift": 400, "can": 400, "square": 400, "transport": 700, "tool_hang": 700}
  for task in rm_config.TASKS:
    for variant in ("", ",cpu", ",smoke"):
      c = rm_config.get_config(task + variant)
      assert c.data.format == "robomimic" and c.data.filter_key == ""
      assert c.data.path == f"/data/rm/{task}/ph/low_dim_v141.hdf5"
      assert c.env.task == task and c.paper_success_rate == paper[task]
      assert c.data.obs_keys[:4] == KEYS
    c = rm_config.get_config(task)
    assert (c.eval.num_episodes, c.eval.action_steps, c.data.action_horizon) == (50, 8, 16)
    assert c.eval.max_steps == horizon[task]
  t = rm_config.get_config("transport")
  assert t.data.obs_keys[4:] == ("robot1_eef_pos", "robot1_eef_quat", "robot1_gripper_qpos")
  assert (t.data.obs_dim, t.data.act_dim) == (59, 14)
  cpu = rm_config.get_config("square,cpu")
  assert (cpu.model.backbone, cpu.model.preconditioning, cpu.data.obs_normalizer,
          cpu.train.num_steps) == ("mlp", "edm", "zscore", 50_000)
  monkeypatch.delenv("EFJAX_ROBOMIMIC_DIR")
  assert rm_config.get_config("can").data.path == os.path.expanduser(
      "~/robomimic_data/can/ph/low_dim_v141.hdf5")


def test_unknown_task_lists_the_valid_ones():
  with pytest.raises(ValueError, match="unknown robomimic task 'lfit'; valid: lift, can, "
                                       "square, transport, tool_hang"):
    rm_config.get_config("lfit,cpu")
  with pytest.raises(ValueError, match="unknown variant 'gpu'"):
    rm_config.get_config("lift,gpu")


def test_a_missing_file_is_one_line_saying_where_it_comes_from(tmp_path):
  proc = _run("-m", "experiments.train", "--config=experiments/configs/robomimic.py:can,smoke",
              f"--workdir={tmp_path / 'run'}", env={"EFJAX_ROBOMIMIC_DIR": str(tmp_path)})
  assert proc.returncode != 0
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
  line = lines[0]
  assert line.startswith(f"error: {tmp_path}/can/ph/low_dim_v141.hdf5: no such file; ")
  for part in ("robomimic task 'can'", "robomimic v0.1 dataset release",
               "python -m robomimic.scripts.download_datasets --tasks can --dataset_types ph "
               "--hdf5_types low_dim",
               "http://downloads.cs.stanford.edu/downloads/rt_benchmark/can/ph/low_dim_v141.hdf5",
               "$EFJAX_ROBOMIMIC_DIR"):
    assert part in line, line


def test_data_format_picks_the_reader(tmp_path):
  npz, hdf5 = str(tmp_path / "d.npz"), str(tmp_path / "d.hdf5")
  save_demos(npz, np.zeros((6, 3)), np.zeros((6, 2)), np.array([6]))
  _write(hdf5)
  assert load_training_demos(ml_collections.ConfigDict({"path": npz})).actions.shape == (6, 2)
  c = rm_config.get_config("lift,smoke").data
  c.path = hdf5
  assert load_training_demos(c).observations.shape == (12, 19)
  c.filter_key = "valid"
  assert load_training_demos(c).episode_ends.tolist() == [3]
  c.format = "zarr"
  with pytest.raises(ConfigError, match="data.format='zarr' is not one of"):
    load_training_demos(c)


def test_a_file_of_another_task_is_refused(tmp_path):
  path = str(tmp_path / "low_dim_v141.hdf5")
  _write(path, dims=(14, 3, 4, 2))                   # can's object: 23 columns
  config = rm_config.get_config("lift,smoke").data
  config.path = path
  with pytest.raises(DemoFileError, match=r"keys of data.obs_keys are 23 columns wide \(object "
                                          r"14, robot0_eef_pos 3, robot0_eef_quat 4, "
                                          r"robot0_gripper_qpos 2\), but the config "
                                          r"\(data.obs_dim\) expects 19 for robomimic task "
                                          r"'lift': a file of another task\?"):
    load_training_demos(config, "lift")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  """The lift smoke config trained for 20 steps on a synthetic official-layout file."""
  from efjax.train import train_and_evaluate
  root = tmp_path_factory.mktemp("rm")
  path = str(root / "low_dim_v141.hdf5")
  _write(path, lengths=(30, 25, 20), env_args=LIFT_ENV_ARGS)
  config = rm_config.get_config("lift,smoke")
  config.data.path = path
  config.train.update(num_steps=20, checkpoint_every=20, log_every=20, eval_every=0)
  workdir = root / "run"
  train_and_evaluate(config, str(workdir), log=lambda *_: None)
  return config, workdir


def test_training_from_hdf5_then_efjax_load(trained):
  import jax
  import efjax
  config, workdir = trained
  model = efjax.load(str(workdir))
  assert (model.obs_dim, model.act_dim) == (19, 7)
  assert model.config.data.format == "robomimic" and model.config.env.task == "lift"
  actions = model.sample(np.zeros((3, 2, 19), np.float32), jax.random.key(0))
  assert actions.shape == (3, 4, 7) and np.all(np.isfinite(actions))
  spec = json.load(open(workdir / "dataset.json"))
  assert (spec["num_episodes"], spec["num_steps"]) == (3, 75)


class _FakeSuiteEnv:
  """robosuite's API as evaluation uses it. The episode's seed is recovered from the first
  draw of numpy's global generator (robosuite's placement samplers draw from it).
  Seed offset 0 succeeds after 3 steps, 1 never does, 2 raises at its second step."""
  made = []

  def __init__(self, env_name, **kwargs):
    self.env_name, self.kwargs, self.closed = env_name, kwargs, False
    self.action_spec = (-np.ones(7), np.ones(7))
    _FakeSuiteEnv.made.append(self)

  def _obs(self):
    return {"robot0_gripper_qpos": np.full(2, 3.0), "robot0_eef_quat": np.full(4, 2.0),
            "robot0_eef_pos": np.full(3, 1.0), "object-state": np.full(10, float(self.t)),
            "robot0_joint_pos": np.zeros(7)}

  def reset(self):
    draw = np.random.uniform()
    self.seed = {np.random.RandomState(s).uniform(): s for s in range(100_000, 100_010)}[draw]
    self.t = 0
    return self._obs()

  def step(self, action):
    assert action.shape == (7,) and np.all(np.abs(action) <= 1.0)
    self.t += 1
    if self.seed == 100_002 and self.t == 2:
      raise RuntimeError("mujoco: bad state")
    return self._obs(), 0.0, False, {}

  def _check_success(self):
    return self.seed == 100_000 and self.t >= 3

  def close(self):
    self.closed = True


@pytest.fixture
def fake_robosuite(monkeypatch):
  """A robosuite 1.5 module: make() builds _FakeSuiteEnv; the composite-controller
  factory records what it was asked to convert."""
  fake = types.ModuleType("robosuite")
  fake.__version__ = "1.5.1"
  fake.make = lambda env_name, **kwargs: _FakeSuiteEnv(env_name, **kwargs)
  factory = types.ModuleType("robosuite.controllers.composite.composite_controller_factory")
  factory.refactor_composite_controller_config = lambda cfg, robot, arms: {
      "type": "BASIC", "body_parts": {arm: cfg for arm in arms}, "robot": robot}
  monkeypatch.setitem(sys.modules, "robosuite", fake)
  monkeypatch.setitem(sys.modules, "robosuite.controllers", types.ModuleType("c"))
  monkeypatch.setitem(sys.modules, "robosuite.controllers.composite", types.ModuleType("cc"))
  monkeypatch.setitem(sys.modules, factory.__name__, factory)
  _FakeSuiteEnv.made.clear()
  return fake


def test_env_from_file_metadata_assembles_obs_in_key_order(fake_robosuite):
  env = robomimic_envs.make_env(LIFT_ENV_ARGS, KEYS, max_steps=2)
  kwargs = _FakeSuiteEnv.made[-1].kwargs
  assert _FakeSuiteEnv.made[-1].env_name == "Lift"
  assert not any(kwargs[k] for k in ("has_renderer", "has_offscreen_renderer",
                                     "use_camera_obs", "reward_shaping"))
  assert kwargs["controller_configs"] == {"type": "BASIC", "robot": "Panda", "body_parts": {
      "right": LIFT_ENV_ARGS["env_kwargs"]["controller_configs"]}}
  obs, _ = env.reset(seed=100_001)
  np.testing.assert_array_equal(obs, [0.0] * 10 + [1.0] * 3 + [2.0] * 4 + [3.0] * 2)
  obs, _, terminated, truncated, info = env.step(np.zeros(7))
  assert obs[0] == 1.0 and not terminated and not truncated and info["success"] is False
  assert env.step(np.zeros(7))[3]                       # truncated at max_steps
  with pytest.raises(KeyError, match="'robot1_eef_pos'"):
    robomimic_envs.make_env(LIFT_ENV_ARGS, KEYS + ("robot1_eef_pos",), 2).reset(seed=100_000)


def test_robosuite_evaluation_counts_successes_and_records_the_raising_episode(
    trained, fake_robosuite):
  config, workdir = trained
  logs = []
  summary = evaluate_robomimic(config, str(workdir), episodes=3, log=logs.append)
  assert (summary["episodes"], summary["successes"], summary["failures"],
          summary["errored"]) == (3, 1, 1, 1)
  assert summary["errors"] == [{"seed": 100_002, "error": "RuntimeError: mujoco: bad state"}]
  by_seed = {r["seed"]: r for r in summary["episode_results"]}
  assert (by_seed[100_000]["success"], by_seed[100_000]["length"]) == (True, 3)
  assert (by_seed[100_001]["success"], by_seed[100_001]["length"]) == (False, 20)
  assert by_seed[100_002]["success"] is None
  assert summary["success_rate"] == 0.5 and summary["paper_success_rate"] == 100.0
  written = json.load(open(workdir / "eval_lift.json"))
  assert written == json.loads(json.dumps(summary))
  assert written["task"] == "lift" and written["settings"]["eval"]["max_steps"] == 20
  assert all(env.closed for env in _FakeSuiteEnv.made)


def test_evaluating_another_tasks_model_is_refused(trained, fake_robosuite):
  _, workdir = trained
  with pytest.raises(robomimic_envs.RobomimicError, match=r"obs_dim=19, act_dim=7, but robomimic "
                                                          r"task 'can' has obs_dim=23, act_dim=7"):
    evaluate_robomimic(rm_config.get_config("can,smoke"), str(workdir), log=lambda *_: None)
  with pytest.raises(robomimic_envs.RobomimicError, match="trained on lift, asked to evaluate "
                                                          "on square"):
    config = rm_config.get_config("square,smoke")
    config.data.obs_dim = 19        # same sizes: the task names differ
    evaluate_robomimic(config, str(workdir), log=lambda *_: None)


def test_without_robosuite_evaluate_says_how_to_install(tmp_path):
  # robosuite is blocked in the child (None in sys.modules), installed here or not.
  code = ("import runpy, sys; sys.modules['robosuite'] = None; "
          "sys.argv = ['evaluate', '--config=experiments/configs/robomimic.py:lift,smoke', "
          f"'--workdir={tmp_path}']; runpy.run_module('experiments.evaluate', "
          "run_name='__main__')")
  proc = _run("-c", code)
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      "error: robosuite is not installed: pip install 'efjax[robomimic]' (robosuite 1.5)"]


def test_reset_seed_also_reseeds_robosuite_15s_shared_generator(fake_robosuite):
  """robosuite 1.5 draws starts from env.rng (one Generator its placement samplers hold):
  reset(seed) must reset that very object, not replace it."""
  env = robomimic_envs.make_env(LIFT_ENV_ARGS, KEYS, max_steps=2)
  shared = np.random.default_rng(123)
  env.env.rng = shared
  env.reset(seed=100_000)
  first = shared.uniform(size=3)
  env.reset(seed=100_001)
  other = shared.uniform(size=3)
  env.reset(seed=100_000)
  assert env.env.rng is shared
  np.testing.assert_array_equal(shared.uniform(size=3), first)
  assert not np.allclose(first, other)
