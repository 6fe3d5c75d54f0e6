"""Per-dimension affine normalizer: z-score, min-max to [-1, 1], or identity.

Fitted on the training set, stored in checkpoints and exports, applied inside the
model so that users pass and receive arrays in the demo file's units.
"""
import flax
import jax
import jax.numpy as jnp
import numpy as np

Array = jax.Array
KINDS = ("zscore", "minmax", "identity")
_MIN_SCALE = 1e-6   # a constant dimension is shifted but not blown up


@flax.struct.dataclass
class Normalizer:
  """normalize(x) = (x - shift) / scale over the last axis; shift, scale: [dim]."""
  shift: Array
  scale: Array

  def normalize(self, x: Array) -> Array:
    return (x - self.shift) / self.scale

  def unnormalize(self, x: Array) -> Array:
    return x * self.scale + self.shift

  def to_dict(self) -> dict:
    return {"shift": np.asarray(self.shift).tolist(), "scale": np.asarray(self.scale).tolist()}

  @classmethod
  def from_dict(cls, d: dict) -> "Normalizer":
    return cls(jnp.asarray(d["shift"], jnp.float32), jnp.asarray(d["scale"], jnp.float32))


def fit_normalizer(x, kind: str = "zscore") -> Normalizer:
  """Fits on x [N, ..., dim] over every axis but the last."""
  if kind not in KINDS:
    raise ValueError(f"normalizer kind {kind!r} is not one of {KINDS}")
  x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
  if kind == "zscore":
    shift, scale = x.mean(0), x.std(0)
  elif kind == "minmax":
    lo, hi = x.min(0), x.max(0)
    shift, scale = (hi + lo) / 2, (hi - lo) / 2
  else:
    shift, scale = np.zeros(x.shape[1]), np.ones(x.shape[1])
  scale = np.where(scale < _MIN_SCALE, 1.0, scale)
  return Normalizer(jnp.asarray(shift, jnp.float32), jnp.asarray(scale, jnp.float32))
