"""Meta-World: envs and experts, demo collection, receding-horizon evaluation, bad input."""
import json
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest

from efjax.data import load_demos, save_demos
from efjax.envs import metaworld_envs as mw
from efjax.policy.lockstep import run_lockstep as evaluate, summarize
from efjax.policy.stats import wilson_interval
from efjax.policy.suites import evaluate_metaworld
from experiments.configs import metaworld as mw_config

ROOT = os.path.join(os.path.dirname(__file__), "..")
TASK = "button-press-v3"


def _run(*args):
  return subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, cwd=ROOT,
                        timeout=900)


def test_unknown_task_lists_valid_names(tmp_path):
  with pytest.raises(mw.TaskError, match="valid: .*button-press-v3.*hammer-v3"):
    mw.make_env("button-pres-v3")
  with pytest.raises(mw.TaskError, match="valid: "):
    mw_config.get_config("hamer")
  proc = _run("experiments.collect_demos", "--config=experiments/configs/metaworld.py:hamer",
              f"--workdir={tmp_path}")
  assert proc.returncode == 2
  assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
  assert "unknown Meta-World task 'hamer-v3'; valid: " in proc.stderr and "hammer-v3" in proc.stderr


def test_config_sizes_match_every_paper_task():
  for task in mw_config.PAPER_TASKS:
    c = mw_config.get_config(task)
    assert mw.env_dims(task) == (c.data.obs_dim, c.data.act_dim)


def test_seeded_reset_is_reproducible_and_ood_is_outside_the_box():
  env = mw.make_env("assembly-v3")
  first, _ = env.reset(seed=5)
  env.reset(seed=6)
  again, _ = env.reset(seed=5)
  np.testing.assert_array_equal(first, again)
  for task in ("assembly-v3", "bin-picking-v3"):     # bin-picking jitters its unused goal
    env, ood = mw.make_env(task), mw.make_env(task, ood_scale=1.5)
    low, high = env.rand_low, env.rand_high
    varied = high - low > 0.02
    for seed in range(20):
      env.reset(seed=seed)
      ood.reset(seed=seed)
      v, w = env.unwrapped._last_rand_vec, ood.unwrapped._last_rand_vec
      assert np.all((v >= low) & (v <= high))
      assert np.any(varied & ((w < low) | (w > high)))        # out in a real range
      assert np.all(np.abs(w - (low + high) / 2) <= (high - low) * 0.75 + 1e-9)  # 1.5x box
      assert np.all(((w >= low) & (w <= high))[~varied])      # jitter stays as it is
  with pytest.raises(mw.TaskError, match="ood_scale"):
    mw.make_env(TASK, ood_scale=0.5)


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
  """3 expert episodes of button-press, collected by the command line."""
  workdir = tmp_path_factory.mktemp("collect")
  proc = _run("experiments.collect_demos",
              f"--config=experiments/configs/metaworld.py:{TASK},smoke",
              f"--workdir={workdir}")
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "expert success 100.0% (3/3 tried), kept 3 episodes" in proc.stdout
  return workdir


def test_collected_demos_validate_and_the_expert_succeeded(demos):
  d = load_demos(str(demos / "demos.npz"))
  assert d.observations.shape[1:] == (39,) and d.actions.shape[1:] == (4,)
  assert d.num_episodes == 3 and d.successes.all() and d.rewards.shape == (d.num_steps,)
  assert np.abs(d.actions).max() <= 1.0                       # clipped to the action space
  np.testing.assert_array_equal(d.extra["episode_seeds"], [0, 1, 2])
  assert str(d.extra["task"]) == TASK
  lengths = np.diff(np.concatenate([[0], d.episode_ends]))
  assert np.all((lengths > 10) & (lengths < 100))             # success + 10 steps, < the limit
  summary = json.load(open(demos / "collect_summary.json"))
  assert summary["expert_success_rate"] == 1.0
  assert (summary["episodes_tried"], summary["episodes_kept"]) == (3, 3)
  assert summary["mean_length_kept"] == pytest.approx(lengths.mean())


def test_demo_file_of_another_size_is_refused(tmp_path):
  path = str(tmp_path / "wrong.npz")
  rng = np.random.default_rng(0)
  save_demos(path, rng.normal(size=(20, 11)), rng.normal(size=(20, 4)), np.array([20]))
  with pytest.raises(mw.TaskError, match=r"wrong.npz: obs_dim=11, but button-press-v3 has "
                                         r"obs_dim=39"):
    mw.check_demo_file(path, TASK)


class _FakeEnv:
  """obs = [seed, t]; succeeds at t == 3 for even seeds; seed 13 raises at t == 2."""
  action_space = gym.spaces.Box(-1.0, 1.0, (1,))

  def reset(self, seed=None):
    self.seed, self.t = seed, 0
    return np.array([seed, 0.0]), {}

  def step(self, action):
    assert np.all(np.abs(action) <= 1.0)
    self.t += 1
    if self.seed == 13 and self.t == 2:
      raise RuntimeError("simulator exploded")
    return (np.array([self.seed, self.t], float), 0.0, False, self.t >= 6,
            {"success": self.seed % 2 == 0 and self.t == 3})


