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
import numpy as np

from efjax.reward.metrics import epic_distance_grid, offset_free_correlation, preference_accuracy

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


def _flat(obs, actions):
  """obs [S, dc], actions [S, N, da] (or chunks [S, N, H, da]) -> obs [S*N, dc], actions
  [S*N, da] ([S*N, H, da]) float32."""
  s, n = actions.shape[:2]
  return (np.repeat(np.asarray(obs, np.float32), n, axis=0),
          np.asarray(actions, np.float32).reshape((s * n,) + actions.shape[2:]))


def score_models(models: dict, grid: dict, readings: dict | None = None) -> dict:
  """{model name: {reading: {action set: grid_quality}}} for models that share a config
  (e.g. several EMAs of one run); each reading compiles once for all of them.

  readings: {name: reward overrides} ({} reads at the models' own config); None is
  {'default': {}}. grid: a `load_grid` dict.
  """
  readings = {"default": {}} if readings is None else readings
  temperature = float(grid["temperature"])
  template = next(iter(models.values()))
  out = {name: {} for name in models}
  for reading, overrides in readings.items():
    base = template.with_reward(**overrides) if overrides else template
    fn = jax.jit(lambda params, o, a: dataclasses.replace(base, params=params).reward(o, a))  # noqa: B023
    for name, model in models.items():
      out[name][reading] = {}
      for k in ACTION_SETS:
        learned = fn(model.params, *_flat(grid["observations"], grid[f"{k}_actions"]))
        out[name][reading][k] = grid_quality(np.asarray(learned).reshape(grid[f"{k}_q"].shape),
                                             grid[f"{k}_q"], temperature)
  return out


def score_model(model, grid: dict, readings: dict | None = None) -> dict:
  """{reading: {action set: grid_quality}} of one model (see score_models)."""
  return score_models({"model": model}, grid, readings)["model"]


def reading_ceiling(task, grid: dict, action_scale, sigmas, num_draws: int = 40_000,
                    seed: int = 0) -> dict:
  """What a perfect energy would score when read at noise level sigma: {f'{sigma:g}':
  grid_quality} on the support actions, like a model's reading.

  A reading at sigma sees the expert's density smoothed by the noise the model adds in its
  normalized action units (action_scale [da]: the demo file actions' z-score scale), log
  p_sigma(a | s) = log E_{a' ~ pi(.|s)} N(a; a', Sigma); it is estimated here from num_draws
  exact expert draws per state (task.sample_actions) and scored against Q. The Monte Carlo
  estimate reads low where the kernel is narrower than the draws' spacing (small sigma,
  many action dimensions): compare two num_draws. Single actions only (no chunks).

  task: efjax.envs.bandit.BanditTask; grid: its `load_grid` dict.
  """
  if grid["support_actions"].ndim != 3:
    raise ValueError("reading_ceiling scores single actions; this grid holds action chunks")
  s = task.from_file_obs(np.asarray(grid["observations"], np.float64))            # [S, dc]
  a = task.from_file_actions(np.asarray(grid["support_actions"], np.float64))     # [S, N, da]
  draws = task.sample_actions(np.random.default_rng([task.seed, 3, seed]), s, num_draws)
  to_q = np.linalg.inv(task.act_matrix)                   # file -> Q units, row vectors
  out = {}
  for sigma in sigmas:
    cov = to_q.T @ np.diag(np.square(sigma * np.asarray(action_scale, np.float64))) @ to_q
    whiten = np.linalg.inv(np.linalg.cholesky(cov)).T     # x @ whiten: unit covariance
    log_p = np.empty(a.shape[:2])                         # [S, N]
    for i, (x, y) in enumerate(zip(a @ whiten, draws @ whiten)):   # one state at a time
      log_kernel = -0.5 * (np.sum(x * x, -1)[:, None] + np.sum(y * y, -1)[None]
                           - 2.0 * x @ y.T)               # [N, M]
      top = log_kernel.max(-1)
      log_p[i] = top + np.log(np.mean(np.exp(log_kernel - top[:, None]), -1))
    out[f"{sigma:g}"] = grid_quality(log_p, grid["support_q"], float(grid["temperature"]))
  return out
