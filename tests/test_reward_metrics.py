"""Reward-quality metrics: invariances they must have and differences they must see."""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.reward import metrics as rm


def _grid(seed=0, s=20, n=12):
  return jax.random.normal(jax.random.key(seed), (s, n))


def test_metrics_ignore_per_state_offsets_and_scale():
  true = _grid()
  learned = 3.0 * true + jax.random.normal(jax.random.key(1), (20, 1)) * 10
  q = jax.jit(rm.offset_free_correlation)(learned, true)
  assert float(q["pearson"]) > 0.999 and float(q["spearman"]) > 0.999
  assert float(jax.jit(rm.preference_accuracy)(learned, true)) == 1.0
  assert float(rm.epic_distance_grid(learned, true)) < 1e-3


def test_metrics_see_reversed_and_unrelated_rewards():
  true = _grid()
  assert float(rm.preference_accuracy(-true, true)) == 0.0
  assert float(rm.epic_distance_grid(-true, true)) > 0.999
  unrelated = rm.reward_quality(_grid(seed=7), true)
  assert abs(unrelated["pearson"]) < 0.2 and 0.3 < unrelated["preference_accuracy"] < 0.7
  assert 0.6 < unrelated["epic"] < 0.8                        # sqrt(1/2) for independent


def test_preference_accuracy_counts_pairs_within_states_only():
  true = jnp.array([[0.0, 1.0, 2.0], [5.0, 4.0, 3.0]])
  learned = jnp.array([[0.0, 1.0, 2.0], [5.0, 3.0, 4.0]])   # second state: one pair of 3 wrong
  np.testing.assert_allclose(rm.preference_accuracy(learned, true), 5 / 6)


def test_epic_is_invariant_to_potential_shaping_and_sensitive_to_other_changes():
  key = jax.random.split(jax.random.key(3), 8)
  n, m, d = 256, 256, 3
  obs, next_obs = jax.random.normal(key[0], (n, d)), jax.random.normal(key[1], (n, d))
  act = jax.random.normal(key[2], (n, 2))
  cov = (jax.random.normal(key[3], (m, d)), jax.random.normal(key[4], (m, 2)),
         jax.random.normal(key[5], (m, d)))
  gamma = 0.9
  w = jax.random.normal(key[6], (d + 2,))
  reward = lambda s, a, s2: jnp.tanh(jnp.concatenate([s, a], -1) @ w) + (a**2).sum(-1)  # noqa: E731
  potential = lambda s: jnp.sin(s).sum(-1) * 5.0  # noqa: E731
  shaped = lambda s, a, s2: 2.0 * reward(s, a, s2) + gamma * potential(s2) - potential(s)  # noqa: E731
  other = lambda s, a, s2: reward(s, a, s2) + jnp.cos(3 * a[:, 0]) * 2  # noqa: E731
  epic = jax.jit(rm.epic_distance, static_argnums=(0, 1))
  assert float(epic(reward, shaped, obs, act, next_obs, *cov, gamma)) < 0.02
  # Plain correlation is fooled by shaping; EPIC is not.
  assert float(rm.pearson_distance(reward(obs, act, next_obs), shaped(obs, act, next_obs))) > 0.2
  assert float(epic(reward, other, obs, act, next_obs, *cov, gamma)) > 0.2
