"""Receding-horizon policy evaluation over a batch of gymnasium envs stepped in lockstep.

    results = evaluate(make_env, policy, seeds, num_envs=10, obs_horizon=2, action_steps=8,
                       key=jax.random.key(0))
    summarize(results)   # success rate over the episodes that ran, Wilson 95% CI, errors

`policy(obs [B, Ho, obs_dim], key) -> actions [B, Ha, act_dim]` is called once per
round for all B = num_envs envs (a fixed shape, so a jitted sampler compiles once);
each env then executes the first `action_steps` actions of its chunk (clipped to its
action space) before the next round. Each env keeps its own window of the last Ho
observations, the first frame repeated at the start of an episode, as the training
windows are padded (efjax/data/windows.py).

Why a list of envs rather than a gymnasium vector env: on the 2-core CPU
SyncVectorEnv steps at the list's speed and AsyncVectorEnv at 0.45-0.8x of it
(results/metaworld.md), and a list lets one env fail without ending the others.
An episode is a success once its env reports info["success"]; it ends then, or when
the env terminates or truncates. An env that raises is recorded with its seed and
error, counted as neither success nor failure, and replaced by a fresh env. An env
whose physics went unstable (`env.unstable`, Meta-World) ends its episode as a
failure, flagged `unstable`.

`evaluate_metaworld(config, workdir)` wires it to a training workdir (efjax.load) and
a Meta-World task, `evaluate_robomimic(config, workdir)` to a robomimic task in
robosuite (experiments/evaluate.py is the command line of both).
"""
import dataclasses
import datetime
import json
import math
import os
import sys
import time
from typing import Callable, Iterable

import jax
import numpy as np


@dataclasses.dataclass
class EpisodeResult:
  seed: int
  success: bool | None       # None when the env raised
  length: int                # env steps taken
  error: str | None = None   # "ExceptionType: message" when the env raised
  unstable: bool = False
  frames: list | None = None  # [H, W, 3] uint8 images when recorded


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
  """Wilson score interval for a binomial proportion (95% for z = 1.96); (0, 1) if n = 0.

  Unlike the normal approximation it stays inside [0, 1] and is not degenerate at
  0 or n successes, which small evaluations (50 episodes, rates near 100%) hit.
  """
  if n == 0:
    return 0.0, 1.0
  p = successes / n
  centre = (p + z * z / (2 * n)) / (1 + z * z / n)
  half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
  return max(0.0, centre - half), min(1.0, centre + half)


class _Slot:
  """One env and the episode it is running."""

  def __init__(self, env, obs_horizon: int):
    self.env, self.obs_horizon = env, obs_horizon
    self.result: EpisodeResult | None = None
    self.window: np.ndarray | None = None     # [Ho, obs_dim]

  def push(self, obs) -> None:
    obs = np.asarray(obs, np.float32)
    if self.window is None:
      self.window = np.repeat(obs[None], self.obs_horizon, axis=0)
    else:
      self.window = np.concatenate([self.window[1:], obs[None]])


def _close(env) -> None:
  try:
    env.close()
  except Exception:                   # noqa: BLE001 -- a broken env may not close cleanly
    pass


def _error(e: Exception) -> str:
  return f"{type(e).__name__}: {e}"


