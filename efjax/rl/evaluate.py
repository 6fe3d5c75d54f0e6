"""Evaluating a policy on a batched env: the true return of one episode per env."""
import jax
import jax.numpy as jnp


def evaluate(env, act, agent, key, num_envs: int, episode_length: int,
             deterministic: bool = True):
  """Returns (returns [num_envs], lengths [num_envs]) of each env's first episode.

  env: efjax.envs.brax_envs.make_env; act: make_policy_fn(...). Rewards after an
  env's first `done` are masked out (the auto-reset starts a second episode).
  Pure; jit it with env, act, num_envs, episode_length and deterministic static.
  """
  k_reset, k_act = jax.random.split(key)
  state = env.reset(jax.random.split(k_reset, num_envs))

  def step(carry, k):
    state, alive = carry
    nxt = env.step(state, act(agent, state.obs, k, deterministic))
    return (nxt, alive * (1.0 - nxt.done)), (nxt.reward * alive, alive)

  _, (rewards, alive) = jax.lax.scan(step, (state, jnp.ones(num_envs)),
                                     jax.random.split(k_act, episode_length))
  return rewards.sum(0), alive.sum(0)
