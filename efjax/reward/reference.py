"""Reference rules: where the expectations over a ~ N(0, I) of the EnergyFlow rewards are read.

Both the centering term of the `centered` reward and the soft value of the
`soft_bellman` one are expectations over normalized action chunks a ~ N(0, I),
read at M reference chunks with weights (`reward.reference`):

- `sampled` (the paper): M = `num_reference` fixed draws, equal weights.
- `gauss_hermite`: the product Gauss-Hermite rule with `num_reference` nodes per action
  dimension (M = n^D points for D = chunk x act_dim, at most 4096), deterministic and
  exact for polynomials of degree 2n - 1 in each dimension. For low-dimensional actions
  it is far more accurate per evaluation (`python -m experiments.reference_rule_check`
  measures the centering term's error on a trained energy).
"""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax.registry import Registry

Array = jax.Array
MAX_REFERENCE_POINTS = 4096
REFERENCE_RULES: Registry = Registry("reward.reference")


@REFERENCE_RULES.register("sampled")
def sampled_points(num: int, action_shape, seed: int = 0) -> tuple[Array, Array]:
  """`num` fixed standard-normal chunks [M, Ha, act_dim] with equal weights [M]."""
  points = jax.random.normal(jax.random.key(seed), (num,) + tuple(action_shape))
  return points, jnp.full((num,), 1.0 / num)


@REFERENCE_RULES.register("gauss_hermite")
def gauss_hermite_points(nodes: int, action_shape, seed: int = 0) -> tuple[Array, Array]:
  """The product Gauss-Hermite rule for N(0, I) over [Ha, act_dim]: points [n^D, Ha, act_dim]
  and weights [n^D] summing to 1 (`seed` unused: the rule is deterministic)."""
  del seed
  dim = int(np.prod(action_shape))
  if nodes ** dim > MAX_REFERENCE_POINTS:
    raise ValueError(f"reward.reference='gauss_hermite' with num_reference={nodes} nodes over "
                     f"{dim} action dimensions is {nodes}^{dim} points (at most "
                     f"{MAX_REFERENCE_POINTS}); use reference='sampled' for high-dimensional "
                     "actions")
  x, w = np.polynomial.hermite_e.hermegauss(nodes)
  grids = np.meshgrid(*([np.arange(nodes)] * dim), indexing="ij")
  index = np.stack([g.reshape(-1) for g in grids], -1)                  # [n^D, D]
  points = x[index].reshape((-1,) + tuple(action_shape))
  weights = np.prod(w[index], -1)
  return jnp.asarray(points, jnp.float32), jnp.asarray(weights / weights.sum(), jnp.float32)


def reference_rule(cfg: ml_collections.ConfigDict, action_shape) -> tuple[Array, Array]:
  """The reward config's reference chunks [M, Ha, act_dim] and their weights [M] (sum 1).

  A config without `reference` (written before the key existed) reads as 'sampled'.
  """
  make = REFERENCE_RULES.get(cfg.get("reference", "sampled"))
  if cfg.num_reference < 1:
    raise ValueError(f"reward.num_reference must be >= 1, got {cfg.num_reference}")
  return make(cfg.num_reference, action_shape, cfg.reference_seed)
