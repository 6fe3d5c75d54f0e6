"""Demo-file units <-> the normalized units a network is trained in, with shape checks.

Every trained model (EnergyFlow, BC, and the rewards read from them) takes and
returns arrays in the demo file's units; `DemoUnits` is the one place that turns
them into network inputs and back.
"""
import dataclasses

import jax
import jax.numpy as jnp

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class DemoUnits:
  """The normalizers of a run and the window shapes its network takes."""
  normalizers: dict            # 'obs', 'actions': Normalizer
  obs_horizon: int             # Ho
  action_horizon: int          # Ha
  obs_dim: int
  act_dim: int

  def _window(self, x, name: str, horizon: int, dim: int) -> Array:
    """[B, H, dim] (or [B, dim] when H == 1) in demo units -> normalized [B, H, dim]."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim == 2 and horizon == 1:
      x = x[:, None, :]
    if x.ndim != 3 or x.shape[1:] != (horizon, dim):
      raise ValueError(f"{name} must be [B, {horizon}, {dim}], got shape {tuple(x.shape)}")
    return self.normalizers[name].normalize(x)

  def obs(self, obs) -> Array:
    """obs [B, Ho, obs_dim] (or [B, obs_dim] when Ho == 1), demo units -> normalized [B, Ho, obs_dim]."""
    return self._window(obs, "obs", self.obs_horizon, self.obs_dim)

  def actions(self, actions) -> Array:
    """actions [B, Ha, act_dim] (or [B, act_dim] when Ha == 1) -> normalized [B, Ha, act_dim]."""
    return self._window(actions, "actions", self.action_horizon, self.act_dim)

  def to_demo_actions(self, actions: Array) -> Array:
    """Normalized actions [..., act_dim] -> demo units."""
    return self.normalizers["actions"].unnormalize(actions)

  def to_demo_action_scale(self, scale: Array) -> Array:
    """A spread (std) of normalized actions [..., act_dim] -> demo units."""
    return scale * self.normalizers["actions"].scale


class InDemoUnits:
  """For a trained model's dataclass with a `units: DemoUnits` field: its sizes and
  normalizers."""

  @property
  def obs_dim(self) -> int:
    return self.units.obs_dim

  @property
  def act_dim(self) -> int:
    return self.units.act_dim

  @property
  def normalizers(self) -> dict:
    return self.units.normalizers
