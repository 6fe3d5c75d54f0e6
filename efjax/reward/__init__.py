"""Rewards: read from a trained energy, learned by the baselines, and judged.

formulas     centered / multi-noise / soft-Bellman rewards of an energy (make_reward_fn)
reference    where their expectations over N(0, I) are read (sampled, Gauss-Hermite)
metrics      reward quality: offset-free correlation, preference accuracy, EPIC
heldout      held-out Brax transitions of graded quality, and a reward's metrics on them
learned      reward checkpoints -> the RL loop's (reward_fn, params) (load_reward)
likelihood   BC log-probability and diffusion-ELBO rewards (baselines)
adversarial  GAIL and AIRL discriminators trained inside the PPO loop (baselines)
bandit_recovery  the max-ent bandit with known Q: train an energy, score every reward
"""
from efjax.reward.formulas import (REWARDS, default_reward_config, make_reward_fn,
                                   validate_reward_config)
from efjax.reward.reference import REFERENCE_RULES, reference_rule

__all__ = ["REFERENCE_RULES", "REWARDS", "default_reward_config", "make_reward_fn",
           "reference_rule", "validate_reward_config"]
