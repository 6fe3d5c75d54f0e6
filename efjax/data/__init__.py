"""Demonstration data: the demo file, normalization, observation/action windows."""
from efjax.data.demos import DemoFileError, Demos, load_demos, save_demos, split_episodes, validate
from efjax.data.normalizer import KINDS as NORMALIZER_KINDS, Normalizer, fit_normalizer
from efjax.data.sources import load_training_demos
from efjax.data.windows import window_indices

__all__ = ["DemoFileError", "Demos", "NORMALIZER_KINDS", "Normalizer", "fit_normalizer",
           "load_demos", "load_training_demos", "save_demos", "split_episodes", "validate",
           "window_indices"]
