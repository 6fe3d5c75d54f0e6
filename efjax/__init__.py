"""efjax: EnergyFlow in JAX. A scalar energy E(a, s, sigma) whose action gradient is a
diffusion policy's score, and whose centered value is a reward for downstream RL."""
__version__ = "0.1.0"


def load(workdir: str, step: int | None = None):
  """The trained model of a workdir (see efjax.model): energy, score, sample, reward."""
  from efjax.model import load as _load
  return _load(workdir, step)


def __getattr__(name: str):
  """`efjax.export` without importing jax at `import efjax` time."""
  if name == "export":
    import importlib
    return importlib.import_module("efjax.export")
  raise AttributeError(f"module 'efjax' has no attribute {name!r}")
