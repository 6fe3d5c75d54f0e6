"""Training speed with `train.steps_per_call` left to the intervals (auto) against the fixed
50 it was before it became automatic, on the benchmark network, in interleaved rounds.

    python benchmarks/steps_per_call.py [--rounds 3] [--mlp]

demos.py's intervals (log 500, checkpoint 5,000, eval 5,000) make auto pick 100 steps per
call. Each round times one call of each (compiled beforehand) on the same state and data;
prints the samples/s of each round and the median ratio auto / 50 with its min-max.
Default network: the paper's UNet at batch 256 (benchmarks/training.py's workload);
--mlp: the MLP of the bandit-family command (obs 6, actions 4, one step each).
"""
import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from efjax.data import save_demos  # noqa: E402
from efjax.train.config import steps_per_call  # noqa: E402
from efjax.train.dataset import prepare_data, window_batch  # noqa: E402
from efjax.train.loop import make_multi_step  # noqa: E402
from efjax.train.setup import energy_training  # noqa: E402
from efjax.train.step import make_train_step, run_ema_decay  # noqa: E402
from experiments.configs import demos as demos_config  # noqa: E402


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--rounds", type=int, default=3)
  parser.add_argument("--mlp", action="store_true")
  args = parser.parse_args()
  config = demos_config.get_config()
  obs_dim, act_dim, steps = 39, 4, 20_000
  if args.mlp:
    config.model.backbone = "mlp"
    config.data.update(obs_horizon=1, action_horizon=1)
    obs_dim, act_dim = 6, 4
  auto = steps_per_call(config.train)
  with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(0)
    config.data.path = os.path.join(tmp, "demos.npz")
    save_demos(config.data.path, rng.normal(size=(steps, obs_dim)),
               rng.normal(size=(steps, act_dim)), np.arange(200, steps + 1, 200))
    data, _, summary = prepare_data(config)
  net, schedule, optimizer, state = energy_training(config, summary["obs_dim"],
                                                    summary["act_dim"], jax.random.key(0),
                                                    jax.random.key(1))
  step = make_train_step(net, schedule, optimizer, 1, run_ema_decay(config.train))
  batch = config.train.batch_size
  calls = {k: jax.jit(make_multi_step(step, batch, k, window_batch)) for k in (50, auto)}
  for k, call in calls.items():
    jax.block_until_ready(call(state, data))
  rows = []
  for r in range(args.rounds):
    row = {}
    for k, call in calls.items():
      t0 = time.perf_counter()
      jax.block_until_ready(call(state, data))
      row[k] = batch * k / (time.perf_counter() - t0)
    rows.append(row)
    print(json.dumps({"round": r, **{f"k{k}": round(v, 1) for k, v in row.items()}}),
          flush=True)
  ratios = [row[auto] / row[50] for row in rows]
  print(json.dumps({"network": "mlp" if args.mlp else "unet", "auto_steps_per_call": auto,
                    "ratio_auto_over_50": {"median": float(np.median(ratios)),
                                           "min": min(ratios), "max": max(ratios)}}))


if __name__ == "__main__":
  main()
