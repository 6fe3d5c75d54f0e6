"""Core throughput and latency of the paper network, against PyTorch eager, in rounds.

    python benchmarks/core.py                           # efjax only, float32, JSON lines
    python benchmarks/core.py --dtype bfloat16          # bf16 matmul inputs, f32 accumulation
    python benchmarks/core.py --compare_torch --rounds 5 --json /tmp/core.json
    python benchmarks/core.py --compare_torch --record  # the published figures: writes
                                  # results/raw/benchmarks/core.json, rebuilds BENCHMARKS.md
    python benchmarks/core.py --compare_torch --torch_compile ...   # torch.compile's forward

With --compare_torch, PyTorch (benchmarks/torch_reference.py, a warm worker process)
and efjax (this process: float32 and bf16, compiled once) are interleaved in rounds:
in every round each workload is timed on each side back to back (torch first in even
rounds, last in odd ones), so a change of machine load falls on both sides of a ratio.
The report is the median over rounds of each round's ratio, with its min-max.

Workloads (the paper's Meta-World shapes: obs 39 x 2, actions 4 x 16, 4,812,032 params):
  matmul_peak   2048^2 float32 matmul (and, efjax, bf16 inputs with f32 accumulation)
  train         one full train step at batch 256: power iteration, DSM (t ~ U[0,1], K=1),
                AdamW with clipping and non-finite skipping, EMA (torch: DSM, clipping,
                AdamW); achieved GFLOP/s (XLA cost analysis / time) against the matmul peak
  train_scan10  the same step 10 times in one lax.scan call (train.steps_per_call)
  sample_b1     Euler PF-ODE, 20 steps, batch 1, ms per chunk
  sample_b256   the same at batch 256, chunks/s
  energy        energy at t = 1e-3, batch 4096, samples/s
and, efjax only, once after the rounds:
  sample_floor  batch-1 sampling's floor: a jitted no-op call, and the marginal ms per step
  k_levels      DSM gradient with K=4 levels in one call vs 4 calls of K=1
  accuracy      bf16 vs float32 on the same parameters: relative error of energy and score
Each figure is the median of --repeats timed calls after --warmup untimed ones.
benchmarks/run_all.py calls run(args) (quick: a tiny network at tiny batches, efjax only).
"""
import argparse
import datetime
import importlib.metadata
import importlib.util
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
if __name__ == "__main__":      # huge pages for malloc, as the experiments mains (efjax/malloc.py);
  from efjax import malloc      # the PyTorch worker subprocess inherits the same setting
  malloc.reexec_with_huge_pages()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from efjax import energy, losses, networks, provenance, schedules  # noqa: E402
from efjax.policy import samplers  # noqa: E402
from efjax.train import (create_train_state, make_multi_step, make_optimizer,  # noqa: E402
                         make_train_step)
from experiments.configs import paper  # noqa: E402
from experiments.reports.benchmarks import FIGURES, RAW, ROUNDED, markdown_report  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TITLE = "The core: paper network (obs 39 x 2, actions 4 x 16)"
RAW_NAME = "benchmarks/core.json"         # under results/raw/ (experiments/reports/build.py)
ONCE = ("sample_floor", "k_levels", "accuracy")
WORKLOADS = ROUNDED + ONCE
TORCH_SCRIPT = os.path.join(HERE, "torch_reference.py")
# Matmul side and batch sizes: the paper workloads, and --quick's (seconds, for tests).
SIZES = dict(matmul=2048, train=256, k_levels=256, sample=256, energy=4096, accuracy=256)
QUICK_SIZES = dict(matmul=256, train=8, k_levels=8, sample=8, energy=64, accuracy=8)
SCAN_STEPS = 10
TORCH_WORKLOADS = ("matmul_peak", "train", "sample_b1", "sample_b256", "energy")


def quick_model(model):
  """A tiny MLP energy: the same workloads in seconds (compiling the UNet takes minutes)."""
  model.backbone, model.mlp.hidden = "mlp", (32, 32)
  model.emb_dim, model.obs_hidden, model.head_hidden = 16, (16,), (16,)
  return model


