"""`train_and_evaluate(config, workdir)`: demos -> checkpoints of any method, resumable.

One loop for every supervised method (efjax.train.methods: `energyflow`, `bc`;
config.method picks it, 'energyflow' when absent), and `fit(...)` for callers with
data in memory (efjax.reward.bandit_recovery). The dataset lives on device
(efjax.train.dataset); several steps run per compiled call (efjax.train.config,
`steps_per_call`) with batches drawn inside it. Re-running on the same workdir
resumes from the newest checkpoint. SIGTERM saves a checkpoint and returns cleanly.

Several processes (jax.distributed): each loads the demo file (small next to the
model) and holds the dataset on its devices; each step's batch indices are drawn
inside the jit with the batch sharded over the `data` axis, so every device draws
and processes only its own shard, and no process builds or sends the global batch.
Only process 0 writes config.json, metrics and TensorBoard files.
"""
import os
import signal
import time

import jax
import ml_collections
import numpy as np

from efjax import checkpoint, workdir as workdir_files
from efjax.train import sharding
from efjax.train.config import optim_config, steps_per_call, validate_train_config
from efjax.train.dataset import prepare_data, window_batch
from efjax.train.loop import make_multi_step
from efjax.train.methods import METHODS, with_method_defaults
from efjax.train.metrics import MetricsWriter
from efjax.train.optimizer import learning_rate_schedule, make_optimizer
from efjax.train.resume import check_resume, current, record_run
from efjax.train.state import create_train_state
from efjax.train.step import resumed_ema
from efjax.train.validation import make_eval_batch


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str, log=print,
                       method: str | None = None):
  """Trains (or resumes) config.method (or `method`) on config.data.path; returns the
  final TrainState. Writes WORKDIR/config.json, dataset.json, metrics.jsonl, TensorBoard
  files and orbax checkpoints."""
  config = with_method_defaults(config)
  if method is not None:
    config.method = method
  m = METHODS.get(workdir_files.method_of(config))
  validate_train_config(config)
  data, norms, summary = prepare_data(config)
  m.check(config, (config.data.action_horizon, summary["act_dim"]))
  primary = jax.process_index() == 0      # one process writes files and logs
  os.makedirs(workdir, exist_ok=True)
  manager = checkpoint.make_manager(
      os.path.join(os.path.abspath(workdir), checkpoint.CHECKPOINT_DIR),
      config.train.keep_checkpoints)
  resuming = manager.latest_step() is not None
  if resuming:
    config_path = os.path.join(workdir, workdir_files.CONFIG_FILE)
    if "ema" in config.train and os.path.exists(config_path):
      # a workdir from before train.ema_horizon keeps the fixed decay it was trained with
      config.train.ema = resumed_ema(workdir_files.read_config(workdir).get("train", {}),
                                     config.train)
    check_resume(workdir, config, m, summary)
  fingerprint = None
  if primary:
    fingerprint = current(record_run(workdir, config, resuming, log))
    with open(os.path.join(workdir, workdir_files.CONFIG_FILE), "w") as f:
      f.write(config.to_json_best_effort(indent=2))
    workdir_files.write_json(os.path.join(workdir, workdir_files.DATASET_FILE), summary)
  eval_data = None
  if config.train.get("eval_every", 0):
    val, _, _ = prepare_data(config, "val")
    eval_data = ("val", val) if val is not None else ("train", data)
  return fit(config, data, (summary["obs_dim"], summary["act_dim"]), norms=norms,
             manager=manager, workdir=workdir, eval_data=eval_data, fingerprint=fingerprint,
             log=log if primary else (lambda *_: None))


def _due(step: int, every: int, last: int) -> bool:
  return bool(every) and (step % every == 0 or step >= last)


