"""`train_and_evaluate(config, workdir)`: demos -> EnergyFlow checkpoints, resumable.

The dataset lives on device (normalized flat arrays plus window index arrays);
`train.steps_per_call` steps run per compiled call with batches drawn inside it.
Re-running on the same workdir resumes from the newest checkpoint. SIGTERM saves
a checkpoint and returns cleanly.

Several processes (jax.distributed): each loads the demo file (small next to the
model) and holds the dataset on its devices; each step's batch indices are drawn
inside the jit with the batch sharded over the `data` axis, so every device draws
and processes only its own shard, and no process builds or sends the global batch.
Only process 0 writes config.json, metrics and TensorBoard files.
"""
import json
import os
import signal
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax import networks, rewards, schedules
from efjax.data import fit_normalizer, load_training_demos, split_episodes, window_indices
from efjax.train import checkpoint, sharding
from efjax.train.loop import make_multi_step
from efjax.train.optimizer import learning_rate_schedule, make_optimizer
from efjax.train.state import create_train_state
from efjax.train.step import make_train_step, resumed_ema, run_ema_decay
from efjax.train.validation import make_eval_batch, make_eval_loss

DATASET_FILE = "dataset.json"


class ConfigError(ValueError):
  """A config value that cannot work; the message names the key."""


def validate_config(config: ml_collections.ConfigDict) -> None:
  """Refuses impossible values before anything is compiled."""
  t, d = config.train, config.data
  positive = {"train.num_steps": t.num_steps, "train.batch_size": t.batch_size,
              "train.steps_per_call": t.steps_per_call, "train.checkpoint_every": t.checkpoint_every,
              "train.log_every": t.log_every, "train.learning_rate": t.learning_rate,
              "train.num_levels": t.num_levels, "data.obs_horizon": d.obs_horizon,
              "data.action_horizon": d.action_horizon}
  for key, value in positive.items():
    if not value > 0:
      raise ConfigError(f"config {key} must be positive, got {value!r}")
  for key in ("checkpoint_every", "log_every"):
    if t[key] % t.steps_per_call:
      raise ConfigError(f"config train.{key}={t[key]} must be a multiple of "
                        f"train.steps_per_call={t.steps_per_call}")
  try:
    run_ema_decay(t)
  except ValueError as e:
    raise ConfigError(f"config {e}") from None
  if t.get("eval_every", 0) < 0 or t.get("eval_every", 0) % t.log_every:
    raise ConfigError(f"config train.eval_every={t.eval_every} must be 0 (off) or a positive "
                      f"multiple of train.log_every={t.log_every}")
  if not 0.0 <= d.get("val_fraction", 0.0) < 1.0:
    raise ConfigError(f"config data.val_fraction must be in [0, 1), got {d.val_fraction}")
  if t.get("param_sharding", "replicated") not in sharding.PARAM_SHARDING:
    raise ConfigError(f"config train.param_sharding must be one of {sharding.PARAM_SHARDING}, "
                      f"got {t.param_sharding!r}")
  if t.batch_size % jax.device_count():
    raise ConfigError(f"config train.batch_size={t.batch_size} is not divisible by the "
                      f"{jax.device_count()} devices")
  multiple = networks.min_action_horizon_multiple(config.model)
  if d.action_horizon % multiple:
    raise ConfigError(f"config data.action_horizon={d.action_horizon} must be a multiple of "
                      f"{multiple} for model.backbone='unet' with "
                      f"{len(config.model.unet.down_dims)} levels")
  if not d.path:
    raise ConfigError("config data.path is empty: pass --config.data.path=DEMOS.npz")
  try:
    networks.validate_model_config(config.model)
    schedules.make_schedule(config.schedule)
  except ValueError as e:
    raise ConfigError(f"config {e}") from None


def optim_config(config):
  optim = ml_collections.ConfigDict(config.optim.to_dict())
  optim.learning_rate = config.train.learning_rate
  optim.decay_steps = config.train.num_steps
  return optim


