"""Where the paper network's train step and batch-1 sampling spend their time: XLA's
per-op profile on this machine.

    python benchmarks/profile_step.py                      # float32, batch 256
    python benchmarks/profile_step.py --dtype bfloat16 --top 30
    python benchmarks/profile_step.py --json /tmp/profile.json

Compiles benchmarks/core.py's train step (the paper UNet, power iteration, DSM with one
noise level, AdamW, EMA) or its batch-1 PF-ODE solve (20 steps in one call), runs it
under `jax.profiler.trace` and reads the per-op events of the trace (the XLA CPU
runtime's thunks, named after the optimized HLO's instructions). Each op is classed from
the optimized HLO (`compiled.as_text()`):
  matmul         a dot, or a fusion around one (XLA's CPU matmul, through YNNPACK where
                 it takes it; im2col and Toeplitz convolutions become these)
  convolution    XLA's own convolution, or a fusion around one
  data movement  concatenate, slice, pad, copy, transpose, gather, convert, ... and
                 fusions of only these (the im2col gathers, padding, layout changes, casts)
  reduction      a reduce, or a fusion holding one (GroupNorm statistics, the loss, the
                 optimizer's norms)
  elementwise    any other fusion: the activation, FiLM, normalization, AdamW, EMA
  other          control flow and bookkeeping (while, call, tuple, constants)
and given its FLOPs (XLA's cost analysis per op is not exposed; matmul and convolution
FLOPs are computed here from their shapes). The CPU runtime runs independent ops at once
on its threads, so the ops' summed time exceeds the step's wall time; shares are of the
summed time. The report: time per class, the top ops with their shapes and achieved
GFLOP/s, against the matmul peak measured in the same process.

    python benchmarks/profile_step.py --workload sample_b1   # the 20-step batch-1 solve
    python benchmarks/profile_step.py --record

profiles both workloads in both dtypes, measures the memory read bandwidth, and writes
results/raw/benchmarks/profile.json, from which
`python -m experiments.reports.build` rebuilds BENCHMARKS.md's "Where the time goes".
"""
import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
if __name__ == "__main__":
  from efjax import malloc
  malloc.reexec_with_huge_pages()

import jax  # noqa: E402
import numpy as np  # noqa: E402

import core  # noqa: E402
from experiments.reports.benchmarks import profile_table  # noqa: E402

RAW_NAME = "benchmarks/profile.json"       # under results/raw/ (experiments/reports/build.py)
MOVEMENT = {"concatenate", "slice", "dynamic-slice", "dynamic-update-slice", "pad", "copy",
            "transpose", "gather", "scatter", "reshape", "broadcast", "bitcast", "reverse",
            "iota", "convert", "bitcast-convert", "parameter", "constant", "tuple",
            "get-tuple-element"}
# Where a non-matmul op came from, by the first keyword its JAX source (HLO op_name) holds.
SOURCES = (("GroupNorm", ("GroupNorm",)),
           ("activation (softplus)", ("softplus", "silu", "gelu", "mish", "tanh", "relu")),
           ("convolution plumbing (im2col, padding, casts)", ("Conv1D",)),
           ("FiLM and dense layers", ("FiLM", "Dense")),
           ("rest of the network", ("EnergyNet",)),
           ("outside the network (noise, loss, AdamW, EMA, power iteration)", ("jit(",)))
UNNAMED = "no source (XLA's own copies and broadcasts)"
CONTROL = {"while", "call", "conditional", "tuple", "get-tuple-element", "parameter",
           "constant", "after-all", "copy-start", "copy-done", "custom-call"}

_INSTR = re.compile(r"^\s*(?:ROOT )?%?(?P<name>[\w.\-]+) = (?P<shape>.+?) "
                    r"(?P<op>[a-z][\w\-]*)\((?P<args>.*)$")
_DIMS = re.compile(r"(?P<dtype>[a-z]+\d*)\[(?P<dims>[\d,]*)\]")


def _shape_dims(text: str):
  m = _DIMS.search(text)
  return (m["dtype"], [int(d) for d in m["dims"].split(",") if d]) if m else (None, [])


