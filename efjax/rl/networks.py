"""Separate actor and critic MLPs and the Gaussian policy over pre-squash actions.

The policy is a diagonal Gaussian over u [B, act_dim] with a state-independent
log std; the env receives squash(u) in [-1, 1], by tanh or by clipping. PPO's
ratio only needs log pi(u) of the stored u: the tanh Jacobian depends on u
alone, so it cancels in the ratio and is never computed.
"""
from typing import Callable, Sequence

import distrax
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


def distribution(mean: Array, log_std: Array) -> distrax.Distribution:
  """The Gaussian over pre-squash actions u; batch shape [B], event [act_dim]."""
  return distrax.MultivariateNormalDiag(mean, jnp.broadcast_to(jnp.exp(log_std), mean.shape))


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


