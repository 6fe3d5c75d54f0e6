"""The supervised methods the trainer runs: what each builds, optimizes and must keep.

    method = METHODS.get(config.get("method", "energyflow"))
    built = method.build(config, obs_dim, act_dim)
    variables = built.init(key); train_step = built.step(optimizer)

A method gives the trainer (efjax.train.trainer) four things: its checks of the
config, its network's fresh variables, its train step for an optimizer, and the
config sections whose change makes a checkpoint unusable. Everything else (data,
optimizer, EMA, checkpoints, metrics, the loop) is shared.

- `energyflow`: the energy network (efjax.model) and DSM on -grad_a E, with the EMA
  model's held-out DSM loss as its evaluation.
- `bc`: a Gaussian MLP policy (efjax.bc) and its negative log-likelihood.
"""
import dataclasses
from typing import Callable

import ml_collections

from efjax import bc, model
from efjax.errors import ConfigError
from efjax.registry import Registry
from efjax.reward.formulas import validate_reward_config
from efjax.train.config import validate_energyflow_config
from efjax.train.step import dsm_objective, make_step, run_ema_decay
from efjax.train.validation import make_eval_loss

METHODS: Registry = Registry("training method (config.method)")


@dataclasses.dataclass(frozen=True)
class Built:
  """A method's network for given sizes."""
  init: Callable               # key -> fresh variables {'params', 'spectral'?}
  step: Callable               # optimizer -> train_step(state, batch) (efjax.train.step)
  eval_loss: Callable | None = None   # (variables, fixed batch) -> scalar, or None
  schedule: object = None             # the noise schedule of eval_loss's batch


@dataclasses.dataclass(frozen=True)
class Method:
  name: str
  check: Callable              # (config, action_shape [Ha, act_dim]) -> None, or ConfigError
  build: Callable              # (config, obs_dim, act_dim) -> Built
  resume_keys: tuple           # config sections that must match to resume a checkpoint
  progress: str = "loss"       # what the progress line calls the loss


def _check_energyflow(config, action_shape) -> None:
  validate_energyflow_config(config)
  if "reward" in config:       # only read later (efjax.load): refuse bad settings now
    try:
      validate_reward_config(config.reward, action_shape)
    except ValueError as e:
      raise ConfigError(f"config {e}") from None


def _build_energyflow(config, obs_dim: int, act_dim: int) -> Built:
  net, schedule = model.make_network(config)
  return Built(init=lambda key: model.init_variables(net, config, obs_dim, act_dim, key),
               step=lambda optimizer: make_step(
                   dsm_objective(net, schedule, config.train.num_levels), optimizer,
                   run_ema_decay(config.train)),
               eval_loss=make_eval_loss(net, schedule), schedule=schedule)


def _build_bc(config, obs_dim: int, act_dim: int) -> Built:
  net = bc.make_network(config, act_dim)

  def objective(variables, batch, key):
    mean, log_std = net.apply({"params": variables["params"]}, batch["obs"])
    return bc.gaussian_nll(mean, log_std, batch["actions"])

  return Built(init=lambda key: bc.init_variables(net, config, obs_dim, key),
               step=lambda optimizer: make_step(objective, optimizer, run_ema_decay(config.train),
                                                stochastic=False))


METHODS.register("energyflow", Method("energyflow", _check_energyflow, _build_energyflow,
                                      resume_keys=("model",)))
METHODS.register("bc", Method("bc", lambda config, shape: None, _build_bc,
                              resume_keys=("bc",), progress="nll"))


def with_method_defaults(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """An unlocked copy of config with its method's own section filled in (bc: config.bc)."""
  config = ml_collections.ConfigDict(config.to_dict())
  if config.get("method", "energyflow") == "bc":
    config.bc = config.get("bc", bc.default_bc_config())
  return config
