"""A maximum-entropy contextual bandit with a known, multi-modal Q.

State s ~ U[-1, 1], action a in R, Q(s, a) = 3 cos(2.5 a - 1.5 s) - 0.8 a^2. The expert
is the soft-optimal policy pi(a | s) ∝ exp(Q(s, a) / alpha): two or three modes
whose positions and weights move with s. Since DSM recovers grad_a log pi =
grad_a Q / alpha, a good reward extractor returns Q up to a per-state constant
and a scale. Actions are drawn exactly from a fine grid (categorical over 4001
bins, then uniform within the bin).
"""
import dataclasses

import jax
import jax.numpy as jnp

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class MaxEntBandit:
  alpha: float = 1.0
  action_low: float = -4.0
  action_high: float = 4.0
  grid_size: int = 4001

  def q(self, s: Array, a: Array) -> Array:
    """s [N], a [N, M] -> Q [N, M]."""
    return 3.0 * jnp.cos(2.5 * a - 1.5 * s[:, None]) - 0.8 * a**2

  def sample_states(self, key: Array, n: int) -> Array:
    """[n] states, U[-1, 1]."""
    return jax.random.uniform(key, (n,), minval=-1.0, maxval=1.0)

  def sample_actions(self, key: Array, s: Array, num: int) -> Array:
    """[N] states -> [N, num] actions from pi(. | s)."""
    grid = jnp.linspace(self.action_low, self.action_high, self.grid_size)
    width = grid[1] - grid[0]
    logits = self.q(s, jnp.broadcast_to(grid, (s.shape[0], self.grid_size))) / self.alpha
    k_cat, k_jit = jax.random.split(key)
    idx = jax.random.categorical(k_cat, logits[:, None, :], axis=-1, shape=(s.shape[0], num))
    jitter = jax.random.uniform(k_jit, idx.shape, minval=-0.5, maxval=0.5) * width
    return grid[idx] + jitter

  def demos(self, key: Array, n: int):
    """n expert pairs: obs [n, 1], actions [n, 1]."""
    k_s, k_a = jax.random.split(key)
    s = self.sample_states(k_s, n)
    return s[:, None], self.sample_actions(k_a, s, 1)
