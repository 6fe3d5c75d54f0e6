"""Training: state, optimizer, the DSM step, the scan loop (the trainer: efjax.train.trainer)."""
from efjax.train.optimizer import default_optim_config, learning_rate_schedule, make_optimizer
from efjax.train.state import TrainState, create_train_state
from efjax.train.loop import make_multi_step, sample_batch
from efjax.train.step import ema_decay, make_train_step, run_ema_decay

__all__ = ["TrainState", "create_train_state", "default_optim_config", "ema_decay",
           "learning_rate_schedule", "make_multi_step", "make_optimizer", "make_train_step",
           "run_ema_decay", "sample_batch"]
