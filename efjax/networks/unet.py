"""Temporal 1-D convolutional UNet with FiLM conditioning (Diffusion Policy's backbone).

Sequences are channels-last, [B, T, C]. With `output="energy"` the UNet ends in a
mean over time and a spectral-normalized MLP head, giving the EnergyFlow paper's
scalar energy; with `output="score"` it ends, as Diffusion Policy does, in a conv
block and a 1x1 conv to the action size: the direct (non-conservative) score
network used for ablations.
"""
from typing import Callable, Sequence

import jax
import jax.numpy as jnp
from flax import linen as nn

from efjax.networks.conv import Conv1D
from efjax.networks.layers import Linear
from efjax.networks.spectral_norm import SpectralLinear

Array = jax.Array


class GroupNorm(nn.Module):
  """GroupNorm over [B, T, C] with per-sample statistics (PyTorch's GroupNorm semantics).

  Parameters `scale`, `bias` [C] as flax's nn.GroupNorm. Written out because the
  statistics as two fused means over a [B, T, G, C/G] view cost less in the DSM double
  backward than flax's general implementation.
  """
  num_groups: int
  epsilon: float = 1e-5

  @nn.compact
  def __call__(self, x: Array) -> Array:
    b, t, c = x.shape
    g = x.reshape(b, t, self.num_groups, c // self.num_groups)
    mean = jnp.mean(g, axis=(1, 3), keepdims=True)
    centered = g - mean
    var = jnp.mean(jnp.square(centered), axis=(1, 3), keepdims=True)
    y = (centered * jax.lax.rsqrt(var + self.epsilon)).reshape(b, t, c)
    scale = self.param("scale", nn.initializers.ones, (c,))
    bias = self.param("bias", nn.initializers.zeros, (c,))
    return y * scale + bias


class ConvBlock(nn.Module):
  """Conv1D (same padding) -> GroupNorm -> activation."""
  features: int
  kernel_size: int
  num_groups: int
  activation: Callable[[Array], Array]
  conv_impl: str = "auto"
  compute_dtype: object = None

  @nn.compact
  def __call__(self, x: Array) -> Array:
    x = Conv1D(self.features, self.kernel_size, impl=self.conv_impl,
               compute_dtype=self.compute_dtype)(x)
    # epsilon as PyTorch's GroupNorm; statistics are per sample, never across the batch.
    x = GroupNorm(self.num_groups)(x)
    return self.activation(x)


class FiLMResBlock(nn.Module):
  """x [B, T, C_in], cond [B, D] -> [B, T, C_out].

  conv block, then h * (1 + scale) + shift with (scale, shift) = Linear(cond), a
  second conv block, plus a 1x1 conv skip when the channel count changes.
  """
  features: int
  kernel_size: int
  num_groups: int
  activation: Callable[[Array], Array]
  conv_impl: str = "auto"
  compute_dtype: object = None

  @nn.compact
  def __call__(self, x: Array, cond: Array) -> Array:
    block = lambda: ConvBlock(self.features, self.kernel_size, self.num_groups,  # noqa: E731
                              self.activation, self.conv_impl, self.compute_dtype)
    film = Linear(2 * self.features, compute_dtype=self.compute_dtype)(cond)
    scale, shift = jnp.split(film[:, None, :], 2, axis=-1)
    h = block()(x) * (1.0 + scale) + shift
    h = block()(h)
    if x.shape[-1] != self.features:
      x = Conv1D(self.features, 1, impl=self.conv_impl, compute_dtype=self.compute_dtype)(x)
    return h + x


class TemporalUNet(nn.Module):
  """(actions [B, Ha, act_dim], cond [B, D]) -> energy [B] or score [B, Ha, act_dim].

  Ha must be divisible by 2 ** (len(down_dims) - 1).
  """
  down_dims: Sequence[int] = (64, 128, 256)
  kernel_size: int = 5
  num_groups: int = 8
  head_hidden: Sequence[int] = (256, 128)
  spectral_norm: bool = True
  output: str = "energy"
  activation: Callable[[Array], Array] = nn.softplus
  conv_impl: str = "auto"
  compute_dtype: object = None

  @nn.compact
  def __call__(self, actions: Array, cond: Array) -> Array:
    act_dim = actions.shape[-1]
    res = lambda c: FiLMResBlock(c, self.kernel_size, self.num_groups,  # noqa: E731
                                 self.activation, self.conv_impl, self.compute_dtype)
    conv = lambda c, k, **kw: Conv1D(c, k, impl=self.conv_impl,  # noqa: E731
                                     compute_dtype=self.compute_dtype, **kw)
    x, skips = actions, []
    for i, c_out in enumerate(self.down_dims):
      x = res(c_out)(res(c_out)(x, cond), cond)
      skips.append(x)
      if i < len(self.down_dims) - 1:
        x = conv(c_out, 3, stride=2, padding=1)(x)
    for _ in range(2):
      x = res(self.down_dims[-1])(x, cond)
    for c_in in reversed(self.down_dims[:-1]):
      x = jnp.concatenate([x, skips.pop()], axis=-1)
      x = res(c_in)(res(c_in)(x, cond), cond)
      x = conv(c_in, 3, padding=1)(jnp.repeat(x, 2, axis=1))
    if self.output == "score":
      x = ConvBlock(self.down_dims[0], self.kernel_size, self.num_groups, self.activation,
                    self.conv_impl, self.compute_dtype)(x)
      return conv(act_dim, 1)(x)
    return energy_head(x.mean(axis=1), self.head_hidden, self.spectral_norm,
                       self.activation, self.compute_dtype)


def energy_head(features: Array, hidden: Sequence[int], spectral_norm: bool,
                activation: Callable[[Array], Array], compute_dtype=None) -> Array:
  """[B, F] -> [B]: Linear layers with `activation`, the last one to 1 without bias.

  Must be called inside a compact module (it creates the layers).
  """
  layer = SpectralLinear if spectral_norm else Linear
  x = features
  for width in hidden:
    x = activation(layer(width, compute_dtype=compute_dtype)(x))
  return layer(1, use_bias=False, compute_dtype=compute_dtype)(x)[:, 0]
