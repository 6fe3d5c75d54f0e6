"""Meta-World v3 tasks as goal-observable single-task (MT1) gymnasium envs, and their experts.

    env = make_env("button-press-v3", max_path_length=500)
    obs, info = env.reset(seed=7)          # obs [39] float64; seed 7 fixes the positions
    obs, reward, terminated, truncated, info = env.step(action)   # action [4] in [-1, 1]
    info["success"]                        # Meta-World's success flag for this step
    expert = make_expert("button-press-v3")
    action = expert(obs)                   # [4], clipped to env.action_space

MT1 draws a task's object/goal positions (Meta-World's `rand_vec`) uniformly from the
env's `_random_reset_space`; here `reset(seed=s)` reseeds the env's own generator and
draws them the same way, so an episode's start depends on its seed alone (not on how
many episodes came before, or which env of a batch ran it). MT1's 50 fixed tasks are
draws from the same box; drawing per seed avoids its pickled task objects.

Out of distribution (`ood_scale` > 1): the box is widened about its centre by that
factor and a draw is kept only if at least one coordinate lies outside the original
box, so every OOD start is outside the demonstrations' range. Coordinates Meta-World
does not randomize (jittered by under 2 cm, e.g. drawer-open's y, and the hand's start
position, which is fixed for every task) stay fixed: no demonstration ever varied
them, so there is no range to step out of, and moving them would also move a task's
fixed geometry.
"""
import json
import os
import time
import warnings

import gymnasium as gym
import numpy as np

from efjax import errors
from efjax.data import load_demos, save_demos

_OOD_MAX_DRAWS = 10_000
# Meta-World jitters coordinates it means to hold fixed by 0.2 mm to 1 cm; every real
# range (across all 50 v3 tasks) is at least 4 cm wide.
_MIN_WIDTH = 0.02          # metres
DEMOS_FILE, SUMMARY_FILE = "demos.npz", "collect_summary.json"


class TaskError(errors.TaskError):
  """An unknown task name or an impossible env setting; the message lists what is valid."""


def task_names() -> list[str]:
  """Every Meta-World v3 task, e.g. 'button-press-v3'."""
  from metaworld.env_dict import ALL_V3_ENVIRONMENTS
  return sorted(ALL_V3_ENVIRONMENTS)


def check_task(task: str) -> None:
  """Raises TaskError naming the valid tasks when `task` is not one."""
  names = task_names()
  if task not in names:
    raise TaskError(f"unknown Meta-World task {task!r}; valid: {', '.join(names)}")


def _varied(low: np.ndarray, high: np.ndarray) -> np.ndarray:
  """Coordinates the task really randomizes: wider than 2 cm (bin-picking's unused goal
  box is 2 mm wide; stepping 0.5 mm out of it would be no OOD start)."""
  return high - low > _MIN_WIDTH


def _draw_ood(rng: np.random.Generator, low: np.ndarray, high: np.ndarray,
              scale: float) -> np.ndarray:
  """A rand_vec in the box widened by `scale` about its centre (varied coordinates only),
  outside [low, high] in at least one varied coordinate."""
  varied = _varied(low, high)
  centre, half = (low + high) / 2, np.where(varied, (high - low) / 2 * scale, (high - low) / 2)
  for _ in range(_OOD_MAX_DRAWS):
    v = rng.uniform(centre - half, centre + half)
    if np.any(varied & ((v < low) | (v > high))):
      return v
  raise RuntimeError("no out-of-range draw found")   # unreachable for scale > 1


class MetaWorldEnv(gym.Wrapper):
  """Seeded resets (`reset(seed=s)` fixes the positions), optional OOD starts, upright frames."""

  def __init__(self, env, ood_scale: float = 1.0):
    super().__init__(env)
    self.ood_scale = float(ood_scale)
    space = env.unwrapped._random_reset_space
    self.rand_low, self.rand_high = np.asarray(space.low), np.asarray(space.high)
    if self.ood_scale > 1.0:
      if not np.any(_varied(self.rand_low, self.rand_high)):
        raise TaskError(f"{env.unwrapped.__class__.__name__} randomizes no position: "
                        "there is no out-of-distribution start (set env.ood=False)")
      base = env.unwrapped
      # Instance attribute shadows the method; reset_model calls it (some tasks redraw
      # in a loop until positions are far enough apart, so each call draws afresh).
      base._get_state_rand_vec = lambda: self._ood_rand_vec(base)

  def _ood_rand_vec(self, base) -> np.ndarray:
    v = _draw_ood(base.np_random, self.rand_low, self.rand_high, self.ood_scale)
    base._last_rand_vec = v
    return v

  def reset(self, *, seed: int | None = None, options=None):
    if seed is not None:
      self.env.unwrapped.seed(int(seed))    # Meta-World ignores reset(seed=...)
    return self.env.reset()

  def render(self):
    frame = self.env.render()
    return None if frame is None else np.ascontiguousarray(frame[::-1])  # MuJoCo rows are bottom-up

  @property
  def unstable(self) -> bool:
    """True once MuJoCo went unstable this episode (Meta-World then repeats the last obs)."""
    return bool(self.env.unwrapped._did_see_sim_exception)


