"""Where the paper network's train step spends its time: XLA's per-op profile on this machine.

    python benchmarks/profile_step.py                      # float32, batch 256
    python benchmarks/profile_step.py --dtype bfloat16 --top 30
    python benchmarks/profile_step.py --json /tmp/profile.json

Compiles benchmarks/core.py's train step (the paper UNet, power iteration, DSM with one
noise level, AdamW, EMA), runs it under `jax.profiler.trace` and reads the per-op events
of the trace (the XLA CPU runtime's thunks, named after the optimized HLO's
instructions). Each op is classed from the optimized HLO (`compiled.as_text()`):
  matmul        a dot, or a fusion around one (XLA's CPU matmul; im2col and Toeplitz
                convolutions become these)
  convolution   XLA's own convolution, or a fusion around one
  elementwise   any other fusion or op: GroupNorm, Mish, softplus, FiLM, the optimizer,
                layout copies and transposes
and given its FLOPs (XLA's cost analysis per op is not exposed; matmul and convolution
FLOPs are computed here from their shapes). The report: time per class, the top ops
with their shapes and achieved GFLOP/s, against the matmul peak measured in the same
process. Nothing is written to BENCHMARKS.md: this is the tool the findings there come
from.
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

  for comp, instrs in computations.items():
    for m in instrs:
      cls, flops = "elementwise", 0.0
      if m["op"] == "dot":
        cls, flops = "matmul", flops_of(m)
      elif m["op"] == "convolution":
        cls, flops = "convolution", flops_of(m)
      elif m["op"] == "fusion":
        called = re.search(r"calls=%?([\w.\-]+)", m["args"])
        inner = computations.get(called[1], []) if called else []
        for x in inner:
          if x["op"] == "dot":
            cls, flops = "matmul", flops + flops_of(x)
          elif x["op"] == "convolution":
            cls, flops = "convolution", flops + flops_of(x)
      elif m["op"] == "custom-call" and "matmul" in m["args"].lower():
        cls = "matmul"
      ops[m["name"]] = dict(op=m["op"], shape=m["shape"][:80], cls=cls, flops=flops,
                            computation=comp)
  return ops


def trace_events(log_dir: str) -> list[dict]:
  """The complete events ("ph": "X") of the perfetto trace jax.profiler wrote."""
  paths = glob.glob(os.path.join(log_dir, "**", "perfetto_trace.json.gz"), recursive=True)
  if not paths:
    raise RuntimeError(f"no perfetto_trace.json.gz under {log_dir}")
  with gzip.open(paths[0]) as f:
    trace = json.load(f)
  events = trace["traceEvents"] if isinstance(trace, dict) else trace
  return [e for e in events if e.get("ph") == "X" and "dur" in e]


def profile(dtype: str, calls: int, top: int) -> dict:
  bench = core.Bench(dtype)
  compiled, args, facts, _ = bench._prepare_train()
  peak_compiled, peak_args, _, peak_result = bench._prepare_matmul_peak()
  peak = peak_result(core.time_calls(peak_compiled, peak_args, 2, 10)[0])["gflops"]
  step_s = core.time_calls(compiled, args, 2, 5)[0]
  ops = parse_hlo(compiled.as_text())
  with tempfile.TemporaryDirectory() as log_dir:
    with jax.profiler.trace(log_dir, create_perfetto_trace=True):
      for _ in range(calls):
        jax.block_until_ready(compiled(*args))
    events = trace_events(log_dir)
  per_op = collections.defaultdict(float)
  for e in events:
    if e["name"] in ops:
      per_op[e["name"]] += e["dur"] / 1e6 / calls
  profiled = sum(per_op.values())
  by_class = collections.defaultdict(lambda: dict(seconds=0.0, flops=0.0, ops=0))
  for name, s in per_op.items():
    c = by_class[ops[name]["cls"]]
    c["seconds"] += s
    c["flops"] += ops[name]["flops"]
    c["ops"] += 1
  rows = sorted(per_op.items(), key=lambda kv: -kv[1])[:top]
  return dict(dtype=dtype, batch=facts["batch"], step_s=step_s, step_gflop=facts["step_gflop"],
              matmul_peak_gflops=peak, profiled_s=profiled, events=len(events),
              classes={k: dict(v) for k, v in by_class.items()},
              top=[dict(name=n, seconds=s, **ops[n]) for n, s in rows])


def report(p: dict) -> str:
  lines = [f"train step {p['dtype']}, batch {p['batch']}: {1e3 * p['step_s']:.0f} ms per step "
           f"({p['step_gflop']:.1f} GFLOP, {p['step_gflop'] / p['step_s']:.0f} GFLOP/s = "
           f"{p['step_gflop'] / p['step_s'] / p['matmul_peak_gflops']:.0%} of the "
           f"{p['matmul_peak_gflops']:.0f} GFLOP/s matmul peak measured here); the profiled "
           f"ops sum to {1e3 * p['profiled_s']:.0f} ms", "",
           "| class | ops | ms per step | share | GFLOP | GFLOP/s |", "|---|---:|---:|---:|---:|---:|"]
  for cls, c in sorted(p["classes"].items(), key=lambda kv: -kv[1]["seconds"]):
    rate = c["flops"] / c["seconds"] / 1e9 if c["seconds"] and c["flops"] else 0
    lines.append(f"| {cls} | {c['ops']} | {1e3 * c['seconds']:.1f} | "
                 f"{c['seconds'] / p['profiled_s']:.0%} | {c['flops'] / 1e9:.2f} | "
                 f"{rate:.0f} |")
  lines += ["", "| op | class | ms | GFLOP/s | shape |", "|---|---|---:|---:|---|"]
  for r in p["top"]:
    rate = f"{r['flops'] / r['seconds'] / 1e9:.0f}" if r["flops"] and r["seconds"] else "-"
    lines.append(f"| {r['name']} | {r['cls']} | {1e3 * r['seconds']:.2f} | {rate} | "
                 f"`{r['shape']}` |")
  return "\n".join(lines)


def main():
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.add_argument("--calls", type=int, default=3, help="profiled calls (averaged)")
  p.add_argument("--top", type=int, default=20)
  p.add_argument("--json", default=None)
  args = p.parse_args()
  start = time.perf_counter()
  result = profile(args.dtype, args.calls, args.top)
  print(report(result))
  print(f"\n({time.perf_counter() - start:.0f} s)")
  if args.json:
    core.save(result, args.json)


if __name__ == "__main__":
  main()