def parse_hlo(text: str) -> dict:
  """{instruction name: dict(op, shape, class, flops, computation)} of the optimized HLO.

  A fusion is classed by what its fused computation holds (a dot makes it a matmul);
  FLOPs of dots are 2 x output elements x contracted size, of convolutions 2 x output
  elements x kernel spatial size x input features per group."""
  computations, current = collections.defaultdict(list), None
  shapes = {}
  for line in text.splitlines():
    head = re.match(r"^(?:ENTRY )?%?(?P<name>[\w.\-]+) .*\{\s*$", line)
    if head and not line.startswith(" "):
      current = head["name"]
      continue
    m = _INSTR.match(line)
    if m and current:
      computations[current].append(m)
      shapes[m["name"]] = m["shape"]
  ops = {}

  def flops_of(m) -> float:
    out_elems = float(np.prod(_shape_dims(m["shape"])[1] or [1]))
    if m["op"] == "dot":
      operands = re.findall(r"%?([\w.\-]+)", m["args"].split(")")[0])
      lhs = _shape_dims(shapes.get(operands[0], ""))[1] if operands else []
      contract = re.search(r"lhs_contracting_dims=\{([\d,]*)\}", m["args"])
      size = np.prod([lhs[int(i)] for i in contract[1].split(",") if i]) if contract and lhs else 1
      return 2.0 * out_elems * float(size)
    if m["op"] == "convolution":
      operands = re.findall(r"%?([\w.\-]+)", m["args"].split(")")[0])
      rhs = _shape_dims(shapes.get(operands[1], ""))[1] if len(operands) > 1 else []
      labels = re.search(r"dim_labels=\w+_(\w+)->", m["args"])
      if rhs and labels:
        # kernel: spatial dims, i (input features per group), o (output features)
        k = np.prod([d for d, c in zip(rhs, labels[1]) if c not in "o"])
        return 2.0 * out_elems * float(k)
    return 0.0

  def classify(m) -> tuple[str, float]:
    """(class, FLOPs) of one instruction (see the module doc)."""
    if m["op"] == "dot":
      return "matmul", flops_of(m)
    if m["op"] == "convolution":
      return "convolution", flops_of(m)
    if m["op"] == "fusion":
      called = re.search(r"calls=%?([\w.\-]+)", m["args"])
      inner = computations.get(called[1], []) if called else []
      inner_ops = {x["op"] for x in inner}
      if "dot" in inner_ops or "convolution" in inner_ops:
        kind = "matmul" if "dot" in inner_ops else "convolution"
        return kind, sum(flops_of(x) for x in inner if x["op"] in ("dot", "convolution"))
      if "reduce" in inner_ops or "reduce-window" in inner_ops:
        return "reduction", 0.0
      if inner_ops <= MOVEMENT:
        return "data movement", 0.0
      return "elementwise", 0.0
    if m["op"] == "custom-call" and "matmul" in m["args"].lower():
      return "matmul", 0.0
    if m["op"] in ("reduce", "reduce-window"):
      return "reduction", 0.0
    if m["op"] in CONTROL:
      return "other", 0.0
    if m["op"] in MOVEMENT:
      return "data movement", 0.0
    return "elementwise", 0.0

  for comp, instrs in computations.items():
    for m in instrs:
      cls, flops = classify(m)
      source = re.search(r'op_name="([^"]*)"', m["args"])
      ops[m["name"]] = dict(op=m["op"], shape=m["shape"][:80], cls=cls, flops=flops,
                            computation=comp, source=source[1][-90:] if source else "")
  return ops


def source_kind(source: str) -> str:
  """The SOURCES entry whose keyword comes first in the list and is in `source`."""
  for kind, keys in SOURCES:
    if any(k in source for k in keys):
      return kind
  return UNNAMED


def trace_events(log_dir: str) -> list[dict]:
  """The complete events ("ph": "X") of the perfetto trace jax.profiler wrote."""
  paths = glob.glob(os.path.join(log_dir, "**", "perfetto_trace.json.gz"), recursive=True)
  if not paths:
    raise RuntimeError(f"no perfetto_trace.json.gz under {log_dir}")
  with gzip.open(paths[0]) as f:
    trace = json.load(f)
  events = trace["traceEvents"] if isinstance(trace, dict) else trace
  return [e for e in events if e.get("ph") == "X" and "dur" in e]


WORKLOADS = ("train", "sample_b1")   # benchmarks/core.py's workloads this tool profiles


