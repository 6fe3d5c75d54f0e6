"""Orbax checkpoints of a train state and its data normalizers: save, resume, read for inference.

Layout: one orbax CheckpointManager under WORKDIR/checkpoints, one step per
checkpoint, each holding {"state": the TrainState (its RNG as raw key data),
"normalizers": {"obs", "actions"} shift/scale}. Training resumes the whole state
(`restore_newest_good`); inference reads only the EMA parameters, the step and the
normalizers (`restore_for_inference`), so loading a model needs neither the
optimizer nor anything of efjax.train.
"""
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from efjax import workdir as workdir_files
from efjax.data.normalizer import Normalizer
from efjax.data.units import DemoUnits
from efjax.errors import WorkdirError

CHECKPOINT_DIR = "checkpoints"


def _to_saveable(state, normalizers: dict) -> dict:
  return {"state": state.replace(rng=jax.random.key_data(state.rng)),
          # numpy, not jax, arrays: host values every process holds alike.
          "normalizers": {k: {"shift": np.asarray(n.shift), "scale": np.asarray(n.scale)}
                          for k, n in normalizers.items()}}


def make_manager(directory: str, keep: int, **kwargs) -> ocp.CheckpointManager:
  """A manager of one-item checkpoints (StandardSave) in `directory`, keeping `keep`.

  The item's handler is named up front (`item_handlers`, overridable): a manager left to
  guess it reads a step's metadata with two warnings per read ("Item 'default' was
  found in the checkpoint, but could not be restored").
  """
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  kwargs.setdefault("item_handlers", ocp.StandardCheckpointHandler())
  return ocp.CheckpointManager(directory, options=options, **kwargs)


def save(manager: ocp.CheckpointManager, state, normalizers: dict,
         fingerprint: dict | None = None) -> None:
  """Asynchronous save at the state's step (call `manager.wait_until_finished()` at exit);
  `fingerprint` (efjax.provenance) goes into the step's metadata."""
  manager.save(int(state.step), args=ocp.args.StandardSave(_to_saveable(state, normalizers)),
               custom_metadata={"fingerprint": fingerprint} if fingerprint else None)


def saved_fingerprint(manager: ocp.CheckpointManager, step: int) -> dict | None:
  """The fingerprint recorded in a checkpoint's metadata (None for one saved without)."""
  custom = manager.metadata(step).custom_metadata or {}
  return custom.get("fingerprint")


def _newest_good(manager: ocp.CheckpointManager, restore_step, warn):
  """restore_step(step) for the newest step that restores; a partial or corrupt checkpoint
  is skipped with a warning (it is left on disk, never deleted)."""
  steps = sorted(manager.all_steps(), reverse=True)
  for step in steps:
    try:
      return restore_step(step)
    except Exception as e:  # noqa: BLE001  (orbax raises many types for damaged files)
      warn(f"checkpoint {step} does not restore ({type(e).__name__}: {e}); using an older one")
  raise WorkdirError(f"no checkpoint restores in {manager.directory} (tried {steps})")


def restore_newest_good(manager: ocp.CheckpointManager, template, normalizers: dict,
                        warn=logging.warning):
  """(state, normalizers) of the newest checkpoint that restores, shaped like `template`."""
  return _newest_good(manager, lambda step: restore(manager, template, normalizers, step), warn)


def restore(manager: ocp.CheckpointManager, template, normalizers: dict,
            step: int | None = None):
  """(state, normalizers) from the newest (or given) step, shaped like `template`."""
  step = manager.latest_step() if step is None else step
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct,
                                    _to_saveable(template, normalizers))
  restored = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  state = restored["state"]
  state = state.replace(rng=jax.random.wrap_key_data(state.rng))
  norms = {k: Normalizer(np.asarray(v["shift"]), np.asarray(v["scale"]))
           for k, v in restored["normalizers"].items()}
  return state, norms


def _abstract(tree):
  """ShapeDtypeStructs on the first device for a tree of arrays or ShapeDtypeStructs."""
  device = jax.sharding.SingleDeviceSharding(jax.devices()[0])
  return jax.tree_util.tree_map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                                               sharding=device), tree)


def restore_for_inference(workdir: str, variables: dict, obs_dim: int, act_dim: int,
                          step: int | None = None, warn=logging.warning):
  """(EMA variables, step, {'obs', 'actions'} normalizers as jax arrays) of WORKDIR/checkpoints.

  variables: the network's variables {'params', 'spectral'?} (arrays or
  ShapeDtypeStructs, e.g. from jax.eval_shape of its init), only their structure is
  used. Reads the newest checkpoint that restores (or `step`); WorkdirError when none.
  """
  manager = make_manager(os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR), keep=1000,
                         item_handlers=ocp.PyTreeCheckpointHandler())
  if manager.latest_step() is None:
    raise WorkdirError(f"{workdir}: no checkpoints")
  norm = lambda dim: {"shift": jax.ShapeDtypeStruct((dim,), np.float32),  # noqa: E731
                      "scale": jax.ShapeDtypeStruct((dim,), np.float32)}
  wanted = {"state": {"ema_params": variables["params"],
                      "ema_spectral": variables.get("spectral", {}),
                      "step": jax.ShapeDtypeStruct((), jnp.int32)},
            "normalizers": {"obs": norm(obs_dim), "actions": norm(act_dim)}}
  wanted = _abstract(wanted)

  restore_args = ocp.checkpoint_utils.construct_restore_args(wanted)

  def restore_step(s):
    return manager.restore(s, args=ocp.args.PyTreeRestore(wanted, restore_args=restore_args,
                                                           partial_restore=True))

  r = restore_step(step) if step is not None else _newest_good(manager, restore_step, warn)
  norms = {k: Normalizer(jnp.asarray(v["shift"]), jnp.asarray(v["scale"]))
           for k, v in r["normalizers"].items()}
  ema = {"params": r["state"]["ema_params"], "spectral": r["state"]["ema_spectral"]}
  return ema, int(r["state"]["step"]), norms


def load_trained(workdir: str, config, init_variables, step: int | None = None):
  """(EMA variables, checkpoint step, DemoUnits) of a training workdir, for inference.

  init_variables(obs_dim, act_dim, key) -> the network's variables (only their structure
  is used, through jax.eval_shape); the sizes come from WORKDIR/dataset.json.
  """
  spec = workdir_files.read_dataset(workdir)
  obs_dim, act_dim = spec["obs_dim"], spec["act_dim"]
  template = jax.eval_shape(lambda: init_variables(obs_dim, act_dim, jax.random.key(0)))
  params, ckpt_step, norms = restore_for_inference(workdir, template, obs_dim, act_dim, step)
  units = DemoUnits(norms, config.data.obs_horizon, config.data.action_horizon, obs_dim, act_dim)
  return params, ckpt_step, units
