"""The matmul 1-D convolution is a drop-in for lax.conv: same params, same outputs, same grads."""
import jax
import jax.numpy as jnp
import pytest

from efjax.networks import conv
from conftest import assert_close

CASES = [  # (T, C_in, C_out, kernel, stride, padding)
    (16, 4, 8, 5, 1, 2), (4, 8, 8, 5, 1, 2), (8, 6, 3, 3, 2, 1), (16, 8, 8, 3, 2, 1),
    (4, 8, 4, 1, 1, 0), (7, 3, 5, 3, 1, 1), (1, 4, 4, 5, 1, 2),
]


@pytest.mark.parametrize("t,c_in,c_out,k,stride,padding", CASES)
def test_matmul_conv_equals_xla_conv(t, c_in, c_out, k, stride, padding):
  kx, kw = jax.random.split(jax.random.key(t * 100 + k))
  x = jax.random.normal(kx, (3, t, c_in))
  w = jax.random.normal(kw, (k, c_in, c_out))
  f = lambda impl: jax.jit(lambda x, w: conv._CONVS[impl](x, w, stride, padding))  # noqa: E731
  loss = lambda impl: lambda x, w: jnp.sum(jnp.sin(conv._CONVS[impl](x, w, stride, padding)))  # noqa: E731
  g_xla = jax.jit(jax.grad(loss("xla"), argnums=(0, 1)))(x, w)
  for impl in ("matmul", "toeplitz", "portable"):
    assert_close(f(impl)(x, w), f("xla")(x, w), rtol=1e-5, atol=1e-5)
    g = jax.jit(jax.grad(loss(impl), argnums=(0, 1)))(x, w)
    for a, b in zip(g, g_xla):
      assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_second_derivatives_match_xla():
  """DSM differentiates twice: the double backward must agree too."""
  x = jax.random.normal(jax.random.key(5), (2, 4, 6))
  w = jax.random.normal(jax.random.key(6), (5, 6, 6)) / 5

  def dsm_like(impl):
    def loss(w):
      g = jax.grad(lambda x: jnp.sum(jnp.tanh(conv._CONVS[impl](x, w, 1, 2))))(x)
      return jnp.sum(g**2)
    return jax.jit(jax.grad(loss))(w)
  for impl in ("matmul", "toeplitz"):
    assert_close(dsm_like(impl), dsm_like("xla"), rtol=1e-4, atol=1e-4)


def test_portable_conv_lowers_for_every_platform_with_a_symbolic_batch():
  x = jax.ShapeDtypeStruct(jax.export.symbolic_shape("b, 4, 6"), jnp.float32)
  w = jnp.ones((5, 6, 3))
  fn = jax.jit(lambda x: conv.conv1d_portable(x, w, 1, 2))
  exported = jax.export.export(fn, platforms=("cpu", "cuda", "tpu"))(x)
  assert exported.platforms == ("cpu", "cuda", "tpu")
  xs = jax.random.normal(jax.random.key(0), (7, 4, 6))
  assert_close(exported.call(xs), conv.conv1d_xla(xs, w, 1, 2))


def test_module_shares_parameters_across_impls():
  x = jax.random.normal(jax.random.key(0), (2, 4, 8))
  mm, xla = conv.Conv1D(16, 5, impl="matmul"), conv.Conv1D(16, 5, impl="xla")
  variables = mm.init(jax.random.key(1), x)
  assert jax.tree_util.tree_map(jnp.shape, variables) == jax.tree_util.tree_map(
      jnp.shape, xla.init(jax.random.key(1), x))
  assert variables["params"]["kernel"].shape == (5, 8, 16)
  assert_close(mm.apply(variables, x), xla.apply(variables, x))


def test_auto_picks_by_backend_and_length_and_rejects_unknown(monkeypatch):
  assert conv.resolve_impl("auto") == ("matmul" if jax.default_backend() == "cpu" else "xla")
  if jax.default_backend() == "cpu":
    # The default keeps to matmuls: XLA's convolution collapses inside lax.scan.
    assert conv.choose_conv("auto", 16, 5, 256) == "matmul"
    assert conv.choose_conv("auto", 8, 5, 256) == "toeplitz"
    assert conv.choose_conv("auto", 8, 3, 1) == "matmul"
    assert conv.choose_conv("auto", 4, 5, 256) == "toeplitz"
    assert conv.choose_conv("auto", 4, 5, 256, jnp.bfloat16) == "toeplitz"
    assert conv.choose_conv("auto", 4, 5, 1) == "matmul"
    assert conv.choose_conv("auto", 4, 1, 256) == "matmul"
    # The single-call choice, kept for benchmarks/variants.py.
    monkeypatch.setattr(conv, "POLICY", "xla_from_t8")
    assert conv.choose_conv("auto", 16, 5, 256) == "xla"
    assert conv.choose_conv("auto", 8, 3, 1) == "xla"
    assert conv.choose_conv("auto", 16, 5, 256, jnp.bfloat16) == "matmul"
    assert conv.choose_conv("auto", 8, 5, 256, jnp.bfloat16) == "matmul"
    assert conv.choose_conv("auto", 4, 5, 256) == "toeplitz"
    monkeypatch.setattr(conv, "POLICY", "v9")
    with pytest.raises(ValueError, match="conv.POLICY 'v9'"):
      conv.choose_conv("auto", 16, 5, 256)
  with pytest.raises(ValueError, match="conv impl 'fft'"):
    conv.resolve_impl("fft")


def test_bfloat16_compute_is_close_to_float32():
  kx, kw = jax.random.split(jax.random.key(3))
  x, w = jax.random.normal(kx, (2, 8, 16)), jax.random.normal(kw, (5, 16, 32)) / 9
  exact = conv.conv1d_xla(x, w, 1, 2)
  for fn in (conv.conv1d_matmul, conv.conv1d_toeplitz):
    approx = fn(x, w, 1, 2, compute_dtype=jnp.bfloat16)
    assert approx.dtype == jnp.float32
    assert float(jnp.max(jnp.abs(approx - exact))) < 0.05 * float(jnp.max(jnp.abs(exact)))
