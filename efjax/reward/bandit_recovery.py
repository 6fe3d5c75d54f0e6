"""Reward recovery on the max-ent contextual bandit: train EnergyFlow, read rewards, score them.

`run_bandit_recovery(config)` draws expert demonstrations from a bandit with known
Q, trains an energy by DSM, extracts every reward kind and compares each with Q
on held-out states (offset-free correlation, preference accuracy, EPIC). It is
the core's end-to-end check and the evidence for the reward defaults
(`experiments/configs/bandit.py` holds the command and the figures).
"""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax import model
from efjax.data import fit_normalizer
from efjax.envs import MaxEntBandit
from efjax.reward.formulas import make_reward_fn
from efjax.reward.metrics import reward_quality
from efjax.train.dataset import in_memory_data
from efjax.train.trainer import fit


def train_bandit_energy(config: ml_collections.ConfigDict, log=print):
  """Trains the energy on bandit demos (efjax.train.fit, in memory).
  Returns (net, ema variables, action normalizer, env)."""
  env = MaxEntBandit(alpha=config.bandit.alpha)
  k_data, k_init, k_train = jax.random.split(jax.random.key(config.seed), 3)
  obs, actions = env.demos(k_data, config.data.num_demos)
  act_norm = fit_normalizer(actions, "zscore")
  data = in_memory_data(obs, act_norm.normalize(actions))
  state = fit(config, data, (1, 1), keys=(k_init, k_train), log=log or (lambda *_: None))
  net, _ = model.make_network(config)
  return net, state.ema_variables, act_norm, env


def evaluate_bandit_rewards(net, variables, act_norm, env: MaxEntBandit,
                            config: ml_collections.ConfigDict) -> dict:
  """Metrics of every reward kind, and of the centered reward at each `eval.t_sweep` level."""
  k_s, k_a = jax.random.split(jax.random.key(config.seed + 1))
  num_s, num_a = config.eval.num_states, config.eval.num_actions
  s = env.sample_states(k_s, num_s)
  a = env.sample_actions(k_a, s, num_a)                      # on the expert's support
  q_true = np.asarray(env.q(s, a))
  obs = jnp.repeat(s, num_a)[:, None, None]
  act = act_norm.normalize(a.reshape(-1, 1))[:, None, :]

  def quality(reward_cfg, kind):
    fn = jax.jit(make_reward_fn(net, reward_cfg, (1, 1)), static_argnames="kind")
    r = fn(variables, obs, act, kind=kind)
    return reward_quality(np.asarray(r).reshape(num_s, num_a), q_true)

  results = {kind: quality(config.reward, kind) for kind in ("centered", "multi_noise")}
  sweep = {}
  for t in config.eval.t_sweep:
    cfg = ml_collections.ConfigDict(config.reward.to_dict())
    cfg.t = float(t)
    sweep[float(t)] = quality(cfg, "centered")
  results["centered_t_sweep"] = sweep
  return results


def run_bandit_recovery(config: ml_collections.ConfigDict, log=print) -> dict:
  net, variables, act_norm, env = train_bandit_energy(config, log)
  return evaluate_bandit_rewards(net, variables, act_norm, env, config)
