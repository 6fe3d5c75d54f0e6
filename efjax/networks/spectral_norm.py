"""Spectral normalization as a pure function of the parameters.

`SpectralLinear` divides its kernel by an estimate of its largest singular value,
sigma = u . (W v), where the singular-vector estimates `u [out]` and `v [in]` live in
the `spectral` variable collection. They are constants inside the forward pass, so
the energy stays a pure, per-sample function of (params, inputs).

PyTorch's `spectral_norm` refreshes u and v with one power iteration at every
training forward pass (under no_grad) and then differentiates through sigma. The
equivalent here is `power_iteration(params, spectral)` once per training step,
before the loss: the same numbers, without a mutable forward pass inside
`jax.grad`.
"""
import jax
import jax.numpy as jnp
from flax import linen as nn
from flax import traverse_util

from efjax.networks.layers import dense

Array = jax.Array
COLLECTION = "spectral"
_INIT_ITERATIONS = 15


def _normalize(x: Array, eps: float = 1e-12) -> Array:
  return x / jnp.maximum(jnp.linalg.norm(x), eps)


def _iterate(kernel: Array, u: Array):
  """One power iteration for W = kernel.T: v = W^T u / |.|, u = W v / |.|."""
  kernel = jax.lax.stop_gradient(kernel)
  v = _normalize(kernel @ u)
  u = _normalize(v @ kernel)
  return u, v


class SpectralLinear(nn.Module):
  """Linear layer with kernel / sigma(kernel). Params `kernel [in, out]`, `bias [out]`."""
  features: int
  use_bias: bool = True
  compute_dtype: object = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    def normalized(kernel):
      def init_vectors():
        u = _normalize(jax.random.normal(self.make_rng("params"), (self.features,)))
        for _ in range(_INIT_ITERATIONS):
          u, v = _iterate(kernel, u)
        return u, v

      vectors = self.variable(COLLECTION, "uv", init_vectors)
      u, v = jax.lax.stop_gradient(vectors.value)   # buffers, as in PyTorch
      return kernel / (u @ (v @ kernel))

    return dense(self, x, self.features, self.use_bias, self.compute_dtype,
                 kernel_fn=normalized)


def power_iteration(params, spectral):
  """One power-iteration refresh of every SpectralLinear's (u, v); returns new `spectral`.

  Args:
    params: the network's `params` collection.
    spectral: its `spectral` collection ({} for a network without spectral norm).
  """
  if not spectral:
    return spectral
  flat_params = traverse_util.flatten_dict(params)
  updated = {}
  for path, (u, _) in traverse_util.flatten_dict(spectral).items():
    updated[path] = _iterate(flat_params[path[:-1] + ("kernel",)], u)
  return traverse_util.unflatten_dict(updated)
