"""Demonstration data: normalization (formats, validation and windows come with training)."""
from efjax.data.normalizer import KINDS as NORMALIZER_KINDS, Normalizer, fit_normalizer

__all__ = ["NORMALIZER_KINDS", "Normalizer", "fit_normalizer"]
