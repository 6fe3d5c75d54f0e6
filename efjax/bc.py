"""Gaussian MLP behaviour cloning: the simplest baseline of the manipulation table.

    model = efjax.bc.train_and_evaluate(config, workdir)   # resumable, like efjax.train
    model = efjax.bc.load(workdir)
    model.distribution(obs)   # (mean, std), each [B, Ha, act_dim], demo units
    model.sample(obs, key)    # [B, Ha, act_dim]: the mean chunk (key unused)

An MLP maps the flattened observation window [B, Ho * obs_dim] to the mean and
log-std of a diagonal Gaussian over the whole action chunk [B, Ha, act_dim], trained
by its negative log-likelihood on the same windows, normalizers, optimizer, EMA and
orbax checkpoints as EnergyFlow (efjax.train), so only the model and loss differ.

`sample` returns the mean, not a draw: independent per-step noise in a chunk makes
jittery, off-expert motion (the std is the demos' residual spread, not an
exploration schedule), and the mean is what Gaussian BC baselines report. The
workdir's config.json holds `"method": "bc"`, which is how efjax.evaluation (and
`experiments.evaluate`) tells a BC workdir from an EnergyFlow one.
"""
import dataclasses
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import linen as nn

from efjax.networks import ACTIVATIONS, count_params
from efjax.networks.layers import MLP, Linear
from efjax.train import checkpoint
from efjax.train.loop import make_multi_step
from efjax.train.optimizer import learning_rate_schedule, make_optimizer
from efjax.train.state import create_train_state
from efjax.train.step import ema_decay, resumed_ema, run_ema_decay
from efjax.train.trainer import (DATASET_FILE, ConfigError, optim_config, prepare_data,
                                 validate_config, window_batch)

Array = jax.Array
METHOD = "bc"


def default_bc_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      hidden=(256, 256, 256),
      activation="silu",
      # log-std is squashed into [min, max] (normalized-action units): without a floor
      # the NLL rewards collapsing the std on nearly-deterministic demo dimensions.
      min_log_std=-5.0, max_log_std=2.0,
  ))


class GaussianMLP(nn.Module):
  """obs [B, Ho, obs_dim] -> (mean, log_std), each [B, Ha, act_dim] (normalized units)."""
  hidden: tuple
  action_horizon: int
  act_dim: int
  activation: str = "silu"
  min_log_std: float = -5.0
  max_log_std: float = 2.0

  @nn.compact
  def __call__(self, obs: Array):
    b = obs.shape[0]
    x = MLP(tuple(self.hidden), ACTIVATIONS.get(self.activation), activate_last=True)(
        obs.reshape(b, -1))
    out = Linear(2 * self.action_horizon * self.act_dim)(x)
    mean, raw = out.reshape(b, 2, self.action_horizon, self.act_dim).transpose(1, 0, 2, 3)
    # tanh, not clip: the bound keeps a gradient everywhere.
    log_std = self.min_log_std + 0.5 * (self.max_log_std - self.min_log_std) * (jnp.tanh(raw) + 1)
    return mean, log_std


def gaussian_nll(mean: Array, log_std: Array, actions: Array) -> Array:
  """Per-sample NLL of actions [B, Ha, act_dim] under N(mean, exp(log_std)^2), mean over
  the chunk's dimensions: [B]."""
  z = (actions - mean) * jnp.exp(-log_std)
  return (0.5 * z * z + log_std + 0.5 * math.log(2 * math.pi)).mean(axis=(1, 2))


def make_network(config, act_dim: int) -> GaussianMLP:
  b = config.get("bc", default_bc_config())
  return GaussianMLP(tuple(b.hidden), config.data.action_horizon, act_dim, b.activation,
                     b.min_log_std, b.max_log_std)


def build(config, obs_dim: int, act_dim: int):
  """(net, optimizer, initial TrainState): the EnergyFlow state with no spectral stats."""
  net = make_network(config, act_dim)
  optimizer = make_optimizer(optim_config(config))
  k_init, k_train = jax.random.split(jax.random.key(config.seed))
  params = net.init(k_init, jnp.zeros((1, config.data.obs_horizon, obs_dim)))["params"]
  return net, optimizer, create_train_state({"params": params}, optimizer, k_train)