def compile_fn(fn, args):
  """(compiled, compile seconds, XLA's flops of one call) of jit(fn) at args."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", 0.0)) if cost else 0.0
  return compiled, compile_s, flops


def time_calls(compiled, args, warmup, repeats):
  """(median seconds, every timed call's seconds) of compiled(*args)."""
  for _ in range(warmup):
    jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - t0)
  return float(np.median(times)), times


class Bench:
  """efjax's workloads in one dtype; each compiled once, timed at every `run`."""

  def __init__(self, dtype, quick=False):
    self.cfg = paper.get_config("bf16" if dtype == "bfloat16" else "")
    self.quick, self.sizes = quick, QUICK_SIZES if quick else SIZES
    if quick:
      quick_model(self.cfg.model)
      self.cfg.data.action_horizon = 4
    self.dtype = dtype
    d = self.cfg.data
    self.act_shape, self.obs_shape = (d.action_horizon, d.act_dim), (d.obs_horizon, d.obs_dim)
    self.net = networks.make_network(self.cfg.model)
    self.schedule = schedules.make_schedule(self.cfg.schedule)
    # Initialized in one compiled call: op by op, the paper UNet's init takes ~30 s.
    self.variables = jax.jit(self.net.init)(jax.random.key(0), *self.inputs(2))
    self.num_params = sum(x.size for x in jax.tree_util.tree_leaves(self.variables["params"]))
    self.prepared = {}

  def inputs(self, batch, seed=1):
    ka, ko, kt = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(ka, (batch,) + self.act_shape),
            jax.random.normal(ko, (batch,) + self.obs_shape), jax.random.uniform(kt, (batch,)))

  def info(self, **kw):
    kw.update(framework="jax", jax=jax.__version__, dtype=self.dtype,
              backend=jax.default_backend())
    return kw

  # Each _prepare_X returns (compiled, args, facts, make_result(median seconds) -> dict).
  def _prepare_matmul_peak(self):
    n = self.sizes["matmul"]
    x, y = jax.random.normal(jax.random.key(0), (n, n)), jax.random.normal(jax.random.key(1), (n, n))
    if self.dtype == "bfloat16":   # what the bf16 network's matmuls run: bf16 in, f32 out
      fn, args = (lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32),
                  (x.astype(jnp.bfloat16), y.astype(jnp.bfloat16)))
    else:
      fn, args = (lambda x, y: x @ y), (x, y)
    compiled, _, _ = compile_fn(fn, args)
    return compiled, args, dict(n=n, params=self.num_params), \
        lambda t: dict(gflops=2 * n**3 / t / 1e9)

  def _train_args(self):
    batch = self.sizes["train"]
    optimizer = make_optimizer(self.cfg.optim)
    step = make_train_step(self.net, self.schedule, optimizer, 1, self.cfg.train.ema)
    state = create_train_state(self.variables, optimizer, jax.random.key(2))
    actions, obs, _ = self.inputs(batch)
    return step, (state, {"actions": actions, "obs": obs}), batch

  def _prepare_train(self):
    step, args, batch = self._train_args()
    compiled, compile_s, flops = compile_fn(step, args)   # the whole new state: nothing pruned
    self.train_flops = flops
    return compiled, args, dict(batch=batch, compile_s=compile_s, step_gflop=flops / 1e9), \
        lambda t: dict(samples_per_s=batch / t, step_ms=1e3 * t, achieved_gflops=flops / t / 1e9)

  def _prepare_train_scan10(self):
    # How training runs (train.steps_per_call): SCAN_STEPS steps in one lax.scan per call,
    # here on the same fixed batch.
    step, args, batch = self._train_args()
    multi = make_multi_step(step, batch, SCAN_STEPS, batch_fn=lambda key, data, size: data)
    compiled, compile_s, _ = compile_fn(multi, args)
    flops = getattr(self, "train_flops", None) or compile_fn(step, args)[2]
    return compiled, args, dict(batch=batch, compile_s=compile_s, steps_per_call=SCAN_STEPS), \
        lambda t: dict(samples_per_s=batch * SCAN_STEPS / t, step_ms=1e3 * t / SCAN_STEPS,
                       achieved_gflops=flops * SCAN_STEPS / t / 1e9)

  def _sample_fn(self, num_steps=None):
    cfg = self.cfg.sampler
    steps = num_steps or cfg.num_steps

    def sample(variables, obs, key):
      features = energy.encode_obs(self.net, variables, obs)
      score = lambda x, t: energy.score_from_features(self.net, variables, x, features, t)  # noqa: E731
      return samplers.sample(score, key, (obs.shape[0],) + self.act_shape, self.schedule,
                             cfg.method, steps, cfg.t_end)
    return sample

  def _prepare_sample(self, batch):
    _, obs, _ = self.inputs(batch)
    args = (self.variables, obs, jax.random.key(0))
    compiled, compile_s, _ = compile_fn(self._sample_fn(), args)
    return compiled, args, dict(batch=batch, ode_steps=self.cfg.sampler.num_steps,
                                compile_s=compile_s)

  def _prepare_sample_b1(self):
    compiled, args, facts = self._prepare_sample(1)
    return compiled, args, facts, lambda t: dict(ms=1e3 * t)

  def _prepare_sample_b256(self):
    batch = self.sizes["sample"]
    compiled, args, facts = self._prepare_sample(batch)
    return compiled, args, facts, lambda t: dict(chunks_per_s=batch / t)

  def _prepare_energy(self):
    batch = self.sizes["energy"]
    actions, obs, _ = self.inputs(batch)
    t_end = jnp.full((batch,), 1e-3)
    args = (self.variables, actions, obs)
    compiled, compile_s, _ = compile_fn(
        lambda v, a, o: energy.energy(self.net, v, a, o, t_end), args)
    return compiled, args, dict(batch=batch, compile_s=compile_s), \
        lambda t: dict(samples_per_s=batch / t)

  def run(self, workload, warmup, repeats):
    """One timed measurement of a rounded workload, compiling it the first time."""
    if workload not in self.prepared:
      self.prepared[workload] = getattr(self, f"_prepare_{workload}")()
    compiled, args, facts, result = self.prepared[workload]
    if workload == "matmul_peak":
      repeats = max(repeats, 10)
    t, times = time_calls(compiled, args, warmup, repeats)
    name = FIGURES[workload][0]
    return self.info(workload=name, **facts, **result(t), seconds=times)

  # Measured once, after the rounds.
  def sample_floor(self, warmup, repeats):
    """Batch-1 sampling: a dispatch of a trivial compiled call, and ms per ODE step."""
    _, obs, _ = self.inputs(1)
    args = (self.variables, obs, jax.random.key(0))
    noop, _, _ = compile_fn(lambda x: x + 1.0, (jnp.zeros(()),))
    t_noop, _ = time_calls(noop, (jnp.zeros(()),), warmup, max(repeats, 20))
    steps = self.cfg.sampler.num_steps
    one, _, _ = compile_fn(self._sample_fn(1), args)
    full, _, _ = compile_fn(self._sample_fn(steps), args)
    t_one, _ = time_calls(one, args, warmup, max(repeats, 10))
    t_full, _ = time_calls(full, args, warmup, max(repeats, 10))
    per_step = (t_full - t_one) / (steps - 1)
    return self.info(workload="sample_floor", batch=1, ode_steps=steps, dispatch_ms=1e3 * t_noop,
                     one_step_call_ms=1e3 * t_one, full_call_ms=1e3 * t_full,
                     per_step_ms=1e3 * per_step, fixed_ms=1e3 * (t_one - per_step))

  def k_levels(self, warmup, repeats):
    batch, k = self.sizes["k_levels"], 4
    actions, obs, _ = self.inputs(batch)
    params, spectral = self.variables["params"], self.variables["spectral"]

    def grad_k(p, key, levels):
      return jax.grad(lambda p: losses.dsm_loss(
          self.net, {"params": p, "spectral": spectral}, actions, obs, key, self.schedule,
          levels).mean())(p)
    args = (params, jax.random.key(0))
    t_one, _ = time_calls(compile_fn(lambda p, key: grad_k(p, key, k), args)[0], args,
                          warmup, repeats)
    t_single, _ = time_calls(compile_fn(lambda p, key: grad_k(p, key, 1), args)[0], args,
                             warmup, repeats)
    return self.info(workload="k_levels", batch=batch, k=k, one_call_ms=1e3 * t_one,
                     k_separate_calls_ms=1e3 * k * t_single, speedup=(k * t_single) / t_one)

  def accuracy(self, warmup=None, repeats=None):
    """bf16 against float32 on the same parameters and inputs."""
    shrink = quick_model if self.quick else (lambda model: model)
    bf16 = networks.make_network(shrink(paper.get_config("bf16").model))
    f32 = networks.make_network(shrink(paper.get_config().model))
    actions, obs, t = self.inputs(self.sizes["accuracy"])
    rel = lambda a, b: float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))  # noqa: E731
    e = [jax.jit(lambda a, o, t, n=n: energy.energy(n, self.variables, a, o, t))(actions, obs, t)
         for n in (bf16, f32)]
    s = [jax.jit(lambda a, o, t, n=n: energy.score(n, self.variables, a, o, t))(actions, obs, t)
         for n in (bf16, f32)]
    return self.info(workload="bf16_accuracy", energy_rel_error=rel(*e), score_rel_error=rel(*s))


