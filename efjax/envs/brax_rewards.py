"""Brax tasks' true rewards as functions of a transition (s, a, s'), for EPIC.

EPIC (efjax.reward.metrics.epic_distance) canonicalizes a reward by evaluating it at
transitions no simulator produced: (s, A, S') with A and S' drawn independently, so it
needs the true reward as a formula of the observation, the action and the next
observation. `true_reward(name)` gives `fn(obs [B, obs_dim], action [B, act_dim],
next_obs) -> [B]`, with actions in the env's [-1, 1] and observations as the env emits them:

- reacher: -|tip - target| at s' - |a|^2 (the env's reward exactly: both are in the obs).
- inverted_pendulum with fixed_horizon: 1 while the pole was up at s (|angle| <= 0.2),
  0 in the absorbing state (exact).

Both are the env's reward itself (tests/test_reward_heldout.py checks them against the
simulator). The locomotion tasks pay for the torso's displacement over a step, and
their observations leave the position out, so their reward is no function of (s, a, s')
and they get no EPIC; the velocity in the observation is no substitute (on halfcheetah
it missed the env's reward by up to 2.7 per step under random actions).
"""
import jax.numpy as jnp

from efjax.registry import Registry

TRUE_REWARDS: Registry = Registry("task with a transition-form true reward")


@TRUE_REWARDS.register("reacher")
def reacher(obs, action, next_obs):
  return -jnp.sqrt(jnp.sum(next_obs[:, -3:] ** 2, -1) + 1e-12) - jnp.sum(action**2, -1)


@TRUE_REWARDS.register("inverted_pendulum")
def inverted_pendulum(obs, action, next_obs):
  return (jnp.abs(obs[:, 1]) <= 0.2).astype(jnp.float32)


def true_reward(name: str):
  """fn(obs, action, next_obs) -> [B] of a Brax task (ConfigError for one without)."""
  return TRUE_REWARDS.get(name)
