"""Core throughput and latency of the paper network, against XLA's own matmul peak.

    python benchmarks/core.py                         # every workload, JSON lines
    python benchmarks/core.py --only train,sample_b1  # some
    python benchmarks/core.py --dtype bfloat16        # bf16 matmul inputs, f32 accumulation
    python benchmarks/core.py --compare_torch --markdown BENCHMARKS.md   # back to back with
                                                      # benchmarks/torch_reference.py

Workloads (the paper's Meta-World shapes: obs 39 x 2, actions 4 x 16, 4,812,032 params):
  matmul_peak  jitted float32 2048^2 matmul (and bf16 inputs with f32 accumulation), GFLOP/s
  train        one full train step at batch 256: power iteration, DSM (t ~ U[0,1], K=1),
               AdamW with clipping and non-finite skipping, EMA; samples/s, achieved
               GFLOP/s (XLA cost analysis / time) and its fraction of the matmul peak;
               then the same step 10 times in one lax.scan call (train.steps_per_call)
  k_levels     DSM gradient with K=4 levels in one call vs 4 calls of K=1, ms
  sample_b1    Euler PF-ODE, 20 steps, batch 1, ms per chunk
  sample_b256  the same at batch 256, chunks/s
  energy       energy at t = 1e-3, batch 4096, samples/s
  accuracy     bf16 vs float32 on the same parameters: relative error of energy and score
Figures are medians of --repeats timed calls after --warmup untimed ones.
benchmarks/run_all.py calls run(args) (quick: a tiny network at tiny batches).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
if __name__ == "__main__":      # huge pages for malloc, as the experiments mains (efjax/malloc.py);
  from efjax import malloc      # the PyTorch reference subprocess inherits the same setting
  malloc.reexec_with_huge_pages()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from efjax import energy, losses, networks, samplers, schedules  # noqa: E402
from efjax.train import (create_train_state, make_multi_step, make_optimizer,  # noqa: E402
                         make_train_step)
from experiments.configs import paper  # noqa: E402

TITLE = "The core: paper network (obs 39 x 2, actions 4 x 16)"
WORKLOADS = ("matmul_peak", "train", "k_levels", "sample_b1", "sample_b256", "energy", "accuracy")
TORCH_SCRIPT = os.path.join(os.path.dirname(__file__), "torch_reference.py")
# Matmul side and batch sizes: the paper workloads, and --quick's (seconds, for tests).
SIZES = dict(matmul=2048, train=256, k_levels=256, sample=256, energy=4096, accuracy=256)
QUICK_SIZES = dict(matmul=256, train=8, k_levels=8, sample=8, energy=64, accuracy=8)


def quick_model(model):
  """A tiny MLP energy: the same workloads in seconds (compiling the UNet takes minutes)."""
  model.backbone, model.mlp.hidden = "mlp", (32, 32)
  model.emb_dim, model.obs_hidden, model.head_hidden = 16, (16,), (16,)
  return model


def timed(fn, args, warmup, repeats):
  """(median seconds, compile seconds, flops of one call) of jitted fn(*args)."""
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(*args).compile()
  compile_s = time.perf_counter() - start
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  flops = float(cost.get("flops", 0.0)) if cost else 0.0
  for _ in range(warmup):
    jax.block_until_ready(compiled(*args))
  times = []
  for _ in range(repeats):
    t0 = time.perf_counter()
    jax.block_until_ready(compiled(*args))
    times.append(time.perf_counter() - t0)
  return float(np.median(times)), compile_s, flops


class Bench:
  def __init__(self, dtype, warmup, repeats, quick=False):
    self.cfg = paper.get_config("bf16" if dtype == "bfloat16" else "")
    self.quick, self.sizes = quick, QUICK_SIZES if quick else SIZES
    if quick:
      quick_model(self.cfg.model)
      self.cfg.data.action_horizon = 4
    self.dtype, self.warmup, self.repeats = dtype, warmup, repeats
    d = self.cfg.data
    self.act_shape, self.obs_shape = (d.action_horizon, d.act_dim), (d.obs_horizon, d.obs_dim)
    self.net = networks.make_network(self.cfg.model)
    self.schedule = schedules.make_schedule(self.cfg.schedule)
    self.variables = self.net.init(jax.random.key(0), *self.inputs(2))
    self.num_params = sum(x.size for x in jax.tree_util.tree_leaves(self.variables["params"]))
    self.peak = None

  def inputs(self, batch, seed=1):
    ka, ko, kt = jax.random.split(jax.random.key(seed), 3)
    return (jax.random.normal(ka, (batch,) + self.act_shape),
            jax.random.normal(ko, (batch,) + self.obs_shape), jax.random.uniform(kt, (batch,)))

  def emit(self, **kw):
    kw.update(framework="jax", jax=jax.__version__, dtype=self.dtype,
              backend=jax.default_backend())
    print(json.dumps(kw), flush=True)
    return kw

  def matmul_peak(self):
    n = self.sizes["matmul"]
    x, y = jax.random.normal(jax.random.key(0), (n, n)), jax.random.normal(jax.random.key(1), (n, n))
    t, _, _ = timed(lambda x, y: x @ y, (x, y), 3, max(self.repeats, 10))
    xb, yb = x.astype(jnp.bfloat16), y.astype(jnp.bfloat16)
    tb, _, _ = timed(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32),
                     (xb, yb), 3, max(self.repeats, 10))
    self.peak = 2 * n**3 / t / 1e9
    return self.emit(workload="matmul_peak", n=n, params=self.num_params, gflops=self.peak,
                     bf16_in_f32_acc_gflops=2 * n**3 / tb / 1e9)

  def train(self):
    batch = self.sizes["train"]
    optimizer = make_optimizer(self.cfg.optim)
    step = make_train_step(self.net, self.schedule, optimizer, 1, self.cfg.train.ema)
    state = create_train_state(self.variables, optimizer, jax.random.key(2))
    actions, obs, _ = self.inputs(batch)
    t, compile_s, flops = timed(step,   # the whole new state: nothing is pruned away
                                (state, {"actions": actions, "obs": obs}),
                                self.warmup, self.repeats)
    achieved = flops / t / 1e9
    single = self.emit(workload="train_step", batch=batch, samples_per_s=batch / t,
                       step_ms=1e3 * t, compile_s=compile_s, step_gflop=flops / 1e9,
                       achieved_gflops=achieved,
                       fraction_of_matmul_peak=achieved / self.peak if self.peak else None)
    # How training runs (train.steps_per_call): 10 steps in one lax.scan per call, here
    # on the same fixed batch as above.
    k = 10
    multi = make_multi_step(step, batch, k, batch_fn=lambda key, data, size: data)
    t_call, compile_scan, _ = timed(multi, (state, {"actions": actions, "obs": obs}),
                                    1, max(3, self.repeats // 3))
    t_scan = t_call / k
    achieved_scan = flops / t_scan / 1e9
    return [single, self.emit(
        workload="train_step_scan10", batch=batch, samples_per_s=batch / t_scan,
        step_ms=1e3 * t_scan, compile_s=compile_scan, achieved_gflops=achieved_scan,
        fraction_of_matmul_peak=achieved_scan / self.peak if self.peak else None)]

  def k_levels(self):
    batch, k = self.sizes["k_levels"], 4
    actions, obs, _ = self.inputs(batch)
    params, spectral = self.variables["params"], self.variables["spectral"]

    def grad_k(p, key, levels):
      return jax.grad(lambda p: losses.dsm_loss(
          self.net, {"params": p, "spectral": spectral}, actions, obs, key, self.schedule,
          levels).mean())(p)
    t_one, _, _ = timed(lambda p, key: grad_k(p, key, k), (params, jax.random.key(0)),
                        self.warmup, self.repeats)
    t_single, _, _ = timed(lambda p, key: grad_k(p, key, 1), (params, jax.random.key(0)),
                           self.warmup, self.repeats)
    return self.emit(workload="k_levels", batch=batch, k=k, one_call_ms=1e3 * t_one,
                     k_separate_calls_ms=1e3 * k * t_single,
                     speedup=(k * t_single) / t_one)

  def _sample_fn(self):
    cfg = self.cfg.sampler

    def sample(variables, obs, key):
      features = energy.encode_obs(self.net, variables, obs)
      score = lambda x, t: energy.score_from_features(self.net, variables, x, features, t)  # noqa: E731
      return samplers.sample(score, key, (obs.shape[0],) + self.act_shape, self.schedule,
                             cfg.method, cfg.num_steps, cfg.t_end)
    return sample

  def sample_b1(self):
    _, obs, _ = self.inputs(1)
    t, compile_s, _ = timed(self._sample_fn(), (self.variables, obs, jax.random.key(0)),
                            self.warmup, self.repeats)
    return self.emit(workload="sample_latency", batch=1, ode_steps=self.cfg.sampler.num_steps,
                     ms=1e3 * t, compile_s=compile_s)

  def sample_b256(self):
    batch = self.sizes["sample"]
    _, obs, _ = self.inputs(batch)
    t, compile_s, _ = timed(self._sample_fn(), (self.variables, obs, jax.random.key(0)),
                            self.warmup, self.repeats)
    return self.emit(workload="sample_throughput", batch=batch,
                     ode_steps=self.cfg.sampler.num_steps, chunks_per_s=batch / t,
                     compile_s=compile_s)

  def energy(self):
    batch = self.sizes["energy"]
    actions, obs, _ = self.inputs(batch)
    t_end = jnp.full((batch,), 1e-3)
    t, compile_s, _ = timed(lambda v, a, o: energy.energy(self.net, v, a, o, t_end),
                            (self.variables, actions, obs), self.warmup, self.repeats)
    return self.emit(workload="energy_eval", batch=batch, samples_per_s=batch / t,
                     compile_s=compile_s)

  def accuracy(self):
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
    return self.emit(workload="bf16_accuracy", energy_rel_error=rel(*e), score_rel_error=rel(*s))


def run_torch(only):
  cmd = [sys.executable, TORCH_SCRIPT] + (["--only", only] if only else [])
  out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
  return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def collect(dtypes, only=WORKLOADS, warmup=3, repeats=10, torch=False, quick=False):
  """Every workload in `only` for each dtype (torch's reference first), as result dicts."""
  results = []
  if torch:
    for r in run_torch(None):
      print(json.dumps(r), flush=True)
      results.append(r)
  for dtype in dtypes:
    bench = Bench(dtype, warmup, repeats, quick)
    results.append(bench.matmul_peak())
    for name in only:
      # bf16 accuracy compares both dtypes: once is enough when both run.
      if name == "matmul_peak" or (name == "accuracy" and dtype == "float32" and len(dtypes) > 1):
        continue
      out = getattr(bench, name)()
      results += out if isinstance(out, list) else [out]    # train: single step and scan
  return results


def torch_available() -> bool:
  return os.path.exists(TORCH_SCRIPT) and importlib.util.find_spec("torch") is not None


def run(args) -> str:
  """benchmarks/run_all.py's section: torch reference (when there), float32 and bf16."""
  quick = getattr(args, "quick", False)
  torch = getattr(args, "torch", True) and not quick and torch_available()
  warmup = getattr(args, "warmup", None) or (1 if quick else 3)
  repeats = getattr(args, "repeats", None) or (2 if quick else 10)
  dtypes = ["float32"] if quick else ["float32", "bfloat16"]
  results = collect(dtypes, WORKLOADS, warmup, repeats, torch, quick)
  params = next(r["params"] for r in results
                if r.get("workload") == "matmul_peak" and r.get("framework") == "jax")
  size = "--quick: a tiny MLP energy at tiny batches" if quick else "the paper network"
  if torch:
    order = ("PyTorch eager (`benchmarks/torch_reference.py`, the authors' network and "
             "workloads) in a subprocess, then efjax")
  else:
    why = ("--quick" if quick else "--no_torch" if not getattr(args, "torch", True) else
           "torch is not installed")
    order = f"efjax only (no PyTorch reference: {why})"
  intro = (f"{size}, {params:,} parameters. {order} for {' and '.join(dtypes)} (bf16: "
           "`experiments/configs/paper.py:bf16`), medians of "
           f"{repeats} timed calls after {warmup} untimed ones. The same workloads alone: "
           "`python benchmarks/core.py --compare_torch --markdown FILE`.")
  return intro + "\n\n" + markdown_report(results)


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(WORKLOADS))
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--repeats", type=int, default=10)
  p.add_argument("--compare_torch", action="store_true",
                 help="run benchmarks/torch_reference.py first, in a subprocess")
  p.add_argument("--markdown", default=None,
                 help="with --compare_torch: write the comparison table to this file")
  args = p.parse_args()
  dtypes = [args.dtype] if not args.compare_torch else ["float32", "bfloat16"]
  results = collect(dtypes, args.only.split(","), args.warmup, args.repeats, args.compare_torch)
  if args.markdown and args.compare_torch:
    with open(args.markdown, "w") as f:
      f.write(markdown_report(results, " ".join(sys.argv)))
  return results


