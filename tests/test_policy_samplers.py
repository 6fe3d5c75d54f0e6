"""PF-ODE samplers on a Gaussian with an analytic score: exact transport, Heun beats Euler."""
import jax
import jax.numpy as jnp
import ml_collections
import pytest

from efjax import schedules
from efjax.policy import samplers

MU = jnp.array([0.5, -1.0])
STD = jnp.array([0.7, 1.3])


def gaussian_score(schedule):
  """Score of the marginal of x_t = alpha a + sigma eps, a ~ N(MU, diag(STD^2))."""
  def score(x, t):
    alpha, sigma = schedule.alpha(t)[:, None, None], schedule.sigma(t)[:, None, None]
    return -(x - alpha * MU) / (alpha**2 * STD**2 + sigma**2)
  return score


def exact_transport(schedule, x1, t_end):
  """The PF-ODE's flow for Gaussian data: keeps the standardized coordinate."""
  std = lambda t: jnp.sqrt(schedule.alpha(t)**2 * STD**2 + schedule.sigma(t)**2)  # noqa: E731
  t1, t0 = jnp.float32(1.0), jnp.float32(t_end)
  z = (x1 - schedule.alpha(t1) * MU) / std(t1)
  return schedule.alpha(t0) * MU + std(t0) * z


@pytest.mark.parametrize("name", ["ve", "vp", "edm"])
def test_integrators_transport_the_marginal_and_heun_is_more_accurate(name):
  schedule = schedules.make_schedule(ml_collections.ConfigDict(dict(name=name, kwargs={})))
  t_end, steps = 1e-3, 40
  std1 = jnp.sqrt(schedule.alpha(1.0)**2 * STD**2 + schedule.sigma(1.0)**2)
  x1 = schedule.alpha(1.0) * MU + std1 * jax.random.normal(jax.random.key(0), (4000, 1, 2))
  target = exact_transport(schedule, x1, t_end)
  times = samplers.time_grid(steps, 1.0, t_end)
  run = lambda method: jax.jit(  # noqa: E731
      lambda x: samplers.SAMPLERS.get(method)(gaussian_score(schedule), x, schedule, times))(x1)
  err = {m: float(jnp.sqrt(jnp.mean((run(m) - target) ** 2))) for m in ("euler", "heun")}
  assert err["heun"] < 0.5 * err["euler"], err
  out, exact = run("heun")[:, 0], target[:, 0]
  assert jnp.allclose(out.mean(0), exact.mean(0), atol=0.03), (out.mean(0), exact.mean(0))
  assert jnp.allclose(out.std(0), exact.std(0), rtol=0.05), (out.std(0), exact.std(0))


def test_sample_reproduces_mean_and_covariance():
  """End to end from the VE prior sigma_max * N(0, I) (the paper's sampler)."""
  schedule = schedules.make_schedule(schedules.default_schedule_config())
  key = jax.random.key(1)
  draw = jax.jit(lambda k: samplers.sample(gaussian_score(schedule), k, (20_000, 1, 2), schedule,
                                           method="heun", num_steps=40))
  out = draw(key)[:, 0]
  # The VE prior sigma_max * N(0, I) ignores the data's mean and variance; the flow
  # maps it to mean MU (1 - s / S) and std s sigma_max / S with S = sqrt(s^2 + sigma_max^2),
  # s the data std at t_end (13 % below MU for the wider axis: inherent to VE at 10).
  s_end = jnp.sqrt(STD**2 + schedule.sigma(1e-3) ** 2)
  big = jnp.sqrt(s_end**2 + 100.0)
  assert jnp.allclose(out.mean(0), MU * (1 - s_end / big), atol=0.03), out.mean(0)
  expected_cov = jnp.diag((s_end * 10.0 / big) ** 2)
  assert jnp.allclose(jnp.cov(out.T), expected_cov, rtol=0.05, atol=0.01), jnp.cov(out.T)
  assert jnp.array_equal(draw(key), draw(key))          # same key, same actions


def test_bad_sampler_arguments():
  schedule = schedules.make_schedule(schedules.default_schedule_config())
  score = gaussian_score(schedule)
  with pytest.raises(ValueError, match="unknown sampler 'rk4'; valid: euler, heun"):
    samplers.sample(score, jax.random.key(0), (2, 1, 2), schedule, method="rk4")
  with pytest.raises(ValueError, match="num_steps must be >= 1"):
    samplers.sample(score, jax.random.key(0), (2, 1, 2), schedule, num_steps=0)
