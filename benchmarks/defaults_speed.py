"""Training speed of the default candidates: noise levels per sample x preconditioning.

    python benchmarks/defaults_speed.py [--out=results/raw/bandit_family/speed.json] [--quick]

For each backbone at its usual shapes (the MLP at a bandit's: obs 5 x 1, actions 3 x 1;
the paper's UNet at Meta-World's: obs 39 x 2, actions 4 x 16), batch 256, it times
experiments.train's compiled call (10 steps, batches drawn in the jit) for each
candidate, round-robin (one call of each candidate per round, `rounds` rounds), so
that load from other processes falls on all candidates alike. Prints and writes
samples/s per candidate (median over rounds) and its ratio to the paper's recipe
(one noise level, no preconditioning).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import flax  # noqa: E402
import jax  # noqa: E402
import numpy as np  # noqa: E402

from efjax.data import save_demos  # noqa: E402
from efjax.train.loop import make_multi_step  # noqa: E402
from efjax.train.setup import energy_training  # noqa: E402
from efjax.train.step import make_train_step  # noqa: E402
from efjax.train.dataset import prepare_data, window_batch  # noqa: E402
from experiments.configs import demos as demos_config  # noqa: E402

CANDIDATES = {"paper (K=1, none)": (1, "none"), "K=1, edm": (1, "edm"),
              "K=2, edm": (2, "edm"), "K=4, edm": (4, "edm")}
SHAPES = {"mlp": dict(obs_dim=5, obs_horizon=1, act_dim=3, action_horizon=1),
          "unet": dict(obs_dim=39, obs_horizon=2, act_dim=4, action_horizon=16)}
STEPS_PER_CALL = 10


def _call(backbone: str, levels: int, precond: str, path: str, quick: bool):
  """A compiled experiments.train call and its state for one candidate."""
  config = demos_config.get_config()
  s = SHAPES[backbone]
  config.data.update(path=path, obs_horizon=s["obs_horizon"], action_horizon=s["action_horizon"])
  config.model.backbone = backbone
  config.model.preconditioning = precond
  if quick:
    config.model.mlp.hidden = (32, 32)
    config.model.unet.down_dims = (8, 16, 32)
    config.model.unet.num_groups = 4
  data, _, summary = prepare_data(config)
  net, schedule, optimizer, state = energy_training(config, summary["obs_dim"],
                                                    summary["act_dim"], jax.random.key(0),
                                                    jax.random.key(1))
  step = make_train_step(net, schedule, optimizer, levels, 0.999)
  multi = jax.jit(make_multi_step(step, config.train.batch_size, STEPS_PER_CALL, window_batch))
  jax.block_until_ready(multi(state, data))                      # compile
  return lambda: jax.block_until_ready(multi(state, data)[1]["loss"]), config.train.batch_size


def measure(backbones=("mlp", "unet"), rounds: int = 5, quick: bool = False) -> list[dict]:
  results = []
  with tempfile.TemporaryDirectory() as tmp:
    for backbone in backbones:
      s = SHAPES[backbone]
      path = os.path.join(tmp, f"{backbone}.npz")
      rng = np.random.default_rng(0)
      save_demos(path, rng.normal(size=(4000, s["obs_dim"])), rng.normal(size=(4000, s["act_dim"])),
                 np.arange(200, 4001, 200))
      calls = {name: _call(backbone, k, p, path, quick) for name, (k, p) in CANDIDATES.items()}
      times = {name: [] for name in calls}
      for _ in range(rounds):
        for name, (fn, _) in calls.items():
          t0 = time.perf_counter()
          fn()
          times[name].append(time.perf_counter() - t0)
      base = None
      for name, (_, batch) in calls.items():
        rate = STEPS_PER_CALL * batch / float(np.median(times[name]))
        base = base or rate
        row = {"backbone": backbone, "candidate": name, "num_levels": CANDIDATES[name][0],
               "preconditioning": CANDIDATES[name][1], "samples_per_s": rate,
               "ratio_to_paper": rate / base, "rounds": rounds, **s}
        print(json.dumps(row), flush=True)
        results.append(row)
  return results


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--out", default=None)
  parser.add_argument("--rounds", type=int, default=5)
  parser.add_argument("--backbones", default="mlp,unet")
  parser.add_argument("--quick", action="store_true")
  args = parser.parse_args()
  rows = measure(tuple(args.backbones.split(",")), args.rounds, args.quick)
  if args.out:
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                            cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
      json.dump({"rows": rows, "command": " ".join(["python"] + sys.argv), "git_commit": commit,
                 "jax": jax.__version__, "flax": flax.__version__,
                 "cpu_count": os.cpu_count(),
                 "load_average_at_end": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
  main()
