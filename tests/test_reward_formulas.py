"""Reward extraction: the identities each reward kind must satisfy, and Q recovery on a bandit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax import energy
from efjax.reward import formulas as rewards
from efjax.reward import reference as references
from efjax.reward.bandit_recovery import run_bandit_recovery
from experiments.configs import bandit as bandit_config
from conftest import assert_close


def _reward_fn(tiny_energy, **overrides):
  net, variables, actions, obs, _ = tiny_energy
  cfg = rewards.default_reward_config()
  cfg.update(overrides)
  return rewards.make_reward_fn(net, cfg, actions.shape[1:]), cfg


def test_centered_reward_averages_to_zero_over_the_reference_actions(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  reward, cfg = _reward_fn(tiny_energy, num_reference=5)
  reference = references.sampled_points(5, actions.shape[1:], cfg.reference_seed)[0]
  per_ref = jnp.stack([jax.jit(reward)(variables, obs, jnp.broadcast_to(a, actions.shape))
                       for a in reference])
  assert_close(per_ref.mean(axis=0), jnp.zeros(obs.shape[0]), atol=1e-5)
  assert float(jnp.std(per_ref)) > 1e-4                  # and is not trivially zero


def test_soft_value_is_exact_for_a_gaussian_energy():
  reference = jax.random.normal(jax.random.key(0), (7, 3, 2))
  offset = jnp.array([0.0, 1.5, -2.0])
  energies = 0.5 * jnp.sum(reference.reshape(7, -1) ** 2, -1)[:, None] + offset  # [M, B]
  value = rewards.soft_value_from_energies(energies, reference, alpha=1.0)
  # log int exp(-|a|^2/2 - c) da = (d/2) log(2 pi) - c, whatever the samples.
  np.testing.assert_allclose(value, 3.0 * np.log(2 * np.pi) - offset, rtol=1e-5)


def test_gauss_hermite_rule_integrates_low_degree_polynomials_exactly():
  points, weights = references.gauss_hermite_points(3, (1, 2))
  assert points.shape == (9, 1, 2) and weights.shape == (9,)
  a = np.asarray(points, np.float64).reshape(9, 2)
  w = np.asarray(weights, np.float64)
  # N(0, I) moments: E[1] = 1, E[a1] = 0, E[a1^2 a2^2] = 1, E[a1^4] = 3, E[a1^5 a2] = 0.
  for f, want in ((a[:, 0] * 0 + 1, 1), (a[:, 0], 0), (a[:, 0]**2 * a[:, 1]**2, 1),
                  (a[:, 0]**4, 3), (a[:, 0]**5 * a[:, 1], 0)):
    np.testing.assert_allclose(w @ f, want, atol=1e-5)
  # 16 sampled chunks are far off the same moment.
  sampled = np.asarray(references.sampled_points(16, (1, 2))[0]).reshape(16, 2)
  assert abs(np.mean(sampled[:, 0]**4) - 3) > 0.1


def test_gauss_hermite_centered_reward_and_soft_value(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  reward, cfg = _reward_fn(tiny_energy, reference="gauss_hermite", num_reference=2)
  points, weights = references.reference_rule(cfg, actions.shape[1:])
  assert points.shape[0] == 2 ** int(np.prod(actions.shape[1:]))
  per_ref = jnp.stack([jax.jit(reward)(variables, obs, jnp.broadcast_to(a, actions.shape))
                       for a in points])                            # [M, B]
  assert_close(weights @ per_ref, jnp.zeros(obs.shape[0]), atol=1e-5)
  assert float(jnp.std(per_ref)) > 1e-4
  # The soft value of a Gaussian energy is exact at the quadrature points too.
  flat = points.reshape(points.shape[0], -1)
  energies = 0.5 * jnp.sum(flat**2, -1)[:, None] + jnp.array([0.0, 1.5])
  value = rewards.soft_value_from_energies(energies, points, 1.0, weights)
  np.testing.assert_allclose(value, 0.5 * flat.shape[1] * np.log(2 * np.pi) - np.array([0, 1.5]),
                             rtol=1e-5)


def test_reference_rule_rejects_bad_config(tiny_energy):
  with pytest.raises(ValueError, match="unknown reward.reference 'grid'"):
    _reward_fn(tiny_energy, reference="grid")
  with pytest.raises(ValueError, match="at most 4096"):
    references.reference_rule(_gh_cfg(3), (16, 4))
  with pytest.raises(ValueError, match="num_reference must be >= 1"):
    _reward_fn(tiny_energy, num_reference=0)


def _gh_cfg(nodes):
  cfg = rewards.default_reward_config()
  cfg.update(reference="gauss_hermite", num_reference=nodes)
  return cfg


def test_soft_bellman_reduces_to_q_without_discount_and_needs_next_obs(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  reward, cfg = _reward_fn(tiny_energy, kind="soft_bellman", gamma=0.0, alpha=2.0)
  q = -2.0 * energy.energy(net, variables, actions, obs, jnp.full(obs.shape[0], cfg.t))
  assert_close(jax.jit(reward)(variables, obs, actions, obs + 1.0), q, rtol=1e-5)
  with pytest.raises(ValueError, match="needs next_obs"):
    reward(variables, obs, actions)


def test_multi_noise_is_the_mean_of_centered_rewards(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  levels = (0.1, 0.3)
  reward, cfg = _reward_fn(tiny_energy, kind="multi_noise", multi_noise_t=levels)
  per_level = [_reward_fn(tiny_energy, t=t)[0](variables, obs, actions) for t in levels]
  assert_close(reward(variables, obs, actions), (per_level[0] + per_level[1]) / 2, rtol=1e-5)


def test_rewards_are_differentiable_and_reject_bad_input(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  reward, _ = _reward_fn(tiny_energy)
  grad = jax.jit(jax.grad(lambda a: reward(variables, obs, a).sum()))(actions)
  assert grad.shape == actions.shape and bool(jnp.all(jnp.isfinite(grad)))
  with pytest.raises(ValueError, match="unknown reward kind 'airl'"):
    reward(variables, obs, actions, kind="airl")
  with pytest.raises(ValueError, match="reward.t must be in"):
    _reward_fn(tiny_energy, t=2.0)


def test_reward_recovers_q_on_a_max_ent_bandit():
  """The experiment's own config: DSM on expert demos, centered energy vs the true Q."""
  results = run_bandit_recovery(bandit_config.get_config(), log=None)
  centered = results["centered"]
  print(f"bandit: {centered}")
  assert centered["pearson"] >= 0.9
  assert centered["preference_accuracy"] >= 0.9
  assert centered["epic"] < 0.3
