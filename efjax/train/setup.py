"""The pieces of an EnergyFlow training run built from a config, for callers that drive the
step themselves (efjax/train/ema_set.py, the training benchmarks); efjax.train.fit builds
the same through its METHODS registry."""
from typing import NamedTuple

import jax
import optax

from efjax import model
from efjax.train.config import optim_config
from efjax.train.optimizer import make_optimizer
from efjax.train.state import TrainState, create_train_state


class EnergyTraining(NamedTuple):
  net: object                 # the energy network (efjax.model.make_network)
  schedule: object            # its noise schedule
  optimizer: optax.GradientTransformation
  state: TrainState           # step 0


def energy_training(config, obs_dim: int, act_dim: int, init_key: jax.Array,
                    train_key: jax.Array) -> EnergyTraining:
  """Network, schedule, optimizer and the step-0 state of `config` for demos of
  obs_dim x act_dim (the data summary's sizes)."""
  net, schedule = model.make_network(config)
  optimizer = make_optimizer(optim_config(config))
  state = create_train_state(model.init_variables(net, config, obs_dim, act_dim, init_key),
                             optimizer, train_key)
  return EnergyTraining(net, schedule, optimizer, state)
