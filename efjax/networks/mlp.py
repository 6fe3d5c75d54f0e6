"""MLP backbone over (flattened action chunk, conditioning), for small problems and RL rewards."""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.layers import Linear, MLP
from efjax.networks.unet import energy_head

Array = jax.Array


class MLPBackbone(nn.Module):
  """(actions [B, Ha, act_dim], cond [B, D]) -> energy [B] or score [B, Ha, act_dim].

  Energy rows: actions [R, B, Ha, act_dim] with cond [B, D] -> energies [R, B], the R
  action chunks of each state sharing its conditioning, whose share of the first layer
  is computed once per state (a reward reads 1 + M chunks per state).
  """
  hidden: Sequence[int] = (256, 256, 256)
  head_hidden: Sequence[int] = ()
  spectral_norm: bool = False
  output: str = "energy"
  activation: Callable[[Array], Array] = nn.softplus
  compute_dtype: object = None
  dropout: float = 0.0            # after each hidden layer, in training only (layers.MLP)
  shares_conditioning = True      # takes energy rows (see the class doc); a class constant

  @nn.compact
  def __call__(self, actions: Array, cond: Array) -> Array:
    *lead, horizon, act_dim = actions.shape
    mlp = MLP(tuple(self.hidden), self.activation, activate_last=True,
              compute_dtype=self.compute_dtype, dropout=self.dropout)
    if len(lead) == 2:            # energy rows [R, B]
      rows, batch = lead
      x = mlp(actions.reshape(rows, batch, horizon * act_dim), shared=cond)
      x = energy_head(x.reshape(rows * batch, -1), self.head_hidden, self.spectral_norm,
                      self.activation, self.compute_dtype)
      return x.reshape(rows, batch)
    batch, = lead
    x = mlp(jnp.concatenate([actions.reshape(batch, horizon * act_dim), cond], axis=-1))
    if self.output == "score":
      return Linear(horizon * act_dim, compute_dtype=self.compute_dtype)(x).reshape(
          actions.shape)
    return energy_head(x, self.head_hidden, self.spectral_norm, self.activation,
                       self.compute_dtype)
