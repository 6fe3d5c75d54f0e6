"""What transparent huge pages do for XLA:CPU's buffers (efjax/malloc.py): the paper
network's float32 train step with and without them, in separate processes, in rounds.

    python benchmarks/huge_pages.py [--rounds=3] [--repeats=5] [--record]

glibc reads its tunables only when a process starts, so each setting runs in its own child
process (this script with --child; EFJAX_HUGE_PAGES=0 turns the re-exec off), the two
interleaved in rounds (off first in even rounds, on first in odd ones). A child compiles
benchmarks/core.py's train step (batch 256), calls it --warmup times, then --repeats
times, and reports the median wall time per call and the minor page faults per call
(getrusage). --record writes results/raw/benchmarks/huge_pages.json and rebuilds
BUILD.md's section from it.
"""
import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RAW_NAME = "benchmarks/huge_pages.json"     # under results/raw/


def child(warmup: int, repeats: int) -> dict:
  """The train step in this process: seconds and minor page faults per call."""
  sys.path.insert(0, ROOT)
  sys.path.insert(0, HERE)
  from efjax import malloc
  malloc.reexec_with_huge_pages()
  import jax
  import numpy as np
  from core import Bench
  compiled, args, _, _ = Bench("float32")._prepare_train()
  for _ in range(warmup):
    jax.block_until_ready(compiled(*args))
  times, faults = [], []
  for _ in range(repeats):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - start)
    faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
  return {"huge_pages": "glibc.malloc.hugetlb" in os.environ.get("GLIBC_TUNABLES", ""),
          "step_s": float(np.median(times)), "minor_faults_per_call": float(np.median(faults))}


def run_child(huge: bool, warmup: int, repeats: int) -> dict:
  env = dict(os.environ, EFJAX_HUGE_PAGES="1" if huge else "0")
  if not huge:
    env.pop("GLIBC_TUNABLES", None)
  out = subprocess.run([sys.executable, os.path.abspath(__file__), "--child",
                        f"--warmup={warmup}", f"--repeats={repeats}"], env=env, check=True,
                       capture_output=True, text=True, cwd=ROOT)
  return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--record", action="store_true")
  p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
  args = p.parse_args(argv)
  if min(args.rounds, args.warmup + 1, args.repeats) < 1:
    p.error("--rounds and --repeats must be positive, --warmup not negative")
  if args.child:
    print(json.dumps(child(args.warmup, args.repeats)))
    return
  sys.path.insert(0, ROOT)
  from efjax import provenance
  from experiments.reports import build
  start = time.perf_counter()
  rounds = []
  for r in range(args.rounds):
    order = (False, True) if r % 2 == 0 else (True, False)
    result = {}
    for huge in order:
      result["on" if huge else "off"] = run_child(huge, args.warmup, args.repeats)
      m = result["on" if huge else "off"]
      print(f"round {r + 1}/{args.rounds} huge pages {'on ' if huge else 'off'}: "
            f"{1e3 * m['step_s']:.0f} ms per step, {m['minor_faults_per_call']:,.0f} faults "
            f"per call (tunable applied: {m['huge_pages']})", flush=True)
    rounds.append(result)
  if args.record:
    command = shlex.join(["python", "benchmarks/huge_pages.py"] + (argv or sys.argv[1:]))
    build.record({RAW_NAME: {"rounds": rounds, **provenance.result_header(
        command, start, {k: v for k, v in vars(args).items() if k != "child"})}})


if __name__ == "__main__":
  main()
