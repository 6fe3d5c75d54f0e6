"""efjax: EnergyFlow in JAX. A scalar energy E(a, s, sigma) whose action gradient is a
diffusion policy's score, and whose centered value is a reward for downstream RL."""


def load(workdir: str, step: int | None = None):
  """The trained model of a workdir (see efjax.model): energy, score, sample, reward."""
  from efjax.model import load as _load
  return _load(workdir, step)


def __getattr__(name: str):
  """`efjax.export` without importing jax at `import efjax` time; `efjax.__version__`
  from the source tree's git commit (efjax.provenance.version: 0.1.0+g1a2b3c4)."""
  import importlib
  if name == "export":
    return importlib.import_module("efjax.export")
  if name == "__version__":
    return importlib.import_module("efjax.provenance").version()
  raise AttributeError(f"module 'efjax' has no attribute {name!r}")