def read_bandwidth_gbps(megabytes: int = 256, repeats: int = 7) -> float:
  """Memory read bandwidth (GB/s): a compiled sum over a float32 array, the median call."""
  x = jax.numpy.ones(megabytes * 2**20 // 4, jax.numpy.float32)
  compiled = jax.jit(jax.numpy.sum).lower(x).compile()
  return megabytes / 1024 / core.time_calls(compiled, (x,), 2, repeats)[0]


def profile(dtype: str, calls: int, top: int, workload: str = "train") -> dict:
  """One workload's profile in one dtype: its wall time per call, the matmul peak, seconds
  per op class and per source of the ops that are not matmuls, the `top` slowest ops.
  An op inside a loop (the PF-ODE's steps) counts every execution: its seconds and FLOPs
  are per call."""
  bench = core.Bench(dtype)
  compiled, args, facts, _ = getattr(bench, f"_prepare_{workload}")()
  peak_compiled, peak_args, _, peak_result = bench._prepare_matmul_peak()
  peak = peak_result(core.time_calls(peak_compiled, peak_args, 2, 10)[0])["gflops"]
  call_s = core.time_calls(compiled, args, 2, 5)[0]
  ops = parse_hlo(compiled.as_text())
  with tempfile.TemporaryDirectory() as log_dir:
    with jax.profiler.trace(log_dir, create_perfetto_trace=True):
      for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    events = trace_events(log_dir)
  per_op, runs = collections.defaultdict(float), collections.Counter()
  for e in events:
    if e["name"] in ops:
      per_op[e["name"]] += e["dur"] / 1e6 / calls
      runs[e["name"]] += 1
  flops = {name: ops[name]["flops"] * runs[name] / calls for name in per_op}
  by_class = collections.defaultdict(lambda: dict(seconds=0.0, flops=0.0, ops=0))
  by_source = collections.defaultdict(float)
  for name, s in per_op.items():
    c = by_class[ops[name]["cls"]]
    c["seconds"] += s
    c["flops"] += flops[name]
    c["ops"] += 1
    if ops[name]["cls"] != "matmul":
      by_source[source_kind(ops[name]["source"])] += s
  rows = sorted(per_op.items(), key=lambda kv: -kv[1])
  others = [kv for kv in rows if ops[kv[0]]["cls"] != "matmul"]

  def row(name, s):
    return dict(ops[name], name=name, seconds=s, flops=flops[name], runs=runs[name] / calls)
  gflop = facts.get("step_gflop") or by_class["matmul"]["flops"] / 1e9
  return dict(workload=workload, dtype=dtype, batch=facts["batch"],
              ode_steps=facts.get("ode_steps"), step_s=call_s, step_gflop=gflop,
              gflop_source="XLA cost analysis" if facts.get("step_gflop") else "matmul ops",
              params=bench.num_params, matmul_peak_gflops=peak, profiled_s=sum(per_op.values()),
              events=len(events), classes={k: dict(v) for k, v in by_class.items()},
              not_matmul_by_source=dict(by_source),
              top=[row(n, s) for n, s in rows[:top]],
              top_not_matmul=[row(n, s) for n, s in others[:top]])


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                 help="one dtype (default: float32; both with --record)")
  p.add_argument("--workload", default="train", choices=WORKLOADS,
                 help="the train step, or the 20-step batch-1 solve (both with --record)")
  p.add_argument("--calls", type=int, default=3, help="profiled calls (averaged)")
  p.add_argument("--top", type=int, default=12)
  p.add_argument("--json", default=None, help="also write the raw record here")
  p.add_argument("--record", action="store_true",
                 help=f"profile both dtypes, write results/raw/{RAW_NAME} and rebuild "
                      "BENCHMARKS.md's section from it")
  args = p.parse_args()
  if args.record and (args.dtype or args.workload != "train"):
    p.error("--record publishes every workload in both dtypes; drop --dtype and --workload "
            "(use --json for one)")
  if args.calls < 1 or args.top < 1:
    p.error("--calls and --top must be >= 1")
  dtypes = ("float32", "bfloat16") if args.record else (args.dtype or "float32",)
  workloads = WORKLOADS if args.record else (args.workload,)
  start = time.perf_counter()
  record = dict(benchmark="profile_step",
                command=" ".join(["python", "benchmarks/profile_step.py"] + sys.argv[1:]),
                date=core.load_average()["time"], machine=core.machine(),
                versions=core.versions(), git=core.git_commit(),
                settings=dict(calls=args.calls, top=args.top, dtypes=list(dtypes),
                              workloads=list(workloads)),
                load=[core.load_average()], profiles=[],
                read_bandwidth_gbps=read_bandwidth_gbps())
  for workload in workloads:
    for dtype in dtypes:
      record["profiles"].append(profile(dtype, args.calls, args.top, workload))
      record["load"].append(core.load_average())
      print(profile_table(record["profiles"][-1], record["read_bandwidth_gbps"]) + "\n",
            flush=True)
  print(f"({time.perf_counter() - start:.0f} s)")
  if args.json:
    core.save(record, args.json)
  if args.record:
    from experiments.reports import build
    build.record({RAW_NAME: record})


if __name__ == "__main__":
  main()
