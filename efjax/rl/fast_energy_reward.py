"""The EnergyFlow centered and soft-Bellman rewards of an MLP energy, with the shared work done once.

`Model.reward_fn(kind)` evaluates the full network 17 times per transition (the
action and 16 reference actions): the time embedding and, inside the backbone's
first layer, the projection of the (observation features, time embedding)
conditioning are recomputed for every one although they are the same for all 17
(and the time embedding for the whole batch: t is fixed). The first layer is
linear in concat(action, cond), so

    W0^T [a; cond] + b0 = W0[:A]^T a + (W0[A:]^T cond + b0)

and the second term is computed once per state. The 17 action rows then go
through the rest of the MLP as one [(M + 1) B, H] batch. Same reward, same
parameters (the checkpoint's own tree); tests/test_irl.py checks it against
`Model.reward_fn` to float32 precision. Large batches go through in chunks of
`STATES_PER_CHUNK` states (`map_in_chunks`), 1.7x faster on the CPU.

Only the configuration RL rewards use is covered (MLP backbone, action chunk 1,
no spectral norm, no preconditioning); any other model gets `Model.reward_fn` unchanged.
"""
import jax
import jax.numpy as jnp

from efjax.energy import encode_obs, map_in_chunks
from efjax.networks import ACTIVATIONS, COMPUTE_DTYPES
from efjax.networks.layers import matmul
from efjax.rewards import reference_actions, soft_value_from_energies

Array = jax.Array
STATES_PER_CHUNK = 256


def supported(model) -> bool:
  m, d = model.config.model, model.config.data
  return (m.backbone == "mlp" and m.parameterization == "energy" and not m.spectral_norm
          and m.get("preconditioning", "none") == "none"
          and (d.obs_horizon, d.action_horizon) == (1, 1))


def fast_reward_fn(model, kind: str | None = None, compute_dtype: str | None = None):
  """`fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B]`, the same
  function as `model.reward_fn(kind)` (kind: 'centered' or 'soft_bellman').

  compute_dtype: None keeps the model's; 'bfloat16' casts the matmul inputs (a
  numerical, not a definitional, change: f32 accumulation).
  """
  kind = kind or model.config.reward.kind
  if not supported(model) or kind not in ("centered", "soft_bellman"):
    return model.reward_fn(kind)
  cfg, mcfg = model.config.reward, model.config.model
  act = ACTIVATIONS.get(mcfg.activation)
  dtype = COMPUTE_DTYPES[compute_dtype or mcfg.compute_dtype]
  reference = reference_actions(cfg.num_reference, (1, model.act_dim), cfg.reference_seed)
  ref = reference[:, 0]                                                 # [M, A]
  t = jnp.full((1,), cfg.t, jnp.float32)
  n_mlp = len(mcfg.mlp.hidden)
  n_head = len(mcfg.head_hidden) + 1

  def precond(params, obs):
    """Normalized obs [B, 1, obs_dim] -> first-layer pre-activation without the action: [B, H0]."""
    features = encode_obs(model.net, params, obs)
    temb = model.net.apply(params, t, method=lambda m, tt: m.time_embedding(tt))  # [1, E]
    cond = jnp.concatenate([features, jnp.broadcast_to(temb, (features.shape[0],
                                                              temb.shape[1]))], -1)
    layer = params["params"]["backbone"]["MLP_0"]["dense_0"]
    return matmul(cond, layer["kernel"][model.act_dim:], dtype) + layer["bias"]

  def energy_rows(params, pre: Array, a: Array) -> Array:
    """pre [R, H0], normalized actions a [R, A] -> E [R]."""
    bb = params["params"]["backbone"]
    x = act(matmul(a, bb["MLP_0"]["dense_0"]["kernel"][:model.act_dim], dtype) + pre)
    for i in range(1, n_mlp):
      layer = bb["MLP_0"][f"dense_{i}"]
      x = act(matmul(x, layer["kernel"], dtype) + layer["bias"])
    for i in range(n_head):
      layer = bb[f"Linear_{i}"]
      x = matmul(x, layer["kernel"], dtype)
      if i < n_head - 1:
        x = act(x + layer["bias"])
    return x[:, 0]

  def fn(params, obs, action, next_obs):
    # 256 states (4,352 rows) at a time: the rows' activations stay in cache. One
    # [4096 x 17, 128] batch ran the 128x128 reward in 45.7 ms, chunks of 256 states
    # in 27.2 (the 256x256 one 105 -> 61 ms; 2-core CPU, 2026-11-25).
    if next_obs is None:
      return map_in_chunks(lambda o, a: rows_fn(params, o, a, None), obs, action,
                           chunk=STATES_PER_CHUNK)
    return map_in_chunks(lambda o, a, n: rows_fn(params, o, a, n), obs, action, next_obs,
                         chunk=STATES_PER_CHUNK)

  def rows_fn(params, obs, action, next_obs):
    norm_o = lambda o: model.normalizers["obs"].normalize(  # noqa: E731
        jnp.asarray(o, jnp.float32)[:, None])
    a = model.normalizers["actions"].normalize(jnp.asarray(action, jnp.float32)[:, None])[:, 0]
    b, m = a.shape[0], ref.shape[0]
    pre = precond(params, norm_o(obs))
    if kind == "centered":        # rows: the action, then the M references, for every state
      pre_rows = jnp.broadcast_to(pre, (m + 1,) + pre.shape).reshape((m + 1) * b, -1)
      a_rows = jnp.concatenate([a[None], jnp.broadcast_to(ref[:, None], (m, b, ref.shape[1]))])
      e = energy_rows(params, pre_rows, a_rows.reshape((m + 1) * b, -1)).reshape(m + 1, b)
      return -(e[0] - e[1:].mean(0))
    # soft_bellman: Q(s, a) - gamma V(s'), V over the M references at s'.
    pre_next = precond(params, norm_o(next_obs))
    pre_rows = jnp.concatenate([pre, jnp.broadcast_to(pre_next, (m,) + pre.shape).reshape(m * b, -1)])
    a_rows = jnp.concatenate([a, jnp.broadcast_to(ref[:, None], (m, b, ref.shape[1])).reshape(m * b, -1)])
    e = energy_rows(params, pre_rows, a_rows)
    q = -cfg.alpha * e[:b]
    return q - cfg.gamma * soft_value_from_energies(e[b:].reshape(m, b), reference, cfg.alpha)

  return fn


__all__ = ["fast_reward_fn", "supported"]
