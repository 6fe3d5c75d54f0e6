"""bfloat16 matmuls with float32 accumulation, to every order of differentiation.

On CPUs with AVX-512 BF16, XLA runs a matmul with bfloat16 inputs and a float32
result (`preferred_element_type`) at about twice its float32 rate. JAX's own
transpose of such a dot multiplies a float32 cotangent by a bfloat16 operand, a
mixed dot that runs slower than float32; and DSM differentiates twice. So the
three 2-D forms a matmul and its derivatives need (A B, A B^T, A^T B) are each a
`custom_vjp` whose backward is written with the other two: every derivative, of
any order, is again a bfloat16 x bfloat16 -> float32 matmul.
"""
import jax
import jax.numpy as jnp

Array = jax.Array


def _dot(a: Array, b: Array, contract_a: int, contract_b: int) -> Array:
  return jax.lax.dot_general(a.astype(jnp.bfloat16), b.astype(jnp.bfloat16),
                             (((contract_a,), (contract_b,)), ((), ())),
                             preferred_element_type=jnp.float32)


@jax.custom_vjp
def mm_nn(a: Array, b: Array) -> Array:
  """a [M, K] @ b [K, N] -> [M, N] float32."""
  return _dot(a, b, 1, 0)


@jax.custom_vjp
def mm_nt(a: Array, b: Array) -> Array:
  """a [M, K] @ b[N, K]^T -> [M, N] float32."""
  return _dot(a, b, 1, 1)


@jax.custom_vjp
def mm_tn(a: Array, b: Array) -> Array:
  """a[K, M]^T @ b [K, N] -> [M, N] float32."""
  return _dot(a, b, 0, 0)


def _cast_like(grads, primals):
  return tuple(g.astype(p.dtype) for g, p in zip(grads, primals))


mm_nn.defvjp(lambda a, b: (mm_nn(a, b), (a, b)),
             lambda res, g: _cast_like((mm_nt(g, res[1]), mm_tn(res[0], g)), res))
mm_nt.defvjp(lambda a, b: (mm_nt(a, b), (a, b)),
             lambda res, g: _cast_like((mm_nn(g, res[1]), mm_tn(g, res[0])), res))
mm_tn.defvjp(lambda a, b: (mm_tn(a, b), (a, b)),
             lambda res, g: _cast_like((mm_nt(res[1], g), mm_nn(res[0], g)), res))


def bf16_matmul(x: Array, w: Array) -> Array:
  """x [..., K] @ w [K, N] -> [..., N] float32, bfloat16 inputs at every order."""
  out = mm_nn(x.reshape(-1, x.shape[-1]), w)
  return out.reshape(x.shape[:-1] + (w.shape[-1],))
