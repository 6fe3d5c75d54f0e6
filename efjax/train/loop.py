"""Several training steps per compiled call, sampling batches on device.

The dataset lives on device as arrays; each step draws its batch indices inside
the jitted function, so no Python work and no host transfer happens per step.
"""
from typing import Callable

import jax

from efjax.train.state import TrainState

Array = jax.Array


def sample_batch(key: Array, data: dict, batch_size: int) -> dict:
  """Uniform (with replacement) batch of every array in `data` (leading axis N)."""
  n = jax.tree_util.tree_leaves(data)[0].shape[0]
  idx = jax.random.randint(key, (batch_size,), 0, n)
  return jax.tree_util.tree_map(lambda x: x[idx], data)


def make_multi_step(train_step: Callable, batch_size: int, steps_per_call: int,
                    batch_fn: Callable = sample_batch, batch_sharding=None) -> Callable:
  """Returns multi_step(state, data) -> (state, metrics [steps_per_call]) for jax.jit.

  `batch_fn(key, data, batch_size)` builds one batch; the default samples rows of
  `data` uniformly. The batch key is split from the state's RNG, so a run is a pure
  function of its initial state and data.
  """

  def multi_step(state: TrainState, data: dict):
    def body(state, _):
      rng, key = jax.random.split(state.rng)
      state = state.replace(rng=rng)
      batch = batch_fn(key, data, batch_size)
      if batch_sharding is not None:
        batch = jax.lax.with_sharding_constraint(batch, batch_sharding)
      return train_step(state, batch)
    return jax.lax.scan(body, state, None, length=steps_per_call)

  return multi_step
