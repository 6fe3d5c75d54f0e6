"""Rewards read from a trained energy: centered energy, multi-noise, soft-Bellman.

All rewards are in network units (normalized actions, raw or normalized
observations as the model was trained); `efjax.load` adds the demo-file units.

- `centered` (the paper): r(s, a) = -(E(a, s, t0) - mean_j E(a_j, s, t0)) over M fixed
  reference chunks a_j ~ N(0, I) in normalized action space. Removing the
  per-state mean removes the per-state constant that DSM cannot identify.
- `multi_noise`: the centered reward averaged over several low noise levels, which
  trades a little bias for less sensitivity to the level chosen.
- `soft_bellman`: r(s, a, s') = Q(s, a) - gamma V(s'), with Q = -alpha E(a, s, t0) and
  V(s) = alpha log E_{a~N(0,I)}[exp(Q(s, a)/alpha) / N(a; 0, I)], estimated by
  importance sampling over the reference chunks (the soft value of a max-ent policy).

Both expectations over a ~ N(0, I) are read at the reference chunks (`reference`):
- `sampled` (the paper): M = `num_reference` fixed draws, equal weights.
- `gauss_hermite`: the product Gauss-Hermite rule with `num_reference` nodes per action
  dimension (M = n^D points for D = chunk x act_dim, at most 4096), deterministic and
  exact for polynomials of degree 2n - 1 in each dimension. For low-dimensional actions
  it is far more accurate per evaluation: on rl_compare's trained energies the
  centering term's state-dependent error was 40 % (1-D actions) and 13 % (2-D) of the
  energy's spread over actions with 16 draws, 2-4 % and 0.1 % with n = 2
  (`python -m experiments.reference_rule_check`; results/rl_compare.md).
"""
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax.energy import encode_obs, energy_from_features, broadcast_t
from efjax.networks import EnergyNet
from efjax.registry import Registry
from efjax.shapes import check_model_inputs

Array = jax.Array
REWARDS: Registry[Callable] = Registry("reward kind")


def default_reward_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      kind="centered",          # 'centered', 'multi_noise' or 'soft_bellman'
      # Diffusion time the energy is read at. The paper reads at 1e-3; on the bandit
      # (results/bandit.md) t = 0.4 (VE sigma 0.16 in normalized action units)
      # recovered Q best at every learning rate tried: 0.94-0.96 vs 0.77-0.82 Pearson.
      t=0.4,
      reference="sampled",      # 'sampled' (paper) or 'gauss_hermite' (see the module doc)
      num_reference=16,         # sampled: M chunks (paper: 16); gauss_hermite: nodes per dimension
      reference_seed=0,
      multi_noise_t=(0.3, 0.4, 0.5),
      alpha=1.0,                # soft-Bellman temperature
      gamma=0.99,               # soft-Bellman discount
  ))


REFERENCE_RULES = ("sampled", "gauss_hermite")
MAX_REFERENCE_POINTS = 4096


def reference_actions(num: int, action_shape, seed: int = 0) -> Array:
  """[M, Ha, act_dim] fixed standard-normal chunks (normalized action units)."""
  return jax.random.normal(jax.random.key(seed), (num,) + tuple(action_shape))


def gauss_hermite_points(nodes: int, action_shape) -> tuple[Array, Array]:
  """The product Gauss-Hermite rule for N(0, I) over [Ha, act_dim]: points [n^D, Ha, act_dim]
  and weights [n^D] summing to 1."""
  dim = int(np.prod(action_shape))
  x, w = np.polynomial.hermite_e.hermegauss(nodes)
  grids = np.meshgrid(*([np.arange(nodes)] * dim), indexing="ij")
  index = np.stack([g.reshape(-1) for g in grids], -1)                  # [n^D, D]
  points = x[index].reshape((-1,) + tuple(action_shape))
  weights = np.prod(w[index], -1)
  return jnp.asarray(points, jnp.float32), jnp.asarray(weights / weights.sum(), jnp.float32)


def reference_rule(cfg: ml_collections.ConfigDict, action_shape) -> tuple[Array, Array]:
  """The reward config's reference chunks [M, Ha, act_dim] and their weights [M] (sum 1)."""
  rule = cfg.get("reference", "sampled")
  if rule not in REFERENCE_RULES:
    raise ValueError(f"unknown reward.reference {rule!r}; valid: {', '.join(REFERENCE_RULES)}")
  if cfg.num_reference < 1:
    raise ValueError(f"reward.num_reference must be >= 1, got {cfg.num_reference}")
  if rule == "sampled":
    m = cfg.num_reference
    return reference_actions(m, action_shape, cfg.reference_seed), jnp.full((m,), 1.0 / m)
  dim = int(np.prod(action_shape))
  if cfg.num_reference ** dim > MAX_REFERENCE_POINTS:
    raise ValueError(f"reward.reference='gauss_hermite' with num_reference={cfg.num_reference} "
                     f"nodes over {dim} action dimensions is {cfg.num_reference}^{dim} points "
                     f"(at most {MAX_REFERENCE_POINTS}); use reference='sampled' for "
                     f"high-dimensional actions")
  return gauss_hermite_points(cfg.num_reference, action_shape)


