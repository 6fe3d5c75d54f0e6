"""Training-pipeline throughput on the paper network (obs 39 x 2, actions 4 x 16, batch 256).

    python benchmarks/training.py

In one process, on a synthetic demo file of 20,000 steps:
  bare_step        jit(train_step) on a fixed, pre-built batch (the core benchmark's step)
  pipeline_k10     experiments.train's compiled call: window batches drawn in the jit,
                   10 steps per call (train.steps_per_call = 10)
  pipeline_k1      the same with 1 step per call
  checkpoint       time for an async save to return, and until it is on disk
Prints JSON lines; ratios are against bare_step in the same run.
"""
import json
import os
import sys
import tempfile
import time

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from efjax.data import save_demos  # noqa: E402
from efjax.train import checkpoint  # noqa: E402
from efjax.train.loop import make_multi_step  # noqa: E402
from efjax.train.step import make_train_step  # noqa: E402
from efjax.train.trainer import build, prepare_data, window_batch  # noqa: E402
from experiments.configs import demos as demos_config  # noqa: E402


def median_time(fn, repeats):
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - t0)
  return float(np.median(times))


def main():
  tmp = tempfile.mkdtemp()
  rng = np.random.default_rng(0)
  path = os.path.join(tmp, "demos.npz")
  save_demos(path, rng.normal(size=(20_000, 39)), rng.normal(size=(20_000, 4)),
             np.arange(200, 20_001, 200))
  config = demos_config.get_config()
  config.data.path = path
  data, norms, summary = prepare_data(config)
  net, schedule, optimizer, state = build(config, summary["obs_dim"], summary["act_dim"])
  step = make_train_step(net, schedule, optimizer, 1, config.train.ema)
  batch_size = config.train.batch_size
  emit = lambda **kw: print(json.dumps(kw), flush=True)  # noqa: E731

  batch = window_batch(jax.random.key(0), data, batch_size)
  bare = jax.jit(step)
  jax.block_until_ready(bare(state, batch))
  t_bare = median_time(lambda: bare(state, batch)[1]["loss"], 5)
  emit(workload="bare_step", samples_per_s=batch_size / t_bare)

  for k in (10, 1):
    multi = jax.jit(make_multi_step(step, batch_size, k, window_batch))
    jax.block_until_ready(multi(state, data))
    t = median_time(lambda: multi(state, data)[1]["loss"], 3 if k == 10 else 10) / k
    emit(workload=f"pipeline_k{k}", steps_per_call=k, samples_per_s=batch_size / t,
         ratio_to_bare_step=t_bare / t)

  manager = checkpoint.make_manager(os.path.join(tmp, "checkpoints"), 3)
  t0 = time.perf_counter()
  checkpoint.save(manager, state, norms)
  t_return = time.perf_counter() - t0
  manager.wait_until_finished()
  t_done = time.perf_counter() - t0
  emit(workload="checkpoint", params=int(sum(x.size for x in jax.tree_util.tree_leaves(
      state.params))), save_returns_s=t_return, on_disk_s=t_done,
       cost_per_10k_steps_at_5k_interval=2 * t_return / (10_000 * t_bare))


if __name__ == "__main__":
  main()