def evaluate(make_env: Callable[[], object], policy: Callable, seeds: Iterable[int],
             num_envs: int, obs_horizon: int, action_steps: int, key: jax.Array,
             record_seeds: Iterable[int] = (), log=None) -> list[EpisodeResult]:
  """Runs one episode per seed (env.reset(seed=s)); results in the order episodes ended.

  `make_env()` builds one env (called num_envs times, and again after an env raised);
  `record_seeds`: episodes whose frames are kept (the envs must render rgb_array).
  """
  if action_steps < 1:
    raise ValueError(f"action_steps must be positive, got {action_steps}")
  queue, record = list(seeds)[::-1], set(record_seeds)
  slots = [_Slot(make_env(), obs_horizon) for _ in range(min(num_envs, len(queue)))]
  results: list[EpisodeResult] = []

  def end_episode(slot, error=None):
    r = slot.result
    if error is not None:
      r.success, r.error = None, error
      _close(slot.env)
      slot.env = make_env()           # its state is unknown after an exception
    results.append(r)
    if log is not None:
      outcome = "error" if r.error else ("success" if r.success else "failure")
      log(f"episode {len(results)}: seed {r.seed} {outcome} after {r.length} steps"
          + (f" ({r.error})" if r.error else ""))

  def start(slot):
    """The slot's next episode, skipping (and reporting) seeds whose reset raises."""
    while queue:
      seed = queue.pop()
      slot.result, slot.window = EpisodeResult(seed=seed, success=False, length=0,
                                               frames=[] if seed in record else None), None
      try:
        obs, _ = slot.env.reset(seed=seed)
        if slot.result.frames is not None:
          slot.result.frames.append(slot.env.render())
      except Exception as e:          # noqa: BLE001 -- reported with its seed, then go on
        end_episode(slot, _error(e))
        continue
      slot.push(obs)
      return
    slot.result, slot.window = None, None

  def finish(slot, error=None):
    end_episode(slot, error)
    start(slot)

  for slot in slots:
    start(slot)
  round_ = 0
  while any(slot.result is not None for slot in slots):
    active = [slot for slot in slots if slot.result is not None]
    # Idle slots (no episodes left) repeat an active window: the batch shape stays fixed.
    batch = np.stack([(slot if slot.result is not None else active[0]).window for slot in slots])
    chunks = np.asarray(policy(batch, jax.random.fold_in(key, round_)))
    round_ += 1
    for slot, chunk in zip(slots, chunks):
      if slot.result is None:
        continue
      space = slot.env.action_space
      for action in chunk[:action_steps]:
        r = slot.result
        try:
          obs, _, terminated, truncated, info = slot.env.step(np.clip(action, space.low,
                                                                      space.high))
          if r.frames is not None:
            r.frames.append(slot.env.render())
        except Exception as e:        # noqa: BLE001
          finish(slot, _error(e))
          break
        r.length += 1
        r.success = bool(info.get("success", False))
        r.unstable = bool(getattr(slot.env, "unstable", False))
        if r.unstable:
          r.success = False
        slot.push(obs)
        if r.success or terminated or truncated or r.unstable:
          finish(slot)
          break
  for slot in slots:
    _close(slot.env)                  # frees renderer contexts now, not at interpreter exit
  return results


def summarize(results: list[EpisodeResult]) -> dict:
  """Success rate over the episodes that ran (errored ones excluded) with its Wilson 95% CI."""
  ran = [r for r in results if r.error is None]
  successes = sum(r.success for r in ran)
  low, high = wilson_interval(successes, len(ran))
  return {
      "episodes": len(results), "successes": successes, "failures": len(ran) - successes,
      "errored": len(results) - len(ran),
      "success_rate": successes / len(ran) if ran else None,
      "ci95": [low, high], "ci_method": "wilson",
      "unstable": sum(r.unstable for r in ran),
      "mean_length": float(np.mean([r.length for r in ran])) if ran else None,
      "errors": [{"seed": r.seed, "error": r.error} for r in results if r.error],
      "episode_results": [{"seed": r.seed, "success": r.success, "length": r.length,
                           "error": r.error, "unstable": r.unstable}
                          for r in sorted(results, key=lambda r: r.seed)],
  }


def load_policy(config, workdir: str):
  """(model, policy) of a Meta-World workdir, its sizes checked against config.env.task."""
  from efjax.envs.metaworld_envs import TaskError, check_dims
  task = config.env.task
  return _load_policy(config, workdir, lambda obs_dim, act_dim, where: check_dims(
      task, obs_dim, act_dim, where), TaskError)


def _load_policy(config, workdir: str, check_dims, error):
  """(model, policy): policy(obs [B, Ho, obs_dim], key) -> np [B, Ha, act_dim], jitted once.

  `check_dims(obs_dim, act_dim, where)` raises for sizes the env cannot take; `error`
  is the exception class for the user's input (a missing or mismatched workdir).
  """
  import efjax
  from efjax.train.trainer import DATASET_FILE
  task = config.env.task
  spec_path = os.path.join(workdir, DATASET_FILE)
  if os.path.exists(spec_path):        # refuse a wrong-sized model before loading anything
    spec = json.load(open(spec_path))
    check_dims(spec["obs_dim"], spec["act_dim"], f"{workdir}: trained on {spec['path']}")
  # Any model with .sample(obs, key) and a params field evaluates; a BC workdir says so
  # in its config.json (efjax/bc.py).
  from efjax import bc
  try:
    model = bc.load(workdir) if bc.is_bc_workdir(workdir) else efjax.load(workdir)
  except FileNotFoundError as e:
    raise error(str(e)) from None
  trained_on = model.config.get("env", {}).get("task")
  if trained_on is not None and trained_on != task:
    raise error(f"{workdir}: trained on {trained_on}, asked to evaluate on {task}")
  check_dims(model.obs_dim, model.act_dim, f"{workdir} (its demo file)")
  if not 1 <= config.eval.action_steps <= model.config.data.action_horizon:
    raise error(f"config eval.action_steps={config.eval.action_steps} must be in "
                f"[1, data.action_horizon={model.config.data.action_horizon}]")
  # Parameters are an argument, not constants baked into the compiled sampler.
  sample = jax.jit(lambda params, obs, key: dataclasses.replace(model, params=params)
                   .sample(obs, key))
  return model, lambda obs, key: np.asarray(sample(model.params, obs, key))


