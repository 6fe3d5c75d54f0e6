"""Training-pipeline throughput on the paper network (obs 39 x 2, actions 4 x 16, batch 256).

    python benchmarks/training.py

In one process, on a synthetic demo file of 20,000 steps:
  bare_step        jit(train_step) on a fixed, pre-built batch (the core benchmark's step)
  pipeline_k10     experiments.train's compiled call: window batches drawn in the jit,
                   10 steps per call (train.steps_per_call = 10)
  pipeline_k1      the same with 1 step per call
  train_and_evaluate  the whole of experiments.train (steps_per_call auto, logging,
                   held-out eval and a checkpoint every 200 steps), samples/s as its
                   metrics.jsonl reports it (timed from the end of the compiling call)
  checkpoint       time for an async save to return, and until it is on disk
Prints JSON lines; ratios are against bare_step in the same run. benchmarks/run_all.py
calls run(args) (quick: the demos.py:smoke MLP on 2,000 steps).
"""
import json
import os
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
from experiments.configs import demos as demos_config  # noqa: E402

TITLE = "The training pipeline (`benchmarks/training.py`)"


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


def run(args) -> str:
  """benchmarks/run_all.py's section: the table of BENCHMARKS.md's training part."""
  quick = getattr(args, "quick", False)
  r = {x["workload"]: x for x in measure(quick)}
  bare, ckpt = r["bare_step"], r["checkpoint"]
  model = ("--quick: the `demos.py:smoke` MLP, synthetic demo file of 2,000 steps" if quick else
           "the `demos.py` default network (the paper's UNet) at batch 256, synthetic demo "
           "file of 20,000 steps (obs 39, actions 4)")
  lines = [f"{model}, {ckpt['params']:,} parameters, batch {bare['batch']}. The same alone: "
           "`python benchmarks/training.py`.", "",
           "| workload | samples/s | vs bare step |", "|---|---|---|",
           f"| bare step (jit(train_step), fixed batch) | {bare['samples_per_s']:,.0f} | 1.00x |",
           "| experiments.train's call, window batches drawn in the jit, `steps_per_call=10` | "
           f"{r['pipeline_k10']['samples_per_s']:,.0f} | "
           f"{r['pipeline_k10']['ratio_to_bare_step']:.2f}x |",
           f"| the same, `steps_per_call=1` | {r['pipeline_k1']['samples_per_s']:,.0f} | "
           f"{r['pipeline_k1']['ratio_to_bare_step']:.2f}x |",
           "| all of `experiments.train` (`steps_per_call="
           f"{r['train_and_evaluate']['steps_per_call']}`, logging, held-out eval and a "
           "checkpoint every 200 steps; its own samples/s) | "
           f"{r['train_and_evaluate']['samples_per_s']:,.0f} | "
           f"{r['train_and_evaluate']['ratio_to_bare_step']:.2f}x |", "",
           f"Checkpoint (params + EMA + Adam state + normalizers): the async save returns in "
           f"{ckpt['save_returns_s']:.2f} s and is on disk after {ckpt['on_disk_s']:.2f} s; at "
           "an interval of 5,000 steps that is "
           f"{100 * ckpt['cost_per_10k_steps_at_5k_interval']:.3f} % of training time."]
  return "\n".join(lines) + "\n"


def main():
  measure()


if __name__ == "__main__":
  main()