def test_receding_horizon_bookkeeping_and_an_env_that_raises():
  calls = []

  def policy(obs, key):
    calls.append(obs.copy())
    return np.full((obs.shape[0], 4, 1), 5.0)                  # out of range: clipped

  import jax
  results = evaluate(_FakeEnv, policy, seeds=[10, 11, 12, 13, 14], num_envs=2, obs_horizon=2,
                     action_steps=2, key=jax.random.key(0))
  assert all(c.shape == (2, 2, 2) for c in calls)             # fixed batch: one compile
  np.testing.assert_array_equal(calls[0][0], [[10, 0], [10, 0]])   # first frame repeated
  np.testing.assert_array_equal(calls[1][0], [[10, 1], [10, 2]])   # after executing 2
  by_seed = {r.seed: r for r in results}
  assert sorted(by_seed) == [10, 11, 12, 13, 14]
  assert [by_seed[s].success for s in (10, 11, 12, 14)] == [True, False, True, True]
  assert [by_seed[s].length for s in (10, 11, 12, 14)] == [3, 6, 3, 3]
  assert by_seed[13].success is None and "simulator exploded" in by_seed[13].error
  s = summarize(results)
  assert (s["successes"], s["failures"], s["errored"]) == (3, 1, 1)
  assert s["success_rate"] == 0.75 and s["errors"] == [{"seed": 13, "error":
                                                        "RuntimeError: simulator exploded"}]


def test_wilson_interval():
  assert wilson_interval(0, 0) == (0.0, 1.0)
  low, high = wilson_interval(50, 50)
  assert high == 1.0 and low == pytest.approx(0.9287, abs=1e-4)
  low, high = wilson_interval(5, 10)
  assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


@pytest.fixture(scope="module")
def trained(demos, tmp_path_factory):
  """A tiny EnergyFlow model trained for 40 steps on the collected demos."""
  from efjax.train import train_and_evaluate
  config = mw_config.get_config(f"{TASK},smoke")
  config.data.path = str(demos / "demos.npz")
  config.train.update(num_steps=40, checkpoint_every=40, log_every=20, eval_every=0)
  workdir = tmp_path_factory.mktemp("train")
  train_and_evaluate(config, str(workdir), log=lambda *_: None)
  return config, workdir


def test_evaluation_runs_episodes_in_parallel_and_writes_the_result(trained):
  config, workdir = trained
  summary = evaluate_metaworld(config, str(workdir), log=lambda *_: None)
  written = json.load(open(workdir / f"eval_{TASK}.json"))
  assert written == json.loads(json.dumps(summary))
  assert written["episodes"] == 2 and written["errored"] == 0
  assert written["successes"] + written["failures"] == 2
  assert [r["seed"] for r in written["episode_results"]] == [1_000_000, 1_000_001]
  assert all(1 <= r["length"] <= 100 for r in written["episode_results"])
  low, high = written["ci95"]
  assert 0.0 <= low <= written["success_rate"] <= high <= 1.0
  assert written["settings"]["eval"]["num_envs"] == 2 and written["newest_checkpoint"] == 40


def test_evaluation_reports_a_raising_env_with_its_seed(trained):
  config, workdir = trained

  class Raising(gym.Wrapper):
    def reset(self, *, seed=None, options=None):
      self.bad, self.t = seed == 1_000_001, 0
      return self.env.reset(seed=seed)

    def step(self, action):
      self.t += 1
      if self.bad and self.t == 5:
        raise ValueError("mujoco: bad state")
      return self.env.step(action)

  config = mw_config.get_config(f"{TASK},smoke")
  config.env.ood = True
  summary = evaluate_metaworld(config, str(workdir), episodes=3,
                               make_env_fn=lambda: Raising(mw.make_env(TASK, 20, 1.5)),
                               log=lambda *_: None)
  assert (summary["episodes"], summary["errored"]) == (3, 1)
  assert summary["successes"] + summary["failures"] == 2
  assert summary["errors"] == [{"seed": 1_000_001, "error": "ValueError: mujoco: bad state"}]
  assert summary["ood_seed_filter"] == "expert_solves" and summary["ood_seeds_tried"] >= 3
  assert os.path.exists(workdir / f"eval_{TASK}_ood.json")


def test_evaluating_a_model_of_another_size_is_refused(trained, tmp_path):
  _, workdir = trained
  spec = {"path": "other.npz", "obs_dim": 17, "act_dim": 6, "num_steps": 1, "num_episodes": 1}
  (tmp_path / "dataset.json").write_text(json.dumps(spec))
  (tmp_path / "config.json").write_text((workdir / "config.json").read_text())
  proc = _run("experiments.evaluate", f"--config=experiments/configs/metaworld.py:{TASK},smoke",
              f"--workdir={tmp_path}")
  assert proc.returncode == 2
  assert proc.stderr.strip().splitlines() == [
      f"error: {tmp_path}: trained on other.npz: obs_dim=17, but {TASK} has obs_dim=39 "
      "(obs 39, actions 4): demonstrations of another task?"]


def test_action_error_compares_sampled_chunks_with_the_demos(trained, demos):
  from experiments.metaworld_diagnosis import action_error
  config, workdir = trained
  path = str(demos / "demos.npz")
  err = action_error(str(workdir), path, windows=16)
  d = load_demos(path)
  assert np.allclose(err["demo_mean_abs"], np.abs(d.actions).mean(0), atol=1e-4)
  for key in ("median", "mean"):
    assert len(err[key]) == 4 and all(np.isfinite(err[key])) and min(err[key]) >= 0
  assert action_error(str(workdir), path, windows=16) == err      # seeded: the same windows
