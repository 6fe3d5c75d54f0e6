"""Receding-horizon policy evaluation over a batch of gymnasium envs stepped in lockstep.

    results = run_lockstep(make_env, policy, seeds, num_envs=10, obs_horizon=2,
                           action_steps=8, key=jax.random.key(0))
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
"""
import dataclasses
from typing import Callable, Iterable

import jax
import numpy as np

from efjax.policy.stats import wilson_interval


@dataclasses.dataclass
class EpisodeResult:
  seed: int
  success: bool | None       # None when the env raised
  length: int                # env steps taken
  error: str | None = None   # "ExceptionType: message" when the env raised
  unstable: bool = False
  frames: list | None = None  # [H, W, 3] uint8 images when recorded


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


def run_lockstep(make_env: Callable[[], object], policy: Callable, seeds: Iterable[int],
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
