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


def encode_obs(net: EnergyNet, variables, obs: Array, rngs=None) -> Array:
  """obs [B, Ho, obs_dim] -> features [B, F]. rngs: {'dropout': key} in training only."""
  return net.apply(variables, obs, method=EnergyNet.encode_obs, rngs=rngs)


def energy_from_features(net: EnergyNet, variables, actions: Array, obs_features: Array,
                         t: Array, rngs=None) -> Array:
  """actions [B, Ha, act_dim], obs_features [B, F], t [B] -> E [B]. rngs: {'dropout': key}
  in training only (model.dropout)."""
  if not is_conservative(net):
    raise ValueError("this network is a direct score network (model.parameterization="
                     "'score'): it has no energy")
  return net.apply(variables, actions, obs_features, t, method=EnergyNet.from_features,
                   rngs=rngs)


def energy_rows(net: EnergyNet, variables, actions: Array, obs_features: Array,
                t: Array) -> Array:
  """R action chunks per state: actions [R, B, Ha, act_dim], obs_features [B, F], t [B]
  -> E [R, B].

  A backbone that shares the conditioning across rows (the MLP) computes the state's
  share of its first layer once for all R rows; any other backbone runs row by row.
  """
  if getattr(net.backbone, "shares_conditioning", False) and is_conservative(net):
    return net.apply(variables, actions, obs_features, t, method=EnergyNet.from_features)
  return jax.vmap(lambda a: energy_from_features(net, variables, a, obs_features, t))(actions)


def score_from_features(net: EnergyNet, variables, actions: Array, obs_features: Array,
                        t: Array, rngs=None) -> Array:
  """-grad_a E (or the direct network's output): [B, Ha, act_dim]. rngs: {'dropout': key}
  in training only: one dropout mask for the energy and its gradient."""
  if not is_conservative(net):
    return net.apply(variables, actions, obs_features, t, method=EnergyNet.from_features,
                     rngs=rngs)
  total_energy = lambda a: energy_from_features(net, variables, a, obs_features, t,  # noqa: E731
                                                rngs).sum()
  return -jax.grad(total_energy)(actions)


# Batches larger than this are evaluated in chunks of it (lax.map): on the 2-core CPU
# the paper network's energy at batch 4096 ran at 5,060 samples/s in one piece and
# 7,200 in chunks of 512 (activations that stay in cache); 256 and 1024 were slower.
CHUNK = 512


def map_in_chunks(fn, *args, chunk: int = CHUNK):
  """fn(*args) over the leading axis of every arg, `chunk` rows at a time, same result.

  The batch is padded (by repeating its last row) to a multiple of `chunk`, the
  chunks run in sequence with `lax.map`, and the padding is dropped.
  """
  batch = args[0].shape[0]
  if batch <= chunk:
    return fn(*args)
  n = -(-batch // chunk)
  pad = n * chunk - batch

  def split(x):
    x = jnp.concatenate([x, jnp.repeat(x[-1:], pad, axis=0)]) if pad else x
    return x.reshape((n, chunk) + x.shape[1:])

  out = jax.lax.map(lambda xs: fn(*xs), tuple(split(x) for x in args))
  return jax.tree_util.tree_map(lambda y: y.reshape((n * chunk,) + y.shape[2:])[:batch], out)


def energy(net: EnergyNet, variables, actions: Array, obs: Array, t: Array) -> Array:
  """E(a, s, t): actions [B, Ha, act_dim], obs [B, Ho, obs_dim], t [B] -> [B]."""
  check_model_inputs(actions, obs, t)
  return map_in_chunks(lambda a, o, tt: energy_from_features(
      net, variables, a, encode_obs(net, variables, o), tt), actions, obs, t)


def score(net: EnergyNet, variables, actions: Array, obs: Array, t: Array) -> Array:
  """score(a, s, t) = -grad_a E: [B, Ha, act_dim] (same shape as actions)."""
  check_model_inputs(actions, obs, t)
  return map_in_chunks(lambda a, o, tt: score_from_features(
      net, variables, a, encode_obs(net, variables, o), tt), actions, obs, t)


def broadcast_t(t, batch: int) -> Array:
  """A scalar or [B] time -> [B] float32."""
  return jnp.broadcast_to(jnp.asarray(t, jnp.float32), (batch,))
