"""efjax.policy.rollout (episodes cut at their first done, clipped actions, graded noise) and
efjax.envs.brax_demos (their fields in the demo-file format)."""
import jax
import jax.numpy as jnp
import numpy as np
from brax.envs.base import State

from efjax.data import validate
from efjax.envs.brax_demos import to_demo_fields
from efjax.policy.rollout import graded_noise_policy, rollout_numpy as rollout


class DriftEnv:
  """x starts at 0.1 * (1 + episode index); each step adds the action; done once |x| > 1;
  reward = x. With action +0.25 episode i lasts a known number of steps."""
  observation_size, action_size = 1, 1

  def reset(self, rng):
    x0 = 0.1 * (1.0 + jax.random.randint(rng, (), 0, 1))
    return State(pipeline_state=None, obs=jnp.full((1,), x0), reward=jnp.zeros(()),
                 done=jnp.zeros(()), metrics={}, info={})

  def step(self, state, action):
    x = state.obs + action
    return state.replace(obs=x, reward=x[0], done=(jnp.abs(x[0]) > 1.0).astype(jnp.float32))


def test_episodes_stop_at_first_done_and_validate():
  env = DriftEnv()
  policy = lambda obs, key: jnp.full((obs.shape[0], 1), 0.25)  # noqa: E731
  arrays = rollout(env, policy, jax.random.key(0), num_episodes=3, episode_length=10)
  assert arrays["observations"].shape == (3, 10, 1) and arrays["valid"].shape == (3, 10)
  # x: 0.1 -> 0.35, 0.6, 0.85, 1.1 (done on the 4th step): 4 valid steps, then masked
  assert arrays["valid"].sum(axis=1).tolist() == [4, 4, 4]
  fields = to_demo_fields(arrays)
  assert fields["episode_ends"].tolist() == [4, 8, 12]
  np.testing.assert_allclose(fields["episode_returns"], [0.35 + 0.6 + 0.85 + 1.1] * 3, rtol=1e-6)
  np.testing.assert_allclose(fields["observations"][:4, 0], [0.1, 0.35, 0.6, 0.85], rtol=1e-6)
  demos = validate({k: fields[k] for k in ("observations", "actions", "rewards", "episode_ends")})
  assert demos.num_episodes == 3 and demos.num_steps == 12


def test_actions_are_clipped_to_the_action_space():
  env = DriftEnv()
  policy = lambda obs, key: jnp.full((obs.shape[0], 1), 5.0)  # noqa: E731
  arrays = rollout(env, policy, jax.random.key(0), num_episodes=2, episode_length=3)
  assert float(arrays["actions"].max()) == 1.0
  assert arrays["valid"].sum(axis=1).tolist() == [1, 1]        # 0.1 + 1.0 > 1: done at once


def test_graded_noise_replaces_actions_with_the_episode_s_probability():
  env = DriftEnv()
  expert = lambda obs, key: jnp.zeros((obs.shape[0], 1))  # noqa: E731   x stays at 0.1
  levels = jnp.array([0.0, 1.0])
  arrays = rollout(env, graded_noise_policy(expert, levels, 1), jax.random.key(0),
                   num_episodes=2, episode_length=3)
  assert np.all(arrays["actions"][0] == 0.0)            # p = 0: the expert's own actions
  assert np.all(arrays["actions"][1, :1] != 0.0)        # p = 1: uniform random ones
  np.testing.assert_allclose(arrays["next_observations"][0, 0], arrays["observations"][0, 1])