def write_gifs(results, directory: str, fps: int) -> list[str]:
  """One GIF per recorded episode; [] without imageio."""
  try:
    import imageio
  except ImportError:
    print("warning: --video needs imageio (pip install imageio); no GIFs written",
          file=sys.stderr)
    return []
  os.makedirs(directory, exist_ok=True)
  paths = []
  for r in results:
    if r.frames:
      path = os.path.join(directory, f"seed{r.seed}_{'success' if r.success else 'failure'}.gif")
      imageio.mimsave(path, r.frames, duration=1000 / fps, loop=0)
      paths.append(path)
  return paths


def expert_solvable_seeds(config, episodes: int, ood_scale: float) -> tuple[list[int], dict]:
  """The first `episodes` seeds from eval.seed whose start the scripted expert solves.

  Widened starts can be infeasible (the expert solves only some of bin-picking's,
  results/metaworld.md); counting those would measure the task's physics, not how
  a policy generalizes. Returns (seeds, what to record with the result).
  """
  from efjax.envs.metaworld_envs import TaskError, expert_episode, make_env, make_expert
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


def evaluate_metaworld(config, workdir: str, episodes: int | None = None,
                       video: bool | None = None, make_env_fn=None, command: str | None = None,
                       log=print) -> dict:
  """Evaluates the model of a training `workdir` on config.env.task (config.eval);
  writes and returns WORKDIR/eval_<task>[_ood].json. `make_env_fn` replaces the env
  factory (tests); `command` is recorded with the result.
  """
  from efjax.envs.metaworld_envs import TaskError, make_env
  e, ev = config.env, config.eval
  episodes = ev.num_episodes if episodes is None else episodes
  video = ev.video if video is None else video
  if episodes < 1 or ev.num_envs < 1:
    raise TaskError(f"episodes ({episodes}) and config eval.num_envs ({ev.num_envs}) "
                    "must be positive")
  model, policy = load_policy(config, workdir)
  ood_scale = e.ood_scale if e.ood else 1.0
  render = dict(render_mode="rgb_array", size=ev.video_size) if video else {}
  make_env_fn = make_env_fn or (lambda: make_env(e.task, e.max_path_length, ood_scale, **render))
  seeds, seed_filter = [ev.seed + i for i in range(episodes)], {}
  if e.ood and ev.ood_expert_solvable:
    seeds, seed_filter = expert_solvable_seeds(config, episodes, ood_scale)
    log(f"OOD starts the scripted expert solves: {episodes} of the first "
        f"{seed_filter['ood_seeds_tried']} seeds")
  record = seeds[:ev.video_episodes] if video else []
  log(f"{e.task}{' (OOD)' if e.ood else ''}: {episodes} episodes on {ev.num_envs} envs, "
      f"chunks of {model.config.data.action_horizon}, executing {ev.action_steps}")
  name = f"eval_{e.task}{'_ood' if e.ood else ''}"
  return _run_and_write(
      name, make_env_fn, policy, model, config, workdir, seeds, episodes, record, video,
      dict(task=e.task, ood=bool(e.ood), ood_scale=ood_scale, **seed_filter), command, log)