def make_train_step(net: GaussianMLP, optimizer: optax.GradientTransformation, ema: float):
  """train_step(state, batch) -> (state, metrics), the same metrics as the DSM step.

  batch: {'obs': [B, Ho, obs_dim], 'actions': [B, Ha, act_dim]}, normalized.
  """

  def train_step(state, batch):
    def loss_fn(params):
      mean, log_std = net.apply({"params": params}, batch["obs"])
      return gaussian_nll(mean, log_std, batch["actions"]).mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    decay = ema_decay(state.step, ema)
    ema_params = jax.tree_util.tree_map(lambda e, p: decay * e + (1 - decay) * p,
                                        state.ema_params, params)
    state = state.replace(step=state.step + 1, params=params, ema_params=ema_params,
                          opt_state=opt_state)
    return state, {"loss": loss, "grad_norm": optax.global_norm(grads),
                   "skipped_steps": opt_state.total_notfinite}

  return train_step


def _check_compatible(workdir: str, config, summary: dict) -> None:
  old = json.load(open(os.path.join(workdir, "config.json")))
  if old.get("method") != METHOD:
    raise ConfigError(f"{workdir} holds a checkpoint of another method "
                      f"({old.get('method', 'energyflow')!r}), not {METHOD!r}")
  new = json.loads(config.to_json_best_effort())
  for section, keys in (("bc", new["bc"]), ("data", ("obs_horizon", "action_horizon"))):
    for key in keys:
      if old[section].get(key) != new[section].get(key):
        raise ConfigError(f"{workdir} holds a checkpoint from an incompatible config: "
                          f"{section}.{key} was {old[section].get(key)!r}, now "
                          f"{new[section].get(key)!r}")
  spec = json.load(open(os.path.join(workdir, DATASET_FILE)))
  for key in ("obs_dim", "act_dim"):
    if spec[key] != summary[key]:
      raise ConfigError(f"{workdir} holds a checkpoint for {key}={spec[key]}, but "
                        f"{config.data.path} has {key}={summary[key]}")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, log=print):
  """Trains (or resumes) BC on config.data.path; returns the final TrainState.

  Writes WORKDIR/config.json (with "method": "bc"), dataset.json, metrics.jsonl and
  orbax checkpoints, as efjax.train does. Keys used: data.*, seed, optim.*, bc.*, and
  train.{num_steps, batch_size, learning_rate, steps_per_call, checkpoint_every,
  keep_checkpoints, log_every, ema, ema_horizon}.
  """
  validate_config(config)
  config = ml_collections.ConfigDict(config.to_dict())    # an unlocked copy
  config.method = METHOD
  config.bc = config.get("bc", default_bc_config())
  data, norms, summary = prepare_data(config)
  os.makedirs(workdir, exist_ok=True)
  manager = checkpoint.make_manager(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                    config.train.keep_checkpoints)
  if manager.latest_step() is not None:
    _check_compatible(workdir, config, summary)
    old_path = os.path.join(workdir, "config.json")
    if os.path.exists(old_path) and "ema" in config.train:     # a pre-ema_horizon workdir
      config.train.ema = resumed_ema(json.load(open(old_path)).get("train", {}), config.train)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  with open(os.path.join(workdir, DATASET_FILE), "w") as f:
    json.dump(summary, f, indent=2)

  net, optimizer, state = build(config, summary["obs_dim"], summary["act_dim"])
  if manager.latest_step() is not None:
    state, _ = checkpoint.restore_newest_good(manager, state, norms, warn=log)
    log(f"resumed from step {int(state.step)}")
  t = config.train
  step_fn = make_train_step(net, optimizer, run_ema_decay(t))
  multi_step = jax.jit(make_multi_step(step_fn, t.batch_size, t.steps_per_call, window_batch),
                       donate_argnums=0)
  lr = learning_rate_schedule(optim_config(config))
  step, start, start_step = int(state.step), None, int(state.step)
  try:
    while step < t.num_steps:
      state, metrics = multi_step(state, data)
      step += t.steps_per_call
      if start is None:         # timed from the end of the first (compiling) call
        jax.block_until_ready(metrics["loss"])
        start, start_step = time.perf_counter(), step
      if step % t.log_every == 0 or step >= t.num_steps:
        loss = float(metrics["loss"].mean())
        if not np.isfinite(loss):
          raise FloatingPointError(f"non-finite loss {loss} at step {step}")
        rate = (step - start_step) / (time.perf_counter() - start) if step > start_step else None
        record = {"step": step, "loss": loss, "grad_norm": float(metrics["grad_norm"].mean()),
                  "learning_rate": float(lr(step)),
                  "skipped_steps": int(metrics["skipped_steps"][-1]),
                  "samples_per_s": None if rate is None else rate * t.batch_size}
        with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
          f.write(json.dumps(record) + "\n")
        speed = "" if rate is None else f"  {rate * t.batch_size:8.0f} samples/s"
        log(f"bc step {step:7d}/{t.num_steps}  nll {loss:.4f}{speed}")
      if step % t.checkpoint_every == 0 or step >= t.num_steps:
        checkpoint.save(manager, state, norms)
  finally:
    manager.wait_until_finished()
  return state


