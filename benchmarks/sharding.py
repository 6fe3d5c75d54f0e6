"""One training call on 8 devices (replicated and FSDP) against 1 device: correctness.

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python benchmarks/sharding.py
    python benchmarks/sharding.py --record   # runs the above in a subprocess: writes
                 # results/raw/benchmarks/sharding.json, rebuilds BENCHMARKS.md's section

Prints one JSON line: per layout, the losses of 3 steps, the first parameters, the
devices used, which collectives XLA inserted and the share of the state device 0
holds. On fake CPU devices this is about correctness, not speed (8 "devices" share
2 cores). tests/test_sharding.py runs this script and checks its output;
benchmarks/run_all.py calls run(args), which runs it in a subprocess.
"""
import json
import os
import shlex
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from efjax import provenance  # noqa: E402
from experiments.reports import build  # noqa: E402
from experiments.reports.benchmarks import sharding_section  # noqa: E402

RAW_NAME = "benchmarks/sharding.json"     # under results/raw/ (experiments/reports/build.py)
TITLE = "Sharded training step (`benchmarks/sharding.py`)"
LAYOUTS = ((1, "replicated"), (8, "replicated"), (8, "fsdp"))


def compare() -> dict:
  """{'<devices>_<mode>': facts} for LAYOUTS, from one process with >= 8 devices."""
  import jax
  import jax.numpy as jnp
  import numpy as np
  sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
  from efjax import networks, schedules
  from efjax.train import (create_train_state, default_optim_config, make_multi_step,
                           make_optimizer, make_train_step, sharding)
  if jax.device_count() < 8:
    raise SystemExit("needs 8 devices: XLA_FLAGS=--xla_force_host_platform_device_count=8")
  cfg = networks.default_model_config()
  cfg.emb_dim, cfg.obs_hidden, cfg.head_hidden = 16, (16,), (16,)
  cfg.unet.down_dims, cfg.unet.kernel_size, cfg.unet.num_groups = (8, 16), 3, 4
  net = networks.make_network(cfg)
  data = {"actions": jax.random.normal(jax.random.key(1), (64, 4, 2)),
          "obs": jax.random.normal(jax.random.key(2), (64, 2, 3))}
  optimizer = make_optimizer(default_optim_config())
  step = make_train_step(net, schedules.make_schedule(schedules.default_schedule_config()),
                         optimizer)
  held = lambda xs: sum(x.addressable_shards[0].data.size for x in xs) / sum(x.size for x in xs)  # noqa: E731
  out = {}
  for n, mode in LAYOUTS:
    mesh = sharding.data_mesh(jax.devices()[:n])
    state = create_train_state(net.init(jax.random.key(0), data["actions"][:2], data["obs"][:2],
                                        jnp.zeros(2)), optimizer, jax.random.key(3))
    shardings = sharding.state_shardings(state, mesh, mode, min_size=64)  # tiny net: split most
    state = sharding.place(state, shardings)
    multi = jax.jit(make_multi_step(step, 16, 3, batch_sharding=sharding.batch_sharding(mesh)),
                    out_shardings=(shardings, None))
    replicated = sharding.replicate(data, mesh)
    hlo = multi.lower(state, replicated).compile().as_text()
    state, metrics = multi(state, replicated)
    leaves = jax.tree_util.tree_leaves(state.params)
    moments = [x for x in jax.tree_util.tree_leaves(state.opt_state) if x.ndim > 0]
    out[f"{n}_{mode}"] = {
        "loss": np.asarray(metrics["loss"]).tolist(),
        "params": [np.asarray(x).ravel()[:50].tolist() for x in leaves],
        "devices": len(leaves[0].sharding.device_set), "all_reduce": "all-reduce" in hlo,
        "all_gather": "all-gather" in hlo,
        # the share of all parameter / optimizer-state elements that device 0 holds
        "held_params": held(leaves), "held_opt": held(moments)}
  return out


def run_subprocess() -> dict:
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  proc = subprocess.run([sys.executable, os.path.abspath(__file__)], capture_output=True,
                        text=True, env=env, cwd=os.path.join(os.path.dirname(__file__), ".."))
  if proc.returncode:
    raise RuntimeError(f"benchmarks/sharding.py failed: {proc.stderr[-2000:]}")
  return json.loads(proc.stdout.strip().splitlines()[-1])


def raw_record(command: str) -> dict:
  start = time.perf_counter()
  layouts = run_subprocess()
  return {"benchmark": "sharding", "layouts": layouts,
          **provenance.result_header(command, start, {"layouts": [list(x) for x in LAYOUTS]})}


def run(args) -> str:
  """benchmarks/run_all.py's section: differences to 1 device and the state's split
  (published from results/raw/benchmarks/sharding.json by a full run into BENCHMARKS.md)."""
  raw = raw_record(shlex.join(["python", "benchmarks/run_all.py"] + sys.argv[1:]))
  return build.benchmark_section(args, RAW_NAME, raw, sharding_section(raw))


if __name__ == "__main__":
  if "--record" in sys.argv[1:]:      # the published figures: raw record, section rebuilt
    raw = raw_record("python benchmarks/sharding.py --record")
    print(sharding_section(raw))
    build.record({RAW_NAME: raw})
  else:
    print(json.dumps(compare()))