def make_env(task: str, max_path_length: int = 500, ood_scale: float = 1.0,
             render_mode: str | None = None, camera_name: str = "corner",
             size: int = 224) -> MetaWorldEnv:
  """A goal-observable env of `task` (obs [39], action [4] in [-1, 1]).

  `max_path_length` steps end an episode with truncated=True (Meta-World's own limit,
  500 in v3). `ood_scale` > 1 starts episodes outside the randomization box (module
  docstring). `render_mode='rgb_array'` renders `size` x `size` frames from `camera_name`.
  """
  check_task(task)
  if max_path_length < 1:
    raise TaskError(f"max_path_length must be positive, got {max_path_length}")
  if ood_scale < 1.0:
    raise TaskError(f"ood_scale must be >= 1 (1 = the demonstrations' range), got {ood_scale}")
  from metaworld.env_dict import ALL_V3_ENVIRONMENTS
  kwargs = {}
  if render_mode is not None:
    kwargs = dict(render_mode=render_mode, camera_name=camera_name, width=size, height=size)
  env = ALL_V3_ENVIRONMENTS[task](**kwargs)
  # What MT1 / the goal-observable classes set: goal in the observation, positions
  # drawn from the env's seeded generator at each reset, task marked as set.
  env._partially_observable = False
  env._freeze_rand_vec = False
  env.seeded_rand_vec = True
  env._set_task_called = True
  del env.sawyer_observation_space       # cached property: recompute with the goal in it
  env.max_path_length = int(max_path_length)
  return MetaWorldEnv(env, ood_scale)


