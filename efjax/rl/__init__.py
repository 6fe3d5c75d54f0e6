"""Jitted RL on brax environments: PPO whose whole run is one function, pluggable rewards,
and the driver that runs it for several seeds (efjax.rl.driver.train_seeds)."""
from efjax.rl.checkpoint import load_agent, restore_runner, save_agent, save_runner
from efjax.rl.networks import make_policy_fn
from efjax.rl.ppo import PPO, RunnerState, gae, make_ppo, make_train, ppo_loss
from efjax.rl.running_stats import RunningStats

__all__ = ["PPO", "RunnerState", "RunningStats", "gae", "load_agent", "make_policy_fn",
           "make_ppo", "make_train", "ppo_loss", "restore_runner", "save_agent",
           "save_runner"]
