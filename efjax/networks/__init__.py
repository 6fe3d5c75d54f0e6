"""Energy networks E(a, s, t) and their non-conservative (direct score) twins.

`make_network(model_config)` builds an `EnergyNet` from an ml_collections config
(see `default_model_config()`); observation and action sizes come from the inputs
at `init`. Only smooth activations are offered and nothing couples the samples of
a batch, so `-grad_a E` is a conservative per-sample field.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
from flax import linen as nn

from efjax.networks.conv import Conv1D
from efjax.networks.layers import MLP, Linear, TimeEmbedding
from efjax.networks.mlp import MLPBackbone
from efjax.networks.spectral_norm import COLLECTION as SPECTRAL, SpectralLinear, power_iteration
from efjax.networks.unet import TemporalUNet
from efjax.registry import Registry

Array = jax.Array

ACTIVATIONS: Registry[Callable[[Array], Array]] = Registry("activation")
ACTIVATIONS.register("softplus", nn.softplus)
ACTIVATIONS.register("silu", nn.silu)

BACKBONES: Registry[Callable[..., nn.Module]] = Registry("backbone")
PARAMETERIZATIONS = ("energy", "score")
PRECONDITIONINGS = ("none", "edm")
COMPUTE_DTYPES = {"float32": None, "bfloat16": jnp.bfloat16}


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
    """actions [B, Ha, act_dim], obs_features [B, F], t [B] -> [B] (or [B, Ha, act_dim])."""
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
    alpha, sigma = self.preconditioning.alpha(t), self.preconditioning.sigma(t)
    std = jnp.sqrt(alpha**2 + sigma**2)[:, None, None]
    out = self.backbone(x / std, cond)
    if out.ndim == 1:              # energy [B]
      prior = 0.5 * jnp.sum(jnp.square(x / std), axis=(1, 2))
      return prior - out / sigma
    return -x / std**2 + out / (sigma[:, None, None] * std)

  def __call__(self, actions: Array, obs: Array, t: Array) -> Array:
    return self.from_features(actions, self.encode_obs(obs), t)


def _unet(cfg, output, activation, dtype):
  return TemporalUNet(
      down_dims=tuple(cfg.unet.down_dims), kernel_size=cfg.unet.kernel_size,
      num_groups=cfg.unet.num_groups, head_hidden=tuple(cfg.head_hidden),
      spectral_norm=cfg.spectral_norm, output=output, activation=activation,
      conv_impl=cfg.unet.conv_impl, compute_dtype=dtype)


def _mlp(cfg, output, activation, dtype):
  return MLPBackbone(hidden=tuple(cfg.mlp.hidden), head_hidden=tuple(cfg.head_hidden),
                     spectral_norm=cfg.spectral_norm, output=output,
                     activation=activation, compute_dtype=dtype)


BACKBONES.register("unet", _unet)
BACKBONES.register("mlp", _mlp)


def default_model_config() -> ml_collections.ConfigDict:
  """The EnergyFlow paper's network (4,812,032 parameters for obs 39 x 2, actions 4 x 16)."""
  return ml_collections.ConfigDict(dict(
      backbone="unet",              # 'unet' or 'mlp'
      parameterization="energy",    # 'energy' (conservative) or 'score' (direct, ablation)
      activation="softplus",
      emb_dim=128,                  # time embedding width
      obs_hidden=(128, 128),        # observation-window encoder
      head_hidden=(256, 128),       # energy head after the backbone features
      spectral_norm=True,           # on the energy head
      compute_dtype="float32",      # 'bfloat16': bf16 matmul inputs, f32 accumulation
      # 'none' (the paper's network) or 'edm': E = |x|^2/(2 s^2) - F(x/s)/sigma, the
      # schedule's scalings, so the network's inputs and targets have unit scale at
      # every noise level (EnergyNet._preconditioned). Measured on Meta-World
      # drawer-open with the MLP: results/metaworld.md.
      preconditioning="none",
      unet=dict(down_dims=(64, 128, 256), kernel_size=5, num_groups=8, conv_impl="auto"),
      mlp=dict(hidden=(256, 256, 256)),
  ))


def validate_model_config(cfg: ml_collections.ConfigDict) -> None:
  """Raises ValueError naming the `model.*` key that cannot build a network."""
  BACKBONES.get(cfg.backbone)
  ACTIVATIONS.get(cfg.activation)
  if cfg.parameterization not in PARAMETERIZATIONS:
    raise ValueError(f"model.parameterization {cfg.parameterization!r} is not one of "
                     f"{PARAMETERIZATIONS}")
  if cfg.compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f"model.compute_dtype {cfg.compute_dtype!r} is not one of "
                     f"{tuple(COMPUTE_DTYPES)}")
  if cfg.get("preconditioning", "none") not in PRECONDITIONINGS:
    raise ValueError(f"model.preconditioning {cfg.preconditioning!r} is not one of "
                     f"{PRECONDITIONINGS}")
  if cfg.emb_dim <= 0:
    raise ValueError(f"model.emb_dim must be positive, got {cfg.emb_dim}")
  if cfg.backbone == "unet":
    if cfg.unet.kernel_size % 2 != 1:
      raise ValueError(f"model.unet.kernel_size must be odd, got {cfg.unet.kernel_size}")
    bad = [c for c in cfg.unet.down_dims if c % cfg.unet.num_groups]
    if bad:
      raise ValueError(f"model.unet.down_dims {tuple(cfg.unet.down_dims)} must be divisible "
                       f"by model.unet.num_groups={cfg.unet.num_groups}")


def make_network(cfg: ml_collections.ConfigDict, schedule=None) -> EnergyNet:
  """Builds the network a `model` config describes.

  schedule: the run's noise schedule (efjax.schedules.make_schedule(config.schedule));
  needed when `model.preconditioning` is 'edm'.
  """
  validate_model_config(cfg)
  precondition = cfg.get("preconditioning", "none")
  if precondition == "edm" and schedule is None:
    raise ValueError("model.preconditioning='edm' needs the noise schedule: "
                     "make_network(config.model, make_schedule(config.schedule))")
  activation = ACTIVATIONS.get(cfg.activation)
  dtype = COMPUTE_DTYPES[cfg.compute_dtype]
  return EnergyNet(
      obs_encoder=MLP(tuple(cfg.obs_hidden), activation, activate_last=True,
                      compute_dtype=dtype),
      time_embedding=TimeEmbedding(cfg.emb_dim, activation, compute_dtype=dtype),
      backbone=BACKBONES.get(cfg.backbone)(cfg, cfg.parameterization, activation, dtype),
      preconditioning=schedule if precondition == "edm" else None)


def min_action_horizon_multiple(cfg: ml_collections.ConfigDict) -> int:
  """The action horizon must be a multiple of this (the UNet halves T per level)."""
  return 2 ** (len(cfg.unet.down_dims) - 1) if cfg.backbone == "unet" else 1


def count_params(params) -> int:
  return sum(x.size for x in jax.tree_util.tree_leaves(params))


__all__ = [
    "ACTIVATIONS", "BACKBONES", "Conv1D", "EnergyNet", "Linear", "MLP", "MLPBackbone",
    "SPECTRAL", "SpectralLinear", "TemporalUNet", "TimeEmbedding", "count_params",
    "default_model_config", "make_network", "min_action_horizon_multiple",
    "power_iteration", "validate_model_config",
]
