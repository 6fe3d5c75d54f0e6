"""Core throughput and latency of the paper network, against XLA's own matmul peak.

    python benchmarks/core.py                         # every workload, JSON lines
    python benchmarks/core.py --only train,sample_b1  # some
    python benchmarks/core.py --dtype bfloat16        # bf16 matmul inputs, f32 accumulation
    python benchmarks/core.py --compare_torch --markdown BENCHMARKS.md   # back to back with
                                                      # ../shared/anchors/reference_torch.py

Workloads (shapes of ../shared/anchors/: obs 39 x 2, actions 4 x 16, 4,812,032 params):
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
"""
import argparse
import json
import os
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from efjax import energy, losses, networks, samplers, schedules  # noqa: E402
from efjax.train import (create_train_state, make_multi_step, make_optimizer,  # noqa: E402
                         make_train_step)
from experiments.configs import paper  # noqa: E402

WORKLOADS = ("matmul_peak", "train", "k_levels", "sample_b1", "sample_b256", "energy", "accuracy")


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
  def __init__(self, dtype, warmup, repeats):
    self.cfg = paper.get_config("bf16" if dtype == "bfloat16" else "")
    self.dtype, self.warmup, self.repeats = dtype, warmup, repeats
    d = self.cfg.data
    self.act_shape, self.obs_shape = (d.action_horizon, d.act_dim), (d.obs_horizon, d.obs_dim)
    self.net = networks.make_network(self.cfg.model)
    self.schedule = schedules.make_schedule(self.cfg.schedule)
    self.variables = self.net.init(jax.random.key(0), *self.inputs(2))
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
    n = 2048
    x, y = jax.random.normal(jax.random.key(0), (n, n)), jax.random.normal(jax.random.key(1), (n, n))
    t, _, _ = timed(lambda x, y: x @ y, (x, y), 3, max(self.repeats, 10))
    xb, yb = x.astype(jnp.bfloat16), y.astype(jnp.bfloat16)
    tb, _, _ = timed(lambda x, y: jnp.matmul(x, y, preferred_element_type=jnp.float32),
                     (xb, yb), 3, max(self.repeats, 10))
    self.peak = 2 * n**3 / t / 1e9
    return self.emit(workload="matmul_peak", n=n, gflops=self.peak,
                     bf16_in_f32_acc_gflops=2 * n**3 / tb / 1e9)

  def train(self):
    batch = 256
    optimizer = make_optimizer(self.cfg.optim)
    step = make_train_step(self.net, self.schedule, optimizer, 1, self.cfg.train.ema)
    state = create_train_state(self.variables, optimizer, jax.random.key(2))
    actions, obs, _ = self.inputs(batch)
    t, compile_s, flops = timed(step,   # the whole new state: nothing is pruned away
                                (state, {"actions": actions, "obs": obs}),
                                self.warmup, self.repeats)
    achieved = flops / t / 1e9
    self.emit(workload="train_step", batch=batch, samples_per_s=batch / t,
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
    return self.emit(workload="train_step_scan10", batch=batch, samples_per_s=batch / t_scan,
                     step_ms=1e3 * t_scan, compile_s=compile_scan, achieved_gflops=achieved_scan,
                     fraction_of_matmul_peak=achieved_scan / self.peak if self.peak else None)

  def k_levels(self):
    batch, k = 256, 4
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
    _, obs, _ = self.inputs(256)
    t, compile_s, _ = timed(self._sample_fn(), (self.variables, obs, jax.random.key(0)),
                            self.warmup, self.repeats)
    return self.emit(workload="sample_throughput", batch=256,
                     ode_steps=self.cfg.sampler.num_steps, chunks_per_s=256 / t,
                     compile_s=compile_s)

  def energy(self):
    actions, obs, _ = self.inputs(4096)
    t_end = jnp.full((4096,), 1e-3)
    t, compile_s, _ = timed(lambda v, a, o: energy.energy(self.net, v, a, o, t_end),
                            (self.variables, actions, obs), self.warmup, self.repeats)
    return self.emit(workload="energy_eval", batch=4096, samples_per_s=4096 / t,
                     compile_s=compile_s)

  def accuracy(self):
    """bf16 against float32 on the same parameters and inputs."""
    cfg = paper.get_config("bf16").model
    bf16 = networks.make_network(cfg)
    f32 = networks.make_network(paper.get_config().model)
    actions, obs, t = self.inputs(256)
    rel = lambda a, b: float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))  # noqa: E731
    e = [jax.jit(lambda a, o, t, n=n: energy.energy(n, self.variables, a, o, t))(actions, obs, t)
         for n in (bf16, f32)]
    s = [jax.jit(lambda a, o, t, n=n: energy.score(n, self.variables, a, o, t))(actions, obs, t)
         for n in (bf16, f32)]
    return self.emit(workload="bf16_accuracy", energy_rel_error=rel(*e), score_rel_error=rel(*s))


def run_torch(only):
  script = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "anchors",
                        "reference_torch.py")
  cmd = [sys.executable, script] + (["--only", only] if only else [])
  out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
  return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--only", default=",".join(WORKLOADS))
  p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
  p.add_argument("--warmup", type=int, default=3)
  p.add_argument("--repeats", type=int, default=10)
  p.add_argument("--compare_torch", action="store_true",
                 help="run ../shared/anchors/reference_torch.py first, in a subprocess")
  p.add_argument("--markdown", default=None,
                 help="with --compare_torch: write the comparison table to this file")
  args = p.parse_args()
  results = []
  if args.compare_torch:
    for r in run_torch(None):
      print(json.dumps(r), flush=True)
      results.append(r)
  only = args.only.split(",")
  for dtype in ([args.dtype] if not args.compare_torch else ["float32", "bfloat16"]):
    bench = Bench(dtype, args.warmup, args.repeats)
    results.append(bench.matmul_peak())
    for name in only:
      if name == "matmul_peak" or (name == "accuracy" and dtype == "float32" and args.compare_torch):
        continue
      results.append(getattr(bench, name)())
  if args.markdown and args.compare_torch:
    with open(args.markdown, "w") as f:
      f.write(markdown_report(results, " ".join(sys.argv)))
  return results


def markdown_report(results, command: str) -> str:
  """The comparison table: torch eager vs efjax float32 and bfloat16, as ratios."""
  torch = {r["workload"]: r for r in results if r.get("framework") == "torch"}
  ours = {(r["workload"], r["dtype"]): r for r in results if r.get("framework") == "jax"}
  rows = [("train_step", "samples_per_s", "samples/s, batch 256", True),
          ("train_step_scan10", "samples_per_s", "samples/s, 10 steps per call", True),
          ("sample_latency", "ms", "ms per chunk, batch 1", False),
          ("sample_throughput", "chunks_per_s", "chunks/s, batch 256", True),
          ("energy_eval", "samples_per_s", "samples/s, batch 4096", True)]
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
    extra.append(f"- matmul peak: XLA f32 {peak['gflops']:.0f} GFLOP/s, XLA bf16-in/f32-acc "
                 f"{peak['bf16_in_f32_acc_gflops']:.0f}, torch f32 "
                 f"{torch.get('matmul_peak', {}).get('gflops', 0):.0f}")
  return "\n".join([f"Command: `{command}`", ""] + lines + [""] + extra) + "\n"


if __name__ == "__main__":
  main()
