"""Gaussian MLP behaviour cloning: the simplest baseline of the manipulation table.

    python -m experiments.train --config=... --config.method=bc     # (or experiments.train_bc)
    model = efjax.load(workdir)      # a BCModel for a BC workdir
    model.distribution(obs)   # (mean, std), each [B, Ha, act_dim], demo units
    model.sample(obs, key)    # [B, Ha, act_dim]: the mean chunk (key unused)

An MLP maps the flattened observation window [B, Ho * obs_dim] to the mean and
log-std of a diagonal Gaussian over the whole action chunk [B, Ha, act_dim], trained
by its negative log-likelihood (efjax.train's `bc` method) on the same windows,
normalizers, optimizer, EMA and orbax checkpoints as EnergyFlow, so only the model
and loss differ.

`sample` returns the mean, not a draw: independent per-step noise in a chunk makes
jittery, off-expert motion (the std is the demos' residual spread, not an
exploration schedule), and the mean is what Gaussian BC baselines report. The
workdir's config.json holds `"method": "bc"`, which is how efjax.load tells a BC
workdir from an EnergyFlow one.
"""
import dataclasses
import math

import jax
import jax.numpy as jnp
import ml_collections
from flax import linen as nn

from efjax import checkpoint, workdir as workdir_files
from efjax.data.units import DemoUnits, InDemoUnits
from efjax.errors import WorkdirError
from efjax.networks import ACTIVATIONS, count_params
from efjax.networks.layers import MLP, Linear

Array = jax.Array
METHOD = "bc"


def default_bc_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      hidden=(256, 256, 256),
      activation="silu",
      # log-std is squashed into [min, max] (normalized-action units): without a floor
      # the NLL rewards collapsing the std on nearly-deterministic demo dimensions.
      min_log_std=-5.0, max_log_std=2.0,
  ))


class GaussianMLP(nn.Module):
  """obs [B, Ho, obs_dim] -> (mean, log_std), each [B, Ha, act_dim] (normalized units)."""
  hidden: tuple
  action_horizon: int
  act_dim: int
  activation: str = "silu"
  min_log_std: float = -5.0
  max_log_std: float = 2.0

  @nn.compact
  def __call__(self, obs: Array):
    b = obs.shape[0]
    x = MLP(tuple(self.hidden), ACTIVATIONS.get(self.activation), activate_last=True)(
        obs.reshape(b, -1))
    out = Linear(2 * self.action_horizon * self.act_dim)(x)
    mean, raw = out.reshape(b, 2, self.action_horizon, self.act_dim).transpose(1, 0, 2, 3)
    # tanh, not clip: the bound keeps a gradient everywhere.
    log_std = self.min_log_std + 0.5 * (self.max_log_std - self.min_log_std) * (jnp.tanh(raw) + 1)
    return mean, log_std


def gaussian_nll(mean: Array, log_std: Array, actions: Array) -> Array:
  """Per-sample NLL of actions [B, Ha, act_dim] under N(mean, exp(log_std)^2), mean over
  the chunk's dimensions: [B]."""
  z = (actions - mean) * jnp.exp(-log_std)
  return (0.5 * z * z + log_std + 0.5 * math.log(2 * math.pi)).mean(axis=(1, 2))


def make_network(config, act_dim: int) -> GaussianMLP:
  b = config.get("bc", default_bc_config())
  return GaussianMLP(tuple(b.hidden), config.data.action_horizon, act_dim, b.activation,
                     b.min_log_std, b.max_log_std)


def init_variables(net: GaussianMLP, config, obs_dim: int, key: Array) -> dict:
  """Fresh variables {'params'} for observation windows of the config's horizon."""
  return {"params": net.init(key, jnp.zeros((1, config.data.obs_horizon, obs_dim)))["params"]}


@dataclasses.dataclass(frozen=True)
class BCModel(InDemoUnits):
  """A trained Gaussian BC policy; methods take and return demo-file units."""
  config: ml_collections.ConfigDict
  params: dict                      # EMA variables {'params'}
  net: GaussianMLP
  units: DemoUnits
  step: int | None = None

  def distribution(self, obs: Array):
    """(mean, std) of the action chunk, each [B, Ha, act_dim]; obs [B, Ho, obs_dim]
    (or [B, obs_dim] when Ho == 1)."""
    mean, log_std = self.net.apply(self.params, self.units.obs(obs))
    return self.units.to_demo_actions(mean), self.units.to_demo_action_scale(jnp.exp(log_std))

  def sample(self, obs: Array, key: Array) -> Array:
    """The mean action chunk [B, Ha, act_dim] (deterministic; `key` is accepted so
    that every policy has the same signature)."""
    del key
    return self.distribution(obs)[0]

  @property
  def num_params(self) -> int:
    return count_params(self.params)


def load(workdir: str, step: int | None = None) -> BCModel:
  """The BC model of a workdir (EMA parameters of the newest checkpoint that restores)."""
  config = workdir_files.read_config(workdir)
  if workdir_files.method_of(config) != METHOD:
    raise WorkdirError(f"{workdir}: not a BC workdir (use efjax.load)")
  spec = workdir_files.read_dataset(workdir)
  net = make_network(config, spec["act_dim"])
  params, ckpt_step, units = checkpoint.load_trained(
      workdir, config, lambda o, a, key: init_variables(net, config, o, key), step)
  return BCModel(config=config, params={"params": params["params"]}, net=net, units=units,
                 step=ckpt_step)
