"""Data parallelism with a device mesh: the batch is split over a `data` axis, the train
state replicated. The same code runs on 1 CPU, 8 GPUs or a pod slice (XLA's SPMD
partitioner inserts the gradient all-reduce)."""
import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P


def data_mesh(devices=None) -> Mesh:
  """A 1-D mesh named `data` over `devices` (all devices by default)."""
  return Mesh(np.asarray(devices if devices is not None else jax.devices()), ("data",))


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` on every device of `mesh` (of every process).

  With several processes each one passes the same full values (every process
  builds the same initial state from the same seed and data).
  """
  sharding = NamedSharding(mesh, P())
  if sharding.is_fully_addressable:
    return jax.device_put(tree, sharding)

  def leaf(x):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(leaf(jax.random.key_data(x)))
    return jax.make_array_from_process_local_data(sharding, np.asarray(x))
  return jax.tree_util.tree_map(leaf, tree)


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, the rest replicated."""
  return NamedSharding(mesh, P("data"))
