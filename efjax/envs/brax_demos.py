"""Demonstrations from a Brax expert in one jitted, vmapped rollout.

    policy = lambda obs, key: act(agent, obs, key)          # [N, obs_dim] -> [N, act_dim]
    arrays = rollout(brax_env, policy, key, num_episodes=50, episode_length=1000)
    demos = to_demo_fields(arrays)                          # DESIGN.md demo-file fields

All episodes run side by side for `episode_length` steps inside one `lax.scan`;
an episode that terminates early is cut at its first `done` (steps after it are
masked out, never written).
"""
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def rollout(env, policy: Callable, key: Array, num_episodes: int, episode_length: int) -> dict:
  """Runs `num_episodes` episodes of an unwrapped brax env in parallel.

  Args:
    env: a brax `Env` (unbatched: reset(rng) / step(state, action)).
    policy: policy(obs [N, obs_dim], key) -> actions [N, act_dim] in [-1, 1].
  Returns numpy arrays: observations [N, L, obs_dim], actions [N, L, act_dim],
    rewards [N, L], valid [N, L] bool (True up to and including each episode's
    first done), with L = episode_length.
  """
  reset_key, step_key = jax.random.split(key)

  @jax.jit
  def run(reset_key, step_key):
    state = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))

    def body(carry, key):
      state, alive = carry
      actions = jnp.clip(policy(state.obs, key), -1.0, 1.0)
      next_state = jax.vmap(env.step)(state, actions)
      out = (state.obs, actions, next_state.reward, alive)
      return (next_state, alive & (next_state.done == 0)), out

    alive = jnp.ones((num_episodes,), bool)
    _, (obs, actions, rewards, valid) = jax.lax.scan(
        body, (state, alive), jax.random.split(step_key, episode_length))
    swap = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731  [L, N, ...] -> [N, L, ...]
    return {"observations": swap(obs), "actions": swap(actions), "rewards": swap(rewards),
            "valid": swap(valid)}

  return jax.tree_util.tree_map(np.asarray, run(reset_key, step_key))


def to_demo_fields(arrays: dict) -> dict:
  """Rollout arrays -> demo-file fields (observations, actions, rewards, episode_ends)
  plus `episode_returns` [E] and `expert_return` (their mean), float32."""
  lengths = arrays["valid"].sum(axis=1)
  keep = lambda x: np.concatenate([x[i, :n] for i, n in enumerate(lengths)])  # noqa: E731
  returns = (arrays["rewards"] * arrays["valid"]).sum(axis=1)
  return {"observations": keep(arrays["observations"]).astype(np.float32),
          "actions": keep(arrays["actions"]).astype(np.float32),
          "rewards": keep(arrays["rewards"]).astype(np.float32),
          "episode_ends": np.cumsum(lengths).astype(np.int64),
          "episode_returns": returns.astype(np.float32),
          "expert_return": np.float32(returns.mean())}