def prepare_data(config, split: str = "train"):
  """Device arrays of one split for in-jit batching, the normalizers and the dataset summary.

  split: 'train', or 'val' (the episodes held out by data.val_fraction; None when
  there are none). The normalizers are always fitted on the training split.
  """
  demos = load_training_demos(config.data, config.get("env", {}).get("task"))
  for key, size in (("obs_dim", demos.observations.shape[1]), ("act_dim", demos.actions.shape[1])):
    expected = config.data.get(key)         # set by configs made for one environment
    if expected is not None and expected != size:
      raise ConfigError(f"{config.data.path} has {key}={size}, but the config (data.{key}) "
                        f"expects {expected} for its environment")
  train, val = split_episodes(demos, config.data.get("val_fraction", 0.0))
  norms = {"obs": fit_normalizer(train.observations, config.data.obs_normalizer),
           "actions": fit_normalizer(train.actions, config.data.action_normalizer)}
  demos = {"train": train, "val": val}[split]
  if demos is None:
    return None, norms, None
  obs_idx, act_idx = window_indices(demos.episode_ends, config.data.obs_horizon,
                                    config.data.action_horizon)
  data = {"obs": norms["obs"].normalize(jnp.asarray(demos.observations)),
          "actions": norms["actions"].normalize(jnp.asarray(demos.actions)),
          "obs_idx": jnp.asarray(obs_idx), "act_idx": jnp.asarray(act_idx)}
  summary = {"path": os.path.abspath(config.data.path), "obs_dim": demos.observations.shape[1],
             "act_dim": demos.actions.shape[1], "num_steps": demos.num_steps,
             "num_episodes": demos.num_episodes,
             "val_episodes": 0 if val is None else val.num_episodes}
  return data, norms, summary


def window_batch(key, data, batch_size):
  """Samples B windows: obs [B, Ho, obs_dim], actions [B, Ha, act_dim]."""
  idx = jax.random.randint(key, (batch_size,), 0, data["obs_idx"].shape[0])
  return {"obs": data["obs"][data["obs_idx"][idx]], "actions": data["actions"][data["act_idx"][idx]]}


def build(config, obs_dim: int, act_dim: int):
  """(net, schedule, optimizer, initial state) for these sizes."""
  schedule = schedules.make_schedule(config.schedule)
  net = networks.make_network(config.model, schedule)
  optimizer = make_optimizer(optim_config(config))
  k_init, k_train = jax.random.split(jax.random.key(config.seed))
  d = config.data
  variables = net.init(k_init, jnp.zeros((1, d.action_horizon, act_dim)),
                       jnp.zeros((1, d.obs_horizon, obs_dim)), jnp.zeros((1,)))
  return net, schedule, optimizer, create_train_state(variables, optimizer, k_train)


def _make_evaluate(config, net, schedule, train_data, mesh):
  """Returns evaluate(state) -> {'eval_loss', 'eval_split'}: the EMA model's fixed-batch DSM loss."""
  val_data, _, _ = prepare_data(config, "val")
  split, data = ("val", val_data) if val_data is not None else ("train", train_data)
  batch = make_eval_batch(jax.random.key(config.seed + 1), data,
                          config.train.get("eval_batch_size", 1024), schedule)
  batch = sharding.replicate(batch, mesh)
  eval_loss = jax.jit(make_eval_loss(net, schedule))
  return lambda state: {"eval_loss": float(eval_loss(state.ema_variables, batch)),
                        "eval_split": split}


def _fill_missing(config: dict, defaults: dict) -> None:
  """Adds, in place and at any depth, the keys of defaults that config lacks."""
  for key, value in defaults.items():
    if key not in config:
      config[key] = value
    elif isinstance(value, dict) and isinstance(config[key], dict):
      _fill_missing(config[key], value)


def _check_compatible(workdir: str, config, summary: dict) -> None:
  """Refuses to resume a workdir whose checkpoints come from another model or data shape."""
  path = os.path.join(workdir, "config.json")
  if not os.path.exists(path):
    return
  old = json.load(open(path))
  new = json.loads(config.to_json_best_effort())
  # A key the old config lacks is an option added since: it was trained with its default.
  _fill_missing(old["model"], json.loads(networks.default_model_config().to_json_best_effort()))
  if old["model"] != new["model"]:
    key = sorted(k for k in set(old["model"]) | set(new["model"])
                 if old["model"].get(k) != new["model"].get(k))[0]
    raise ConfigError(f"{workdir} holds a checkpoint from an incompatible config: "
                      f"model.{key} was {old['model'].get(key)!r}, now "
                      f"{new['model'].get(key)!r}")
  for key in ("obs_horizon", "action_horizon"):
    if old["data"][key] != new["data"][key]:
      raise ConfigError(f"{workdir} holds a checkpoint from an incompatible config: "
                        f"data.{key} was {old['data'][key]}, now {new['data'][key]}")
  spec_path = os.path.join(workdir, DATASET_FILE)
  if os.path.exists(spec_path):
    spec = json.load(open(spec_path))
    for key in ("obs_dim", "act_dim"):
      if spec[key] != summary[key]:
        raise ConfigError(f"{workdir} holds a checkpoint for {key}={spec[key]}, but "
                          f"{config.data.path} has {key}={summary[key]}")


