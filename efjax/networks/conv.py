"""1-D convolution over [B, T, C]: XLA's convolution, im2col or block-Toeplitz matmuls.

XLA:CPU's convolution collapses on sequences shorter than the kernel: at T=4 (K=5) the
paper network's DSM double backward ran 35x slower with `lax.conv` than with one
block-Toeplitz matmul. From T=8 up it is as fast or faster in float32 in a single call
(jax 0.10.2: 2.0-2.4x im2col on one core for 4 conv layers; the paper network's energy
at batch 4096 1.2x, its train step 1.0x), but inside a loop (`lax.scan` over training
steps, as `train.steps_per_call` runs them, or over the PF-ODE's steps) it collapses
too: 10 train steps in one scan ran 8x slower than with the matmul forms, batch-256
sampling 1.3x slower (benchmarks/variants.py, BENCHMARKS.md, 2-core Xeon, 2026-12-01). Training and sampling run in loops, so `auto` keeps to matmuls: Toeplitz
at T <= 8 (batch >= 32), im2col otherwise (POLICY = "matmul"; "xla_from_t8" restores the
single-call choice, for benchmarks/variants.py). Of the matmul forms, one im2col matmul
beat a sum of per-tap matmuls (1.3x) and one matmul into K stacked output blocks (2x).
On GPU and TPU `auto` is always `lax.conv_general_dilated`.
All forms share the parameters (`kernel [K, C_in, C_out]`, `bias [C_out]`, as
`nn.Conv`) and give the same outputs to float tolerance (tests/test_conv.py).
"""
import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.layers import matmul, torch_bias_init, torch_kernel_init

Array = jax.Array
IMPLEMENTATIONS = ("auto", "matmul", "toeplitz", "xla", "portable")
# Switches kept for benchmarks/variants.py, which measures each change against what it
# replaced: POLICY "xla_from_t8" is `auto`'s choice of XLA's convolution at T >= 8 in
# float32 (fast in one call, slow in loops); CAST_EARLY casts activations (im2col) and
# kernels (Toeplitz) to bf16 before the gather or assembly, as before: their gradients
# then summed in bf16, 1.4x slower.
POLICY = "matmul"
POLICIES = ("matmul", "xla_from_t8")
CAST_EARLY = False


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
  if compute_dtype is not None and CAST_EARLY:
    x = x.astype(compute_dtype)   # gather taps in the narrow type: half the bytes moved
  xp = jnp.pad(x, ((0, 0), (padding, padding), (0, 0)))
  if k == 1:
    taps = xp[:, : (t_out - 1) * stride + 1: stride]
  else:
    taps = jnp.concatenate(
        [xp[:, j: j + (t_out - 1) * stride + 1: stride] for j in range(k)], axis=-1)
  return matmul(taps, kernel.reshape(k * c_in, c_out), compute_dtype)


def toeplitz_matrix(kernel: Array, t_in: int, stride: int, padding: int) -> Array:
  """[K, C_in, C_out] -> [T_in * C_in, T_out * C_out] block-Toeplitz matrix of the conv.

  Assembled from kernel taps and zero blocks by concatenation, so its gradient is a
  sum of slices (an einsum with a 0/1 selector made the backward a large matmul).
  """
  k, c_in, c_out = kernel.shape
  t_out = (t_in + 2 * padding - k) // stride + 1
  zero = jnp.zeros((c_in, c_out), kernel.dtype)
  rows = []
  for i in range(t_in):
    taps = [i - o * stride + padding for o in range(t_out)]
    rows.append(jnp.concatenate([kernel[j] if 0 <= j < k else zero for j in taps], axis=1))
  return jnp.concatenate(rows, axis=0)


def conv1d_toeplitz(x: Array, kernel: Array, stride: int, padding: int,
                    compute_dtype=None) -> Array:
  """The convolution as one dense matmul with its block-Toeplitz matrix.

  [B, T_in * C_in] @ [T_in * C_in, T_out * C_out]: no gathered copies of the input at
  all, at T_in / K times the useful FLOPs (fewer than im2col when padding taps would be
  wasted). The matrix is rebuilt from `kernel` at every call (cheap: parameters only).
  """
  k, c_in, c_out = kernel.shape
  b, t_in, _ = x.shape
  t_out = (t_in + 2 * padding - k) // stride + 1
  if compute_dtype is not None and CAST_EARLY:
    kernel = kernel.astype(compute_dtype)   # build the big matrix in the narrow type
  w = toeplitz_matrix(kernel, t_in, stride, padding)
  return matmul(x.reshape(b, t_in * c_in), w, compute_dtype).reshape(b, t_out, c_out)


