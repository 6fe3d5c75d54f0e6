"""efjax.envs.brax_envs: the fixed-horizon wrapper keeps every episode to its time limit."""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.envs.brax_envs import make_env, make_raw_env


def test_a_fall_leads_to_an_absorbing_state_not_to_the_end_of_the_episode():
  env = make_raw_env("inverted_pendulum", "spring", fixed_horizon=True)
  step = jax.jit(env.step)
  state = env.reset(jax.random.key(0))
  rewards, obs, dones = [], [], []
  for _ in range(40):                       # a constant push: the pole falls within ~10 steps
    state = step(state, jnp.ones((1,)))
    rewards.append(float(state.reward)), obs.append(np.asarray(state.obs)), dones.append(float(state.done))
  fell = rewards.index(0.0)
  assert 0 < fell < 30 and all(r == 1.0 for r in rewards[:fell])
  assert all(r == 0.0 for r in rewards[fell:]) and not any(dones)
  np.testing.assert_array_equal(obs[fell], obs[-1])            # the terminal state, repeated
  assert abs(obs[fell - 1][1]) > 0.2 and float(state.info["absorbed"]) == 1.0


def test_fixed_horizon_episodes_last_episode_length_in_the_training_env():
  env = make_env("inverted_pendulum", "spring", episode_length=20, fixed_horizon=True)
  state = env.reset(jax.random.split(jax.random.key(1), 4))
  step = jax.jit(env.step)
  for t in range(20):
    state = step(state, jnp.ones((4, 1)))
    assert bool(jnp.all(state.done == (1.0 if t == 19 else 0.0))), t   # only the time limit
  assert bool(jnp.all(state.info["truncation"] == 1.0))


def test_the_episode_after_an_absorbed_one_starts_live():
  # brax's AutoResetWrapper restores the pipeline state and the observation at the time
  # limit, not the absorbed flag: without resetting it, every later episode of that env
  # was frozen at its start with reward 0.
  env = make_env("inverted_pendulum", "spring", episode_length=20, fixed_horizon=True)
  state = env.reset(jax.random.split(jax.random.key(2), 3))
  step = jax.jit(env.step)
  for _ in range(20):                       # a constant push: every pole falls, then absorbs
    state = step(state, jnp.ones((3, 1)))
  assert bool(jnp.all(state.done == 1.0)) and bool(jnp.all(state.info["absorbed"] == 1.0))
  rewards, obs = [], []
  for _ in range(3):                        # the next episode: alive, moving, paid
    state = step(state, jnp.zeros((3, 1)))
    rewards.append(np.asarray(state.reward)), obs.append(np.asarray(state.obs))
  assert np.all(np.stack(rewards) == 1.0) and bool(jnp.all(state.info["absorbed"] == 0.0))
  assert not np.allclose(obs[0], obs[-1])