def fit(config, data: dict, dims: tuple, *, norms: dict | None = None, manager=None,
        workdir: str | None = None, eval_data=None, keys=None, fingerprint=None, log=print):
  """The training loop: config.train.num_steps steps of config's method on `data`.

  data: efjax.train.dataset layout; dims: (obs_dim, act_dim). With a `manager`
  (orbax, efjax.checkpoint) and `workdir`, it resumes from and saves checkpoints and
  writes metrics; without, it trains in memory. keys: (init key, train key), by default
  split from config.seed. eval_data: ('val' | 'train', data) for the method's evaluation
  every train.eval_every steps. fingerprint: recorded in each checkpoint's metadata.
  Returns the final TrainState.
  """
  t = config.train
  m = METHODS.get(workdir_files.method_of(config))
  built = m.build(config, *dims)
  optimizer = make_optimizer(optim_config(config))
  k_init, k_train = keys if keys is not None else jax.random.split(jax.random.key(config.seed))
  state = create_train_state(built.init(k_init), optimizer, k_train)
  norms = norms or {}
  if manager is not None and manager.latest_step() is not None:
    state, _ = checkpoint.restore_newest_good(manager, state, norms, warn=log)
    log(f"resumed from step {int(state.step)}")
  mesh = sharding.data_mesh()
  state_shardings = sharding.state_shardings(state, mesh, t.get("param_sharding", "replicated"))
  state, data = sharding.place(state, state_shardings), sharding.replicate(data, mesh)
  train_step = built.step(optimizer)
  compiled = {}

  def run(state, n):            # n steps in one compiled call (one compilation per n)
    if n not in compiled:
      compiled[n] = jax.jit(make_multi_step(train_step, t.batch_size, n, window_batch,
                                            sharding.batch_sharding(mesh)), donate_argnums=0,
                            out_shardings=(state_shardings, None))
    return compiled[n](state, data)

  evaluate = None
  if eval_data is not None and built.eval_loss is not None and t.get("eval_every", 0):
    split, eval_arrays = eval_data
    batch = sharding.replicate(make_eval_batch(jax.random.key(config.seed + 1), eval_arrays,
                                               t.get("eval_batch_size", 1024), built.schedule),
                               mesh)
    eval_loss = jax.jit(built.eval_loss)
    evaluate = lambda s: {"eval_loss": float(eval_loss(s.ema_variables, batch)),  # noqa: E731
                          "eval_split": split}
    evaluate(state)        # compile it now: not inside the timed steps (samples_per_s)
  lr = learning_rate_schedule(optim_config(config))
  per_call = steps_per_call(t)
  boundaries = [e for e in (t.log_every, t.checkpoint_every, t.get("eval_every", 0)) if e]
  writer = MetricsWriter(workdir, enabled=jax.process_index() == 0) if workdir else None

  stop = {"requested": False}
  previous = signal.signal(signal.SIGTERM, lambda *_: stop.update(requested=True))
  step = int(state.step)
  start, start_step = None, step      # timed from the end of the first (compiling) call
  try:
    while step < t.num_steps and not stop["requested"]:
      # Up to the next interval boundary (or the end), at most per_call steps.
      n = min([per_call, t.num_steps - step] + [e - step % e for e in boundaries])
      state, metrics = run(state, n)
      step += n
      if start is None:
        jax.block_until_ready(metrics["loss"])
        start, start_step = time.perf_counter(), step
      logged = _due(step, t.log_every, t.num_steps)
      evaluated = evaluate is not None and _due(step, t.eval_every, t.num_steps)
      if logged or evaluated:
        loss = float(metrics["loss"].mean())
        if not np.isfinite(loss):
          raise FloatingPointError(f"non-finite loss {loss} at step {step}")
        elapsed = time.perf_counter() - start
        rate = (step - start_step) / elapsed if step > start_step else None
        record = {"step": step, "loss": loss, "grad_norm": float(metrics["grad_norm"].mean()),
                  "learning_rate": float(lr(step)),
                  "skipped_steps": int(metrics["skipped_steps"][-1]),
                  # null until one call after the compiling one has run
                  "samples_per_s": None if rate is None else rate * t.batch_size}
        if evaluated:
          record.update(evaluate(state))
        if writer is not None:
          writer.write(record)
        speed = "" if rate is None else (f"  {rate * t.batch_size:8.0f} samples/s  "
                                         f"ETA {(t.num_steps - step) / rate:6.0f}s")
        shown = (f"  eval_loss[{record['eval_split']}] {record['eval_loss']:.4f}"
                 if "eval_loss" in record else "")
        prefix = "step" if m.progress == "loss" else f"{m.name} step"
        log(f"{prefix} {step:7d}/{t.num_steps}  {m.progress} {loss:.4f}{shown}{speed}")
      if manager is not None and _due(step, t.checkpoint_every, t.num_steps):
        checkpoint.save(manager, state, norms, fingerprint)
    if stop["requested"] and manager is not None:
      checkpoint.save(manager, state, norms, fingerprint)
      log(f"SIGTERM: saved step {step} and stopped")
  finally:
    if manager is not None:
      manager.wait_until_finished()
    if writer is not None:
      writer.close()
    signal.signal(signal.SIGTERM, previous)
  return state
