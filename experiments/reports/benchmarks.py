"""BENCHMARKS.md's measured sections from the raw records of benchmarks/core.py
(results/raw/benchmarks/core.json: the paper network's workloads, efjax against PyTorch
eager in interleaved rounds, as the median ratio over rounds with its min-max) and of
benchmarks/variants.py (results/raw/benchmarks/variants.json: each speed change against
what it replaced), benchmarks/training.py and benchmarks/sharding.py (training.json,
sharding.json beside them)."""
import numpy as np

RAW = "results/raw/benchmarks/core.json"
CPU_FOLDER = "benchmarks/core_by_cpu"   # under results/raw/: the newest core.json per CPU model
ROUNDED = ("matmul_peak", "train", "train_scan10", "sample_b1", "sample_b256", "energy")
# workload -> (result name, figure, higher is better, the torch workload it is compared to)
FIGURES = {
    "matmul_peak": ("matmul_peak", "gflops", True, "matmul_peak"),
    "train": ("train_step", "samples_per_s", True, "train"),
    "train_scan10": ("train_step_scan10", "samples_per_s", True, "train"),
    "sample_b1": ("sample_latency", "ms", False, "sample_b1"),
    "sample_b256": ("sample_throughput", "chunks_per_s", True, "sample_b256"),
    "energy": ("energy_eval", "samples_per_s", True, "energy"),
}

# Goals of issue 20: (workload, dtype) -> minimum ratio over torch eager float32.
GOALS = {("train", "float32"): 1.5, ("train", "bfloat16"): 2.0, ("sample_b1", "float32"): 10.0,
         ("sample_b256", "float32"): 1.5, ("energy", "float32"): 1.5}
ROW_LABELS = {"train": "train step (samples/s, batch {b})",
              "train_scan10": "train, 10 steps per call (samples/s)",
              "sample_b1": "20-step sampling, batch 1 (ms per chunk)",
              "sample_b256": "20-step sampling, batch {b} (chunks/s)",
              "energy": "energy, batch {b} (samples/s)",
              "matmul_peak": "matmul 2048^2 (GFLOP/s; efjax bf16: bf16 in, f32 acc)"}


def _by_round(record, workload, framework, dtype=None):
  """{round: measurement} of one workload on one side."""
  name = FIGURES[workload][0]
  return {m["round"]: m for m in record["measurements"]
          if m["workload"] == name and m["framework"] == framework
          and (dtype is None or m.get("dtype") == dtype)}


def ratios(record, workload, dtype):
  """Per-round ratios efjax(dtype) over torch (> 1: efjax faster), in round order."""
  name, key, higher, torch_w = FIGURES[workload]
  ours = _by_round(record, workload, "jax", dtype)
  theirs = _by_round(record, torch_w, "torch")
  out = []
  for r in sorted(set(ours) & set(theirs)):
    a, b = ours[r][key], theirs[r][key]
    out.append(a / b if higher else b / a)
  return out


def summary(values):
  return (float(np.median(values)), float(min(values)), float(max(values))) if values else None


def goal_status(ratio_summary, goal):
  """'met' when the median meets the goal and the worst round is within 10 % of it."""
  if ratio_summary is None:
    return "-"
  med, lo, _ = ratio_summary
  if med >= goal and lo >= 0.9 * goal:
    return "**met**"
  return "not met"


def _fmt(x):
  return ("-" if x is None else f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.1f}" if abs(x) >= 1
          else f"{x:.3f}")


def _range(s, fmt="{:.2f}"):
  return "-" if s is None else (fmt.format(s[0]) + "x [" + fmt.format(s[1]) + "-"
                                + fmt.format(s[2]) + "]")


def _cpu_and_commit(raw: dict) -> tuple[str, str]:
  """The CPU a raw record was measured on and the first 10 digits of its git commit."""
  fp = raw.get("fingerprint", {})
  return fp.get("platform", {}).get("cpu", "?"), (fp.get("code", {}).get("commit") or "?")[:10]


def _batch(record, workload):
  """The batch size `workload` ran at in `record` ('' where none is recorded)."""
  return next((m.get("batch") for m in record["measurements"]
               if m["workload"] == FIGURES[workload][0] and m.get("batch")), "")


