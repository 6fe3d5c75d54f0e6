"""Training every supervised method: one loop (trainer), its methods, state, optimizer, step.

    state = efjax.train.train_and_evaluate(config, workdir)     # config.method picks the method
"""
from efjax.train.loop import make_multi_step, sample_batch
from efjax.train.optimizer import default_optim_config, learning_rate_schedule, make_optimizer
from efjax.train.state import TrainState, create_train_state
from efjax.train.step import ema_decay, make_step, make_train_step, run_ema_decay
from efjax.train.trainer import fit, train_and_evaluate

__all__ = ["TrainState", "create_train_state", "default_optim_config", "ema_decay", "fit",
           "learning_rate_schedule", "make_multi_step", "make_optimizer", "make_step",
           "make_train_step", "run_ema_decay", "sample_batch", "train_and_evaluate"]