class TorchWorker:
  """benchmarks/torch_reference.py --serve in a subprocess: one request, one JSON answer."""

  def __init__(self, compile_net=False):
    cmd = [sys.executable, TORCH_SCRIPT, "--serve"] + (["--compile"] if compile_net else [])
    self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                 cwd=ROOT)
    self.hello = self._read()

  def _read(self):
    line = self.proc.stdout.readline()
    if not line:
      raise RuntimeError(f"the torch worker exited (code {self.proc.wait()})")
    return json.loads(line)

  def run(self, workload, warmup, repeats):
    self.proc.stdin.write(json.dumps(dict(workload=workload, warmup=warmup, repeats=repeats))
                          + "\n")
    self.proc.stdin.flush()
    return self._read()

  def close(self):
    self.proc.stdin.close()
    self.proc.wait(timeout=60)


def torch_available() -> bool:
  return importlib.util.find_spec("torch") is not None


def _cpu_model() -> str:
  try:
    out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"^Model name:\s*(.+)$", out, re.M)
    if found:
      return found[1].strip()
  except (OSError, subprocess.CalledProcessError):
    pass
  cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
  found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
  return found[1].strip() if found else platform.processor() or "unknown CPU"


def machine() -> dict:
  """CPU model (lscpu), cores, RAM, OS and the SIMD features XLA's CPU code uses."""
  cpuinfo = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
  flags = set((re.search(r"^flags\s*:\s*(.+)$", cpuinfo, re.M) or ["", ""])[1].split())
  return dict(cpu=_cpu_model(),
              cores=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
              else os.cpu_count(),
              ram_gib=round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
              platform=platform.platform(),
              simd=[f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags])


