"""efjax.reward.absorbing: a reward's mean over uniform actions at given states."""
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.reward.absorbing import uninformed_value


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
