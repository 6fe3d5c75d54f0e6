"""Environments: a max-ent contextual bandit with known Q (Brax and Meta-World adapters come later)."""
from efjax.envs.bandit import MaxEntBandit

__all__ = ["MaxEntBandit"]
