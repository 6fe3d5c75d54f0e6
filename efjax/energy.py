"""Energy, and the score as its negative action gradient: conservative by construction.

`score(...) = -grad_a E(a, s, t)` for a whole batch in one `jax.grad` of the summed
energy: samples are independent (no batch coupling in the network), so the
gradient of the sum is each sample's own gradient. A network built with
`parameterization="score"` returns its vector field directly instead; that is the
non-conservative (Diffusion-Policy-style) baseline, and `score_from_features`
dispatches on the parameterization so losses and samplers work with both.
"""
import jax
import jax.numpy as jnp

from efjax.networks import EnergyNet
from efjax.shapes import check_model_inputs

Array = jax.Array


def is_conservative(net: EnergyNet) -> bool:
  return net.backbone.output == "energy"


def encode_obs(net: EnergyNet, variables, obs: Array) -> Array:
  """obs [B, Ho, obs_dim] -> features [B, F]."""
  return net.apply(variables, obs, method=EnergyNet.encode_obs)


def energy_from_features(net: EnergyNet, variables, actions: Array, obs_features: Array,
                         t: Array) -> Array:
  """actions [B, Ha, act_dim], obs_features [B, F], t [B] -> E [B]."""
  if not is_conservative(net):
    raise ValueError("this network is a direct score network (model.parameterization="
                     "'score'): it has no energy")
  return net.apply(variables, actions, obs_features, t, method=EnergyNet.from_features)


def score_from_features(net: EnergyNet, variables, actions: Array, obs_features: Array,
                        t: Array) -> Array:
  """-grad_a E (or the direct network's output): [B, Ha, act_dim]."""
  if not is_conservative(net):
    return net.apply(variables, actions, obs_features, t, method=EnergyNet.from_features)
  total_energy = lambda a: energy_from_features(net, variables, a, obs_features, t).sum()  # noqa: E731
  return -jax.grad(total_energy)(actions)


def energy(net: EnergyNet, variables, actions: Array, obs: Array, t: Array) -> Array:
  """E(a, s, t): actions [B, Ha, act_dim], obs [B, Ho, obs_dim], t [B] -> [B]."""
  check_model_inputs(actions, obs, t)
  return energy_from_features(net, variables, actions, encode_obs(net, variables, obs), t)


def score(net: EnergyNet, variables, actions: Array, obs: Array, t: Array) -> Array:
  """score(a, s, t) = -grad_a E: [B, Ha, act_dim] (same shape as actions)."""
  check_model_inputs(actions, obs, t)
  return score_from_features(net, variables, actions, encode_obs(net, variables, obs), t)


def broadcast_t(t, batch: int) -> Array:
  """A scalar or [B] time -> [B] float32."""
  return jnp.broadcast_to(jnp.asarray(t, jnp.float32), (batch,))
