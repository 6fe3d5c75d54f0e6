"""efjax.reward.absorbing: a reward's mean over uniform actions at given states, and the
soft-Bellman reward's step into the absorbing state."""
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.reward.absorbing import soft_bellman_entry, uninformed_value


def test_the_value_is_the_mean_over_uniform_actions_of_a_step_that_goes_nowhere():
  obs = np.random.default_rng(0).normal(size=(300, 3)).astype(np.float32)

  def reward(params, o, a, next_o):     # E_{a ~ U[-1,1]^2}[-|a|^2] = -2/3, plus the state term
    return params * o[:, 0] - jnp.sum(a * a, axis=-1) + jnp.sum((next_o - o) ** 2, axis=-1)

  value = uninformed_value(reward, 2.0, obs, 2, actions_per_state=64, chunk=1000)
  assert value == pytest.approx(2.0 * obs[:, 0].mean() - 2 / 3, abs=0.02)
  # at most max_states states, evenly spaced
  few = uninformed_value(reward, 2.0, obs, 2, actions_per_state=64, max_states=100)
  assert few == pytest.approx(2.0 * obs[::3, 0].mean() - 2 / 3, abs=0.03)


def test_a_reward_not_finite_there_or_bad_states_are_refused():
  obs = np.zeros((10, 2), np.float32)
  obs[:3, 0] = 1.0                      # NaN at 3 of the 10 states, 4 actions each
  with pytest.raises(ValueError, match="not finite at 12 of 40"):
    uninformed_value(lambda p, o, a, n: jnp.where(o[:, 0] > 0, jnp.nan, a[:, 0]), None, obs, 1,
                     actions_per_state=4)
  with pytest.raises(ValueError, match=r"must be \[N, obs_dim\]"):
    uninformed_value(lambda p, o, a, n: a[:, 0], None, np.zeros((0, 2)), 1)


def test_soft_bellman_entry_reads_the_absorbing_state_at_its_discounted_worth():
  """Q(s, a) - gamma value / (1 - gamma): paying `value` forever after the entry is worth
  what the entry's value term subtracts, so a fall changes the return by Q's terms only."""
  q = lambda params, obs, action, next_obs: params * action[:, 0]  # noqa: E731
  entry = soft_bellman_entry(q, absorbed_value=-2.0, gamma=0.9)
  a = jnp.array([[0.5], [-1.0]])
  np.testing.assert_allclose(entry(3.0, a, a, a), 3.0 * a[:, 0] + 0.9 * 2.0 / 0.1, rtol=1e-6)
  # telescoping: the entry's -gamma V_abs and the discounted absorbed steps cancel
  tail = sum(0.9 ** k * -2.0 for k in range(1, 2000))
  np.testing.assert_allclose(float(entry(0.0, a, a, a)[0]) + tail, 0.0, atol=1e-6)
  with pytest.raises(ValueError, match=r"gamma must be in \[0, 1\)"):
    soft_bellman_entry(q, -2.0, 1.0)
