"""MLP backbone over (flattened action chunk, conditioning), for small problems and RL rewards."""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.layers import Linear, MLP
from efjax.networks.unet import energy_head

Array = jax.Array


class MLPBackbone(nn.Module):
  """(actions [B, Ha, act_dim], cond [B, D]) -> energy [B] or score [B, Ha, act_dim]."""
  hidden: Sequence[int] = (256, 256, 256)
  head_hidden: Sequence[int] = ()
  spectral_norm: bool = False
  output: str = "energy"
  activation: Callable[[Array], Array] = nn.softplus
  compute_dtype: object = None

  @nn.compact
  def __call__(self, actions: Array, cond: Array) -> Array:
    batch, horizon, act_dim = actions.shape
    x = jnp.concatenate([actions.reshape(batch, horizon * act_dim), cond], axis=-1)
    x = MLP(tuple(self.hidden), self.activation, activate_last=True,
            compute_dtype=self.compute_dtype)(x)
    if self.output == "score":
      return Linear(horizon * act_dim, compute_dtype=self.compute_dtype)(x).reshape(
          actions.shape)
    return energy_head(x, self.head_hidden, self.spectral_norm, self.activation,
                       self.compute_dtype)
