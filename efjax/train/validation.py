"""The periodic evaluation: DSM loss of the EMA parameters on a fixed batch.

Windows, noise levels and noise are drawn once, so successive evaluations differ
only by the parameters: a low-variance progress curve, unlike the training loss,
which is measured on fresh noise at every step. The windows come from held-out
episodes when `data.val_fraction` > 0, otherwise from the training episodes.
"""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.energy import encode_obs
from efjax.losses import dsm_loss_at
from efjax.networks import EnergyNet
from efjax.schedules import Schedule

Array = jax.Array


def make_eval_batch(key: Array, data: dict, size: int, schedule: Schedule) -> dict:
  """Up to `size` evenly spaced windows of `data` (trainer layout) with fixed t and noise.

  Returns {'obs': [N, Ho, obs_dim], 'actions': [N, Ha, act_dim], 't': [N], 'eps': like actions}.
  """
  n = data["obs_idx"].shape[0]
  idx = np.unique(np.linspace(0, n - 1, min(size, n)).round().astype(np.int32))
  actions = data["actions"][data["act_idx"][idx]]
  t_key, eps_key = jax.random.split(key)
  return {"obs": data["obs"][data["obs_idx"][idx]], "actions": actions,
          "t": schedule.sample_t(t_key, (idx.shape[0],)),
          "eps": jax.random.normal(eps_key, actions.shape, actions.dtype)}


def make_eval_loss(net: EnergyNet, schedule: Schedule):
  """Returns eval_loss(variables, eval_batch) -> scalar mean DSM loss (for jax.jit)."""

  def eval_loss(variables, batch: dict) -> Array:
    features = encode_obs(net, variables, batch["obs"])
    return jnp.mean(dsm_loss_at(net, variables, batch["actions"], features, batch["t"],
                                batch["eps"], schedule))
  return eval_loss
