"""Reward checkpoints -> the RL loop's `(reward_fn, reward_params)`, checked against the env.

    fn, params = load_reward(kind, workdir, env)
    fn, params = load_reward(kind, workdir, env, reward_config)   # read with other reward settings

kinds (LEARNED_REWARDS): `energyflow_centered`, `energyflow_soft_bellman` and
`energyflow_soft_q`, its Q term alone (an EnergyFlow workdir; Model.reward_fn),
`bc_log_prob` (a BC workdir), `diffusion_elbo` (a score-parameterized EnergyFlow
workdir). A checkpoint trained for other observation or action sizes than the env's is
refused with one RewardMismatchError naming the checkpoint, the sizes and the env.
"""
import dataclasses

import ml_collections

import efjax
from efjax.errors import WorkdirError
from efjax.registry import Registry
from efjax.reward.absorbing import soft_bellman_entry
from efjax.reward.likelihood import bc_log_prob_reward, diffusion_elbo_reward

LEARNED_REWARDS: Registry = Registry("learned reward kind")


class RewardMismatchError(WorkdirError):
  """A reward model made for another environment."""


def check_dims(workdir: str, model_obs_dim: int, model_act_dim: int, env) -> None:
  """Raises RewardMismatchError unless the model's sizes are env's (obs, act)."""
  env_dims = (env.observation_size, env.action_size)
  if (model_obs_dim, model_act_dim) != env_dims:
    name = getattr(getattr(env, "unwrapped", env), "__class__").__name__
    raise RewardMismatchError(
        f"reward checkpoint {workdir} was trained for obs_dim={model_obs_dim}, "
        f"act_dim={model_act_dim}, but the environment ({name}) has obs_dim={env_dims[0]}, "
        f"act_dim={env_dims[1]}")


def _energyflow(kind: str):
  def make(model, reward_config):
    if reward_config is not None:      # read the energy with other reward settings
      config = ml_collections.ConfigDict(model.config.to_dict())
      config.reward = ml_collections.ConfigDict(dict(reward_config))
      model = dataclasses.replace(model, config=config)
    return model.reward_fn(kind)
  return make


LEARNED_REWARDS.register("energyflow_centered", _energyflow("centered"))
LEARNED_REWARDS.register("energyflow_soft_bellman", _energyflow("soft_bellman"))
LEARNED_REWARDS.register("energyflow_soft_q", _energyflow("soft_q"))
LEARNED_REWARDS.register("bc_log_prob", lambda model, _: bc_log_prob_reward(model))
LEARNED_REWARDS.register("diffusion_elbo", lambda model, reading: diffusion_elbo_reward(
    model, **({} if reading is None else dict(reading))))


def load_reward(kind: str, workdir: str, env, reward_config=None):
  """(fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B], params).

  reward_config: for the EnergyFlow kinds, the `reward` settings (efjax.reward.formulas)
  to read the energy with in place of those saved with the model (training does not use
  them); for diffusion_elbo, diffusion_elbo_reward's keyword arguments (levels,
  draws_per_level).
  """
  make = LEARNED_REWARDS.get(kind)
  model = efjax.load(workdir)
  check_dims(workdir, model.obs_dim, model.act_dim, env)
  return make(model, reward_config), model.params


def entry_reward(kind: str, workdir: str, env, absorbed_value: float, observations,
                 seed: int = 0, reward_config=None):
  """What load_reward(kind, ...)'s reward pays on a step into a fixed-horizon env's
  absorbing state when every absorbed step pays absorbed_value (uninformed_value at
  `observations` [N, obs_dim] with this seed): a function of load_reward's signature and
  params, or None where the reward reads no value at the next state (every kind but
  energyflow_soft_bellman: it pays what it reads).
  """
  if kind != "energyflow_soft_bellman":
    return None
  soft_q, params = load_reward("energyflow_soft_q", workdir, env, reward_config)
  return soft_bellman_entry(soft_q, params, observations, env.action_size, absorbed_value,
                            seed=seed)