def cpu_file(record) -> str:
  """The record's name under CPU_FOLDER: its CPU model, lower-case, runs of other
  characters as '-' ('Intel(R) Xeon(R) Processor' -> 'intel-r-xeon-r-processor.json')."""
  slug = "".join(c if c.isalnum() else " " for c in record["machine"]["cpu"].lower())
  return "-".join(slug.split()) + ".json"


def by_cpu_section(files: dict) -> str:
  """BENCHMARKS.md's goals per CPU model, from the newest `core.py --record` run on each
  ({name under CPU_FOLDER: record}): each goal's ratio, the median over rounds [min-max]."""
  records = sorted(files.values(), key=lambda r: r["machine"]["cpu"])
  lines = ["The goals on each CPU model these machines have had: the newest "
           "`python benchmarks/core.py --compare_torch --record` run on each (it keeps a copy "
           f"under `results/raw/{CPU_FOLDER}/`). Ratios over PyTorch eager float32, the median "
           "over rounds [min-max over rounds]; a goal is met when the median meets it and the "
           "worst round is within 10 % of it.", "",
           "| workload | goal | " + " | ".join(
               f"{r['machine']['cpu']} ({r['date'][:10]}, git {r['git']['commit'][:7]})"
               for r in records) + " |",
           "|---|---|" + "---|" * len(records)]
  for (w, dtype), goal in GOALS.items():
    cells = []
    for r in records:
      rs = summary(ratios(r, w, dtype))
      cells.append(f"{_range(rs)}: {goal_status(rs, goal)}" if rs else "-")
    batch = _batch(records[0], w)
    label = (ROW_LABELS[w] if batch else ROW_LABELS[w].replace(", batch {b}", "")).format(
        b=batch).split(" (")[0]
    lines.append(f"| {label}, {'f32' if dtype == 'float32' else 'bf16'} | >= {goal:g}x | "
                 + " | ".join(cells) + " |")
  peaks = []
  for r in records:
    xla = summary([m["gflops"] for m in _by_round(r, "matmul_peak", "jax", "float32").values()])
    mkl = summary([m["gflops"] for m in _by_round(r, "matmul_peak", "torch").values()])
    if xla and mkl:
      peaks.append(f"{r['machine']['cpu']}: XLA {xla[0]:.0f}, torch {mkl[0]:.0f}")
  if peaks:
    lines += ["", "float32 matmul peak (GFLOP/s, 2048^2, median over rounds): "
              + "; ".join(peaks) + "."]
  ceilings = []
  for r in records:
    per_dtype = []
    for dtype in ("float32", "bfloat16"):
      c = summary(train_ceilings(r, dtype))
      if c:
        goal = GOALS[("train", dtype)]
        per_dtype.append(f"{'f32' if dtype == 'float32' else 'bf16'} {_range(c)} "
                         f"(>= {goal:g}x needs the step at {goal / c[0]:.0%} of that peak)")
    if per_dtype:
      ceilings.append(f"{r['machine']['cpu']}: " + ", ".join(per_dtype))
  if ceilings:
    lines += ["", "The train step's ceiling: the ratio over torch it would reach if all its "
              "FLOPs (XLA's cost analysis) ran at XLA's matmul peak of the same round and "
              "dtype, with nothing else to do; per round, median [min-max]. "
              + "; ".join(ceilings) + "."]
  return "\n".join(lines)


def train_ceilings(record, dtype):
  """Per-round torch train-step time over efjax's step FLOPs at XLA's `dtype` matmul peak
  of that round: the ratio the step would reach with every FLOP at the peak."""
  ours = _by_round(record, "train", "jax", dtype)
  theirs = _by_round(record, FIGURES["train"][3], "torch")
  peaks = _by_round(record, "matmul_peak", "jax", dtype)
  out = []
  for r in sorted(set(ours) & set(theirs) & set(peaks)):
    if ours[r].get("step_gflop"):
      at_peak_ms = 1e3 * ours[r]["step_gflop"] / peaks[r]["gflops"]
      torch_ms = 1e3 * ours[r]["batch"] / theirs[r]["samples_per_s"]    # same batch
      out.append(torch_ms / at_peak_ms)
  return out


