"""How well a learned reward matches a true one, invariant to what IRL cannot identify.

- `offset_free_correlation`: Pearson and Spearman correlation after removing each
  state's mean over actions (a reward is only identified up to a per-state offset).
- `preference_accuracy`: over pairs of actions at the same state, how often the
  learned reward orders them as the true one does.
- `epic_distance` (Gleave et al. 2020, "Quantifying Differences in Reward
  Functions"): canonicalize both rewards, which removes potential shaping, then
  the Pearson distance sqrt((1 - rho) / 2), in [0, 1]; 0 means equivalent.

Grid inputs are [S, N]: S states, N actions per state. All functions are jittable.
"""
from typing import Callable

import jax
import jax.numpy as jnp

from efjax.shapes import check_same_shape

Array = jax.Array
RewardFn = Callable[[Array, Array, Array], Array]   # (obs [N, ...], act [N, ...], next [N, ...]) -> [N]


def _pearson(x: Array, y: Array) -> Array:
  x, y = x - x.mean(), y - y.mean()
  return jnp.sum(x * y) / jnp.sqrt(jnp.sum(x * x) * jnp.sum(y * y))


def ranks(x: Array) -> Array:
  """Ranks 0..N-1 of x [N] (ties broken by position), float32."""
  return jnp.argsort(jnp.argsort(jnp.asarray(x))).astype(jnp.float32)


def spearman(x: Array, y: Array) -> Array:
  """Spearman rank correlation of x [N] and y [N]: a scalar."""
  return _pearson(ranks(x), ranks(y))


def remove_state_offsets(r: Array) -> Array:
  """[S, N] -> [S, N] with each state's mean over actions subtracted."""
  return r - r.mean(axis=1, keepdims=True)


def offset_free_correlation(learned: Array, true: Array) -> dict:
  """{'pearson', 'spearman'} of the per-state-centered rewards [S, N]."""
  check_same_shape("learned", learned, "true", true)
  x, y = remove_state_offsets(learned).ravel(), remove_state_offsets(true).ravel()
  return {"pearson": _pearson(x, y), "spearman": spearman(x, y)}


def preference_accuracy(learned: Array, true: Array, tie_tolerance: float = 0.0) -> Array:
  """Fraction of same-state action pairs ordered alike; pairs with |true gap| <= tol skipped."""
  check_same_shape("learned", learned, "true", true)
  d_learned = learned[:, :, None] - learned[:, None, :]
  d_true = true[:, :, None] - true[:, None, :]
  n = learned.shape[1]
  upper = jnp.triu(jnp.ones((n, n), bool), k=1)[None]
  counted = upper & (jnp.abs(d_true) > tie_tolerance)
  agree = counted & (jnp.sign(d_learned) == jnp.sign(d_true))
  return agree.sum() / jnp.maximum(counted.sum(), 1)


def pearson_distance(x: Array, y: Array) -> Array:
  """sqrt((1 - rho(x, y)) / 2) in [0, 1]."""
  return jnp.sqrt(jnp.clip(1.0 - _pearson(x.ravel(), y.ravel()), 0.0, 2.0) / 2.0)


def canonicalize(reward_fn: RewardFn, obs: Array, actions: Array, next_obs: Array,
                 coverage_obs: Array, coverage_actions: Array, coverage_next_obs: Array,
                 gamma: float) -> Array:
  """EPIC's canonically shaped reward at N transitions: [N].

  C(R)(s, a, s') = R(s, a, s') + E[gamma R(s', A, S') - R(s, A, S') - gamma R(S, A, S')]
  with S, S' ~ coverage_obs / coverage_next_obs and A ~ coverage_actions (M samples,
  drawn independently of each other).
  """
  m = coverage_actions.shape[0]

  def mean_from(states):  # E_{A, S'} R(state, A, S') for each of the N states: [N]
    n = states.shape[0]
    rep = lambda x: jnp.repeat(x, m, axis=0)  # noqa: E731
    tile = lambda x: jnp.tile(x, (n,) + (1,) * (x.ndim - 1))  # noqa: E731
    return reward_fn(rep(states), tile(coverage_actions), tile(coverage_next_obs)).reshape(
        n, m).mean(axis=1)

  r = reward_fn(obs, actions, next_obs)
  r_all = reward_fn(coverage_obs, coverage_actions, coverage_next_obs).mean()
  return r + gamma * mean_from(next_obs) - mean_from(obs) - gamma * r_all


def epic_distance(reward_a: RewardFn, reward_b: RewardFn, obs: Array, actions: Array,
                  next_obs: Array, coverage_obs: Array, coverage_actions: Array,
                  coverage_next_obs: Array, gamma: float) -> Array:
  """EPIC distance between two rewards on N transitions, scalar in [0, 1]."""
  args = (obs, actions, next_obs, coverage_obs, coverage_actions, coverage_next_obs, gamma)
  return pearson_distance(canonicalize(reward_a, *args), canonicalize(reward_b, *args))


def epic_distance_grid(learned: Array, true: Array) -> Array:
  """EPIC for state-action rewards on a grid [S, N] with gamma = 0 and uniform coverage.

  With gamma = 0 the canonical reward is R(s, a) - E_A R(s, A), so EPIC reduces to the
  Pearson distance of the per-state-centered grids.
  """
  check_same_shape("learned", learned, "true", true)
  return pearson_distance(remove_state_offsets(learned), remove_state_offsets(true))


def reward_quality(learned: Array, true: Array) -> dict:
  """Every grid metric at once, as Python floats: pearson, spearman, preference, epic."""
  corr = offset_free_correlation(learned, true)
  return {"pearson": float(corr["pearson"]), "spearman": float(corr["spearman"]),
          "preference_accuracy": float(preference_accuracy(learned, true)),
          "epic": float(epic_distance_grid(learned, true))}
