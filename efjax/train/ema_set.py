"""Train once, keep several EMA averages: one run scores many `train.ema` choices (tuning).

`train_with_ema_set(config, decays)` runs the same DSM steps as
`efjax.train.train_and_evaluate` (same data pipeline, network, optimizer, step
and batch draws; nothing written to disk) and carries one extra EMA of the parameters
per decay, each with the trainer's warm-up (`ema_decay`). Since the EMA never feeds
back into training, one run gives exactly what separate runs with each decay would
give. Returns `efjax.model.Model`s, one per decay, whose reward is read as after
`efjax.load`.

With `resume_dir`, the run saves its whole carry (train state and every EMA) there
every `save_every_s` seconds of training, and a run started again on the same
directory with the same config and decays goes on from the newest save: the same
models as an unbroken run (the batches come from the saved RNG). A save made by
another config or decays is discarded, saying so.
"""
import math
import os
import shutil
import time

import jax
import jax.numpy as jnp
import orbax.checkpoint as ocp

from efjax import checkpoint as checkpoint_lib
from efjax import model as model_lib
from efjax import provenance
from efjax.data.units import DemoUnits
from efjax.networks import power_iteration
from efjax.train.config import (steps_per_call, validate_energyflow_config,
                                validate_train_config)
from efjax.train.dataset import prepare_data, window_batch
from efjax.train.setup import energy_training
from efjax.train.step import ema_decay, make_train_step


def _mix_all(extras, params, step, decays):
  """Each (ema params, ema spectral) in extras moved towards params by its decay."""
  out = []
  for (ema_p, ema_s), d in zip(extras, decays):
    w = ema_decay(step, d)
    ema_p = jax.tree_util.tree_map(lambda e, p: w * e + (1.0 - w) * p, ema_p, params)  # noqa: B023
    out.append((ema_p, power_iteration(ema_p, ema_s)))
  return tuple(out)


def _say(message: str) -> None:
  print(message, flush=True)


def _saveable(carry):
  state, extras = carry
  return {"state": state.replace(rng=jax.random.key_data(state.rng)), "extras": extras}


def _open_saves(resume_dir: str, key: str, say) -> ocp.CheckpointManager:
  """The manager of resume_dir, emptied first when its newest save is of another run."""
  manager = checkpoint_lib.make_manager(resume_dir, keep=1)
  step = manager.latest_step()
  if step is not None and (manager.metadata(step).custom_metadata or {}).get("run") != key:
    say(f"{resume_dir}: its save is of another config or decays; starting over")
    manager.close()
    shutil.rmtree(resume_dir)
    manager = checkpoint_lib.make_manager(resume_dir, keep=1)
  return manager


def _restore(manager: ocp.CheckpointManager, carry):
  """(carry, step) from the newest save, shaped like `carry`; (carry, 0) without one."""
  step = manager.latest_step()
  if step is None:
    return carry, 0
  abstract = jax.tree_util.tree_map(ocp.utils.to_shape_dtype_struct, _saveable(carry))
  saved = manager.restore(step, args=ocp.args.StandardRestore(abstract))
  state = saved["state"].replace(rng=jax.random.wrap_key_data(saved["state"].rng))
  extras = tuple(tuple(pair) for pair in saved["extras"])
  return (state, extras), int(step)


def train_with_ema_set(config, decays, log=None, resume_dir: str | None = None,
                       save_every_s: float = 600.0) -> dict:
  """{'models': {decay: Model}} after config.train.num_steps steps; also 'samples_per_s'
  (this process's, after its first call) and 'resumed_from_step' (0: not resumed).

  decays: EMA decays in [0, 1). log(step, loss) is called after every compiled call.
  resume_dir: where the run saves itself every save_every_s seconds and resumes from
  (the module doc); None: nothing is written.
  """
  validate_train_config(config)
  validate_energyflow_config(config)
  decays = tuple(float(d) for d in decays)
  t = config.train
  per_call = math.gcd(steps_per_call(t), t.num_steps)
  data, norms, summary = prepare_data(config)
  obs_dim, act_dim = summary["obs_dim"], summary["act_dim"]
  k_init, k_train = jax.random.split(jax.random.key(config.seed))   # as efjax.train.fit
  net, schedule, optimizer, state = energy_training(config, obs_dim, act_dim, k_init, k_train)
  step_fn = make_train_step(net, schedule, optimizer, t.num_levels, decays[0])
  extras = tuple((jax.tree_util.tree_map(jnp.copy, state.params),
                  jax.tree_util.tree_map(jnp.copy, state.spectral)) for _ in decays)

  def multi_step(carry, data):
    def body(carry, _):
      state, extras = carry
      rng, key = jax.random.split(state.rng)
      state, metrics = step_fn(state.replace(rng=rng), window_batch(key, data, t.batch_size))
      return (state, _mix_all(extras, state.params, state.step - 1, decays)), metrics["loss"]
    return jax.lax.scan(body, carry, None, length=per_call)

  multi_step = jax.jit(multi_step, donate_argnums=0)
  carry, done, start, saves, resumed_from = (state, extras), 0, None, None, 0
  if resume_dir is not None:
    run_key = provenance.config_hash({"config": config.to_dict(), "decays": list(decays)})
    saves = _open_saves(resume_dir, run_key, _say)
    carry, done = _restore(saves, carry)
    resumed_from = done
    if done:
      _say(f"resumed from step {done} in {resume_dir}")
    saved_at = time.perf_counter()
  while done < t.num_steps:
    carry, loss = multi_step(carry, data)
    done += per_call
    if start is None:
      jax.block_until_ready(loss)
      start, start_step = time.perf_counter(), done
    if log is not None:
      log(done, float(loss.mean()))
    if saves is not None and done < t.num_steps and (
        time.perf_counter() - saved_at >= save_every_s):
      saves.save(done, args=ocp.args.StandardSave(_saveable(carry)),
                 custom_metadata={"run": run_key})
      saves.wait_until_finished()     # the carry is donated to the next call
      saved_at = time.perf_counter()
  jax.block_until_ready(carry)
  if saves is not None:
    saves.close()
  elapsed = time.perf_counter() - start
  _, extras = carry
  units = DemoUnits(norms, config.data.obs_horizon, config.data.action_horizon, obs_dim, act_dim)
  models = {d: model_lib.Model(config=config, params={"params": p, "spectral": s}, net=net,
                               schedule=schedule, units=units)
            for d, (p, s) in zip(decays, extras)}
  rate = (done - start_step) * t.batch_size / elapsed if done > start_step else None
  return {"models": models, "samples_per_s": rate, "resumed_from_step": resumed_from}
