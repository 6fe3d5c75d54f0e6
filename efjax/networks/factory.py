"""Building an EnergyNet from a `model` config: the registries, the defaults, the checks.

`make_network(model_config)` builds an `EnergyNet` from an ml_collections config
(see `default_model_config()`); observation and action sizes come from the inputs
at `init`.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
from flax import linen as nn

from efjax.networks.energy_net import EnergyNet
from efjax.networks.layers import MLP, TimeEmbedding
from efjax.networks.mlp import MLPBackbone
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


def _unet(cfg, output, activation, dtype):
  return TemporalUNet(
      down_dims=tuple(cfg.unet.down_dims), kernel_size=cfg.unet.kernel_size,
      num_groups=cfg.unet.num_groups, head_hidden=tuple(cfg.head_hidden),
      spectral_norm=cfg.spectral_norm, output=output, activation=activation,
      conv_impl=cfg.unet.conv_impl, compute_dtype=dtype)


def _mlp(cfg, output, activation, dtype):
  return MLPBackbone(hidden=tuple(cfg.mlp.hidden), head_hidden=tuple(cfg.head_hidden),
                     spectral_norm=cfg.spectral_norm, output=output,
                     activation=activation, compute_dtype=dtype,
                     dropout=cfg.get("dropout", 0.0))


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
      # Dropout after every activation of the MLP layers (observation encoder, time
      # embedding, the MLP backbone; the UNet's convolution blocks and the energy head
      # have none), in the training loss only: the paper has none.
      dropout=0.0,
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
  if not 0.0 <= cfg.get("dropout", 0.0) < 1.0:
    raise ValueError(f"model.dropout must be in [0, 1), got {cfg.dropout}")
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
  dropout = cfg.get("dropout", 0.0)     # configs saved before the key read 0
  return EnergyNet(
      obs_encoder=MLP(tuple(cfg.obs_hidden), activation, activate_last=True,
                      compute_dtype=dtype, dropout=dropout),
      time_embedding=TimeEmbedding(cfg.emb_dim, activation, compute_dtype=dtype,
                                   dropout=dropout),
      backbone=BACKBONES.get(cfg.backbone)(cfg, cfg.parameterization, activation, dtype),
      preconditioning=schedule if precondition == "edm" else None)


def min_action_horizon_multiple(cfg: ml_collections.ConfigDict) -> int:
  """The action horizon must be a multiple of this (the UNet halves T per level)."""
  return 2 ** (len(cfg.unet.down_dims) - 1) if cfg.backbone == "unet" else 1


def count_params(params) -> int:
  return sum(x.size for x in jax.tree_util.tree_leaves(params))
