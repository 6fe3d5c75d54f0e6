"""Separate actor and critic MLPs and the Gaussian policy over pre-squash actions.

The policy is a diagonal Gaussian over u [B, act_dim] with a state-independent
log std; the env receives squash(u) in [-1, 1], by tanh or by clipping. PPO's
ratio only needs log pi(u) of the stored u: the tanh Jacobian depends on u
alone, so it cancels in the ratio. A reward learner that needs the density of the
env action a = squash(u) (AIRL's discriminator) gets log pi(u) - squash_log_det(u);
`unsquash` maps an expert's env action back to u.
"""
import math
from typing import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from efjax.registry import Registry
from efjax.rl.running_stats import normalize

Array = jax.Array

ACTIVATIONS: Registry[Callable] = Registry("activation")
ACTIVATIONS.register("tanh", jnp.tanh)
ACTIVATIONS.register("swish", nn.swish)
ACTIVATIONS.register("relu", nn.relu)

SQUASHES: Registry[Callable[[Array], Array]] = Registry("action squash")
SQUASHES.register("tanh", jnp.tanh)
SQUASHES.register("clip", lambda u: jnp.clip(u, -1.0, 1.0))
_TANH_EDGE = 1.0 - 1e-6   # |a| is clipped below 1 before atanh (float32 keeps 1 - 6e-8)


def squash_log_det(u: Array, squash: str) -> Array:
  """sum_i log |d squash(u_i) / du_i|: [B] for u [B, act_dim].

  log pi(a) of the env action a = squash(u) is log pi(u) minus this. tanh:
  log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2 u)), exact at large |u|. clip has
  no density at the bounds (they carry the mass of everything beyond); 0 here, so its
  "log pi(a)" is the Gaussian's at u, which grows without bound with the std.
  """
  if squash == "tanh":
    return jnp.sum(2.0 * (math.log(2.0) - u - jax.nn.softplus(-2.0 * u)), axis=-1)
  SQUASHES.get(squash)
  return jnp.zeros(u.shape[:-1], u.dtype)


def unsquash(action: Array, squash: str) -> Array:
  """The u with squash(u) = action [B, act_dim] (actions at tanh's bounds pulled inside)."""
  if squash == "tanh":
    return jnp.arctanh(jnp.clip(action, -_TANH_EDGE, _TANH_EDGE))
  SQUASHES.get(squash)
  return action


class MLP(nn.Module):
  """Orthogonal-init MLP [B, in] -> [B, out]; the last layer's scale is chosen by the caller."""
  hidden: Sequence[int]
  out: int
  activation: str = "tanh"
  out_scale: float = 1.0

  @nn.compact
  def __call__(self, x: Array) -> Array:
    act = ACTIVATIONS.get(self.activation)
    for h in self.hidden:
      x = act(nn.Dense(h, kernel_init=nn.initializers.orthogonal(np.sqrt(2)))(x))
    return nn.Dense(self.out, kernel_init=nn.initializers.orthogonal(self.out_scale))(x)


class Actor(nn.Module):
  """obs [B, obs_dim] (normalized) -> (mean [B, act_dim], log_std [act_dim])."""
  act_dim: int
  hidden: Sequence[int] = (64, 64)
  activation: str = "tanh"
  init_log_std: float = -0.5

  @nn.compact
  def __call__(self, obs: Array):
    # A small last layer starts the policy near u = 0 for every state (why: PPO practice).
    mean = MLP(self.hidden, self.act_dim, self.activation, out_scale=0.01)(obs)
    log_std = self.param("log_std", nn.initializers.constant(self.init_log_std), (self.act_dim,))
    return mean, log_std


class Critic(nn.Module):
  """obs [B, obs_dim] (normalized) -> value [B]."""
  hidden: Sequence[int] = (64, 64)
  activation: str = "tanh"

  @nn.compact
  def __call__(self, obs: Array) -> Array:
    return MLP(self.hidden, 1, self.activation, out_scale=1.0)(obs)[..., 0]