def markdown_report(record) -> str:
  """The section's Markdown: setting, the table with spreads, the once-measured facts."""
  s, mach = record["settings"], record["machine"]
  dtypes = s["dtypes"]
  loads = [x["loadavg"][0] for x in record["load"]]
  others = [x["other_cores"] for x in record["load"] if x.get("other_cores") is not None]
  # What other processes took in each round, where measured: the 1-minute load average
  # before the run still counts a job stopped just before it (it decays over minutes).
  busy = max(others) > 0.25 if others else record["load"][0]["loadavg"][0] > 1.5
  size = "--quick: a tiny MLP energy at tiny batches" if s["quick"] else "the paper network"
  torch_side = ("PyTorch " + ("with `torch.compile` of the forward (the train step stays eager: "
                              "its double backward does not compile)" if s["torch_compile"]
                              else "eager")
                + " (`benchmarks/torch_reference.py`, a warm worker process)")
  lines = [
      f"{size}, {record['params']:,} parameters; measured {record['date']} on {mach['cpu']} "
      f"({mach['cores']} cores, {', '.join(mach['simd'])}), "
      + ", ".join(f"{k} {v}" for k, v in record["versions"].items())
      + f"; git {(record['git'].get('commit') or '?')[:10]}"
      + (" (uncommitted changes)" if record["git"].get("dirty") else "") + ".",
      "",
      (f"{torch_side} and efjax ({' and '.join(dtypes)}; bf16: "
       "`experiments/configs/paper.py:bf16`) interleaved in "
       f"{s['rounds']} rounds: in each round every workload is timed on each side back to "
       "back (torch first in even rounds, last in odd ones), each figure the median of "
       if s["torch"] else f"efjax only ({' and '.join(dtypes)}), no PyTorch side, "
       f"{s['rounds']} round(s), each figure the median of ")
      + 
      f"{s['repeats']} calls after {s['warmup']} untimed ones. Load average (1 min, `uptime`): "
      f"{record['load'][0]['loadavg'][0]:.2f} before the run, {min(loads):.2f}-{max(loads):.2f} "
      "during it (the benchmark itself adds about its core count)"
      + (f"; other processes used {min(others):.2f}-{max(others):.2f} cores per round"
         if others else "")
      + (". **The machine was busy: read the ratios, not the absolute figures.**" if busy
         else "."),
      "",
      "Ratios are efjax over PyTorch eager float32 (> 1: efjax faster; batch-1 latency: "
      "torch ms / efjax ms): the median over rounds [min-max over rounds]. Absolute figures "
      "are medians over rounds. A goal is met when the median meets it and the worst round is "
      "within 10 % of it.", ""]
  head = "| workload | torch |"
  rule = "|---|---:|"
  for dtype in dtypes:
    short = "f32" if dtype == "float32" else "bf16"
    head += f" efjax {short} | ratio {short} [min-max] |"
    rule += "---:|---:|"
  lines += [head + " goal |", rule + "---|"]
  for w in ROUNDED:
    name, key, _, torch_w = FIGURES[w]
    if not any(m["workload"] == name for m in record["measurements"]):
      continue
    batch = _batch(record, w)
    theirs = [m[key] for m in _by_round(record, torch_w, "torch").values()]
    cells = [ROW_LABELS[w].format(b=batch), _fmt(summary(theirs)[0]) if theirs else "-"]
    goals = []
    for dtype in dtypes:
      ours = [m[key] for m in _by_round(record, w, "jax", dtype).values()]
      rs = summary(ratios(record, w, dtype)) if w != "matmul_peak" or dtype == "float32" else None
      cells += [_fmt(summary(ours)[0]) if ours else "-", _range(rs)]
      goal = GOALS.get((w, dtype))
      if goal and s["torch"]:
        goals.append(f"{'f32' if dtype == 'float32' else 'bf16'} >= {goal:g}x: "
                     f"{goal_status(rs, goal)}")
    lines.append("| " + " | ".join(cells + ["; ".join(goals) or ""]) + " |")
  lines.append("")
  extra = []
  peak = {d: [m["gflops"] for m in _by_round(record, "matmul_peak", "jax", d).values()]
          for d in dtypes}
  for dtype in dtypes:
    for w in ("train", "train_scan10"):
      ms = _by_round(record, w, "jax", dtype)
      pk = _by_round(record, "matmul_peak", "jax", "float32")
      fr = [ms[r]["achieved_gflops"] / pk[r]["gflops"] for r in ms if r in pk]
      if fr:
        gflop = next((m.get("step_gflop") for m in _by_round(record, "train", "jax", dtype).values()),
                     None)
        extra.append(
            f"- {ROW_LABELS[w].split(' (')[0]} {dtype}: "
            + (f"{gflop:.1f} GFLOP (XLA cost analysis), " if gflop and w == "train" else "")
            + f"{summary([m['achieved_gflops'] for m in ms.values()])[0]:.0f} GFLOP/s = "
            f"{summary(fr)[0]:.0%} [{summary(fr)[1]:.0%}-{summary(fr)[2]:.0%}] of XLA's float32 "
            "matmul peak in the same round")
  for dtype in dtypes:
    if peak.get(dtype):
      extra.append(f"- XLA matmul {'f32' if dtype == 'float32' else 'bf16-in/f32-acc'}: "
                   f"{summary(peak[dtype])[0]:.0f} GFLOP/s [{summary(peak[dtype])[1]:.0f}-"
                   f"{summary(peak[dtype])[2]:.0f}]")
  tp = [m["gflops"] for m in _by_round(record, "matmul_peak", "torch").values()]
  if tp:
    extra.append(f"- torch matmul f32: {summary(tp)[0]:.0f} GFLOP/s [{summary(tp)[1]:.0f}-"
                 f"{summary(tp)[2]:.0f}]")
  for m in record.get("once", []):
    dt = m.get("dtype")
    if m["workload"] == "sample_floor":
      extra.append(
          f"- batch-1 sampling {dt}, floor: {m['per_step_ms']:.2f} ms per ODE step (the "
          f"{m['ode_steps']}-step call {m['full_call_ms']:.1f} ms against a 1-step call "
          f"{m['one_step_call_ms']:.1f} ms), fixed cost per call {m['fixed_ms']:.2f} ms "
          f"(a jitted no-op: {m['dispatch_ms']:.3f} ms); one dispatch per solve")
    elif m["workload"] == "k_levels":
      extra.append(f"- K=4 noise levels {dt}: one call {m['one_call_ms']:.0f} ms vs four K=1 "
                   f"calls {m['k_separate_calls_ms']:.0f} ms ({m['speedup']:.2f}x)")
    elif m["workload"] == "bf16_accuracy":
      extra.append(f"- bf16 accuracy (same parameters, one forward pass): energy relative "
                   f"error {m['energy_rel_error']:.2e}, score relative error "
                   f"{m['score_rel_error']:.2e}")
  compiles = []
  for dtype in dtypes:
    for w in ROUNDED:
      ms = list(_by_round(record, w, "jax", dtype).values())
      if ms and "compile_s" in ms[0]:
        compiles.append(f"{w} {'f32' if dtype == 'float32' else 'bf16'} {ms[0]['compile_s']:.1f}")
  if compiles:
    extra.append("- compile seconds: " + ", ".join(compiles))
  cmd = record.get("command")
  tail = [f"Command: `{cmd}`; raw figures: `{RAW}` (rebuild: "
          "`python -m experiments.reports.build`)."] if cmd else []
  return "\n".join(lines + extra + ([""] + tail if tail else [])) + "\n"


