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


def test_soft_bellman_entry_reads_v_at_the_absorbing_state_as_the_absorbed_value_did():
  """With Q = 3 a + c(s) and V known, the absorbed value (Q(s, a) - gamma V(s) at demo
  states, uniform actions) and the entry (Q(s, a) - gamma V_abs) read one V_abs, the
  demo states' mean V, whatever the next state and c(s)."""
  obs = np.random.default_rng(1).normal(size=(50, 2)).astype(np.float32)
  gamma = 0.9
  q = lambda p, o, a, n: p * a[:, 0] + jnp.sin(3 * o[:, 1])  # noqa: E731
  v = lambda o: jnp.cos(o[:, 0]) + 2.0                          # noqa: E731
  soft_bellman = lambda p, o, a, n: q(p, o, a, n) - gamma * v(n)  # noqa: E731
  value = uninformed_value(soft_bellman, 3.0, obs, 1, seed=4)
  entry = soft_bellman_entry(q, 3.0, obs, 1, value, seed=4)
  o = jnp.asarray(obs[:7])
  a = jnp.linspace(-1, 1, 7)[:, None]
  far = o + 100.0                                 # the terminal state: V there is not read
  np.testing.assert_allclose(entry(3.0, o, a, far),
                             q(3.0, o, a, far) - gamma * float(np.mean(v(jnp.asarray(obs)))),
                             rtol=1e-5, atol=1e-5)
