"""Small building blocks shared by the backbones: a dense layer, embeddings, an MLP.

All layers are per-sample (nothing couples examples in a batch) and smooth, so the
energy they build is twice differentiable in the actions.

Initialization follows PyTorch's defaults (U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for
weights and biases) so that a network built here starts where the authors' does.
"""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.mixed_matmul import bf16_matmul

Array = jax.Array

# Kaiming-uniform with a = sqrt(5): variance 1 / (3 fan_in), PyTorch's default.
torch_kernel_init = nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")


def torch_bias_init(fan_in: int):
  """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default bias initializer."""
  bound = 1.0 / max(fan_in, 1) ** 0.5

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def matmul(x: Array, w: Array, compute_dtype) -> Array:
  """x @ w with inputs cast to `compute_dtype` and a float32 result.

  With bfloat16 inputs XLA accumulates in float32 and reaches about twice its
  float32 matmul throughput on CPUs with AVX-512 BF16; the result stays float32 so
  every element-wise operation around the matmul keeps full precision.
  """
  if compute_dtype is None or jnp.dtype(compute_dtype) == x.dtype == w.dtype:
    return x @ w
  if jnp.dtype(compute_dtype) != jnp.bfloat16:
    raise ValueError(f"compute dtype {compute_dtype} is not supported; use float32 or bfloat16")
  return bf16_matmul(x, w)


def dense(module: nn.Module, x: Array, features: int, use_bias: bool, compute_dtype,
          shared: Array | None = None, kernel_fn=None) -> Array:
  """The body of a dense layer inside `module`'s compact call: params `kernel [in, out]`
  and `bias [out]` (PyTorch's initialization), y = x @ kernel' + bias.

  kernel_fn: a transform of the kernel before use (spectral normalization); None: as is.
  shared: an input [B, S] shared by every leading row of x [R, B, X]: the layer is the
  one over concat(x, shared) (in = X + S, the same parameters), computed with the
  shared input's share once per state instead of once per row: y [R, B, out].
  """
  width = x.shape[-1]
  fan_in = width + (0 if shared is None else shared.shape[-1])
  kernel = module.param("kernel", torch_kernel_init, (fan_in, features))
  if kernel_fn is not None:
    kernel = kernel_fn(kernel)
  if shared is None:
    y = matmul(x, kernel, compute_dtype)
  else:
    y = matmul(shared, kernel[width:], compute_dtype) + _thin_matmul(x, kernel[:width],
                                                                      compute_dtype)
  if use_bias:
    y = y + module.param("bias", torch_bias_init(fan_in), (features,))
  return y


def _thin_matmul(x: Array, w: Array, compute_dtype) -> Array:
  """x [..., K] @ w [K, N]; for a few input columns (an action), as a sum of broadcast
  products, which XLA:CPU runs faster than a matmul this thin."""
  if x.shape[-1] > 8:
    return matmul(x, w, compute_dtype)
  return sum(x[..., k, None] * w[k] for k in range(x.shape[-1]))


class Linear(nn.Module):
  """y = x @ kernel + bias. Parameters `kernel [in, out]`, `bias [out]` as nn.Dense.

  `Linear(n)(x, shared)` is the layer over concat(x, shared) for rows x [R, B, X] that
  share shared [B, S] (see `dense`).
  """
  features: int
  use_bias: bool = True
  compute_dtype: object = None

  @nn.compact
  def __call__(self, x: Array, shared: Array | None = None) -> Array:
    return dense(self, x, self.features, self.use_bias, self.compute_dtype, shared)


class MLP(nn.Module):
  """Linear layers with `activation` between them (and after the last if asked).

  `MLP(...)(x, shared)`: the first layer is over concat(x, shared) for rows x [R, B, X]
  sharing shared [B, S] (see `dense`); the result is [R, B, widths[-1]].

  dropout: the rate of dropout after each activation, active only when the caller gives
  a 'dropout' rng (`apply(..., rngs={"dropout": key})`: the training loss does, see
  efjax.losses.dsm_loss); without one, as in every reading of the energy, the layers are
  deterministic and the energy stays a smooth function of the actions.
  """
  widths: Sequence[int]
  activation: Callable[[Array], Array] = nn.softplus
  activate_last: bool = False
  compute_dtype: object = None
  dropout: float = 0.0

  @nn.compact
  def __call__(self, x: Array, shared: Array | None = None) -> Array:
    for i, width in enumerate(self.widths):
      layer = Linear(width, compute_dtype=self.compute_dtype, name=f"dense_{i}")
      x = layer(x, shared) if i == 0 else layer(x)
      if self.activate_last or i < len(self.widths) - 1:
        x = self.activation(x)
        if self.dropout > 0 and self.has_rng("dropout"):
          x = nn.Dropout(self.dropout, deterministic=False)(x, rng=self.make_rng("dropout"))
    return x


def sinusoidal_features(t: Array, dim: int, max_period: float = 10000.0) -> Array:
  """[B] -> [B, dim]: sin and cos of t at dim // 2 frequencies exp(-ln(max_period) i / half)."""
  half = dim // 2
  freqs = jnp.exp(-jnp.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
  x = t[..., None].astype(jnp.float32) * freqs
  return jnp.concatenate([jnp.sin(x), jnp.cos(x)], axis=-1)


class TimeEmbedding(nn.Module):
  """Diffusion time t [B] in [0, 1] -> [B, dim]: sinusoidal features, Linear, act, Linear."""
  dim: int = 128
  activation: Callable[[Array], Array] = nn.softplus
  compute_dtype: object = None
  dropout: float = 0.0            # see MLP

  @nn.compact
  def __call__(self, t: Array) -> Array:
    x = sinusoidal_features(t, self.dim)
    return MLP((self.dim, self.dim), self.activation, compute_dtype=self.compute_dtype,
               dropout=self.dropout)(x)
