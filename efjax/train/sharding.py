"""Data parallelism with a device mesh: the batch is split over a `data` axis; the train
state is replicated, or (FSDP-style, for large models) each large array is split over
the same axis. The same code runs on 1 CPU, 8 GPUs or a pod slice: XLA's SPMD
partitioner inserts the gradient all-reduce (replicated) or the parameter all-gathers
and gradient reduce-scatters (fsdp)."""
import jax
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, PartitionSpec as P

PARAM_SHARDING = ("replicated", "fsdp")
FSDP_MIN_SIZE = 2 ** 14    # smaller arrays stay replicated: gathering them costs more than it saves


def data_mesh(devices=None) -> Mesh:
  """A 1-D mesh named `data` over `devices` (all devices, of every process, by default)."""
  devices = list(devices if devices is not None else jax.devices())
  # Auto axes: XLA's partitioner propagates shardings from the inputs and constraints
  # (make_mesh's default, Explicit, would make every op state its output sharding).
  return jax.make_mesh((len(devices),), ("data",), axis_types=(AxisType.Auto,), devices=devices)


def fsdp_spec(shape: tuple, num_devices: int, min_size: int = FSDP_MIN_SIZE) -> P:
  """The largest axis divisible by `num_devices` split over `data`; P() for small arrays."""
  if num_devices == 1 or int(np.prod(shape, dtype=np.int64)) < min_size:
    return P()
  for axis in sorted(range(len(shape)), key=lambda i: -shape[i]):
    if shape[axis] % num_devices == 0:
      return P(*[("data" if i == axis else None) for i in range(len(shape))])
  return P()


def state_shardings(tree, mesh: Mesh, mode: str = "replicated", min_size: int = FSDP_MIN_SIZE):
  """A NamedSharding per leaf of `tree`: P() everywhere, or fsdp_spec per array shape.

  Params, EMA params and the optimizer moments have the same shapes, so under
  'fsdp' each is split the same way; scalars (step, RNG, counters) stay replicated.
  """
  if mode not in PARAM_SHARDING:
    raise ValueError(f"param sharding must be one of {PARAM_SHARDING}, got {mode!r}")
  size = mesh.devices.size

  def leaf(x):
    if mode == "replicated" or jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      return NamedSharding(mesh, P())
    return NamedSharding(mesh, fsdp_spec(x.shape, size, min_size))
  return jax.tree_util.tree_map(leaf, tree)


def place(tree, shardings):
  """Puts every leaf of `tree` (full host or device values) on the devices of its sharding.

  With several processes every process passes the same full values (each builds the
  same initial state from the same seed and data) and keeps the parts it addresses.
  """
  def leaf(x, sharding):
    if sharding.is_fully_addressable:
      return jax.device_put(x, sharding)
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      return jax.random.wrap_key_data(leaf(jax.random.key_data(x), sharding))
    host = np.asarray(x)
    return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])
  return jax.tree_util.tree_map(leaf, tree, shardings)


def replicate(tree, mesh: Mesh):
  """Places every leaf of `tree` on every device of `mesh` (of every process)."""
  return place(tree, state_shardings(tree, mesh, "replicated"))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, the rest replicated."""
  return NamedSharding(mesh, P("data"))
