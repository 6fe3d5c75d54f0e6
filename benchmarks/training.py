"""Training-pipeline throughput on the paper network (obs 39 x 2, actions 4 x 16, batch 256).

    python benchmarks/training.py              # prints the table
    python benchmarks/training.py --record     # results/raw/benchmarks/training.json, and
                                               # BENCHMARKS.md's section rebuilt from it

In one process, on a synthetic demo file of 20,000 steps:
  bare_step        jit(train_step) on a fixed, pre-built batch (the core benchmark's step)
  pipeline_k10     experiments.train's compiled call: window batches drawn in the jit,
                   10 steps per call (train.steps_per_call = 10)
  pipeline_k1      the same with 1 step per call
  train_and_evaluate  the whole of experiments.train (steps_per_call auto, logging,
                   held-out eval and a checkpoint every 200 steps), samples/s as its
                   metrics.jsonl reports it (timed from the end of the compiling call)
  checkpoint       time for an async save to return, and until it is on disk
Ratios are against bare_step in the same run. benchmarks/run_all.py
calls run(args) (quick: the demos.py:smoke MLP on 2,000 steps).
"""
import argparse
import json
import os
import shlex
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
if __name__ == "__main__":      # huge pages for malloc, as the experiments mains (efjax/malloc.py)
  from efjax import malloc
  malloc.reexec_with_huge_pages()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from efjax.data import save_demos  # noqa: E402
from efjax import checkpoint  # noqa: E402
from efjax.train.config import steps_per_call  # noqa: E402
from efjax.train.loop import make_multi_step  # noqa: E402
from efjax.train.setup import energy_training  # noqa: E402
from efjax.train.step import make_train_step, run_ema_decay  # noqa: E402
from efjax.train.trainer import train_and_evaluate  # noqa: E402
from efjax.train.dataset import (prepare_data,  # noqa: E402
                                 window_batch)
from efjax import provenance  # noqa: E402
from experiments.configs import demos as demos_config  # noqa: E402
from experiments.reports import build  # noqa: E402
from experiments.reports.benchmarks import training_section  # noqa: E402

TITLE = "The training pipeline (`benchmarks/training.py`)"
RAW_NAME = "benchmarks/training.json"     # under results/raw/ (experiments/reports/build.py)


def median_time(fn, repeats):
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def measure(quick=False, emit=lambda **kw: print(json.dumps(kw), flush=True)):
  """The four workloads as result dicts (also passed to `emit`); quick: a tiny MLP, seconds."""
  steps = 2_000 if quick else 20_000
  results = []

  def record(**kw):
    emit(**kw)
    results.append(kw)
  with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(0)
    path = os.path.join(tmp, "demos.npz")
    save_demos(path, rng.normal(size=(steps, 39)), rng.normal(size=(steps, 4)),
               np.arange(200, steps + 1, 200))
    config = demos_config.get_config("smoke" if quick else "")
    if not quick:               # the workload BENCHMARKS.md measured: demos.py's old defaults
      demos_config.apply_paper_recipe(config, reward_t=0.4)
    config.data.path = path
    data, norms, summary = prepare_data(config)
    net, schedule, optimizer, state = energy_training(config, summary["obs_dim"],
                                                      summary["act_dim"], jax.random.key(0),
                                                      jax.random.key(1))
    step = make_train_step(net, schedule, optimizer, 1, run_ema_decay(config.train))
    batch_size = config.train.batch_size

    batch = window_batch(jax.random.key(0), data, batch_size)
    bare = jax.jit(step)
    jax.block_until_ready(bare(state, batch))
    t_bare = median_time(lambda: bare(state, batch)[1]["loss"], 5)
    record(workload="bare_step", batch=batch_size, samples_per_s=batch_size / t_bare)

    for k in (10, 1):
      multi = jax.jit(make_multi_step(step, batch_size, k, window_batch))
      jax.block_until_ready(multi(state, data))
      t = median_time(lambda: multi(state, data)[1]["loss"], 3 if k == 10 else 10) / k
      record(workload=f"pipeline_k{k}", steps_per_call=k, samples_per_s=batch_size / t,
             ratio_to_bare_step=t_bare / t)

    run_config = demos_config.get_config("smoke" if quick else "")
    if not quick:
      demos_config.apply_paper_recipe(run_config, reward_t=0.4)
    run_config.data.path, run_config.data.val_fraction = path, 0.05
    run_config.train.update(num_steps=400, log_every=100, checkpoint_every=200, eval_every=200)
    if quick:
      run_config.train.update(log_every=100)
    workdir = os.path.join(tmp, "run")
    train_and_evaluate(run_config, workdir, log=lambda *_: None)
    with open(os.path.join(workdir, "metrics.jsonl")) as f:
      last = [json.loads(line) for line in f][-1]
    record(workload="train_and_evaluate", steps_per_call=steps_per_call(run_config.train),
           samples_per_s=last["samples_per_s"],
           ratio_to_bare_step=last["samples_per_s"] * t_bare / batch_size)

    manager = checkpoint.make_manager(os.path.join(tmp, "checkpoints"), 3)
    t0 = time.perf_counter()
    checkpoint.save(manager, state, norms)
    t_return = time.perf_counter() - t0
    manager.wait_until_finished()
    t_done = time.perf_counter() - t0
    manager.close()
    record(workload="checkpoint", params=int(sum(x.size for x in jax.tree_util.tree_leaves(
        state.params))), save_returns_s=t_return, on_disk_s=t_done,
        cost_per_10k_steps_at_5k_interval=2 * t_return / (10_000 * t_bare))
  return results


def raw_record(quick=False, command=None) -> dict:
  """measure()'s results with what made them: the raw record of BENCHMARKS.md's section."""
  start = time.perf_counter()
  results = measure(quick, emit=lambda **kw: print(json.dumps(kw), file=sys.stderr, flush=True))
  setting = {"quick": quick, "demo_steps": 2_000 if quick else 20_000}
  return {"benchmark": "training", "quick": quick, "results": results,
          **provenance.result_header(command, start, setting)}


def run(args) -> str:
  """benchmarks/run_all.py's section: the table of BENCHMARKS.md's training part (published
  from results/raw/benchmarks/training.json by a full run into BENCHMARKS.md)."""
  quick = getattr(args, "quick", False)
  raw = raw_record(quick, shlex.join(["python", "benchmarks/run_all.py"] + sys.argv[1:]))
  return build.benchmark_section(args, RAW_NAME, raw, training_section(raw))


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to results/raw/{RAW_NAME} and rebuild "
                      "BENCHMARKS.md's section from it (the published figures)")
  args = p.parse_args()
  raw = raw_record(command=shlex.join(["python", "benchmarks/training.py"] + sys.argv[1:]))
  print(training_section(raw))
  if args.record:
    build.record({RAW_NAME: raw})


if __name__ == "__main__":
  main()
