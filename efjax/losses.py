"""Denoising score matching on the energy's gradient, with K noise levels per sample.

The paper's loss is the mean over every element of (sigma * score(a + sigma eps) + eps)^2
with t ~ U[0, 1] (VE). Drawing K > 1 noise levels per demonstration lowers the
gradient's variance at little cost: the observation is encoded once and the K
levels go through the backbone as one batch of K * B. K = 1 is the paper.

The K levels are folded into the batch axis rather than `jax.vmap`-ed: on XLA:CPU
a vmapped level axis turned every matmul of the double backward into a batched
dot and made the K = 1 train step 35 % slower (benchmarks/, measured 2026-11-25);
folding gives identical numbers (tests/test_losses.py checks it against a loop).
"""
import jax
import jax.numpy as jnp

from efjax.energy import encode_obs, score_from_features
from efjax.networks import EnergyNet
from efjax.schedules import Schedule
from efjax.shapes import check_model_inputs

Array = jax.Array


def dsm_loss_at(net: EnergyNet, variables, actions: Array, obs_features: Array, t: Array,
                eps: Array, schedule: Schedule, rngs=None) -> Array:
  """Per-sample DSM loss at given levels t [B] and noise eps [B, Ha, act_dim] -> [B].
  rngs: {'dropout': key} for a network with model.dropout (None: deterministic)."""
  alpha, sigma = schedule.alpha(t)[:, None, None], schedule.sigma(t)[:, None, None]
  noisy = alpha * actions + sigma * eps
  s = score_from_features(net, variables, noisy, obs_features, t, rngs)
  return jnp.mean(jnp.square(sigma * s + eps), axis=(1, 2))


# The dropout masks' key is folded from the loss key, so that the levels and noise drawn
# from it stay those of a network without dropout.
DROPOUT_STREAM = 1


def dsm_loss(net: EnergyNet, variables, actions: Array, obs: Array, key: Array,
             schedule: Schedule, num_levels: int = 1) -> Array:
  """Per-sample DSM loss averaged over `num_levels` noise draws: [B].

  Args:
    net, variables: the network and its variables (params and spectral state).
    actions: clean (normalized) action chunks [B, Ha, act_dim].
    obs: observation windows [B, Ho, obs_dim].
    key: PRNG key for the noise levels, the noise and (model.dropout) the dropout masks.
    schedule: the noise schedule (training-noise distribution and marginals).
    num_levels: K, noise levels per sample.
  Returns:
    [B] losses; the caller reduces (mean over the batch is the paper's loss).
  """
  check_model_inputs(actions, obs)
  if num_levels < 1:
    raise ValueError(f"num_levels must be >= 1, got {num_levels}")
  t_key, eps_key = jax.random.split(key)
  rngs = {"dropout": jax.random.fold_in(key, DROPOUT_STREAM)}
  batch = actions.shape[0]
  t = schedule.sample_t(t_key, (num_levels, batch))
  eps = jax.random.normal(eps_key, (num_levels,) + actions.shape, actions.dtype)
  features = encode_obs(net, variables, obs, rngs)
  fold = lambda x: x.reshape((num_levels * batch,) + x.shape[2:])  # noqa: E731
  tile = lambda x: jnp.broadcast_to(x, (num_levels,) + x.shape)  # noqa: E731
  per_level = dsm_loss_at(net, variables, fold(tile(actions)), fold(tile(features)),
                          fold(t), fold(eps), schedule, rngs)
  return per_level.reshape(num_levels, batch).mean(axis=0)
