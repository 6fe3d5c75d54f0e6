"""The PPO policy's diagonal Gaussian (efjax.rl.networks.distribution) against scipy.stats."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from efjax.rl.networks import distribution, squash_log_det, unsquash


def gaussian(batch=5, act_dim=3, seed=0):
  """mean [batch, act_dim], log_std [act_dim] (std between ~0.2 and ~1.6), u [batch, act_dim]."""
  rng = np.random.default_rng(seed)
  mean = rng.normal(size=(batch, act_dim)).astype(np.float32)
  log_std = rng.uniform(-1.5, 0.5, size=act_dim).astype(np.float32)
  u = (mean + 3 * rng.normal(size=(batch, act_dim))).astype(np.float32)
  return mean, log_std, u


@pytest.mark.parametrize("act_dim", [1, 3, 6])
def test_log_prob_and_entropy_match_scipy(act_dim):
  mean, log_std, u = gaussian(act_dim=act_dim)
  d = jax.jit(lambda m, l, x: (distribution(m, l).log_prob(x), distribution(m, l).entropy()))
  log_prob, entropy = d(mean, log_std, u)
  assert log_prob.shape == entropy.shape == (5,)
  cov = np.diag(np.exp(2 * log_std.astype(np.float64)))
  for i in range(5):
    ref = stats.multivariate_normal(mean[i].astype(np.float64), cov)
    np.testing.assert_allclose(log_prob[i], ref.logpdf(u[i]), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(entropy[i], ref.entropy(), rtol=1e-5, atol=1e-5)


def test_log_prob_gradient_is_the_analytic_one():
  mean, log_std, u = gaussian()
  g_mean, g_log_std = jax.grad(lambda m, l: distribution(m, l).log_prob(u).sum(), (0, 1))(
      mean, log_std)
  z = (u - mean) / np.exp(log_std)
  np.testing.assert_allclose(g_mean, z / np.exp(log_std), rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(g_log_std, (z ** 2 - 1).sum(0), rtol=1e-4, atol=1e-4)


def test_samples_follow_the_gaussian():
  mean, log_std, _ = gaussian(batch=1)
  n = 20_000
  m = np.repeat(mean, n, axis=0)                                       # [n, 3]
  u = np.asarray(jax.jit(lambda k: distribution(m, log_std).sample(seed=k))(jax.random.key(7)))
  assert u.shape == (n, 3) and u.dtype == np.float32
  std = np.exp(log_std)
  for j in range(3):   # each coordinate is N(mean_j, std_j^2): Kolmogorov-Smirnov
    assert stats.kstest(u[:, j], stats.norm(mean[0, j], std[j]).cdf).pvalue > 1e-3
  assert abs(np.corrcoef(u[:, 0], u[:, 1])[0, 1]) < 0.03              # independent coordinates


def test_sample_is_mean_plus_std_times_one_standard_normal_draw():
  """The draw distrax's MultivariateNormalDiag made from the same key (PPO keeps its runs)."""
  mean, log_std, _ = gaussian()
  key = jax.random.key(3)
  u = distribution(mean, log_std).sample(seed=key)
  eps = jax.random.normal(key, mean.shape)
  np.testing.assert_array_equal(u, jnp.exp(log_std) * eps + mean)
  assert not np.array_equal(u, distribution(mean, log_std).sample(seed=jax.random.key(4)))


def test_log_std_of_the_wrong_size_is_refused():
  mean, log_std, _ = gaussian(act_dim=3)
  with pytest.raises(ValueError, match="log_std"):
    distribution(mean, jnp.zeros(2))


def test_tanh_squash_log_density_integrates_to_one_and_stays_bounded():
  """log pi(a) = log pi(u) - squash_log_det(u) is a density on (-1, 1) (1-D grid integral),
  equals log(1 - tanh(u)^2) where that is computable, and its entropy stays below the
  uniform's log 2 however wide the Gaussian (the clip squash's log pi(u) does not)."""
  u = jnp.linspace(-4.0, 4.0, 9)[:, None]
  np.testing.assert_allclose(squash_log_det(u, "tanh"), np.log1p(-np.tanh(u[:, 0]) ** 2),
                             rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(squash_log_det(u, "clip"), 0.0)
  a = np.linspace(-1, 1, 200_001)[1:-1, None]
  for log_std in (-1.0, 0.5, 3.0):
    dist = distribution(jnp.full((len(a), 1), 0.3), jnp.array([log_std]))
    uu = unsquash(jnp.asarray(a, jnp.float32), "tanh")
    density = np.exp(np.asarray(dist.log_prob(uu) - squash_log_det(uu, "tanh"), np.float64))
    if log_std <= 0.5:   # wider ones pile their mass into the bounds, too sharp for the grid
      assert abs(density.sum() * (a[1, 0] - a[0, 0]) - 1.0) < 2e-3
    draws = dist.sample(jax.random.key(1))
    neg_log_pi = -(dist.log_prob(draws) - squash_log_det(draws, "tanh")).mean()
    assert neg_log_pi < np.log(2.0)
    if log_std == 3.0:   # the unsquashed log-density rewards a wide policy without bound
      assert -dist.log_prob(draws).mean() > 3.5


def test_unsquash_inverts_tanh_and_clip_inside_the_bounds():
  u = jnp.linspace(-3.0, 3.0, 13)[:, None]
  np.testing.assert_allclose(unsquash(jnp.tanh(u), "tanh"), u, rtol=1e-3, atol=1e-3)
  a = jnp.linspace(-1.0, 1.0, 5)[:, None]
  np.testing.assert_array_equal(unsquash(a, "clip"), a)
  assert np.isfinite(np.asarray(unsquash(a, "tanh"))).all()
