"""1-D convolution over [B, T, C] as matmuls over shifted slices, or XLA's convolution.

XLA:CPU's convolution collapses on the short sequences of an action-chunk UNet:
the paper network's DSM gradient ran at 9 GFLOP/s with `lax.conv` against 176
GFLOP/s with this matmul form (2026-11-25, 2-core EPYC), while XLA's matmul runs
near the CPU's peak. Of the matmul forms tried, one im2col matmul beat a sum of
per-tap matmuls (1.3x) and one matmul into K stacked output blocks (2x). `Conv1D` therefore gathers the kernel taps of every
output position ("im2col") and does one matmul on CPU, and keeps
`lax.conv_general_dilated` on GPU and TPU where convolutions are fast. Both paths
share the parameters (`kernel [K, C_in, C_out]`, `bias [C_out]`, as `nn.Conv`) and
give the same outputs to float tolerance (tests/test_conv.py).
"""
import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.layers import matmul, torch_bias_init, torch_kernel_init

Array = jax.Array
IMPLEMENTATIONS = ("auto", "matmul", "xla")


def resolve_impl(impl: str) -> str:
  """'auto' -> 'matmul' on CPU, 'xla' on accelerators."""
  if impl not in IMPLEMENTATIONS:
    raise ValueError(f"conv impl {impl!r} is not one of {IMPLEMENTATIONS}")
  if impl == "auto":
    return "matmul" if jax.default_backend() == "cpu" else "xla"
  return impl


def conv1d_matmul(x: Array, kernel: Array, stride: int, padding: int,
                  compute_dtype=None) -> Array:
  """[B, T, C_in] (*) [K, C_in, C_out] -> [B, T_out, C_out] as one matmul over taps."""
  k, c_in, c_out = kernel.shape
  t_out = (x.shape[1] + 2 * padding - k) // stride + 1
  if compute_dtype is not None:
    x = x.astype(compute_dtype)   # gather taps in the narrow type: half the bytes moved
  xp = jnp.pad(x, ((0, 0), (padding, padding), (0, 0)))
  if k == 1:
    taps = xp[:, : (t_out - 1) * stride + 1: stride]
  else:
    taps = jnp.concatenate(
        [xp[:, j: j + (t_out - 1) * stride + 1: stride] for j in range(k)], axis=-1)
  return matmul(taps, kernel.reshape(k * c_in, c_out), compute_dtype)


def conv1d_xla(x: Array, kernel: Array, stride: int, padding: int,
               compute_dtype=None) -> Array:
  """The same convolution through `lax.conv_general_dilated`."""
  if compute_dtype is not None:
    x, kernel = x.astype(compute_dtype), kernel.astype(compute_dtype)
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(stride,), padding=[(padding, padding)],
      dimension_numbers=("NWC", "WIO", "NWC"),
      preferred_element_type=jnp.float32)


_CONVS = {"matmul": conv1d_matmul, "xla": conv1d_xla}


class Conv1D(nn.Module):
  """Conv1d on channels-last sequences [B, T, C_in] -> [B, T_out, C_out].

  Attributes:
    features: C_out.
    kernel_size: K.
    stride: step between output positions.
    padding: zeros added at each end of T (None: K // 2, "same" for stride 1).
    impl: 'auto' (per backend), 'matmul' or 'xla'.
  """
  features: int
  kernel_size: int
  stride: int = 1
  padding: int | None = None
  impl: str = "auto"
  compute_dtype: object = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    c_in = x.shape[-1]
    fan_in = c_in * self.kernel_size
    kernel = self.param("kernel", torch_kernel_init,
                        (self.kernel_size, c_in, self.features))
    bias = self.param("bias", torch_bias_init(fan_in), (self.features,))
    padding = self.kernel_size // 2 if self.padding is None else self.padding
    conv = _CONVS[resolve_impl(self.impl)]
    return conv(x, kernel, self.stride, padding, self.compute_dtype) + bias