def _busy_ticks() -> tuple:
  """(busy, total) CPU ticks of the whole machine since boot, from /proc/stat."""
  with open("/proc/stat") as f:
    ticks = [int(x) for x in f.readline().split()[1:]]
  return sum(ticks) - ticks[3] - ticks[4], sum(ticks)     # idle and iowait are not busy


def _process_ticks(pid="self") -> int:
  try:
    with open(f"/proc/{pid}/stat") as f:
      fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime, all threads
  except (OSError, IndexError, ValueError):
    return 0


class OtherLoad:
  """CPU used by every process but this one and its worker, in cores, between marks.

  The load average counts the benchmark itself (about 2 on a 2-core machine while it
  runs); this is what the rest of the machine took from it.
  """

  def __init__(self, pids=()):
    self.pids = list(pids)
    self.last = self._read()

  def _read(self):
    busy, total = _busy_ticks()
    ours = _process_ticks() + sum(_process_ticks(p) for p in self.pids)
    return busy, total, ours

  def mark(self) -> float | None:
    now = self._read()
    busy, total, ours = (a - b for a, b in zip(now, self.last))
    self.last = now
    cores = os.cpu_count() or 1
    return round(cores * max(busy - ours, 0) / total, 2) if total > 0 else None


def load_average(other=None) -> dict:
  """The 1-, 5- and 15-minute load averages (what `uptime` prints), the time and, with an
  OtherLoad, the cores other processes used since its last mark."""
  out = dict(time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             loadavg=[round(x, 2) for x in os.getloadavg()])
  if other is not None:
    out["other_cores"] = other.mark()
  return out


