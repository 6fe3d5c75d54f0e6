"""Running mean/variance of observations, updated inside the jitted loop (Chan et al. merge)."""
import flax
import jax
import jax.numpy as jnp

Array = jax.Array


@flax.struct.dataclass
class RunningStats:
  """mean, var: [obs_dim]; count: scalar float32 (number of observations seen)."""
  mean: Array
  var: Array
  count: Array


def init_stats(dim: int) -> RunningStats:
  return RunningStats(jnp.zeros(dim), jnp.ones(dim), jnp.zeros(()))


def update_stats(stats: RunningStats, x: Array) -> RunningStats:
  """Merges a batch x [..., obs_dim] into the running statistics (exact, any batch size)."""
  x = x.reshape(-1, x.shape[-1])
  n = jnp.asarray(x.shape[0], jnp.float32)
  mean_b, var_b = x.mean(0), x.var(0)
  total = stats.count + n
  delta = mean_b - stats.mean
  mean = stats.mean + delta * n / total
  # On the first batch stats.count == 0, so the prior var of 1 gets weight 0.
  m2 = stats.var * stats.count + var_b * n + delta**2 * stats.count * n / total
  return RunningStats(mean, m2 / total, total)


def normalize(stats: RunningStats, x: Array, eps: float = 1e-6) -> Array:
  """(x - mean) / std over the last axis; x [..., obs_dim]."""
  return (x - stats.mean) / jnp.sqrt(stats.var + eps)
