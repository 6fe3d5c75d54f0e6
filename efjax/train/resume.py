"""What may change when a training workdir is resumed, and the record of each run.

A workdir's checkpoints belong to one method, one model, one data file. Resuming
checks the new config and data against what made them:

- the method and its resume sections (energyflow: `model`; bc: `bc`), the horizons and
  the data sizes must match (ConfigError otherwise);
- any other config key must match too, except those that only set how long and how
  visibly the run goes (RUN_LENGTH_KEYS: train.num_steps, the intervals, ...); keys the
  old config lacks are options added since;
- the demo file's sha256 must match the one recorded in WORKDIR/fingerprint.json, unless
  `train.allow_data_change=True` (then the change is recorded).

WORKDIR/fingerprint.json holds the fingerprint (efjax.provenance) of the run that made
the workdir, with the fingerprints of every later run under "history" (the newest
last). A workdir from before fingerprints were recorded resumes with a one-line note.
"""
import json
import os

from efjax import networks, provenance, workdir as workdir_files
from efjax.errors import ConfigError

# Keys a resumed run may change: they set the run's length, logging and checkpoints.
RUN_LENGTH_KEYS = {"train.num_steps", "train.log_every", "train.checkpoint_every",
                   "train.eval_every", "train.eval_batch_size", "train.steps_per_call",
                   "train.keep_checkpoints", "train.allow_data_change", "data.path"}


def _fill_missing(config: dict, defaults: dict) -> None:
  """Adds, in place and at any depth, the keys of defaults that config lacks."""
  for key, value in defaults.items():
    if key not in config:
      config[key] = value
    elif isinstance(value, dict) and isinstance(config[key], dict):
      _fill_missing(config[key], value)


def check_resume(workdir: str, config, method, summary: dict) -> None:
  """Refuses to resume a workdir whose checkpoints come from another method, model,
  config or data shape (ConfigError naming the key)."""
  path = os.path.join(workdir, workdir_files.CONFIG_FILE)
  if not os.path.exists(path):
    return
  old = json.load(open(path))
  new = json.loads(config.to_json_best_effort())
  stale = f"{workdir} holds a checkpoint from an incompatible config"
  old_method = workdir_files.method_of(old)
  if old_method != method.name:
    raise ConfigError(f"{workdir} holds a checkpoint of another method ({old_method!r}), "
                      f"not {method.name!r}")
  # A key the old config lacks is an option added since: it was trained with its default.
  if "model" in old:
    _fill_missing(old["model"], json.loads(networks.default_model_config().to_json_best_effort()))
  for section in method.resume_keys:
    o, n = old.get(section, {}), new.get(section, {})
    if o != n:
      key = sorted(k for k in set(o) | set(n) if o.get(k) != n.get(k))[0]
      raise ConfigError(f"{stale}: {section}.{key} was {o.get(key)!r}, now {n.get(key)!r}")
  for key in ("obs_horizon", "action_horizon"):
    if old["data"][key] != new["data"][key]:
      raise ConfigError(f"{stale}: data.{key} was {old['data'][key]}, now {new['data'][key]}")
  if os.path.exists(os.path.join(workdir, workdir_files.DATASET_FILE)):
    spec = workdir_files.read_dataset(workdir)
    for key in ("obs_dim", "act_dim"):
      if spec[key] != summary[key]:
        raise ConfigError(f"{workdir} holds a checkpoint for {key}={spec[key]}, but "
                          f"{config.data.path} has {key}={summary[key]}")
  fo, fn = provenance.flatten(old), provenance.flatten(new)
  changed = sorted(k for k in fo if k in fn and fo[k] != fn[k] and k not in RUN_LENGTH_KEYS)
  if changed:
    k = changed[0]
    raise ConfigError(f"{stale}: {k} was {fo[k]!r}, now {fn[k]!r} (a resumed run may change "
                      "only its length and intervals; use a new workdir)")


def record_run(workdir: str, config, resuming: bool, log=print) -> dict:
  """Checks the data against the workdir's fingerprint (when resuming), then writes
  WORKDIR/fingerprint.json with this run's fingerprint; returns it."""
  fp = provenance.fingerprint(config, [config.data.path])
  path = os.path.join(workdir, provenance.FINGERPRINT_FILE)
  old = provenance.read_fingerprint(workdir) if os.path.exists(path) else None
  if resuming and old is None:
    log(f"note: {workdir} has no {provenance.FINGERPRINT_FILE} (trained before efjax "
        "recorded one); recording this run's")
  if resuming and old is not None:
    was, now = provenance.data_hashes(current(old)), provenance.data_hashes(fp)
    if was != now:
      if not config.train.get("allow_data_change", False):
        raise ConfigError(
            f"{workdir} was trained on data sha256 {', '.join(h[:16] for h in was)}, but "
            f"{config.data.path} has sha256 {', '.join(h[:16] for h in now)}: another demo "
            "file (pass --config.train.allow_data_change=True to continue on it)")
      fp["data_changed_from"] = was
  if old is not None:
    history = old.pop("history", [])
    fp = {**old, "history": history + [fp]} if resuming else fp
  workdir_files.write_json(path, fp)
  return fp


current = provenance.newest
