"""The files of a training workdir that say what was trained: config.json and dataset.json.

    WORKDIR/config.json     the run's config (its `method`: 'energyflow' when absent, or 'bc')
    WORKDIR/dataset.json    the demo file's path, obs_dim, act_dim, steps and episodes
    WORKDIR/checkpoints/    orbax checkpoints (efjax.checkpoint)
    WORKDIR/metrics.jsonl   one JSON line per logged step (efjax.train.metrics)

Training writes them (efjax.train); loading reads them (efjax.model, efjax.bc).
"""
import json
import os

import ml_collections

from efjax.errors import WorkdirError

CONFIG_FILE = "config.json"
DATASET_FILE = "dataset.json"
METRICS_FILE = "metrics.jsonl"
DEFAULT_METHOD = "energyflow"


def _read_json(workdir: str, name: str) -> dict:
  path = os.path.join(workdir, name)
  if not os.path.isfile(path):
    raise WorkdirError(f"{workdir}: no {name} (not a training workdir?)")
  try:
    with open(path) as f:
      return json.load(f)
  except json.JSONDecodeError as e:
    raise WorkdirError(f"{path}: not valid JSON ({e})") from None


def read_config(workdir: str) -> ml_collections.ConfigDict:
  """WORKDIR/config.json as a ConfigDict."""
  return ml_collections.ConfigDict(_read_json(workdir, CONFIG_FILE))


def read_dataset(workdir: str) -> dict:
  """WORKDIR/dataset.json: {'path', 'obs_dim', 'act_dim', 'num_steps', 'num_episodes', ...}."""
  spec = _read_json(workdir, DATASET_FILE)
  for key in ("obs_dim", "act_dim"):
    if not isinstance(spec.get(key), int):
      raise WorkdirError(f"{os.path.join(workdir, DATASET_FILE)}: '{key}' missing or not an "
                         "integer")
  return spec


def method_of(config) -> str:
  """The training method a config (or config.json dict) names."""
  return config.get("method", DEFAULT_METHOD)


def write_json(path: str, value) -> None:
  """Writes JSON whole or not at all (a temporary file of this process renamed into place,
  so that processes writing the same file do not write into one temporary)."""
  tmp = f"{path}.{os.getpid()}.tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)