def variants_report(record) -> str:
  """BENCHMARKS.md's "What moved the numbers" from benchmarks/variants.py's raw record."""
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
      label = ROW_LABELS.get(w, w).format(b=m.get("batch") or "?")
      fig = {k: float(np.median(v)) for k, v in m["figures"].items()}
      s, sc = summary(m["speedup"]), summary(m["speedup_cpu"])
      lines.append(f"| {'**' + c['change'] + '** (' + c['dtype'] + ')' if first else ''} | "
                   f"{label} | {_fmt(fig['before'])} | {_fmt(fig['after'])} | "
                   f"{_range(s)} | {_range(sc)} |")
      first = False
  lines += [""] + [f"- **{c['change']}**: {c['what']}." for c in record["changes"]]
  cmd = record.get("command")
  if cmd:
    lines += ["", f"Command: `{cmd}`; raw figures: `results/raw/benchmarks/variants.json` (rebuild: `python -m experiments.reports.build`)."]
  return "\n".join(lines) + "\n"


def training_section(raw: dict) -> str:
  """BENCHMARKS.md's training-pipeline section from benchmarks/training.py's raw record."""
  r = {x["workload"]: x for x in raw["results"]}
  bare, ckpt = r["bare_step"], r["checkpoint"]
  model = ("--quick: the `demos.py:smoke` MLP, synthetic demo file of 2,000 steps"
           if raw["quick"] else
           "the paper's UNet (`demos.py` with `apply_paper_recipe`) at batch 256, synthetic demo "
           "file of 20,000 steps (obs 39, actions 4)")
  cpu, commit = _cpu_and_commit(raw)
  lines = [f"{model}, {ckpt['params']:,} parameters, batch {bare['batch']}; measured "
           f"{raw['date']} on {cpu}, git {commit}; one run, each figure the median "
           f"of 3-10 calls (`{raw['command']}`; raw figures `results/raw/benchmarks/"
           "training.json`).", "",
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


def profile_table(p: dict, read_gbps: float | None = None) -> str:
  """One profile (benchmarks/profile_step.py: a workload in one dtype): its time against
  the matmul peak, time per op class and per source, what is left between it and the peak
  (train step) or the weights' streaming time (batch-1 sampling), the slowest ops."""
  call_ms, profiled_ms = 1e3 * p["step_s"], 1e3 * p["profiled_s"]
  peak = p["matmul_peak_gflops"]
  rate = p["step_gflop"] / p["step_s"]
  sampling = p.get("workload") == "sample_b1"
  if sampling:
    head = (f"Batch-1 sampling {p['dtype']}, {p['ode_steps']} PF-ODE steps in one call: "
            f"{call_ms:.1f} ms per call (wall), {call_ms / p['ode_steps']:.2f} ms per ODE step; "
            f"its matmuls do {p['step_gflop']:.2f} GFLOP per call")
  else:
    head = (f"Train step {p['dtype']}, batch {p['batch']}: {call_ms:.0f} ms per step (wall), "
            f"{p['step_gflop']:.1f} GFLOP ({p.get('gflop_source', 'XLA cost analysis')})")
  lines = [f"{head}, {rate:.0f} GFLOP/s = {rate / peak:.0%} of the {peak:.0f} GFLOP/s "
           f"{p['dtype']} matmul peak measured in the same process. The ops' times sum to "
           f"{profiled_ms:.0f} ms ({profiled_ms / call_ms:.2f}x the wall time: the runtime runs "
           "independent ops at once on its threads); shares are of that sum.", "",
           "| class | ops | ms per call (summed) | share | GFLOP | GFLOP/s | of the peak |",
           "|---|---:|---:|---:|---:|---:|---:|"]
  classes = p["classes"]
  for cls in sorted(classes, key=lambda c: -classes[c]["seconds"]):
    c = classes[cls]
    flops = c["flops"] / 1e9
    rate_c = flops / c["seconds"] if c["seconds"] and flops else None
    lines.append(f"| {cls} | {c['ops']} | {1e3 * c['seconds']:.1f} | "
                 f"{c['seconds'] / p['profiled_s']:.0%} | {flops:.2f} | "
                 + (f"{rate_c:.0f} | {rate_c / peak:.0%} |" if rate_c else "- | - |"))
  mm = classes.get("matmul")
  if sampling and read_gbps and p.get("params"):
    itemsize = 2 if p["dtype"] == "bfloat16" else 4
    megabytes = p["params"] * itemsize / 2**20
    floor_ms = 2 * megabytes / 1024 / read_gbps * 1e3
    lines += ["", f"The weights ({p['params']:,} parameters, {megabytes:.1f} MB in the "
              f"matmuls' {p['dtype']} inputs) are read twice per ODE step (the forward, and "
              "the backward that gives the score): at the "
              f"{read_gbps:.1f} GB/s read bandwidth measured here that alone takes "
              f"{floor_ms:.2f} ms per step, {floor_ms * p['ode_steps']:.0f} ms per call."]
  elif mm and mm["seconds"] and mm["flops"]:
    at_peak = mm["flops"] / 1e9 / peak
    rest = p["profiled_s"] - mm["seconds"]
    lines += ["", f"Between the step and the peak: the matmuls would take {1e3 * at_peak:.0f} "
              f"ms at the peak against {1e3 * mm['seconds']:.0f} ms now (summed), and every "
              f"other op {1e3 * rest:.0f} ms ({rest / p['profiled_s']:.0%} of the summed time) "
              "that a step at the peak would not spend."]
  sources = p.get("not_matmul_by_source", {})
  if sources:
    lines += ["", "The ops that are not matmuls, by the part of the network their JAX source "
              "names:", "", "| source | ms per call (summed) | share |", "|---|---:|---:|"]
    for kind in sorted(sources, key=lambda k: -sources[k]):
      lines.append(f"| {kind} | {1e3 * sources[kind]:.1f} | "
                   f"{sources[kind] / p['profiled_s']:.0%} |")
  for title, key in (("The slowest ops", "top"), ("The slowest ops that are not matmuls",
                                                   "top_not_matmul")):
    lines += ["", f"{title} (ms per call, over its runs per call; source: the JAX operation "
              "the op came from):", "",
              "| op | class | runs | ms | GFLOP/s | shape | source |",
              "|---|---|---:|---:|---:|---|---|"]
    for r in p.get(key, []):
      rate_r = f"{r['flops'] / r['seconds'] / 1e9:.0f}" if r["flops"] and r["seconds"] else "-"
      lines.append(f"| {r['name']} | {r['cls']} | {r.get('runs', 1):g} | "
                   f"{1e3 * r['seconds']:.2f} | {rate_r} | `{r['shape']}` | "
                   f"{r.get('source') and '`' + r['source'] + '`' or '-'} |")
  return "\n".join(lines)


def profile_section(raw: dict) -> str:
  """BENCHMARKS.md's "Where the time goes" from benchmarks/profile_step.py's raw record: a
  profile table per workload and dtype."""
  mach = raw["machine"]
  loads = [x["loadavg"][0] for x in raw["load"]]
  read = raw.get("read_bandwidth_gbps")
  lines = [f"XLA's per-op profile of the paper network (`jax.profiler.trace`, the mean of "
           f"{raw['settings']['calls']} calls), ops classed from the optimized HLO "
           "(`benchmarks/profile_step.py`'s docstring says how). Measured "
           f"{raw['date']} on {mach['cpu']} ({mach['cores']} cores), git "
           f"{(raw['git'].get('commit') or '?')[:10]}"
           + (" (uncommitted changes)" if raw["git"].get("dirty") else "")
           + f"; load average (1 min) {min(loads):.2f}-{max(loads):.2f}"
           + (f"; memory read bandwidth {read:.1f} GB/s (a compiled sum over 256 MB)"
              if read else "")
           + ". One run: read the shares, not the absolute times, against the core table "
           "above."]
  names = {"train": "train step", "sample_b1": "batch-1 sampling"}
  for p in raw["profiles"]:
    lines += ["", f"### {names[p.get('workload', 'train')]}, {p['dtype']}", "",
              profile_table(p, read)]
  lines += ["", f"Command: `{raw['command']}`; raw figures: `results/raw/benchmarks/"
            "profile.json` (rebuild: `python -m experiments.reports.build`)."]
  return "\n".join(lines) + "\n"


def sharding_section(raw: dict) -> str:
  """BENCHMARKS.md's sharding section from benchmarks/sharding.py's raw record: each
  layout's differences to one device and the share of the state device 0 holds."""
  out = raw["layouts"]
  one = out["1_replicated"]
  _, commit = _cpu_and_commit(raw)
  lines = ["8 fake CPU devices (`XLA_FLAGS=--xla_force_host_platform_device_count=8`), a tiny "
           "UNet energy, 3 steps of batch 16 in one call; compared with 1 device. "
           "Correctness only: the fake devices share the 2 cores. Measured "
           f"{raw['date']}, git {commit} "
           f"(`{raw['command']}`; raw figures `results/raw/benchmarks/sharding.json`).", "",
           "| layout | max rel. loss diff | max abs. param diff | state held by device 0 | "
           "collectives |", "|---|---|---|---|---|"]
  for name in ("8_replicated", "8_fsdp"):
    r = out[name]
    loss = np.max(np.abs(np.subtract(r["loss"], one["loss"])) / np.abs(one["loss"]))
    param = max(np.max(np.abs(np.subtract(a, b))) for a, b in zip(r["params"], one["params"]))
    collectives = ", ".join(c for c in ("all_reduce", "all_gather") if r[c]).replace("_", "-")
    lines.append(f"| {name.replace('_', ' devices, ')} | {loss:.1e} | {param:.1e} | "
                 f"{r['held_params']:.1%} | {collectives} |")
  return "\n".join(lines) + "\n"


def readme_bullet(core: dict, training: dict) -> str:
  """README's speed bullet: the core table's median ratios over PyTorch eager (min-max over
  rounds) and all of experiments.train against the bare step."""
  def cell(workload, dtype="float32"):
    return _range(summary(ratios(core, workload, dtype)))
  mach = core["machine"]
  pipeline = {x["workload"]: x for x in training["results"]}["train_and_evaluate"]
  return (f"- Speed against the authors' PyTorch network (eager) on a 2-core "
          f"{mach.get('cpu', 'CPU')}, {core['settings']['rounds']} interleaved rounds of `python "
          "benchmarks/core.py --compare_torch` ([BENCHMARKS.md](BENCHMARKS.md); median, "
          f"min-max over rounds): a float32 train step {cell('train')} (bf16 "
          f"{cell('train', 'bfloat16')}), {cell('train_scan10')} at 10 steps per call, "
          f"batch-1 sampling {cell('sample_b1')} faster, batch-256 sampling "
          f"{cell('sample_b256')} (bf16 {cell('sample_b256', 'bfloat16')}), energy evaluation "
          f"{cell('energy')} (bf16 {cell('energy', 'bfloat16')}); all of `experiments.train` "
          f"runs at {pipeline['ratio_to_bare_step']:.2f}x the bare step.\n")


def huge_pages_section(raw: dict) -> str:
  """BUILD.md's huge-pages figures from benchmarks/huge_pages.py's raw record."""
  rounds = raw["rounds"]
  speedup = summary([r["off"]["step_s"] / r["on"]["step_s"] for r in rounds])
  step = {k: summary([1e3 * r[k]["step_s"] for r in rounds]) for k in ("off", "on")}
  faults = {k: summary([r[k]["minor_faults_per_call"] for r in rounds]) for k in ("off", "on")}
  applied = all(r["on"]["huge_pages"] and not r["off"]["huge_pages"] for r in rounds)
  cpu, _ = _cpu_and_commit(raw)
  return (f"Measured {raw['date']} on {cpu} "
          f"(`{raw['command']}`, raw figures `results/raw/benchmarks/huge_pages.json`; "
          f"{len(rounds)} rounds, each setting in its own process, median [min-max] over "
          "rounds): the paper network's float32 train step at batch 256 takes "
          f"{step['off'][0]:.0f} ms [{step['off'][1]:.0f}-{step['off'][2]:.0f}] with "
          f"{faults['off'][0]:,.0f} minor page faults per call without huge pages, and "
          f"{step['on'][0]:.0f} ms [{step['on'][1]:.0f}-{step['on'][2]:.0f}] with "
          f"{faults['on'][0]:,.0f} with them: {_range(speedup)} faster"
          + ("" if applied else " (the tunable did not take effect in every round: read "
             "the raw record)") + ".\n")


def bf16_accuracy_section(raw: dict) -> str:
  """BENCHMARKS.md's bf16 accuracy section from benchmarks/bf16_accuracy.py's raw record."""
  arms, s = raw["arms"], raw["setting"]
  cpu, commit = _cpu_and_commit(raw)
  lines = [f"The paper network and recipe (`demos.py:paper`) on Meta-World {raw['task']}'s "
           f"scripted-expert demos, {s['steps']:,} steps of {s['batch']}, EMA decay 0.99; "
           f"measured {raw['date']} on {cpu}, git {commit} (`{raw['command']}`; raw figures "
           "`results/raw/benchmarks/bf16_accuracy.json`). DSM loss of each checkpoint's EMA "
           f"weights on one fixed held-out batch of {s['eval_batch']:,} windows, read in "
           "float32 (the bf16 run also as it trains, in bf16); gap: (loss - the f32 run's) / "
           "the f32 run's.", "",
           "| step | f32 | bf16 | bf16, read in bf16 | f32, seed 1 | gap bf16 | gap f32 seed 1 |",
           "|---:|---:|---:|---:|---:|---:|---:|"]
  base = arms["f32"]["eval_loss_f32"]
  for i, step in enumerate(raw["steps"]):
    b, own, other = (arms["bf16"]["eval_loss_f32"][i], arms["bf16"]["eval_loss_own"][i],
                     arms["f32_seed1"]["eval_loss_f32"][i])
    lines.append(f"| {step:,} | {base[i]:.4f} | {b:.4f} | {own:.4f} | {other:.4f} | "
                 f"{100 * (b - base[i]) / base[i]:+.1f} % | "
                 f"{100 * (other - base[i]) / base[i]:+.1f} % |")
  lines.append("")
  for name, g in raw["summary"].items():
    lines.append(f"- {name} against f32: gap at the last step {100 * g['last']:+.1f} %, mean "
                 f"|gap| over the read steps {100 * g['mean_abs']:.1f} %")
  rates = ", ".join(f"{arm} {a['samples_per_s']:,.0f}" for arm, a in arms.items()
                    if a.get("samples_per_s"))
  lines += [f"- training samples/s as each run logged it (not a speed benchmark: other jobs "
            f"may have shared the CPU; the core table above is): {rates}",
            "", "![bf16 loss curve](results/bf16_loss_curve.png)"]
  return "\n".join(lines) + "\n"


def write_bf16_plot(raw: dict, path: str) -> None:
  """The loss curves of bf16_accuracy_section as a PNG."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(6, 3.5))
  for arm, key, label in (("f32", "eval_loss_f32", "f32"),
                          ("bf16", "eval_loss_f32", "bf16 (read in f32)"),
                          ("bf16", "eval_loss_own", "bf16 (read in bf16)"),
                          ("f32_seed1", "eval_loss_f32", "f32, seed 1")):
    ax.plot(raw["steps"], raw["arms"][arm][key], marker="o", ms=3, label=label)
  ax.set_xlabel("training step")
  ax.set_ylabel("held-out DSM loss (EMA weights)")
  ax.set_title(f"paper network on {raw['task']}: bf16 against f32")
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


WORKLOADS_WORKERS = {"ppo": ("`experiments.ppo`, inverted_double_pendulum, 2 seeds",
                             "env steps/s"),
                     "train": ("`experiments.train`, MLP energy, bandit demos", "samples/s")}


def workers_section(raw: dict) -> str:
  """BENCHMARKS.md's worker-placement table from benchmarks/workers.py's raw record."""
  rounds, num = raw["rounds"], raw["processes"]
  cpu, commit = _cpu_and_commit(raw)
  lines = [f"Measured {raw['date']} on {cpu}, {num} usable cores, git {commit} "
           f"(`{raw['command']}`; raw figures `results/raw/benchmarks/workers.json`). "
           f"Each workload as {num} processes at once, unpinned (every process with XLA's "
           "default threads over all the cores) and pinned (`launch.workers`: each on its own "
           "core, XLA's Eigen threads off), and one process alone for reference; the total "
           f"rate of the processes, median [min-max] over {len(rounds)} rounds; the ratio is "
           "taken within each round.", "",
           "| workload | rate | alone (1 process) | unpinned | pinned | pinned / unpinned |",
           "|---|---|---:|---:|---:|---:|"]
  for name, (what, unit) in WORKLOADS_WORKERS.items():
    if name not in rounds[0]:
      continue
    totals = {k: summary([sum(r[name][k]) for r in rounds])
              for k in ("alone", "unpinned", "pinned")}
    ratio = summary([sum(r[name]["pinned"]) / sum(r[name]["unpinned"]) for r in rounds])
    cell = lambda s: f"{s[0]:,.0f} [{s[1]:,.0f}-{s[2]:,.0f}]"  # noqa: E731
    lines.append(f"| {what} | {unit} | {cell(totals['alone'])} | {cell(totals['unpinned'])} "
                 f"| {cell(totals['pinned'])} | {_range(ratio)} |")
  return "\n".join(lines) + "\n"
