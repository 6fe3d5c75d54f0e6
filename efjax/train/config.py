"""The `train` settings every method shares: checks, the optimizer's, steps per call.

    validate_train_config(config)     # ConfigError naming the first impossible key
    optim = optim_config(config)      # config.optim with train.learning_rate / num_steps
    n = steps_per_call(config.train)  # steps per compiled call
    key = without_inert_keys(config.to_dict())   # what a run's result depends on

`train.steps_per_call` is a speed knob (how many steps one compiled call runs). Left at
0 (auto, the default), it is the largest divisor <= MAX_STEPS_PER_CALL of every
interval (log_every, checkpoint_every, eval_every), so any intervals work; a value set
explicitly must divide them all.
"""
import math

import jax
import ml_collections

from efjax import networks, schedules
from efjax.errors import ConfigError
from efjax.train import sharding
from efjax.train.step import run_ema_decay

MAX_STEPS_PER_CALL = 100


# {key: the key whose set value makes it inert}, in one section (train or optim)
INERT_WHEN_SET = {"ema_horizon": "ema",                 # run_ema_decay
                  "warmup_fraction": "warmup_steps"}    # optim_config


def without_inert_keys(config: dict) -> dict:
  """A copy of the nested dict `config` without the keys another key of the same section
  makes inert (INERT_WHEN_SET: `ema_horizon` where `ema` is set, `warmup_fraction` where
  `warmup_steps` is), at any depth: two configs that train the same run compare equal
  even when a default they override has changed."""
  if not isinstance(config, dict):
    return config
  return {k: without_inert_keys(v) for k, v in config.items()
          if not (k in INERT_WHEN_SET and config.get(INERT_WHEN_SET[k]) is not None)}


def _intervals(t) -> dict:
  out = {"train.log_every": t.log_every, "train.checkpoint_every": t.checkpoint_every}
  if t.get("eval_every", 0):
    out["train.eval_every"] = t.eval_every
  return out


def steps_per_call(t: ml_collections.ConfigDict) -> int:
  """train.steps_per_call, or (0: auto) the largest divisor <= MAX_STEPS_PER_CALL of
  every interval."""
  if t.get("steps_per_call", 0):
    return t.steps_per_call
  common = math.gcd(*_intervals(t).values())
  return max(d for d in range(1, min(common, MAX_STEPS_PER_CALL) + 1) if common % d == 0)


def validate_train_config(config: ml_collections.ConfigDict) -> None:
  """Refuses impossible `train` and `data` values before anything is compiled."""
  t, d = config.train, config.data
  positive = {"train.num_steps": t.num_steps, "train.batch_size": t.batch_size,
              "train.checkpoint_every": t.checkpoint_every, "train.log_every": t.log_every,
              "train.learning_rate": t.learning_rate, "data.obs_horizon": d.obs_horizon,
              "data.action_horizon": d.action_horizon}
  for key, value in positive.items():
    if not value > 0:
      raise ConfigError(f"config {key} must be positive, got {value!r}")
  if t.get("steps_per_call", 0) < 0:
    raise ConfigError(f"config train.steps_per_call must be 0 (auto) or positive, got "
                      f"{t.steps_per_call}")
  if t.get("eval_every", 0) < 0:
    raise ConfigError(f"config train.eval_every must be 0 (off) or positive, got "
                      f"{t.eval_every}")
  if t.get("steps_per_call", 0):
    for key, value in _intervals(t).items():
      if value % t.steps_per_call:
        raise ConfigError(f"config {key}={value} must be a multiple of train.steps_per_call="
                          f"{t.steps_per_call} (or leave train.steps_per_call at 0: auto)")
  try:
    run_ema_decay(t)
  except ValueError as e:
    raise ConfigError(f"config {e}") from None
  if "optim" in config:
    optim_config(config)                  # the warm-up resolves
  if not 0.0 <= d.get("val_fraction", 0.0) < 1.0:
    raise ConfigError(f"config data.val_fraction must be in [0, 1), got {d.val_fraction}")
  if t.get("param_sharding", "replicated") not in sharding.PARAM_SHARDING:
    raise ConfigError(f"config train.param_sharding must be one of {sharding.PARAM_SHARDING}, "
                      f"got {t.param_sharding!r}")
  if t.batch_size % jax.device_count():
    raise ConfigError(f"config train.batch_size={t.batch_size} is not divisible by the "
                      f"{jax.device_count()} devices")
  if not d.get("path"):
    raise ConfigError("config data.path is empty: pass --config.data.path=DEMOS.npz")


def validate_energyflow_config(config: ml_collections.ConfigDict) -> None:
  """The EnergyFlow model's own settings: network, schedule, noise levels."""
  if not config.train.num_levels > 0:
    raise ConfigError(f"config train.num_levels must be positive, got {config.train.num_levels!r}")
  multiple = networks.min_action_horizon_multiple(config.model)
  horizon = config.data.action_horizon
  if horizon % multiple:
    # Each level after the first halves T: 1 + (how many times 2 divides T) levels fit.
    fit = (horizon & -horizon).bit_length()
    dims = tuple(config.model.unet.down_dims)
    raise ConfigError(f"config data.action_horizon={horizon} must be a multiple of {multiple} "
                      f"for model.backbone='unet' with {len(dims)} levels: give it at most "
                      f"{fit} (e.g. --config.model.unet.down_dims='{dims[:fit]}') or use "
                      "model.backbone=mlp")
  try:
    networks.validate_model_config(config.model)
    schedules.make_schedule(config.schedule)
  except ValueError as e:
    raise ConfigError(f"config {e}") from None


def optim_config(config) -> ml_collections.ConfigDict:
  """config.optim with the peak learning rate and the decay length of config.train, and
  its warm-up in steps: `optim.warmup_steps` when set, else `optim.warmup_fraction` x
  train.num_steps (ConfigError names the key when neither is usable)."""
  optim = ml_collections.ConfigDict(config.optim.to_dict())
  optim.learning_rate = config.train.learning_rate
  optim.decay_steps = config.train.num_steps
  if optim.warmup_steps is None:
    fraction = optim.get("warmup_fraction")
    if fraction is None or not 0.0 <= fraction < 1.0:
      raise ConfigError(f"config optim.warmup_fraction must be in [0, 1) when "
                        f"optim.warmup_steps is not set, got {fraction}")
    optim.warmup_steps = int(round(fraction * config.train.num_steps))
  return optim