@dataclasses.dataclass(frozen=True)
class BCModel:
  """A trained Gaussian BC policy; methods take and return demo-file units."""
  config: ml_collections.ConfigDict
  params: dict                      # EMA variables {'params'}
  net: GaussianMLP
  normalizers: dict                 # 'obs', 'actions'
  obs_dim: int
  act_dim: int

  def distribution(self, obs: Array):
    """(mean, std) of the action chunk, each [B, Ha, act_dim]; obs [B, Ho, obs_dim]
    (or [B, obs_dim] when Ho == 1)."""
    obs = jnp.asarray(obs, jnp.float32)
    ho = self.config.data.obs_horizon
    if obs.ndim == 2 and ho == 1:
      obs = obs[:, None]
    if obs.ndim != 3 or obs.shape[1:] != (ho, self.obs_dim):
      raise ValueError(f"obs must be [B, {ho}, {self.obs_dim}], got shape {tuple(obs.shape)}")
    mean, log_std = self.net.apply(self.params, self.normalizers["obs"].normalize(obs))
    a = self.normalizers["actions"]
    return a.unnormalize(mean), jnp.exp(log_std) * a.scale

  def sample(self, obs: Array, key: Array) -> Array:
    """The mean action chunk [B, Ha, act_dim] (deterministic; `key` is accepted so
    that every policy has the same signature)."""
    del key
    return self.distribution(obs)[0]

  @property
  def num_params(self) -> int:
    return count_params(self.params)


def load(workdir: str, step: int | None = None) -> BCModel:
  """The BC model of a workdir (EMA parameters of the newest checkpoint that restores)."""
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise FileNotFoundError(f"{workdir}: no config.json (not a training workdir?)")
  config = ml_collections.ConfigDict(json.load(open(config_path)))
  if config.get("method") != METHOD:
    raise FileNotFoundError(f"{workdir}: not a BC workdir (use efjax.load)")
  spec = json.load(open(os.path.join(workdir, DATASET_FILE)))
  net, _, template = build(config, spec["obs_dim"], spec["act_dim"])
  state, norms = checkpoint.restore_for_inference(workdir, config.train.keep_checkpoints, template,
                                                 spec["obs_dim"], spec["act_dim"], step)
  return BCModel(config=config, params={"params": state.ema_params}, net=net, normalizers=norms,
                 obs_dim=spec["obs_dim"], act_dim=spec["act_dim"])


def is_bc_workdir(workdir: str) -> bool:
  path = os.path.join(workdir, "config.json")
  return os.path.exists(path) and json.load(open(path)).get("method") == METHOD