def make_expert(task: str, action_space: gym.spaces.Box | None = None):
  """Meta-World's scripted policy for `task`: obs [39] -> action [4] float32.

  The scripts' proportional gains overshoot (Meta-World warns so); actions are
  clipped to `action_space` (default: the task env's, [-1, 1]).
  """
  check_task(task)
  from metaworld.policies import ENV_POLICY_MAP
  if task not in ENV_POLICY_MAP:
    raise TaskError(f"Meta-World has no scripted policy for {task!r}; those with one: "
                    f"{', '.join(sorted(ENV_POLICY_MAP))}")
  policy = ENV_POLICY_MAP[task]()
  if action_space is None:
    env = make_env(task)
    action_space = env.action_space
    env.close()
  low, high = action_space.low, action_space.high

  def act(obs: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():   # "constants may be too high": we clip, as it says
      warnings.simplefilter("ignore", UserWarning)
      action = policy.get_action(obs)
    return np.clip(action, low, high).astype(np.float32)

  return act


def env_dims(task: str) -> tuple[int, int]:
  """(obs_dim, act_dim) of `task`'s env."""
  env = make_env(task)
  dims = env.observation_space.shape[0], env.action_space.shape[0]
  env.close()
  return dims


def expert_episode(env: MetaWorldEnv, expert, seed: int, steps_after_success: int) -> dict:
  """One expert episode from `seed`: observations [T, 39] (the obs each action was taken
  in), actions [T, 4], rewards [T], success, and `T` = length.

  It stops `steps_after_success` steps after the first success, or when the env
  truncates (max_path_length). An episode in which MuJoCo went unstable counts as
  failed: Meta-World then returns frozen observations with success False.
  """
  obs, _ = env.reset(seed=seed)
  observations, actions, rewards = [], [], []
  success_at = None
  while True:
    action = expert(obs)
    observations.append(obs)
    actions.append(action)
    obs, reward, terminated, truncated, info = env.step(action)
    rewards.append(reward)
    if success_at is None and info["success"]:
      success_at = len(actions)
    if (terminated or truncated or env.unstable
        or (success_at is not None and len(actions) >= success_at + steps_after_success)):
      break
  return dict(observations=np.asarray(observations, np.float32),
              actions=np.asarray(actions, np.float32),
              rewards=np.asarray(rewards, np.float32),
              success=success_at is not None and not env.unstable, length=len(actions))


def check_dims(task: str, obs_dim: int, act_dim: int, source: str) -> None:
  """Raises TaskError (one line naming `source`) unless the sizes are `task`'s env's."""
  want = env_dims(task)
  for name, have, need in zip(("obs_dim", "act_dim"), (obs_dim, act_dim), want):
    if have != need:
      raise TaskError(f"{source}: {name}={have}, but {task} has {name}={need} "
                      f"(obs {want[0]}, actions {want[1]}): demonstrations of another task?")


def check_demo_file(path: str, task: str) -> None:
  """Refuses a demo npz whose observation/action sizes are not `task`'s (DemoFileError if
  the file itself is bad)."""
  demos = load_demos(path)
  check_dims(task, demos.observations.shape[1], demos.actions.shape[1], path)


def collect_demos(config, workdir: str, log=print) -> dict:
  """Runs the expert (config.env, config.collect) until collect.num_episodes are kept;
  writes WORKDIR/demos.npz and WORKDIR/collect_summary.json; returns the summary.

  Episode i starts from seed collect.seed + i. Deterministic: on a workdir that holds
  the demos of the same settings it only returns their summary.
  """
  e, c = config.env, config.collect
  if c.num_episodes < 1:
    raise TaskError(f"config collect.num_episodes must be positive, got {c.num_episodes}")
  max_tries = c.max_tries or 2 * c.num_episodes + 10
  settings = {"env": e.to_dict(), "collect": c.to_dict()}
  summary_path = os.path.join(workdir, SUMMARY_FILE)
  if os.path.exists(summary_path) and os.path.exists(os.path.join(workdir, DEMOS_FILE)):
    old = json.load(open(summary_path))
    if old.get("settings") == settings:
      log(f"{workdir} already holds these demos: {old['message']}")
      return old
  os.makedirs(workdir, exist_ok=True)
  env = make_env(e.task, e.max_path_length, e.ood_scale if e.ood else 1.0)
  expert = make_expert(e.task, env.action_space)
  kept, tried, successes, steps, start = [], 0, 0, 0, time.perf_counter()
  while len(kept) < c.num_episodes and tried < max_tries:
    episode = expert_episode(env, expert, c.seed + tried, e.steps_after_success)
    episode["seed"] = c.seed + tried
    tried += 1
    successes += episode["success"]
    steps += episode["length"]
    if episode["success"] or c.keep_failures:
      kept.append(episode)
    if tried % 10 == 0 or len(kept) == c.num_episodes:
      rate = steps / (time.perf_counter() - start)
      log(f"{e.task}: tried {tried}, kept {len(kept)}/{c.num_episodes}, expert success "
          f"{successes / tried:.1%}, {rate:.0f} env steps/s")
  env.close()
  elapsed = time.perf_counter() - start
  if not kept:
    raise TaskError(f"{e.task}: the expert succeeded in none of {tried} episodes; nothing to "
                    "save (config collect.keep_failures=True keeps failed episodes)")
  lengths = np.array([ep["length"] for ep in kept])
  save_demos(os.path.join(workdir, DEMOS_FILE),
             observations=np.concatenate([ep["observations"] for ep in kept]),
             actions=np.concatenate([ep["actions"] for ep in kept]),
             episode_ends=np.cumsum(lengths),
             rewards=np.concatenate([ep["rewards"] for ep in kept]),
             successes=np.array([ep["success"] for ep in kept], bool),
             episode_seeds=np.array([ep["seed"] for ep in kept], np.int64),
             task=np.array(e.task))
  message = (f"expert success {successes / tried:.1%} ({successes}/{tried} tried), kept "
             f"{len(kept)} episodes, mean length {lengths.mean():.0f}")
  summary = {"task": e.task, "ood": bool(e.ood), "expert_success_rate": successes / tried,
             "episodes_tried": tried, "episodes_successful": int(successes),
             "episodes_kept": len(kept), "mean_length_kept": float(lengths.mean()),
             "steps_kept": int(lengths.sum()), "env_steps": int(steps),
             "wall_s": round(elapsed, 2), "env_steps_per_s": round(steps / elapsed, 1),
             "message": message, "settings": settings}
  with open(summary_path, "w") as f:
    json.dump(summary, f, indent=2)
  if len(kept) < c.num_episodes:
    log(f"warning: only {len(kept)} of {c.num_episodes} episodes kept after {tried} tries "
        "(config collect.max_tries)")
  log(message)
  return summary


def expert_solvable_seeds(config, episodes: int, ood_scale: float) -> tuple[list[int], dict]:
  """The first `episodes` seeds from eval.seed whose start the scripted expert solves.

  Widened starts can be infeasible (the expert solves only some of bin-picking's,
  results/metaworld.md); counting those would measure the task's physics, not how
  a policy generalizes. Returns (seeds, what to record with the result).
  """
  e, ev = config.env, config.eval
  env = make_env(e.task, e.max_path_length, ood_scale)
  expert = make_expert(e.task, env.action_space)
  seeds, tried = [], 0
  while len(seeds) < episodes and tried < 20 * episodes:
    if expert_episode(env, expert, ev.seed + tried, 0)["success"]:
      seeds.append(ev.seed + tried)
    tried += 1
  env.close()
  if len(seeds) < episodes:
    raise TaskError(f"{e.task}: the scripted expert solves only {len(seeds)} of {tried} OOD "
                    f"starts at env.ood_scale={ood_scale}; lower it or set "
                    "eval.ood_expert_solvable=False")
  return seeds, {"ood_seed_filter": "expert_solves", "ood_seeds_tried": tried,
                 "ood_expert_success_rate": episodes / tried}
