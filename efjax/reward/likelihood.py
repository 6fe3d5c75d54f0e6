"""Likelihood-based rewards from models trained on demonstrations (the paper's baselines).

Both are pure `fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B]`
in env units (next_obs unused), for models with observation history 1 and action
chunk 1, as the RL loop wants them.

- `bc_log_prob_reward(model)`: log N(a; mu(s), sigma(s)^2) of a Gaussian behaviour-
  cloning policy (efjax.bc.BCModel), summed over action dimensions, in demo units.
- `diffusion_elbo_reward(model)`: minus the denoising score-matching loss of a
  non-conservative diffusion policy (model.parameterization='score') at fixed noise
  levels and fixed noise draws: the DSM loss is (up to weights and a constant) the
  negative ELBO of log pi(a|s), so this is the likelihood surrogate a diffusion
  policy offers. Fixed (t, eps) make the reward deterministic.
"""
import dataclasses

import jax
import jax.numpy as jnp

from efjax.energy import encode_obs
from efjax.losses import dsm_loss_at

Array = jax.Array


def bc_log_prob_reward(model):
  """model: efjax.bc.BCModel (action_horizon 1). Pass `model.params` as params."""
  def fn(params, obs, action, next_obs):
    del next_obs
    mean, std = dataclasses.replace(model, params=params).distribution(obs)
    z = (action - mean[:, 0]) / std[:, 0]
    return jnp.sum(-0.5 * z * z - jnp.log(std[:, 0]) - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
  return fn


def diffusion_elbo_reward(model, levels=(0.2, 0.3, 0.4, 0.5), draws_per_level: int = 2,
                          seed: int = 0):
  """model: efjax.load of a score-parameterized run. Reward -mean_k DSM(a | s; t_k, eps_k)
  over len(levels) * draws_per_level fixed (t, eps) pairs, in normalized action units."""
  if model.config.model.parameterization != "score":
    raise ValueError("the diffusion ELBO baseline needs a non-conservative model "
                     "(model.parameterization='score')")
  t = jnp.repeat(jnp.asarray(levels, jnp.float32), draws_per_level)          # [K]
  eps = jax.random.normal(jax.random.key(seed), (t.shape[0], 1, model.act_dim))  # [K, 1, A]

  def fn(params, obs, action, next_obs):
    del next_obs
    o, a = model.units.obs(obs), model.units.actions(action)
    features = encode_obs(model.net, params, o)
    b, k = a.shape[0], t.shape[0]
    # All K levels in one batch of K * B (the observation encoded once).
    rep = lambda x: jnp.broadcast_to(x, (k,) + x.shape).reshape((k * b,) + x.shape[1:])  # noqa: E731
    losses = dsm_loss_at(model.net, params, rep(a), rep(features), jnp.repeat(t, b),
                         jnp.repeat(eps, b, axis=0), model.schedule)
    return -losses.reshape(k, b).mean(0)
  return fn
