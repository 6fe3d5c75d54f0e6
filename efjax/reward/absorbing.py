"""What a reward learned from demonstrations pays at an absorbing state it never saw.

On a fixed-horizon task a fall leads to an absorbing state repeated to the time limit
(efjax.envs.brax_envs.FixedHorizonWrapper). No demonstration reaches it, so a reward
model read there extrapolates, and that extrapolation, not the reward's meaning, can
decide whether falling pays (the fall of PPO on EnergyFlow centered on
inverted_pendulum, results/rl_compare.md). Discriminator-Actor-Critic (Kostrikov et al.
2019) gives the absorbing state a reward the method learns (an adversarial
discriminator sees the policy's absorbed steps) or sets. For a reward fitted to
demonstrations only, this module sets it from the reward itself:

    value = uninformed_value(fn, params, demo_observations, action_size)

the reward's mean over uniformly random actions at the demonstrations' states, each read
as a step that goes nowhere (next observation = observation, as an absorbed step is):
what the reward pays for an action that carries no information, at states where it was
fitted. One rule for every such reward, computed, not chosen per method.
"""
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array


def uninformed_value(fn, params, observations: np.ndarray, action_size: int,
                     seed: int = 0, actions_per_state: int = 16, max_states: int = 2048,
                     chunk: int = 4096) -> float:
  """Mean of fn(params, obs, a, obs) over a ~ U[-1, 1]^action_size at the given states.

  fn: a reward `fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B]` in env
  units (efjax.reward.learned.load_reward, efjax.reward.controls). observations:
  [N, obs_dim], the demonstrations' states; at most `max_states` of them are used (evenly
  spaced), each with `actions_per_state` actions from a fixed key (`seed`). Evaluated in
  chunks of `chunk` rows. Raises ValueError when the reward is not finite there.
  """
  observations = np.asarray(observations, np.float32)
  if observations.ndim != 2 or len(observations) == 0:
    raise ValueError(f"uninformed_value: observations must be [N, obs_dim] with N > 0, got "
                     f"shape {observations.shape}")
  stride = max(1, -(-len(observations) // max_states))
  states = np.repeat(observations[::stride], actions_per_state, axis=0)           # [M, obs_dim]
  actions = np.asarray(jax.random.uniform(                                        # [M, act_dim]
      jax.random.key(seed), (len(states), action_size), minval=-1.0, maxval=1.0))
  jfn = jax.jit(fn)
  rewards = np.concatenate([
      np.asarray(jfn(params, jnp.asarray(states[i:i + chunk]), jnp.asarray(actions[i:i + chunk]),
                     jnp.asarray(states[i:i + chunk])))
      for i in range(0, len(states), chunk)])
  if not np.all(np.isfinite(rewards)):
    bad = int((~np.isfinite(rewards)).sum())
    raise ValueError(f"uninformed_value: the reward is not finite at {bad} of {len(rewards)} "
                     f"(state, uniform action) pairs")
  return float(rewards.mean())
