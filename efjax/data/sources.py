"""The training demos a config names: `data.format` picks the reader.

    demos = load_training_demos(config.data, task=config.env.task)

  data.format   'npz' (the demo file of ARCHITECTURE.md; the default when the key is absent)
                or 'robomimic' (a low-dim HDF5 file, efjax/data/robomimic.py)
  data.path     the file
  data.obs_keys, data.filter_key   robomimic only: observation keys concatenated in
                order; the `mask/<filter_key>` demos ('' or absent: all of them)

`task` (optional) only makes a missing robomimic file's error say where it comes from.
A robomimic config that sets `data.obs_dim` refuses a file whose keys add up to another
width (a file of another task), naming each key's width.
"""
from efjax.data.demos import DemoFileError, Demos, load_demos
from efjax.data.robomimic import load_robomimic
from efjax.errors import ConfigError

FORMATS = ("npz", "robomimic")


def load_training_demos(data_config, task: str | None = None) -> Demos:
  """Demos of `data_config.path` in `data_config.format`; DemoFileError for a bad file."""
  fmt = data_config.get("format", "npz")
  path = data_config.path
  if fmt == "npz":
    return load_demos(path)
  if fmt == "robomimic":
    demos = load_robomimic(path, tuple(data_config.obs_keys),
                           data_config.get("filter_key") or None, task=task)
    expected, width = data_config.get("obs_dim"), demos.observations.shape[1]
    if expected is not None and expected != width:
      layout = ", ".join(f"{k} {d}" for k, d in demos.extra["obs_key_dims"].items())
      raise DemoFileError(
          f"{path}: field 'data/*/obs': the keys of data.obs_keys are {width} columns wide "
          f"({layout}), but the config (data.obs_dim) expects {expected}"
          + (f" for robomimic task '{task}'" if task else "") + ": a file of another task?")
    return demos
  raise ConfigError(f"config data.format={fmt!r} is not one of {FORMATS}")
