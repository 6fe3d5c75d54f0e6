"""Shape and dtype checks at public boundaries: one ValueError naming the argument.

Shapes are static under `jax.jit`, so these checks cost nothing at run time and
fire at trace time, before anything is compiled.
"""
import chex
import jax.numpy as jnp


def check_floating(name: str, x) -> None:
  dtype = jnp.result_type(x)
  if not jnp.issubdtype(dtype, jnp.floating):
    raise ValueError(f"{name} must be a floating-point array, got dtype {dtype}")


def check_rank(name: str, x, rank: int, layout: str) -> None:
  try:
    chex.assert_rank(x, rank)
  except AssertionError:
    raise ValueError(f"{name} must be {layout} (rank {rank}), got shape "
                     f"{tuple(jnp.shape(x))}") from None


def check_model_inputs(actions, obs, t=None) -> None:
  """actions [B, Ha, act_dim], obs [B, Ho, obs_dim] (or features [B, F]), t [B]."""
  check_rank("actions", actions, 3, "[B, Ha, act_dim]")
  check_floating("actions", actions)
  if obs.ndim not in (2, 3):
    raise ValueError(f"obs must be [B, Ho, obs_dim] (rank 3), got shape {tuple(obs.shape)}")
  check_floating("obs", obs)
  if obs.shape[0] != actions.shape[0]:
    raise ValueError(f"obs batch {obs.shape[0]} (shape {tuple(obs.shape)}) != actions batch "
                     f"{actions.shape[0]} (shape {tuple(actions.shape)})")
  if t is not None and jnp.shape(t) != (actions.shape[0],):
    raise ValueError(f"t must be [B] = ({actions.shape[0]},), got shape {tuple(jnp.shape(t))}")


def check_same_shape(name_a: str, a, name_b: str, b) -> None:
  if jnp.shape(a) != jnp.shape(b):
    raise ValueError(f"{name_a} shape {tuple(jnp.shape(a))} != {name_b} shape "
                     f"{tuple(jnp.shape(b))}")
