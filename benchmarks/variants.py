"""What moved the numbers: each speed change measured against what it replaced, in rounds.

    python benchmarks/variants.py --only conv_xla --rounds 5   # one change, printed
    python benchmarks/variants.py --record    # every change: results/raw/benchmarks/variants.json
                                              # and BENCHMARKS.md's section rebuilt from it

Each change is a switch kept in the code (a module constant) with its old setting
("before") and the default ("after"). Both are compiled in this one process, then timed
in interleaved rounds (before first in even rounds, after first in odd ones), each
figure the median of --repeats calls after --warmup; the speedup is before / after per
round, reported as the median [min-max] over rounds, by wall clock and by this
process's CPU time (which a busy machine disturbs less: on a loaded machine read that
one). Workloads are benchmarks/core.py's (paper network, its batch sizes).
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
if __name__ == "__main__":
  from efjax import malloc
  malloc.reexec_with_huge_pages()

import jax  # noqa: E402
import numpy as np  # noqa: E402

from efjax import provenance  # noqa: E402
from efjax.networks import conv  # noqa: E402
from experiments.reports.benchmarks import variants_report  # noqa: E402

RAW_NAME = "benchmarks/variants.json"     # under results/raw/ (experiments/reports/build.py)


def _setter(module, name, value):
  return lambda: setattr(module, name, value)


# name -> (what changed, dtype, workloads, before setup, after setup)
CHANGES = {
    "conv_matmul_in_loops": (
        "float32 convolutions at T >= 8 back to im2col (T=16) and block-Toeplitz (T=8) "
        "matmuls instead of XLA's convolution, which is faster in one call but collapses "
        "inside lax.scan (the training steps of one call, the PF-ODE's steps; "
        "efjax/networks/conv.py)",
        "float32", ("train_scan10", "sample_b256", "train", "energy"),
        _setter(conv, "POLICY", "xla_from_t8"), _setter(conv, "POLICY", "matmul")),
    "bf16_cast_late": (
        "bf16: activations and kernels stay float32 up to the matmul, which casts its inputs "
        "(before: cast before the im2col gather and the Toeplitz assembly, so their "
        "gradients were summed in bf16 through chains of converts)",
        "bfloat16", ("train", "sample_b256", "energy"),
        _setter(conv, "CAST_EARLY", True), _setter(conv, "CAST_EARLY", False)),
}


def measure(name, rounds, warmup, repeats, log=print):
  sys.path.insert(0, HERE)
  import core
  what, dtype, workloads, before, after = CHANGES[name]
  benches = {}
  for side, setup in (("before", before), ("after", after)):
    setup()
    bench = benches[side] = core.Bench(dtype)
    for w in workloads:
      bench.prepared[w] = getattr(bench, f"_prepare_{w}")()
  after()                                     # leave the defaults in place
  out = dict(change=name, what=what, dtype=dtype, workloads={})
  for w in workloads:
    key = core.FIGURES[w][1]
    wall, cpu, figure = {"before": [], "after": []}, {"before": [], "after": []}, {}
    for r in range(rounds):
      order = ("before", "after") if r % 2 == 0 else ("after", "before")
      for side in order:
        compiled, args, facts, result = benches[side].prepared[w]
        for _ in range(warmup):
          jax.block_until_ready(compiled(*args))
        walls, cpus = [], []
        for _ in range(repeats):
          c0, t0 = time.process_time(), time.perf_counter()
          jax.block_until_ready(compiled(*args))
          walls.append(time.perf_counter() - t0)
          cpus.append(time.process_time() - c0)
        wall[side].append(float(np.median(walls)))
        cpu[side].append(float(np.median(cpus)))
        figure.setdefault(side, []).append(result(wall[side][-1])[key])
    speed = [b / a for b, a in zip(wall["before"], wall["after"])]
    speed_cpu = [b / a for b, a in zip(cpu["before"], cpu["after"])]
    out["workloads"][w] = dict(wall_s=wall, cpu_s=cpu, speedup=speed, speedup_cpu=speed_cpu,
                               figure=key, figures=figure, batch=facts.get("batch"))
    log(json.dumps(dict(change=name, workload=w, speedup=speed, speedup_cpu=speed_cpu)))
  return out


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(CHANGES))
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--warmup", type=int, default=1)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--json", default=None, help="also write the raw record here")
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to results/raw/{RAW_NAME} and rebuild "
                      "BENCHMARKS.md's section from it (the published figures: every change)")
  args = p.parse_args(argv)
  unknown = sorted(set(args.only.split(",")) - set(CHANGES))
  if unknown:
    p.error(f"--only: unknown change(s) {', '.join(unknown)}; known: {', '.join(CHANGES)}")
  if args.record and set(args.only.split(",")) != set(CHANGES):
    p.error("--record publishes every change: drop --only (use --json for a subset)")
  if args.record and args.rounds < 3:
    p.error("--record needs --rounds >= 3 to show a spread")
  sys.path.insert(0, HERE)
  import core
  record = dict(benchmark="variants",
                command=" ".join(["python", "benchmarks/variants.py"]
                                 + (sys.argv[1:] if argv is None else argv)),
                date=core.load_average()["time"], machine=core.machine(),
                versions=core.versions(), git=core.git_commit(),
                fingerprint=provenance.fingerprint(dict(only=args.only, rounds=args.rounds)),
                settings=dict(rounds=args.rounds, warmup=args.warmup, repeats=args.repeats),
                load=[core.load_average()], changes=[])
  for name in args.only.split(","):
    record["changes"].append(measure(name, args.rounds, args.warmup, args.repeats))
    record["load"].append(core.load_average())
  if args.json:
    core.save(record, args.json)
  print(variants_report(record))
  if args.record:
    from experiments.reports import build
    build.record({RAW_NAME: record})


if __name__ == "__main__":
  main()