def conv1d_xla(x: Array, kernel: Array, stride: int, padding: int,
               compute_dtype=None) -> Array:
  """The same convolution through `lax.conv_general_dilated`."""
  if compute_dtype is not None:
    x, kernel = x.astype(compute_dtype), kernel.astype(compute_dtype)
  return jax.lax.conv_general_dilated(
      x, kernel, window_strides=(stride,), padding=[(padding, padding)],
      dimension_numbers=("NWC", "WIO", "NWC"),
      preferred_element_type=jnp.float32)


def conv1d_portable(x: Array, kernel: Array, stride: int, padding: int,
                    compute_dtype=None) -> Array:
  """im2col on CPU, XLA's convolution elsewhere, decided when the function is lowered.

  For code lowered for several platforms at once (jax.export): `auto` decides from
  the machine that traces, and its Toeplitz choice needs a concrete batch size.
  """
  args = (x, kernel)
  on = lambda conv: lambda x, kernel: conv(x, kernel, stride, padding, compute_dtype)  # noqa: E731
  return jax.lax.platform_dependent(*args, cpu=on(conv1d_matmul), default=on(conv1d_xla))


_CONVS = {"matmul": conv1d_matmul, "toeplitz": conv1d_toeplitz, "xla": conv1d_xla,
          "portable": conv1d_portable}
TOEPLITZ_MAX_T = 4        # on CPU, sequences up to this length use the Toeplitz form,
TOEPLITZ_MIN_BATCH = 32   # for batches at least this large
XLA_MIN_T = 8             # and sequences from this length XLA's own convolution


def choose_conv(impl: str, t_in: int, kernel_size: int, batch: int,
                compute_dtype=None) -> str:
  """The implementation for one layer: `auto` picks by backend, length and batch.

  On CPU (jax 0.10.2, 2-core Xeon, DSM double backward of 4 conv layers at B=256, K=5,
  CPU time on one core, one call): XLA's convolution ran 2.0x faster than im2col at T=8
  (C=128) and 2.4x at T=16 (C=64), but 6.6x slower over a scan of train steps (module
  docstring), and 35x slower than the Toeplitz form at T=4 (C=256), where
  the sequence is shorter than the kernel; Toeplitz beat im2col 1.5x at T=4. At batch 1
  the Toeplitz form is a matrix-vector product that rereads a rebuilt matrix per layer
  (PF-ODE sampling at batch 1 went from 24 to 92 ms), so small batches keep im2col at T=4.
  At T=8 the Toeplitz form does 64 C_in C_out FLOPs per sample against im2col's 40, yet
  im2col there did not pay (2-core EPYC, 2026-12-02, 3 interleaved rounds: one train step
  1.08x [0.64-1.10], ten steps per call 0.95x [0.90-1.00], energy 1.00x), so T=8 stays
  Toeplitz.
  1x1 convolutions are plain matmuls. With bfloat16 compute XLA:CPU's convolution has
  no fast path (its mixed-precision derivatives ran as loops: the train step slowed
  down), so bf16 keeps the matmul forms, whose derivatives stay bf16 x bf16 -> f32
  matmuls (mixed_matmul.py).
  """
  impl = resolve_impl(impl)
  if impl != "matmul" or kernel_size == 1:
    return impl
  if POLICY not in POLICIES:
    raise ValueError(f"conv.POLICY {POLICY!r} is not one of {POLICIES}")
  if POLICY == "matmul":
    return "toeplitz" if t_in <= 8 and batch >= TOEPLITZ_MIN_BATCH else impl
  if t_in >= XLA_MIN_T and compute_dtype is None:
    return "xla"
  if t_in <= TOEPLITZ_MAX_T and batch >= TOEPLITZ_MIN_BATCH:
    return "toeplitz"
  return impl


class Conv1D(nn.Module):
  """Conv1d on channels-last sequences [B, T, C_in] -> [B, T_out, C_out].

  Attributes:
    features: C_out.
    kernel_size: K.
    stride: step between output positions.
    padding: zeros added at each end of T (None: K // 2, "same" for stride 1).
    impl: 'auto' (per backend, length and batch), 'matmul', 'toeplitz', 'xla' or
      'portable' (per platform at lowering time: for multi-platform export).
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
    conv = _CONVS[choose_conv(self.impl, x.shape[1], self.kernel_size, x.shape[0],
                              self.compute_dtype)
                  if self.impl == "auto" else self.impl]
    return conv(x, kernel, self.stride, padding, self.compute_dtype) + bias
