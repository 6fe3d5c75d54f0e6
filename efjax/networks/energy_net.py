"""EnergyNet: E(a, s, t) from an observation encoder, a time embedding and a backbone.

Only smooth activations are used and nothing couples the samples of a batch, so
`-grad_a E` is a conservative per-sample field. A backbone with output 'score'
makes the non-conservative (direct score) twin used for ablations.
"""
import jax
import jax.numpy as jnp
from flax import linen as nn

Array = jax.Array


def edm_scale(schedule, t: Array) -> Array:
  """s = sqrt(alpha(t)^2 + sigma(t)^2), the standard deviation of a noised action of unit
  variance: the scale the EDM preconditioning divides the network's input by."""
  return jnp.sqrt(schedule.alpha(t) ** 2 + schedule.sigma(t) ** 2)


def edm_prior(x: Array, scale: Array) -> Array:
  """|x|^2 / (2 s^2) over the last two axes ([..., Ha, act_dim] -> [...]): the fixed
  Gaussian part of the preconditioned energy (EnergyNet._preconditioned)."""
  return 0.5 * jnp.sum(jnp.square(x / scale), axis=(-2, -1))


class EnergyNet(nn.Module):
  """E(a, s, t): actions [B, Ha, act_dim], obs [B, Ho, obs_dim], t [B] in [0, 1] -> [B].

  With a `score` backbone the same call returns a vector field [B, Ha, act_dim].
  The observation encoding is a separate method so that several noise levels of
  one sample can share it (`encode_obs`, then `from_features`).
  """
  obs_encoder: nn.Module
  time_embedding: nn.Module
  backbone: nn.Module
  # A noise schedule (efjax.schedules) turns on the EDM-style preconditioning of
  # `from_features`; None is the paper's plain network.
  preconditioning: object = None

  def encode_obs(self, obs: Array) -> Array:
    """[B, Ho, obs_dim] -> [B, F]."""
    return self.obs_encoder(obs.reshape(obs.shape[0], -1))

  def from_features(self, actions: Array, obs_features: Array, t: Array) -> Array:
    """actions [B, Ha, act_dim], obs_features [B, F], t [B] -> [B] (or [B, Ha, act_dim]).

    Energy rows, for a backbone that `shares_conditioning` (the MLP): actions
    [R, B, Ha, act_dim] -> [R, B], R chunks per state (efjax.energy.energy_rows).
    """
    cond = jnp.concatenate([obs_features, self.time_embedding(t)], axis=-1)
    if self.preconditioning is None:
      return self.backbone(actions, cond)
    return self._preconditioned(actions, cond, t)

  def _preconditioned(self, x: Array, cond: Array, t: Array) -> Array:
    """EDM's scalings (Karras et al. 2022) written as an energy, for data of unit variance.

    With s^2 = alpha^2 + sigma^2 the variance of the noised action x:

        E(x) = |x|^2 / (2 s^2) - F(x / s) / sigma,   score = -x / s^2 + grad F(x / s) / (sigma s)

    (the score network: -x / s^2 + G(x / s) / (sigma s)). The first term is the energy
    of the noised unit Gaussian, and the network sees inputs of unit scale and has
    targets of unit scale at every noise level: the DSM residual is
    sigma * score + eps = grad F / s - sigma x / s^2 + eps, so an error in F moves the
    denoised action by only O(sigma) at small sigma, where the plain network must
    output gradients of size 1 / sigma.
    """
    sigma = self.preconditioning.sigma(t)
    std = edm_scale(self.preconditioning, t)[:, None, None]   # [B, 1, 1]: also rows [R, B, ...]
    out = self.backbone(x / std, cond)
    if out.ndim == x.ndim - 2:     # energy [B] (or rows [R, B])
      return edm_prior(x, std) - out / sigma
    return -x / std**2 + out / (sigma[:, None, None] * std)

  def __call__(self, actions: Array, obs: Array, t: Array) -> Array:
    return self.from_features(actions, self.encode_obs(obs), t)
