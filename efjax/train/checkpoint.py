"""Orbax checkpoints of the train state and the data normalizers, with auto-resume."""
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

from efjax.data.normalizer import Normalizer, fit_normalizer
from efjax.train.state import TrainState


def _to_saveable(state: TrainState, normalizers: dict) -> dict:
  return {"state": state.replace(rng=jax.random.key_data(state.rng)),
          # numpy, not jax, arrays: host values every process holds alike.
          "normalizers": {k: {"shift": np.asarray(n.shift), "scale": np.asarray(n.scale)}
                          for k, n in normalizers.items()}}


def make_manager(directory: str, keep: int) -> ocp.CheckpointManager:
  options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True)
  return ocp.CheckpointManager(directory, options=options)


def save(manager: ocp.CheckpointManager, state: TrainState, normalizers: dict) -> None:
  """Asynchronous save at the state's step (call `manager.wait_until_finished()` at exit)."""
  manager.save(int(state.step), args=ocp.args.StandardSave(_to_saveable(state, normalizers)))


def restore_newest_good(manager: ocp.CheckpointManager, template: TrainState,
                        normalizers: dict, warn=logging.warning):
  """Restores the newest checkpoint that restores; a partial or corrupt one is skipped
  with a warning (it is left on disk, never deleted)."""
  steps = sorted(manager.all_steps(), reverse=True)
  for step in steps:
    try:
      return restore(manager, template, normalizers, step)
    except Exception as e:  # noqa: BLE001  (orbax raises many types for damaged files)
      warn(f"checkpoint {step} does not restore ({type(e).__name__}: {e}); using an older one")
  raise FileNotFoundError(f"no checkpoint restores in {manager.directory} (tried {steps})")


def restore(manager: ocp.CheckpointManager, template: TrainState, normalizers: dict,
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


def restore_for_inference(workdir: str, keep: int, template: TrainState, obs_dim: int,
                          act_dim: int, step: int | None = None) -> tuple[TrainState, dict]:
  """(state, {'obs', 'actions'} normalizers as jax arrays) of WORKDIR/checkpoints: the
  newest checkpoint that restores, or `step`. FileNotFoundError when there is none."""
  manager = make_manager(os.path.join(os.path.abspath(workdir), "checkpoints"), keep)
  if manager.latest_step() is None:
    raise FileNotFoundError(f"{workdir}: no checkpoints")
  placeholder = {"obs": fit_normalizer(np.zeros((1, obs_dim)), "identity"),
                 "actions": fit_normalizer(np.zeros((1, act_dim)), "identity")}
  if step is None:
    state, norms = restore_newest_good(manager, template, placeholder)
  else:
    state, norms = restore(manager, template, placeholder, step)
  return state, {k: Normalizer(jnp.asarray(v.shift), jnp.asarray(v.scale))
                 for k, v in norms.items()}
