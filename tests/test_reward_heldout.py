"""efjax.reward.heldout's EPIC on transitions: blind to potential shaping and scale, and the
Brax tasks' transition-form true rewards (efjax.envs.brax_rewards)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.envs.brax_rewards import true_reward
from efjax.reward.heldout import transition_epic


def _data(seed=0, e=4, length=50, obs_dim=11, act_dim=2):
  rng = np.random.default_rng(seed)
  obs = rng.normal(size=(e, length, obs_dim)).astype(np.float32)
  nxt = obs + 0.1 * rng.normal(size=obs.shape).astype(np.float32)
  act = rng.uniform(-1, 1, size=(e, length, act_dim)).astype(np.float32)
  valid = np.ones((e, length), bool)
  valid[0, 30:] = False
  return {"obs": obs, "action": act, "next_obs": nxt, "valid": valid}


def test_epic_ignores_potential_shaping_and_scale_and_sees_a_sign_flip():
  data, gamma = _data(), 0.9
  true = true_reward("reacher")
  phi = lambda s: jnp.sin(s[:, 0]) + s[:, 3] ** 2          # noqa: E731   any potential
  shaped = lambda o, a, n: 3.0 * true(o, a, n) + gamma * phi(n) - phi(o) + 7.0  # noqa: E731
  assert transition_epic(shaped, data, true, gamma) < 1e-3
  assert transition_epic(lambda o, a, n: -true(o, a, n), data, true, gamma) > 0.99
  noise = lambda o, a, n: jnp.cos(3 * o[:, 1] + a[:, 0])   # noqa: E731   unrelated
  assert 0.3 < transition_epic(noise, data, true, gamma) < 0.95
  # a constant, or a pure potential shaping, is 0 once canonicalized: EPIC is undefined
  constant = lambda o, a, n: jnp.full(o.shape[:1], -2.5)     # noqa: E731
  assert transition_epic(constant, data, true, gamma) is None
  assert transition_epic(lambda o, a, n: gamma * phi(n) - phi(o), data, true, gamma) is None
  # a diverged reward (NaN somewhere) has no EPIC: None, not a NaN in the raw JSON
  diverged = lambda o, a, n: jnp.where(o[:, 0] > 1.5, jnp.nan, true(o, a, n))  # noqa: E731
  assert transition_epic(diverged, data, true, gamma) is None


def test_brax_transition_rewards_equal_the_simulator_s():
  from efjax.envs.brax_envs import make_raw_env
  for name, kwargs in (("reacher", {}), ("inverted_pendulum", {"fixed_horizon": True})):
    env = make_raw_env(name, "spring", **kwargs)
    state = jax.vmap(env.reset)(jax.random.split(jax.random.key(0), 8))
    step = jax.jit(jax.vmap(env.step))
    for t in range(25):
      action = jax.random.uniform(jax.random.key(t), (8, env.action_size), minval=-1, maxval=1)
      nxt = step(state, action)
      np.testing.assert_allclose(true_reward(name)(state.obs, action, nxt.obs), nxt.reward,
                                 atol=1e-5)
      state = nxt
