"""bfloat16's accuracy cost in training: the DSM loss curve of the paper network on a real
demo file, bf16 against float32, with a second float32 seed as the yardstick.

    python benchmarks/bf16_accuracy.py --workdir=/tmp/bf16              # prints the table
    python benchmarks/bf16_accuracy.py --workdir=/tmp/bf16 --record     # raw record, then
        # results/raw/benchmarks/bf16_accuracy.json and BENCHMARKS.md's section from it

Collects Meta-World button-press-v3's scripted-expert demos (100 episodes, the command of
results/metaworld.md's demos), then trains the paper's network and recipe
(`experiments/configs/demos.py:paper`: obs 39 x 2, actions 4 x 16) three times through
`experiments.train`, each run the same but for one thing:

  f32        float32, seed 0
  bf16       model.compute_dtype=bfloat16 (bf16 matmul inputs, float32 accumulation,
             float32 master weights, optimizer state and normalization statistics), seed 0:
             the same initial weights and batches as f32
  f32_seed1  float32, seed 1: what another seed alone changes, the yardstick for bf16's gap

each for --steps steps of --batch with a tenth of the episodes held out, an EMA of decay
0.99 (the paper's 0.9999 would average a short run with its initial weights) and a
checkpoint every --every steps. Every checkpoint's EMA weights are then read on one fixed
held-out batch (--eval_batch windows, noise levels and noise drawn once, the same for every
run and step) in float32, and the bf16 run's also as it trains, in bf16. Runs and
collection resume in WORKDIR; the reading is redone from the checkpoints.

The bandit family's `bf16` study (results/bandit_family.md) measures the same switch on
the reward's agreement with a known soft Q.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RAW_NAME = "benchmarks/bf16_accuracy.json"     # under results/raw/ (experiments/reports/build.py)
TASK = "button-press-v3"
ARMS = {"f32": (), "bf16": ("model.compute_dtype=bfloat16",), "f32_seed1": ("seed=1",)}


def _run(command: list[str], log_path: str) -> None:
  """A user's command in a subprocess, its output appended to log_path; one line on failure."""
  with open(log_path, "a") as out:
    proc = subprocess.run(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
  if proc.returncode:
    sys.exit(f"error: `{shlex.join(command)}` exited {proc.returncode}; see {log_path}")


def collect_command(workdir: str) -> list[str]:
  return ["python", "-m", "experiments.collect_demos",
          f"--config=experiments/configs/metaworld.py:{TASK}", f"--workdir={workdir}"]


def train_command(arm: str, workdir: str, demos: str, args) -> list[str]:
  keep = args.steps // args.every + 1
  flags = ("data.val_fraction=0.1", f"train.num_steps={args.steps}",
           f"train.batch_size={args.batch}", "train.ema=0.99",
           f"train.checkpoint_every={args.every}", f"train.keep_checkpoints={keep}",
           f"train.log_every={args.every}", f"train.eval_every={args.every}") + ARMS[arm]
  return (["python", "-m", "experiments.train", "--config=experiments/configs/demos.py:paper",
           f"--workdir={workdir}", f"--config.data.path={demos}"]
          + [f"--config.{f}" for f in flags])


def _with(cmd: list[str]) -> list[str]:
  return [sys.executable, *cmd[1:]]


def read_losses(workdirs: dict, steps: list[int], eval_batch: int) -> dict:
  """{arm: {'f32': [loss per step], 'own': [...] (the bf16 run read in bf16)}}: the DSM loss
  of each checkpoint's EMA weights on one fixed held-out batch."""
  import efjax
  from efjax.model import make_network
  from efjax.train.dataset import prepare_data
  from efjax.train.validation import make_eval_batch, make_eval_loss
  from efjax.workdir import read_config

  config = read_config(workdirs["f32"])
  val, _, _ = prepare_data(config, "val")
  net32, schedule = make_network(config)
  batch = make_eval_batch(jax.random.key(0), val, eval_batch, schedule)
  loss32 = jax.jit(make_eval_loss(net32, schedule))
  out = {}
  for arm, workdir in workdirs.items():
    arm_config = read_config(workdir)
    own_net, _ = make_network(arm_config)
    own = (jax.jit(make_eval_loss(own_net, schedule))
           if arm_config.model.compute_dtype != "float32" else None)
    out[arm] = {"f32": [], "own": []}
    for step in steps:
      model = efjax.load(workdir, step)
      assert model.step == step, (workdir, step, model.step)
      out[arm]["f32"].append(float(loss32(model.params, batch)))
      if own is not None:
        out[arm]["own"].append(float(own(model.params, batch)))
    if not out[arm]["own"]:
      del out[arm]["own"]
  return out


def _metrics(workdir: str) -> dict:
  from efjax.train.metrics import read_metrics
  rows = read_metrics(workdir)
  rates = [r["samples_per_s"] for r in rows if r.get("samples_per_s")]
  return {"train_loss": {int(r["step"]): r["loss"] for r in rows if "loss" in r},
          "samples_per_s": rates[-1] if rates else None}


def measure(args) -> dict:
  os.makedirs(args.workdir, exist_ok=True)
  demos_dir = os.path.join(args.workdir, "demos")
  demos = os.path.join(demos_dir, "demos.npz")
  if not os.path.exists(demos):
    _run(_with(collect_command(demos_dir)), os.path.join(args.workdir, "collect.log"))
  workdirs, walls = {}, {}
  for arm in ARMS:
    workdirs[arm] = os.path.join(args.workdir, arm)
    os.makedirs(workdirs[arm], exist_ok=True)
    start = time.perf_counter()
    _run(_with(train_command(arm, workdirs[arm], demos, args)),
         os.path.join(workdirs[arm], "train.log"))
    walls[arm] = round(time.perf_counter() - start, 1)
    print(f"{arm}: trained ({walls[arm]:.0f} s this call)", file=sys.stderr, flush=True)
  steps = list(range(args.every, args.steps + 1, args.every))
  losses = read_losses(workdirs, steps, args.eval_batch)
  arms = {arm: {"command": shlex.join(train_command(arm, "WORKDIR/" + arm, "WORKDIR/demos/demos.npz",
                                                    args)),
                "eval_loss_f32": losses[arm]["f32"], "eval_loss_own": losses[arm].get("own"),
                "wall_s_last_call": walls[arm], **_metrics(workdirs[arm])}
          for arm in ARMS}
  return {"task": TASK, "steps": steps, "arms": arms,
          "collect_command": shlex.join(collect_command("WORKDIR/demos"))}


def summary(raw: dict) -> dict:
  """Relative gaps to the f32 run, (loss - f32 loss) / f32 loss: at the last step and the
  mean of |gap| over the read steps, for bf16 (read in float32 and as trained) and for
  f32_seed1."""
  base = np.asarray(raw["arms"]["f32"]["eval_loss_f32"])
  out = {}
  for name, series in (("bf16", raw["arms"]["bf16"]["eval_loss_f32"]),
                       ("bf16, read in bf16", raw["arms"]["bf16"]["eval_loss_own"]),
                       ("f32_seed1", raw["arms"]["f32_seed1"]["eval_loss_f32"])):
    gap = (np.asarray(series) - base) / base
    out[name] = {"last": float(gap[-1]), "mean_abs": float(np.mean(np.abs(gap)))}
  return out


def raw_record(args, command: str) -> dict:
  from efjax import provenance
  start = time.perf_counter()
  raw = measure(args)
  setting = {"task": TASK, "steps": args.steps, "batch": args.batch, "every": args.every,
             "eval_batch": args.eval_batch, "arms": {k: list(v) for k, v in ARMS.items()}}
  return {"benchmark": "bf16_accuracy", **raw, "summary": summary(raw),
          **provenance.result_header(command, start, setting)}


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--workdir", required=True, help="demos, the three runs and their logs")
  p.add_argument("--steps", type=int, default=2000)
  p.add_argument("--batch", type=int, default=64)
  p.add_argument("--every", type=int, default=250, help="checkpoint and reading interval")
  p.add_argument("--eval_batch", type=int, default=2048)
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to results/raw/{RAW_NAME} and rebuild "
                      "BENCHMARKS.md's section from it")
  args = p.parse_args()
  for name in ("steps", "batch", "every", "eval_batch"):
    if getattr(args, name) < 1:
      p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
  if args.steps % args.every:
    p.error(f"--steps ({args.steps}) must be a multiple of --every ({args.every})")
  from experiments.reports import build
  from experiments.reports.benchmarks import bf16_accuracy_section
  shown = ["--workdir=WORKDIR" if a.startswith("--workdir") else a for a in sys.argv[1:]]
  raw = raw_record(args, shlex.join(["python", "benchmarks/bf16_accuracy.py"] + shown))
  print(bf16_accuracy_section(raw))
  if args.record:
    build.record({RAW_NAME: raw})


if __name__ == "__main__":
  main()