def _run_and_write(name, make_env_fn, policy, model, config, workdir, seeds, episodes, record,
                   video, identity: dict, command, log) -> dict:
  """Runs the episodes, writes WORKDIR/<name>.json (and GIFs) and returns the summary.

  `identity`: what the result is of (task, ...), written first after the counts.
  """
  ev = config.eval
  start = time.perf_counter()
  results = evaluate(make_env_fn, policy, seeds, ev.num_envs, model.config.data.obs_horizon,
                     ev.action_steps, jax.random.key(ev.sampler_seed), record, log)
  summary = summarize(results)
  checkpoints = os.path.join(workdir, "checkpoints")
  steps = [int(d) for d in os.listdir(checkpoints) if d.isdigit()] if os.path.isdir(
      checkpoints) else []
  summary.update(
      **identity,
      workdir=os.path.abspath(workdir),
      newest_checkpoint=max(steps, default=None), wall_s=round(time.perf_counter() - start, 1),
      date=datetime.datetime.now().isoformat(timespec="seconds"),
      command=command,
      settings={"env": config.env.to_dict(), "eval": {**ev.to_dict(), "num_episodes": episodes},
                "sampler": model.config.sampler.to_dict(),
                "obs_horizon": model.config.data.obs_horizon,
                "action_horizon": model.config.data.action_horizon})
  if video:
    summary["videos"] = write_gifs(results, os.path.join(workdir, name + "_videos"),
                                   ev.video_fps)
  with open(os.path.join(workdir, name + ".json"), "w") as f:
    json.dump(summary, f, indent=2)
  rate = summary["success_rate"]
  log(f"{name}: success {'n/a' if rate is None else f'{rate:.1%}'} "
      f"({summary['successes']}/{summary['successes'] + summary['failures']}), 95% CI "
      f"[{summary['ci95'][0]:.1%}, {summary['ci95'][1]:.1%}], {summary['errored']} errored, "
      f"{summary['wall_s']} s")
  return summary


def evaluate_robomimic(config, workdir: str, episodes: int | None = None,
                       video: bool | None = None, make_env_fn=None, command: str | None = None,
                       log=print) -> dict:
  """Evaluates the model of a training `workdir` on robomimic task config.env.task in
  robosuite; writes and returns WORKDIR/eval_<task>.json.

  The env is rebuilt from the env_args of the HDF5 file the model was trained on (its
  config's data.path; this config's when that file is gone), observations put together
  from the model's data.obs_keys (efjax/envs/robomimic_envs.py). Episodes run for at
  most eval.max_steps steps and end at the first success. `make_env_fn` replaces the
  env factory (tests); `command` is recorded with the result.
  """
  from efjax.data.robomimic import read_env_meta
  from efjax.envs.robomimic_envs import RobomimicError, import_robosuite, make_env
  e, ev = config.env, config.eval
  episodes = ev.num_episodes if episodes is None else episodes
  video = ev.get("video", False) if video is None else video
  if video:
    raise RobomimicError("--video: robomimic envs are built without an offscreen renderer "
                         "(no videos for robomimic)")
  if episodes < 1 or ev.num_envs < 1:
    raise RobomimicError(f"episodes ({episodes}) and config eval.num_envs ({ev.num_envs}) "
                         "must be positive")
  if make_env_fn is None:
    import_robosuite()                 # before minutes of loading: the install line
  obs_dim, act_dim = config.data.obs_dim, config.data.act_dim

  def check_dims(model_obs, model_act, where):
    if (model_obs, model_act) != (obs_dim, act_dim):
      raise RobomimicError(f"{where}: obs_dim={model_obs}, act_dim={model_act}, but robomimic "
                           f"task '{e.task}' has obs_dim={obs_dim}, act_dim={act_dim} "
                           f"(keys {', '.join(config.data.obs_keys)}): another task's model?")

  model, policy = _load_policy(config, workdir, check_dims, RobomimicError)
  obs_keys = list(model.config.data.get("obs_keys") or config.data.obs_keys)
  if make_env_fn is None:
    path = model.config.data.path
    path = path if os.path.exists(path) else config.data.path
    meta = read_env_meta(path, e.task)
    make_env_fn = lambda: make_env(meta, obs_keys, ev.max_steps)    # noqa: E731
  seeds = [ev.seed + i for i in range(episodes)]
  log(f"robomimic {e.task}: {episodes} episodes on {ev.num_envs} envs, at most "
      f"{ev.max_steps} steps, chunks of {model.config.data.action_horizon}, executing "
      f"{ev.action_steps}")
  return _run_and_write(f"eval_{e.task}", make_env_fn, policy, model, config, workdir, seeds,
                        episodes, [], False,
                        dict(task=e.task, suite="robomimic",
                             paper_success_rate=config.get("paper_success_rate")), command, log)