def markdown_report(results, command: str | None = None) -> str:
  """The comparison table: torch eager vs efjax float32 and bfloat16, as ratios."""
  torch = {r["workload"]: r for r in results if r.get("framework") == "torch"}
  ours = {(r["workload"], r["dtype"]): r for r in results if r.get("framework") == "jax"}
  batch = {w: r.get("batch") for (w, _), r in ours.items()}
  rows = [("train_step", "samples_per_s", f"samples/s, batch {batch.get('train_step')}", True),
          ("train_step_scan10", "samples_per_s", "samples/s, 10 steps per call", True),
          ("sample_latency", "ms", "ms per chunk, batch 1", False),
          ("sample_throughput", "chunks_per_s",
           f"chunks/s, batch {batch.get('sample_throughput')}", True),
          ("energy_eval", "samples_per_s", f"samples/s, batch {batch.get('energy_eval')}", True)]
  lines = ["Ratios are efjax speed over torch speed (> 1: efjax faster; for batch-1 latency, "
           "torch ms / efjax ms).", "",
           "| workload | torch eager | efjax f32 | ratio | efjax bf16 | ratio |",
           "|---|---|---|---|---|---|"]
  for workload, key, unit, higher_better in rows:
    ref = torch.get("train_step" if workload == "train_step_scan10" else workload, {}).get(key)
    cells = [f"{workload} ({unit})", f"{ref:,.1f}" if ref else "-"]
    for dtype in ("float32", "bfloat16"):
      val = ours.get((workload, dtype), {}).get(key)
      ratio = (val / ref if higher_better else ref / val) if (val and ref) else None
      cells += [f"{val:,.1f}" if val else "-", f"{ratio:.2f}x" if ratio else "-"]
    lines.append("| " + " | ".join(cells) + " |")
  extra = []
  for dtype in ("float32", "bfloat16"):
    tr = ours.get(("train_step", dtype), {})
    if tr:
      extra.append(f"- train step {dtype}: {tr['step_gflop']:.1f} GFLOP (XLA cost analysis), "
                   f"{tr['achieved_gflops']:.0f} GFLOP/s = {tr['fraction_of_matmul_peak']:.0%} of "
                   f"XLA's float32 matmul peak measured in the same run; compile {tr['compile_s']:.1f} s")
    k = ours.get(("k_levels", dtype), {})
    if k:
      extra.append(f"- K=4 noise levels {dtype}: one call {k['one_call_ms']:.0f} ms vs four K=1 calls "
                   f"{k['k_separate_calls_ms']:.0f} ms ({k['speedup']:.2f}x)")
  peak = ours.get(("matmul_peak", "float32"))
  acc = ours.get(("bf16_accuracy", "bfloat16"))
  if acc:
    extra.append(f"- bf16 accuracy cost (same parameters): energy relative error "
                 f"{acc['energy_rel_error']:.2e}, score relative error {acc['score_rel_error']:.2e}")
  for dtype in ("float32", "bfloat16"):
    for w in ("sample_latency", "sample_throughput", "energy_eval"):
      r = ours.get((w, dtype))
      if r:
        extra.append(f"- compile {w} {dtype}: {r['compile_s']:.1f} s")
  if peak:
    torch_peak = torch.get("matmul_peak", {}).get("gflops")
    extra.append(f"- matmul peak ({peak['n']}^2): XLA f32 {peak['gflops']:.0f} GFLOP/s, XLA "
                 f"bf16-in/f32-acc {peak['bf16_in_f32_acc_gflops']:.0f}"
                 + (f", torch f32 {torch_peak:.0f}" if torch_peak else ""))
  head = [f"Command: `{command}`", ""] if command else []
  return "\n".join(head + lines + [""] + extra) + "\n"


if __name__ == "__main__":
  main()
