"""What moved the numbers: each speed change measured against what it replaced, in rounds.

    python benchmarks/variants.py                          # every change, benchmarks/results/variants.json
    python benchmarks/variants.py --only conv_xla --rounds 5
    python benchmarks/render.py --only variants            # BENCHMARKS.md's section

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

from efjax.networks import conv  # noqa: E402

TITLE = "What moved the numbers (`benchmarks/variants.py`)"
RESULTS = os.path.join(HERE, "results", "variants.json")


def _setter(module, name, value):
  return lambda: setattr(module, name, value)


# name -> (what changed, dtype, workloads, before setup, after setup)
CHANGES = {
    "conv_xla": (
        "float32 convolutions at T >= 8 through XLA's convolution instead of im2col (T=16) "
        "and block-Toeplitz (T=8) matmuls; T=4 stays Toeplitz (efjax/networks/conv.py)",
        "float32", ("train", "sample_b256", "energy", "sample_b1"),
        _setter(conv, "POLICY", "v1"), _setter(conv, "POLICY", "v2")),
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
                               figure=key, figures=figure)
    log(json.dumps(dict(change=name, workload=w, speedup=speed, speedup_cpu=speed_cpu)))
  return out


def markdown_report(record) -> str:
  sys.path.insert(0, HERE)
  import core
  mach = record["machine"]
  loads = [x["loadavg"][0] for x in record["load"]]
  lines = [
      f"Measured {record['date']} on {mach['cpu']} ({mach['cores']} cores), git "
      f"{(record['git'].get('commit') or '?')[:10]}"
      + (" (uncommitted changes)" if record["git"].get("dirty") else "")
      + f"; load average (1 min) {min(loads):.2f}-{max(loads):.2f} during the run"
      + (" (busy: read the CPU-time column)" if max(loads) > 3 else "") + ". Each change "
      f"against its predecessor in {record['settings']['rounds']} interleaved rounds, "
      f"medians of {record['settings']['repeats']} calls: speedup = before time / after "
      "time, median [min-max] over rounds.", "",
      "| change | workload | before | after | speedup (wall) | speedup (CPU time) |",
      "|---|---|---:|---:|---:|---:|"]
  for c in record["changes"]:
    first = True
    for w, m in c["workloads"].items():
      label = core.ROW_LABELS.get(w, w).format(b="")
      fig = {k: float(np.median(v)) for k, v in m["figures"].items()}
      s, sc = core.summary(m["speedup"]), core.summary(m["speedup_cpu"])
      lines.append(f"| {'**' + c['change'] + '** (' + c['dtype'] + ')' if first else ''} | "
                   f"{label} | {core._fmt(fig['before'])} | {core._fmt(fig['after'])} | "
                   f"{core._range(s)} | {core._range(sc)} |")
      first = False
  lines += [""] + [f"- **{c['change']}**: {c['what']}." for c in record["changes"]]
  cmd = record.get("command")
  if cmd:
    lines += ["", f"Command: `{cmd}`; raw figures: `benchmarks/results/variants.json`."]
  return "\n".join(lines) + "\n"


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(CHANGES))
  p.add_argument("--rounds", type=int, default=5)
  p.add_argument("--warmup", type=int, default=1)
  p.add_argument("--repeats", type=int, default=3)
  p.add_argument("--json", default=RESULTS)
  args = p.parse_args(argv)
  sys.path.insert(0, HERE)
  import core
  record = dict(benchmark="variants",
                command=" ".join(["python", "benchmarks/variants.py"]
                                 + (sys.argv[1:] if argv is None else argv)),
                date=core.load_average()["time"], machine=core.machine(),
                versions=core.versions(), git=core.git_commit(),
                settings=dict(rounds=args.rounds, warmup=args.warmup, repeats=args.repeats),
                load=[core.load_average()], changes=[])
  for name in args.only.split(","):
    record["changes"].append(measure(name, args.rounds, args.warmup, args.repeats))
    record["load"].append(core.load_average())
  os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
  with open(args.json, "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")
  print(markdown_report(record))


if __name__ == "__main__":
  main()