def _tensorboard_writer(workdir: str):
  """TensorBoard event files in WORKDIR/tensorboard (None without tensorboardX)."""
  try:
    from tensorboardX import SummaryWriter
  except ImportError:
    return None
  return SummaryWriter(os.path.join(workdir, "tensorboard"))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, log=print):
  """Trains (or resumes) and returns the final TrainState."""
  validate_config(config)
  data, norms, summary = prepare_data(config)
  try:     # the reward settings are only read later (efjax.load): refuse bad ones now
    if "reward" in config:
      rewards.validate_reward_config(config.reward,
                                     (config.data.action_horizon, summary["act_dim"]))
  except ValueError as e:
    raise ConfigError(f"config {e}") from None
  primary = jax.process_index() == 0      # one process writes files and logs
  if not primary:
    log = lambda *_: None  # noqa: E731
  os.makedirs(workdir, exist_ok=True)
  manager = checkpoint.make_manager(os.path.join(os.path.abspath(workdir), "checkpoints"),
                                    config.train.keep_checkpoints)
  if manager.latest_step() is not None:
    _check_compatible(workdir, config, summary)
    old_path = os.path.join(workdir, "config.json")
    if os.path.exists(old_path) and "ema" in config.train:     # a pre-ema_horizon workdir
      config.train.ema = resumed_ema(json.load(open(old_path)).get("train", {}), config.train)
  if primary:
    with open(os.path.join(workdir, "config.json"), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
    with open(os.path.join(workdir, DATASET_FILE), "w") as f:
      json.dump(summary, f, indent=2)

  net, schedule, optimizer, state = build(config, summary["obs_dim"], summary["act_dim"])
  if manager.latest_step() is not None:
    state, _ = checkpoint.restore_newest_good(manager, state, norms, warn=log)
    log(f"resumed from step {int(state.step)}")
  t = config.train
  mesh = sharding.data_mesh()
  state_shardings = sharding.state_shardings(state, mesh, t.get("param_sharding", "replicated"))
  state, data = sharding.place(state, state_shardings), sharding.replicate(data, mesh)
  step_fn = make_train_step(net, schedule, optimizer, t.num_levels, run_ema_decay(t))
  multi_step = jax.jit(make_multi_step(step_fn, t.batch_size, t.steps_per_call, window_batch,
                                       sharding.batch_sharding(mesh)), donate_argnums=0,
                       out_shardings=(state_shardings, None))
  evaluate = _make_evaluate(config, net, schedule, data, mesh) if t.get("eval_every", 0) else None
  if evaluate is not None:
    evaluate(state)        # compile it now: not inside the timed steps (samples_per_s)
  lr = learning_rate_schedule(optim_config(config))

  stop = {"requested": False}
  previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
  step = int(state.step)
  start, start_step = None, step      # timed from the end of the first (compiling) call
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  writer = _tensorboard_writer(workdir) if primary else None
  try:
    while step < t.num_steps and not stop["requested"]:
      state, metrics = multi_step(state, data)
      step += t.steps_per_call
      if start is None:
        jax.block_until_ready(metrics["loss"])
        start, start_step = time.perf_counter(), step
      if step % t.log_every == 0 or step >= t.num_steps:
        loss = float(metrics["loss"].mean())
        if not np.isfinite(loss):
          raise FloatingPointError(f"non-finite loss {loss} at step {step}")
        elapsed = time.perf_counter() - start
        rate = (step - start_step) / elapsed if step > start_step else None
        record = {"step": step, "loss": loss, "grad_norm": float(metrics["grad_norm"].mean()),
                  "learning_rate": float(lr(step)),
                  "skipped_steps": int(metrics["skipped_steps"][-1]),
                  # null until one call after the compiling one has run
                  "samples_per_s": None if rate is None else rate * t.batch_size}
        if evaluate is not None and (step % t.eval_every == 0 or step >= t.num_steps):
          record.update(evaluate(state))
        if primary:
          with open(metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if writer is not None:
          for key, value in record.items():
            if key != "step" and isinstance(value, (int, float)):
              writer.add_scalar(f"train/{key}", value, step)
          writer.flush()
        speed = "" if rate is None else (f"  {rate * t.batch_size:8.0f} samples/s  "
                                         f"ETA {(t.num_steps - step) / rate:6.0f}s")
        evaluated = f"  eval_loss[{record['eval_split']}] {record['eval_loss']:.4f}" if "eval_loss" in record else ""
        log(f"step {step:7d}/{t.num_steps}  loss {loss:.4f}{evaluated}{speed}")
      if step % t.checkpoint_every == 0 or step >= t.num_steps:
        checkpoint.save(manager, state, norms)
    if stop["requested"]:
      checkpoint.save(manager, state, norms)
      log(f"SIGTERM: saved step {step} and stopped")
  finally:
    manager.wait_until_finished()
    if writer is not None:
      writer.close()
    signal.signal(signal.SIGTERM, previous)
  return state
