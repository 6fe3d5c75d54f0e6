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

A reward that reads a value at the next state (soft-Bellman, r = Q(s, a) - gamma V(s'))
also needs that value where s' is the absorbing state. Read off the network there, it
is one more extrapolation, and the shaping c(s) - gamma c(s') that the energy's free
per-state constant puts into r no longer telescopes: falling can pay. The uninformed
value above already reads V, at the demonstrations' states (r = Q(s, a) - gamma V(s) for
a step that goes nowhere); the step into the absorbing state reads the same V there, the
demonstrations' mean soft value, so that the absorbing state is one consistent state
(DAC): an absorbed step pays a uniform action's Q - V plus the shaping of a state of
that value, and a fall changes the return by Q - V terms only, not by what V the
network extrapolates to the terminal state. Since the mean Q and V are over the same
sample, the entry pays

    entry = soft_bellman_entry(soft_q_fn, params, demo_obs, action_size, value)
    # Q(s, a) - gamma mean V = value + Q(s, a) - (the uniform actions' mean Q)

(efjax.rl.ppo.make_ppo's entry_reward_fn).
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


def soft_bellman_entry(soft_q_fn, params, observations: np.ndarray, action_size: int,
                       absorbed_value: float, seed: int = 0):
  """The soft-Bellman reward on a step into the absorbing state, Q(s, a) - gamma V_abs,
  with V_abs the soft value the uninformed value read: its mean over the same states.

  soft_q_fn: `fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B]`, the
  reward's Q(s, a) term (efjax.reward.learned.load_reward("energyflow_soft_q", ...));
  absorbed_value: uninformed_value of the soft-Bellman reward at these observations,
  action_size and seed, which is mean Q - gamma mean V over one sample, so gamma V_abs
  = the uniform actions' mean Q - absorbed_value. Returns a function of soft_q_fn's
  signature.
  """
  mean_q = uninformed_value(soft_q_fn, params, observations, action_size, seed=seed)
  offset = float(absorbed_value) - mean_q

  def entry(p, obs, action, next_obs):
    return soft_q_fn(p, obs, action, next_obs) + offset
  return entry
