"""Schedules: the paper's VE values, marginal identities, drift, registry errors."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from efjax import schedules


def make(name, **kwargs):
  return schedules.make_schedule(ml_collections.ConfigDict(dict(name=name, kwargs=kwargs)))


def test_ve_matches_the_paper():
  ve = make("ve")
  np.testing.assert_allclose(ve.sigma(jnp.array([0.0, 0.5, 1.0])), [0.01, 0.01 * 1000**0.5, 10.0],
                             rtol=1e-5)
  x, s, t = jnp.ones((2, 3)), jnp.full((2, 3), 2.0), jnp.array([0.2, 0.7])
  expected = -0.5 * (2 * ve.sigma(t)**2 * jnp.log(1000.0))[:, None] * s   # -1/2 d sigma^2/dt score
  np.testing.assert_allclose(ve.ode_drift(x, s, t), expected, rtol=1e-5)


def test_vp_preserves_variance_and_edm_inverts():
  vp = make("vp")
  t = jnp.linspace(0, 1, 11)
  np.testing.assert_allclose(vp.alpha(t)**2 + vp.sigma(t)**2, 1.0, rtol=1e-5)
  assert float(vp.sigma(jnp.float32(0.0))) > 0
  edm = make("edm")
  np.testing.assert_allclose(edm.t_of_sigma(edm.sigma(t)), t, atol=1e-5)
  ts = edm.sample_t(jax.random.key(0), (10_000,))
  assert float(ts.min()) >= 0 and float(ts.max()) <= 1
  median_sigma = float(jnp.median(edm.sigma(ts)))
  assert abs(np.log(median_sigma) - (-1.2)) < 0.1      # log-normal(P_mean=-1.2)


def test_ve_lognormal_is_ve_with_log_normal_training_levels():
  """VE's sigma(t) (so the sampler and a reward's t read as VE's), training sigmas
  log-normal(p_mean, p_std) clipped to VE's range; VE itself keeps t ~ U[0, 1]."""
  ve, lognormal = make("ve"), make("ve_lognormal", p_mean=-1.0, p_std=0.5)
  t = jnp.linspace(0, 1, 11)
  np.testing.assert_allclose(lognormal.sigma(t), ve.sigma(t), rtol=1e-6)
  log_sigma = np.log(np.asarray(lognormal.sigma(lognormal.sample_t(jax.random.key(0),
                                                                   (20_000,)))))
  assert abs(log_sigma.mean() - (-1.0)) < 0.02 and abs(log_sigma.std() - 0.5) < 0.02
  wide = make("ve_lognormal", p_mean=0.0, p_std=10.0).sample_t(jax.random.key(1), (20_000,))
  assert float(wide.min()) == 0.0 and float(wide.max()) == 1.0      # clipped, not beyond
  uniform = np.asarray(ve.sample_t(jax.random.key(0), (20_000,)))
  assert abs(uniform.mean() - 0.5) < 0.01 and abs(uniform.std() - 12 ** -0.5) < 0.01


def test_unknown_schedule_and_bad_kwargs():
  with pytest.raises(ValueError, match="unknown noise schedule 'cosine'; valid: edm, ve, ve_lognormal, vp"):
    make("cosine")
  with pytest.raises(ValueError, match=r"schedule.kwargs \['beta'\]"):
    make("ve", beta=1.0)
  with pytest.raises(ValueError, match="0 < sigma"):
    make("ve", sigma_min=1.0, sigma_max=0.5)


@pytest.mark.parametrize("name", ["ve", "vp", "edm", "ve_lognormal"])
def test_t_of_sigma_inverts_sigma(name):
  schedule = make(name)
  t = jnp.linspace(0.05, 0.95, 7)
  np.testing.assert_allclose(schedule.t_of_sigma(schedule.sigma(t)), t, atol=1e-4)