def versions() -> dict:
  """The fingerprint's library versions that are installed, and torch's."""
  found = {k: v for k, v in provenance.versions().items() if v}
  if importlib.util.find_spec("torch") is not None:
    found["torch"] = importlib.metadata.version("torch")
  return found


def git_commit() -> dict:
  """{'commit', 'dirty'} of the source tree (the fingerprint's code record)."""
  c = provenance.code()
  return dict(commit=c["commit"], dirty=c["dirty"])


def collect(dtypes=("float32", "bfloat16"), only=WORKLOADS, rounds=5, warmup=2, repeats=5,
            torch=False, torch_compile=False, quick=False, command=None, log=print) -> dict:
  """Interleaved rounds of the rounded workloads, then the efjax-only ones: the raw record."""
  record = dict(benchmark="core", command=command, date=load_average()["time"],
                machine=machine(), versions=versions(), git=git_commit(),
                settings=dict(rounds=rounds, warmup=warmup, repeats=repeats, torch=torch,
                              torch_compile=torch_compile, quick=quick, dtypes=list(dtypes)),
                load=[load_average()], measurements=[], once=[])
  record["fingerprint"] = provenance.fingerprint(record["settings"])
  benches = {dtype: Bench(dtype, quick) for dtype in dtypes}
  record["params"] = benches[dtypes[0]].num_params
  worker = TorchWorker(torch_compile) if torch else None
  if worker:
    record["torch_params"] = worker.hello.get("params")
  rounded = [w for w in ROUNDED if w in only or w == "matmul_peak"]
  try:
    # Compile (and warm) every workload first, outside the rounds.
    for dtype, bench in benches.items():
      for w in rounded:
        bench.run(w, 1, 1)
    if worker:
      for w in rounded:
        if FIGURES[w][3] == w:
          worker.run(w, 1, 1)
    other = OtherLoad([worker.proc.pid] if worker else [])
    for r in range(rounds):
      for w in rounded:
        sides = [("torch", None)] if worker and FIGURES[w][3] == w else []
        sides += [("jax", dtype) for dtype in dtypes]
        if r % 2:
          sides.reverse()
        for side, dtype in sides:
          out = (worker.run(w, warmup, repeats) if side == "torch"
                 else benches[dtype].run(w, warmup, repeats))
          if "error" in out:
            raise RuntimeError(f"torch worker, {w}: {out['error']}")
          out["round"] = r
          record["measurements"].append(out)
          log(json.dumps(out))
      record["load"].append(dict(round=r, **load_average(other)))
      log(json.dumps(record["load"][-1]))
  finally:
    if worker:
      worker.close()
  for w in ONCE:
    if w not in only:
      continue
    # bf16 accuracy compares both dtypes: once is enough.
    bench = benches["bfloat16" if w == "accuracy" and "bfloat16" in benches else dtypes[0]]
    targets = [bench] if w == "accuracy" else list(benches.values())
    for b in targets:
      out = getattr(b, w)(warmup, max(repeats, 5))
      record["once"].append(out)
      log(json.dumps(out))
  record["load"].append(load_average())
  return record


