"""Spectral normalization: power iteration finds the top singular value; the layer uses it."""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.networks import SpectralLinear, power_iteration


def test_power_iteration_converges_to_top_singular_value():
  layer = SpectralLinear(6)
  x = jnp.ones((2, 10))
  variables = layer.init(jax.random.key(0), x)
  kernel = variables["params"]["kernel"]
  spectral = variables["spectral"]
  for _ in range(50):
    spectral = jax.jit(power_iteration)(variables["params"], spectral)
  u, v = spectral["uv"]
  sigma = u @ (v @ kernel)
  np.testing.assert_allclose(sigma, np.linalg.svd(np.asarray(kernel), compute_uv=False)[0],
                             rtol=1e-4)
  normalized = kernel / sigma
  assert abs(np.linalg.norm(np.asarray(normalized), 2) - 1.0) < 1e-3
  y = layer.apply({"params": variables["params"], "spectral": spectral}, x)
  np.testing.assert_allclose(y, x @ normalized + variables["params"]["bias"], rtol=1e-5)


def test_vectors_get_no_gradient_and_empty_state_passes_through():
  layer = SpectralLinear(3)
  x = jnp.ones((1, 4))
  variables = layer.init(jax.random.key(1), x)
  grads = jax.grad(lambda v: layer.apply(v, x).sum(), allow_int=True)(variables)
  assert jnp.all(grads["spectral"]["uv"][0] == 0)
  assert power_iteration({"w": 1}, {}) == {}
