"""Episodes of a Brax environment, run side by side in one `lax.scan`.

    arrays = rollout(env, policy, key, num_episodes=50, episode_length=1000)   # pure
    arrays = rollout_numpy(env, policy, key, 50, 1000)                         # jitted, numpy

env is an unbatched brax env (`reset(key)`, `step(state, action)`, vmapped here);
policy(obs [N, obs_dim], key) -> actions [N, act_dim] in [-1, 1] (clipped). Every
episode runs `episode_length` steps; one that terminates early is cut at its first
`done`: `valid` is False after it (those steps are masked out, never counted). Pure:
jit it, or call it inside a jitted function (vmapped over agents, say).
"""
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def rollout(env, policy: Callable, key: Array, num_episodes: int, episode_length: int,
            extras: Callable | None = None) -> dict:
  """Runs `num_episodes` episodes in parallel.

  extras(state, action [N, act_dim], key) -> pytree of [N, ...]: anything more to
  record at each step (taken before the step, from the same state; `key` is the one
  the policy got at that step).
  Returns [N, L, ...] arrays (L = episode_length): observations, actions, rewards,
  next_observations, valid (True up to and including each episode's first done), and
  `extras`.
  """
  reset_key, step_key = jax.random.split(key)
  state = jax.vmap(env.reset)(jax.random.split(reset_key, num_episodes))

  def body(carry, key):
    state, alive = carry
    actions = jnp.clip(policy(state.obs, key), -1.0, 1.0)
    next_state = jax.vmap(env.step)(state, actions)
    out = {"observations": state.obs, "actions": actions, "rewards": next_state.reward,
           "next_observations": next_state.obs, "valid": alive}
    if extras is not None:
      out["extras"] = extras(state, actions, key)
    return (next_state, alive & (next_state.done == 0)), out

  alive = jnp.ones((num_episodes,), bool)
  _, out = jax.lax.scan(body, (state, alive), jax.random.split(step_key, episode_length))
  return jax.tree_util.tree_map(lambda x: jnp.swapaxes(x, 0, 1), out)   # [L, N] -> [N, L]


def graded_noise_policy(policy: Callable, levels: Array, act_dim: int) -> Callable:
  """policy with, in episode i, each action replaced with probability levels[i] by a
  uniform random one in [-1, 1]: episodes of graded quality. levels: [N] (N = episodes).

  The step key is split in four: policy, mixing, random action, and a fourth left for
  the caller's extras (efjax.reward.heldout's candidate actions).
  """
  def act(obs, key):
    k_policy, k_mix, k_random, _ = jax.random.split(key, 4)
    random = jax.random.uniform(k_random, (obs.shape[0], act_dim), minval=-1.0, maxval=1.0)
    use_random = jax.random.uniform(k_mix, (obs.shape[0],)) < levels
    return jnp.where(use_random[:, None], random, jnp.clip(policy(obs, k_policy), -1.0, 1.0))
  return act


def episode_returns(arrays: dict) -> Array:
  """The true return of each episode of `rollout`'s arrays: [N]."""
  return (arrays["rewards"] * arrays["valid"]).sum(axis=1)


def rollout_numpy(env, policy: Callable, key: Array, num_episodes: int,
                  episode_length: int) -> dict:
  """`rollout`, jitted (one compilation per call site's env and policy), as numpy arrays."""
  run = jax.jit(lambda k: rollout(env, policy, k, num_episodes, episode_length))
  return jax.tree_util.tree_map(np.asarray, run(key))