def save(record, path):
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")


def run(args) -> str:
  """benchmarks/run_all.py's section: interleaved rounds. A full run into the repository's
  BENCHMARKS.md records its raw JSON (results/raw/benchmarks/core.json); the section is
  then the generated one that `python -m experiments.reports.build` rebuilds from it."""
  quick = getattr(args, "quick", False)
  torch = getattr(args, "torch", True) and not quick and torch_available()
  warmup = getattr(args, "warmup", None) or (1 if quick else 2)
  repeats = getattr(args, "repeats", None) or (2 if quick else 5)
  rounds = getattr(args, "rounds", None) or (1 if quick else 5)
  dtypes = ("float32",) if quick else ("float32", "bfloat16")
  command = None if quick else shlex.join(["python", "benchmarks/run_all.py"] + sys.argv[1:])
  record = collect(dtypes, WORKLOADS, rounds, warmup, repeats, torch, False, quick, command,
                   log=lambda line: print(line, file=sys.stderr, flush=True))
  if not torch:                  # ratios need the PyTorch side: nothing to publish
    return markdown_report(record)
  from experiments.reports import build
  return build.benchmark_section(args, RAW_NAME, record, markdown_report(record))


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(WORKLOADS))
  p.add_argument("--dtype", default=None, choices=["float32", "bfloat16"],
                 help="one dtype (default: float32, or both with --compare_torch)")
  p.add_argument("--rounds", type=int, default=None, help="default: 5 with --compare_torch, else 1")
  p.add_argument("--warmup", type=int, default=2)
  p.add_argument("--repeats", type=int, default=5)
  p.add_argument("--compare_torch", action="store_true",
                 help="interleave benchmarks/torch_reference.py (a warm worker) in rounds")
  p.add_argument("--torch_compile", action="store_true",
                 help="with --compare_torch: torch.compile the PyTorch forward (inductor)")
  p.add_argument("--json", default=None, help="also write the raw record here")
  p.add_argument("--markdown", default=None, help="write the report's Markdown here")
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to {RAW} (and a copy per CPU model beside "
                      "it) and rebuild BENCHMARKS.md's sections from it (the published "
                      "figures: needs --compare_torch, both dtypes, every workload)")
  args = p.parse_args()
  if args.torch_compile and not args.compare_torch:
    p.error("--torch_compile needs --compare_torch")
  dtypes = ((args.dtype,) if args.dtype else
            ("float32", "bfloat16") if args.compare_torch else ("float32",))
  rounds = args.rounds or (5 if args.compare_torch else 1)
  if args.compare_torch and rounds < 3:
    p.error("--compare_torch needs at least 3 rounds to show a spread")
  only = args.only.split(",")
  unknown = sorted(set(only) - set(WORKLOADS))
  if unknown:
    p.error(f"--only: unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}")
  if args.record and (not args.compare_torch or args.torch_compile or args.dtype
                      or set(only) != set(WORKLOADS)):
    p.error("--record publishes the standard comparison: --compare_torch with both dtypes and "
            "every workload, without --torch_compile (use --json for other runs)")
  command = " ".join(["python", "benchmarks/core.py"] + sys.argv[1:])
  record = collect(dtypes, only, rounds, args.warmup, args.repeats,
                   args.compare_torch, args.torch_compile, command=command)
  if args.json:
    save(record, args.json)
  if args.markdown:
    with open(args.markdown, "w") as f:
      f.write(markdown_report(record))
  if args.record:                 # the newest run, and the newest on this CPU model
    from experiments.reports import benchmarks, build
    build.record({RAW_NAME: record,
                  f"{benchmarks.CPU_FOLDER}/{benchmarks.cpu_file(record)}": record})
  return record


if __name__ == "__main__":
  main()
