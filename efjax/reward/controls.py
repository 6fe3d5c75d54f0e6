"""Control rewards: what a learned reward must beat before it says anything about a task.

    fn, params = control_reward("constant_plus", obs_dim, act_dim)

Each is a pure `fn(params, obs [B, obs_dim], action [B, act_dim], next_obs) -> [B]` like
every RL reward (efjax.rl.ppo). `zero` pays nothing (PPO then learns from nothing),
`constant_plus` and `constant_minus` pay +1 and -1 per step (on a task whose episodes can
end early, their sign alone decides whether ending them pays), and `random_network` is a
fixed, randomly initialized MLP of (s, a, s'): a reward with structure but no meaning.
"""
import jax
import jax.numpy as jnp

from efjax.registry import Registry
from efjax.rl.networks import MLP

CONTROLS: Registry = Registry("control reward")


def _constant(value: float):
  def make(obs_dim: int, act_dim: int, seed: int):
    return (lambda params, obs, action, next_obs: jnp.full((obs.shape[0],), value, jnp.float32),
            None)
  return make


def _random_network(obs_dim: int, act_dim: int, seed: int):
  net = MLP((64, 64), 1, "tanh")
  params = net.init(jax.random.key(seed), jnp.zeros((1, 2 * obs_dim + act_dim)))

  def fn(params, obs, action, next_obs):
    return net.apply(params, jnp.concatenate([obs, action, next_obs], -1))[:, 0]
  return fn, params


CONTROLS.register("zero", _constant(0.0))
CONTROLS.register("constant_plus", _constant(1.0))
CONTROLS.register("constant_minus", _constant(-1.0))
CONTROLS.register("random_network", _random_network)


def control_reward(kind: str, obs_dim: int, act_dim: int, seed: int = 0):
  """(fn, params) of a control reward (ConfigError listing the kinds for an unknown one)."""
  return CONTROLS.get(kind)(obs_dim, act_dim, seed)
