"""Reward recovery on the max-ent contextual bandit: train EnergyFlow, read rewards, score them.

`run_bandit_recovery(config)` draws expert demonstrations from a bandit with known
Q, trains an energy by DSM, extracts every reward kind and compares each with Q
on held-out states (offset-free correlation, preference accuracy, EPIC). It is
the core's end-to-end check and the evidence for the reward defaults
(`experiments/configs/bandit.py` holds the command and the figures).
"""
import time
from typing import Callable

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax import networks, rewards, schedules
from efjax.data import fit_normalizer
from efjax.envs import MaxEntBandit
from efjax.reward_metrics import reward_quality
from efjax.train import create_train_state, make_multi_step, make_optimizer, make_train_step


def _print_progress(step: int, total: int, loss: float, start: float) -> None:
  elapsed = time.perf_counter() - start
  eta = elapsed / max(step, 1) * (total - step)
  print(f"step {step:6d}/{total}  loss {loss:.4f}  {step / max(elapsed, 1e-9):7.1f} steps/s  "
        f"ETA {eta:5.0f}s", flush=True)


def train_bandit_energy(config: ml_collections.ConfigDict,
                        log: Callable[[int, int, float, float], None] = _print_progress):
  """Trains the energy on bandit demos. Returns (net, ema variables, action normalizer, env)."""
  env = MaxEntBandit(alpha=config.bandit.alpha)
  key = jax.random.key(config.seed)
  k_data, k_init, k_train = jax.random.split(key, 3)
  obs, actions = env.demos(k_data, config.data.num_demos)
  act_norm = fit_normalizer(actions, "zscore")
  data = {"obs": obs[:, None, :], "actions": act_norm.normalize(actions)[:, None, :]}

  schedule = schedules.make_schedule(config.schedule)
  net = networks.make_network(config.model, schedule)
  optimizer = make_optimizer(config.optim)
  variables = net.init(k_init, data["actions"][:2], data["obs"][:2], jnp.zeros(2))
  state = create_train_state(variables, optimizer, k_train)
  step_fn = make_train_step(net, schedule, optimizer, config.train.num_levels, config.train.ema)
  multi_step = jax.jit(make_multi_step(step_fn, config.train.batch_size,
                                       config.train.steps_per_call), donate_argnums=0)
  calls = max(1, config.train.num_steps // config.train.steps_per_call)
  start = time.perf_counter()
  for call in range(1, calls + 1):
    state, metrics = multi_step(state, data)
    if log and (call % max(1, calls // 10) == 0 or call == calls):
      log(call * config.train.steps_per_call, calls * config.train.steps_per_call,
          float(metrics["loss"].mean()), start)
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
    fn = jax.jit(rewards.make_reward_fn(net, reward_cfg, (1, 1)), static_argnames="kind")
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


def run_bandit_recovery(config: ml_collections.ConfigDict, log=_print_progress) -> dict:
  net, variables, act_norm, env = train_bandit_energy(config, log)
  return evaluate_bandit_rewards(net, variables, act_norm, env, config)