def _energies(net, variables, actions, features, t):
  return energy_from_features(net, variables, actions, features, broadcast_t(t, actions.shape[0]))


def _reference_energies(net, variables, reference, features, t) -> Array:
  """E(a_j, s, t) for every reference chunk a_j and state: [M, B]."""
  batch = features.shape[0]
  one = lambda a_j: _energies(  # noqa: E731
      net, variables, jnp.broadcast_to(a_j, (batch,) + a_j.shape), features, t)
  return jax.vmap(one)(reference)


def centered_at(net, variables, features, actions, reference, t) -> Array:
  """reference: (chunks [M, Ha, A], weights [M]) of `reference_rule`."""
  points, weights = reference
  e = _energies(net, variables, actions, features, t)
  return -(e - weights @ _reference_energies(net, variables, points, features, t))


@REWARDS.register("centered")
def centered(net, variables, cfg, reference, features, actions, next_features=None):
  return centered_at(net, variables, features, actions, reference, cfg.t)


@REWARDS.register("multi_noise")
def multi_noise(net, variables, cfg, reference, features, actions, next_features=None):
  levels = jnp.asarray(cfg.multi_noise_t, jnp.float32)
  per_level = jax.vmap(lambda t: centered_at(net, variables, features, actions, reference, t))
  return per_level(levels).mean(axis=0)


def soft_value_from_energies(energies: Array, reference: Array, alpha: float,
                             weights: Array | None = None) -> Array:
  """Soft value from E(a_j, s) [M, B] at reference chunks [M, ...] with weights [M]
  (None: 1/M, the sampled rule): [B].

  V(s) = alpha log sum_j w_j exp(-E(a_j, s) - log N(a_j; 0, I)), an estimate of
  alpha log int exp(-E(a, s)) da (importance sampling for sampled chunks, whose
  exponential is unbiased; quadrature for Gauss-Hermite ones).
  """
  flat = reference.reshape(reference.shape[0], -1)
  log_q = -0.5 * jnp.sum(flat**2, axis=-1) - 0.5 * flat.shape[1] * jnp.log(2 * jnp.pi)
  log_w = -energies - log_q[:, None]
  if weights is None:
    return alpha * (jax.nn.logsumexp(log_w, axis=0) - jnp.log(reference.shape[0]))
  return alpha * jax.nn.logsumexp(log_w + jnp.log(weights)[:, None], axis=0)


def soft_value(net, variables, cfg, reference, features) -> Array:
  """V(s) [B] at the reward noise level, over the reference chunks."""
  points, weights = reference
  e_ref = _reference_energies(net, variables, points, features, cfg.t)
  return soft_value_from_energies(e_ref, points, cfg.alpha, weights)


@REWARDS.register("soft_bellman")
def soft_bellman(net, variables, cfg, reference, features, actions, next_features=None):
  if next_features is None:
    raise ValueError("reward kind 'soft_bellman' needs next_obs")
  q = -cfg.alpha * _energies(net, variables, actions, features, cfg.t)
  return q - cfg.gamma * soft_value(net, variables, cfg, reference, next_features)


def validate_reward_config(cfg: ml_collections.ConfigDict, action_shape) -> None:
  """ValueError naming the first bad `reward` setting for actions of action_shape [Ha, act_dim]."""
  REWARDS.get(cfg.kind)
  if not 0.0 <= cfg.t <= 1.0:
    raise ValueError(f"reward.t must be in [0, 1], got {cfg.t}")
  reference_rule(cfg, action_shape)


def make_reward_fn(net: EnergyNet, cfg: ml_collections.ConfigDict, action_shape):
  """Returns reward(variables, obs, actions, next_obs=None, kind=None) -> [B].

  obs, next_obs: [B, Ho, obs_dim]; actions: [B, Ha, act_dim]; all in network units.
  `kind` overrides `cfg.kind`. The function is pure and jit/vmap/grad-able.
  """
  validate_reward_config(cfg, action_shape)
  reference = reference_rule(cfg, action_shape)

  def reward(variables, obs, actions, next_obs=None, kind=None):
    check_model_inputs(actions, obs)
    features = encode_obs(net, variables, obs)
    next_features = None if next_obs is None else encode_obs(net, variables, next_obs)
    return REWARDS.get(kind or cfg.kind)(net, variables, cfg, reference, features, actions,
                                        next_features)

  return reward
