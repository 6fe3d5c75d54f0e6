"""A trained model's reward against a bandit family member's true soft Q.

The reward is read exactly as a user reads it, `model.reward(obs, actions)` in the demo
file's units (efjax.load), on a member's evaluation grid (efjax.envs.bandit_files), and
compared with Q on the same (s, a):

- pearson / spearman: after removing each state's mean over its actions (a reward is
  only identified up to a per-state constant),
- preference_accuracy: same-state action pairs ordered as Q orders them, over the pairs
  whose true Q differs by more than 0.1 x temperature (closer pairs are ties),
- epic: EPIC distance for a bandit (gamma = 0), the Pearson distance of the centered grids.
"""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax.reward_metrics import epic_distance_grid, offset_free_correlation, preference_accuracy

TIE_FRACTION = 0.1          # pairs with |dQ| <= 0.1 x temperature are not counted
ACTION_SETS = ("support", "box")


def grid_quality(learned, q, temperature: float) -> dict:
  """learned, q: [S, N] -> {'pearson', 'spearman', 'preference_accuracy', 'epic'} floats."""
  learned, q = jnp.asarray(learned, jnp.float32), jnp.asarray(q, jnp.float32)
  corr = offset_free_correlation(learned, q)
  return {"pearson": float(corr["pearson"]), "spearman": float(corr["spearman"]),
          "preference_accuracy": float(preference_accuracy(learned, q,
                                                           TIE_FRACTION * temperature)),
          "epic": float(epic_distance_grid(learned, q))}


def with_reward(model, **reward_overrides):
  """The same model reading its reward with other `reward.*` settings (kind, t, ...)."""
  config = ml_collections.ConfigDict(model.config.to_dict())
  config.reward.update(reward_overrides)
  return dataclasses.replace(model, config=config)


def grid_rewards(model, obs, actions, chunk: int = 1024) -> np.ndarray:
  """model.reward on a grid: obs [S, dc], actions [S, N, da] (file units) -> [S, N]."""
  s, n, da = actions.shape
  flat_obs = np.repeat(np.asarray(obs, np.float32), n, axis=0)
  flat_act = np.asarray(actions, np.float32).reshape(s * n, da)
  fn = jax.jit(lambda o, a: model.reward(o, a))
  out = [np.asarray(fn(flat_obs[i:i + chunk], flat_act[i:i + chunk]))
         for i in range(0, s * n, chunk)]
  return np.concatenate(out).reshape(s, n)


def score_model(model, grid: dict, readings: dict | None = None) -> dict:
  """{reading: {action set: grid_quality}} for each reward reading.

  readings: {name: reward overrides} ({} reads at the model's own config); None is
  {'default': {}}. grid: a `load_grid` dict.
  """
  readings = {"default": {}} if readings is None else readings
  temperature = float(grid["temperature"])
  out = {}
  for name, overrides in readings.items():
    m = with_reward(model, **overrides) if overrides else model
    out[name] = {k: grid_quality(grid_rewards(m, grid["observations"], grid[f"{k}_actions"]),
                                 grid[f"{k}_q"], temperature) for k in ACTION_SETS}
  return out
