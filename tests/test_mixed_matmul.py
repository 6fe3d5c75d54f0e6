"""bf16 matmuls: close to float32 at every derivative order, and bf16 x bf16 dots only."""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from efjax.networks.mixed_matmul import bf16_matmul


def _dsm_like(matmul, x, w):
  g = jax.grad(lambda x: jnp.sum(jnp.tanh(matmul(x, w))))(x)
  return jnp.sum(g**2)


def test_values_and_double_backward_are_close_to_float32():
  x = jax.random.normal(jax.random.key(0), (2, 8, 16))
  w = jax.random.normal(jax.random.key(1), (16, 12)) / 4
  np.testing.assert_allclose(bf16_matmul(x, w), x @ w, atol=0.05)
  ours = jax.jit(jax.grad(functools.partial(_dsm_like, bf16_matmul), argnums=(0, 1)))(x, w)
  ref = jax.grad(functools.partial(_dsm_like, jnp.matmul), argnums=(0, 1))(x, w)
  for a, b in zip(ours, ref):
    assert a.dtype == jnp.float32
    assert float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b)) < 0.03


def test_every_dot_of_the_double_backward_is_bf16():
  x, w = jnp.ones((4, 8)), jnp.ones((8, 3))
  jaxpr = jax.make_jaxpr(jax.grad(functools.partial(_dsm_like, bf16_matmul), argnums=1))(x, w)
  dots = [e for e in _all_eqns(jaxpr.jaxpr) if e.primitive.name == "dot_general"]
  assert len(dots) >= 6
  for e in dots:
    assert all(v.aval.dtype == jnp.bfloat16 for v in e.invars), e


def _all_eqns(jaxpr):
  for e in jaxpr.eqns:
    yield e
    for p in e.params.values():
      inner = getattr(p, "jaxpr", None)
      if inner is not None:
        yield from _all_eqns(getattr(inner, "jaxpr", inner))
