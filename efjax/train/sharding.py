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
  """Places every leaf of `tree` on every device of `mesh`."""
  return jax.device_put(tree, NamedSharding(mesh, P()))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, the rest replicated."""
  return NamedSharding(mesh, P("data"))
