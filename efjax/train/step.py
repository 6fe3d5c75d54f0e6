"""One training step of any supervised method: loss and gradient, AdamW, EMA.

    step = make_step(objective, optimizer, ema)        # objective(variables, batch, key) -> [B]
    step = make_train_step(net, schedule, optimizer, num_levels, ema)   # EnergyFlow's DSM

`make_step` returns a pure `train_step(state, batch) -> (state, metrics)` for
`jax.jit` with the state donated. Nothing in it syncs with the host. Spectral-norm
statistics (a network without them has `spectral == {}`) are refreshed by one power
iteration before the loss, for the parameters and for their EMA.
"""
from typing import Callable

import jax
import jax.numpy as jnp
import optax

from efjax.losses import dsm_loss
from efjax.networks import EnergyNet, power_iteration
from efjax.schedules import Schedule
from efjax.train.state import TrainState

Array = jax.Array
# objective(variables {'params', 'spectral'}, batch, key) -> per-sample losses [B]
Objective = Callable[[dict, dict, Array], Array]


def ema_decay(step: Array, decay: float) -> Array:
  """EMA decay with warm-up, min(decay, (1 + step) / (10 + step)): early averages forget fast."""
  step = step.astype(jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


def run_ema_decay(train_cfg) -> float:
  """The EMA decay of a run: `train.ema` when set, else from `train.ema_horizon`.

  train.ema: a decay in [0, 1), or None (unset). Set, it is used as is: the paper's
    0.9999, and every config written before `ema_horizon` existed.
  train.ema_horizon: the EMA's time constant 1 / (1 - decay) as a fraction of
    train.num_steps, so the average spans the same share of a short run as of a long
    one: decay = 1 - 1 / max(1, ema_horizon * num_steps).
  ValueError names the bad key.
  """
  ema = train_cfg.get("ema")
  if ema is not None:
    if not 0.0 <= ema < 1.0:
      raise ValueError(f"train.ema must be in [0, 1), got {ema}")
    return float(ema)
  horizon = train_cfg.get("ema_horizon")
  if horizon is None or not 0.0 < horizon <= 1.0:
    raise ValueError(f"train.ema_horizon must be in (0, 1] when train.ema is unset, got {horizon}")
  return 1.0 - 1.0 / max(1.0, horizon * train_cfg.num_steps)


def resumed_ema(old_train: dict, train_cfg):
  """The `train.ema` a resumed run uses, given the workdir's config.json `train` section.

  A workdir written before `train.ema_horizon` existed was trained with its fixed
  `train.ema`; resumed with a config that leaves `train.ema` unset, it keeps that decay.
  Otherwise the config's own `train.ema` (maybe None).
  """
  if ("ema_horizon" not in old_train and old_train.get("ema") is not None
      and train_cfg.get("ema") is None):
    return float(old_train["ema"])
  return train_cfg.get("ema")


def make_step(objective: Objective, optimizer: optax.GradientTransformation,
              ema: float = 0.9999, stochastic: bool = True) -> Callable:
  """Returns train_step(state, batch) -> (state, metrics).

  stochastic: the objective draws noise, from a key split off the state's RNG each
  step; False: a deterministic objective (its key argument is None, the RNG untouched).
  metrics: {'loss', 'grad_norm', 'skipped_steps'} scalars (device arrays).
  """

  def train_step(state: TrainState, batch: dict):
    rng, key = jax.random.split(state.rng) if stochastic else (state.rng, None)
    spectral = power_iteration(state.params, state.spectral)

    def loss_fn(params):
      return objective({"params": params, "spectral": spectral}, batch, key).mean()

    loss, grads = jax.value_and_grad(loss_fn)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    decay = ema_decay(state.step, ema)
    mix = lambda e, p: decay * e + (1.0 - decay) * p  # noqa: E731
    ema_params = jax.tree_util.tree_map(mix, state.ema_params, params)
    ema_spectral = power_iteration(ema_params, state.ema_spectral)
    new_state = state.replace(step=state.step + 1, params=params, spectral=spectral,
                              ema_params=ema_params, ema_spectral=ema_spectral,
                              opt_state=opt_state, rng=rng)
    metrics = {"loss": loss, "grad_norm": optax.global_norm(grads),
               "skipped_steps": opt_state.total_notfinite}
    return new_state, metrics

  return train_step


def dsm_objective(net: EnergyNet, schedule: Schedule, num_levels: int = 1) -> Objective:
  """EnergyFlow's objective: the DSM loss of -grad_a E over `num_levels` noise levels.

  batch: {'actions': [B, Ha, act_dim] normalized, 'obs': [B, Ho, obs_dim]}.
  """
  def objective(variables, batch, key):
    return dsm_loss(net, variables, batch["actions"], batch["obs"], key, schedule, num_levels)
  return objective


def make_train_step(net: EnergyNet, schedule: Schedule, optimizer: optax.GradientTransformation,
                    num_levels: int = 1, ema: float = 0.9999) -> Callable:
  """EnergyFlow's DSM train step: make_step(dsm_objective(...), optimizer, ema)."""
  return make_step(dsm_objective(net, schedule, num_levels), optimizer, ema)
