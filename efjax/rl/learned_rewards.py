"""Reward checkpoints -> the RL loop's `(reward_fn, reward_params)`, checked against the env.

    fn, params = load_reward(kind, workdir, env)
    fn, params = load_reward(kind, workdir, env, reward_config)   # read with other reward settings

kinds: `energyflow_centered`, `energyflow_soft_bellman` (efjax.load; Model.reward_fn),
`bc_log_prob` (efjax.bc), `diffusion_elbo` (efjax.load of a score-parameterized run).
A checkpoint trained for other observation or action sizes than the env's is refused
with one ValueError naming the checkpoint, the sizes and the env.
"""
import dataclasses

import ml_collections

import efjax
from efjax import bc
from efjax.rl.likelihood import bc_log_prob_reward, diffusion_elbo_reward

KINDS = ("energyflow_centered", "energyflow_soft_bellman", "bc_log_prob", "diffusion_elbo")


class RewardMismatchError(ValueError):
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


def load_reward(kind: str, workdir: str, env, reward_config=None):
  """(fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B], params).

  reward_config: for the EnergyFlow kinds, the `reward` settings (efjax.rewards) to read
  the energy with in place of those saved with the model (training does not use them).
  """
  if kind not in KINDS:
    raise ValueError(f"unknown reward kind {kind!r}; valid: {', '.join(KINDS)}")
  model = bc.load(workdir) if kind == "bc_log_prob" else efjax.load(workdir)
  check_dims(workdir, model.obs_dim, model.act_dim, env)
  if reward_config is not None and kind.startswith("energyflow_"):
    config = ml_collections.ConfigDict(model.config.to_dict())
    config.reward = ml_collections.ConfigDict(dict(reward_config))
    model = dataclasses.replace(model, config=config)
  if kind == "bc_log_prob":
    return bc_log_prob_reward(model), model.params
  if kind == "diffusion_elbo":
    return diffusion_elbo_reward(model), model.params
  from efjax.rl.fast_energy_reward import fast_reward_fn   # the batched centered/soft-Bellman
  return fast_reward_fn(model, kind.removeprefix("energyflow_")), model.params