_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class DiagGaussian:
  """A Gaussian with diagonal covariance; batch shape [B], event shape [act_dim].

  mean [B, act_dim], std [B, act_dim] (positive). Each method does the float
  operations of distrax 0.1.9's MultivariateNormalDiag (which efjax used before)
  in the same order, so draws, log-probs, entropies and their gradients are
  bitwise those of distrax and PPO runs did not change. Hence 1 / std and
  log|std| computed once here, in that order (a gradient sums its terms in the
  order of use), (1 / std) * (u - mean) rather than (u - mean) / std, log|std|
  rather than log_std, and the constant summed over act_dim rather than multiplied
  by it. (Jitted alone at B = act_dim = 1, XLA simplifies the two graphs apart and
  log_prob/entropy differ from distrax's by 1 ulp.)
  """

  def __init__(self, mean: Array, std: Array):
    self.mean, self.std = mean, std
    self._inv_std = 1.0 / std
    self._log_std = jnp.log(jnp.abs(std))

  def sample(self, seed: Array) -> Array:
    """u = mean + std * eps, eps ~ N(0, I) from jax.random.normal(seed): [B, act_dim]."""
    eps = jax.random.normal(seed, self.mean.shape, self.mean.dtype)
    return self.std * eps + self.mean

  def log_prob(self, u: Array) -> Array:
    """log N(u; mean, diag(std^2)) for u [B, act_dim]: [B]."""
    z = self._inv_std * (u - self.mean)
    return (jnp.sum(-0.5 * jnp.square(z) - _HALF_LOG_2PI, axis=-1)
            + jnp.sum(-self._log_std, axis=-1))

  def entropy(self) -> Array:
    """act_dim / 2 * log(2 pi e) + sum log std: [B]."""
    per_dim = jnp.full(self.mean.shape, jnp.asarray(_HALF_LOG_2PI, self.mean.dtype) + 0.5)
    return jnp.sum(per_dim, axis=-1) + jnp.sum(self._log_std, axis=-1)


def distribution(mean: Array, log_std: Array) -> DiagGaussian:
  """The Gaussian over pre-squash actions u: mean [B, act_dim], log_std [act_dim]."""
  if jnp.shape(log_std)[-1:] != jnp.shape(mean)[-1:]:
    raise ValueError(f"log_std {jnp.shape(log_std)} must end in act_dim = mean's last axis "
                     f"{jnp.shape(mean)}")
  return DiagGaussian(mean, jnp.broadcast_to(jnp.exp(log_std), mean.shape))


def make_networks(config, act_dim: int) -> tuple[Actor, Critic]:
  """Actor and critic from config.{actor_hidden, critic_hidden, activation, init_log_std}."""
  actor = Actor(act_dim, tuple(config.actor_hidden), config.activation, config.init_log_std)
  critic = Critic(tuple(config.critic_hidden), config.activation)
  return actor, critic


def make_policy_fn(config, act_dim: int):
  """`act(agent, obs [B, obs_dim], key, deterministic=False) -> actions [B, act_dim]` in [-1, 1].

  `agent` is the dict PPO trains and saves: {"actor", "critic", "obs_stats"}.
  Observations are raw env observations; the agent's running normalization is
  applied here. Deterministic actions are squash(mean). Pure: jit/vmap work.
  """
  actor, _ = make_networks(config, act_dim)
  squash = SQUASHES.get(config.squash)
  normalize_obs = config.normalize_obs

  def act(agent: dict, obs: Array, key: Array, deterministic: bool = False) -> Array:
    x = normalize(agent["obs_stats"], obs) if normalize_obs else obs
    mean, log_std = actor.apply(agent["actor"], x)
    if deterministic:
      return squash(mean)
    return squash(distribution(mean, log_std).sample(seed=key))

  return act


