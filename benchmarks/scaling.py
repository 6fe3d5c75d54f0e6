"""Scaling on paper: the sharded train step's collectives and FLOPs, from the compiled program.

    python benchmarks/scaling.py                  # every model x layout x device count
    python benchmarks/scaling.py --models paper --devices 8,32 --out /tmp/scaling.json

For the paper network and one 10x wider (every width x10, ~100x the parameters), the
project's train step (efjax.train.make_train_step: power iteration, DSM, AdamW, EMA) is
compiled, never run, on N fake CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=N
must be set before jax is imported, so each N is compiled in its own subprocess), with
the state replicated or FSDP-split (efjax/train/sharding.py, `train.param_sharding`) and
the batch split over the devices, PER_DEVICE_BATCH samples each. From the optimized HLO
come every collective, its shapes and replica groups, and the bytes each device sends
(ring algorithms, `sent_bytes`); from XLA's cost analysis the FLOPs of one device's
program. `predict` turns them into a step time on named hardware (HARDWARE, published
figures):

    compute       = FLOPs per device / (peak FLOP/s x UTILIZATION)
    communication = sum over collectives of ring_factor x bytes / link bandwidth
    step time     = compute + communication           (no overlap assumed)
    efficiency    = T_1 / (N T_N) = compute / (compute + communication)

at a fixed per-device batch b (T_1: one device doing the N devices' work, compute
only). The layout "stops scaling" at the per-device batch b* where communication takes
as long as compute (efficiency 50 % without overlap; the point past which perfect
overlap can no longer hide it): b* = communication x peak x UTILIZATION / (FLOPs per sample).

Writes results/raw/scaling/table.json (every figure, the hardware constants, the
fingerprint) and rebuilds BENCHMARKS.md's generated section from it
(experiments/reports/scaling.py; `python -m experiments.reports.build` does the same).
tests/test_scaling.py checks the byte count against a hand computation on a tiny model.
"""
import argparse
import datetime
import json
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
  sys.path.insert(0, ROOT)

RAW = "scaling/table.json"                 # under results/raw/
DEVICE_COUNTS = (8, 32, 64, 256)
LAYOUTS = ("replicated", "fsdp")
MODELS = ("paper", "wide10")
PER_DEVICE_BATCH = 32                      # the compiled programs' batch per device
UTILIZATION = 0.4                          # assumed fraction of peak FLOP/s the step sustains
PAPER_BATCH = 256                          # experiments/configs/paper.py: train.batch_size

# Published figures, one accelerator. `peak`: dense FLOP/s for the model's compute dtype
# under XLA's default matmul precision (float32 matmuls run as TF32 on H100 and as bf16
# MXU passes on TPU). `link`: bytes/s one device sends in one direction on its fastest
# fabric; `node_link`: bytes/s one node sends between nodes (shared by its devices).
HARDWARE = {
    "h100_node": dict(
        name="1 node, 8x H100 SXM over NVLink 4", devices=8, devices_per_node=8,
        peak={"float32": 494.7e12, "bfloat16": 989.4e12}, link=450e9, node_link=None,
        source="NVIDIA H100 Tensor Core GPU datasheet (SXM): TF32 494.7 and BF16 989.4 "
               "dense TFLOP/s (half the with-sparsity figures), NVLink 900 GB/s per GPU, "
               "450 GB/s each way"),
    "h100_ib": dict(
        name="4 nodes x 8 H100 SXM, one 400 Gb/s InfiniBand link per node", devices=32,
        devices_per_node=8, peak={"float32": 494.7e12, "bfloat16": 989.4e12}, link=450e9,
        node_link=50e9,
        source="as above within a node; NVIDIA ConnectX-7 / Quantum-2 NDR InfiniBand "
               "datasheets: 400 Gb/s = 50 GB/s each way per port, one port per node (a DGX "
               "H100 has eight, which would divide the inter-node time by 8)"),
    "tpu_v5e": dict(
        name="TPU v5e-256 slice (16x16 torus); v5e-64 (8x8) at 64 chips", devices=(64, 256),
        devices_per_node=None, peak={"float32": 197e12, "bfloat16": 197e12}, link=100e9,
        node_link=None,
        source="Google Cloud TPU v5e documentation: 197 TFLOP/s bf16 per chip, inter-chip "
               "interconnect 1,600 Gbps per chip = 200 GB/s, counted like NVLink's 900 GB/s "
               "as both directions together: 100 GB/s each way"),
}

# ------------------------------------------------------------------ parsing the HLO

COLLECTIVES = ("all-reduce", "all-gather", "reduce-scatter", "all-to-all", "collective-permute")
DTYPE_BYTES = {"f64": 8, "f32": 4, "s32": 4, "u32": 4, "bf16": 2, "f16": 2, "s64": 8,
               "u64": 8, "s8": 1, "u8": 1, "pred": 1, "s16": 2, "u16": 2, "c64": 8,
               "c128": 16, "f8e4m3fn": 1, "f8e5m2": 1}
# `%name = SHAPE op(` or `%name = SHAPE op-start(`; SHAPE a tuple `(...)` or one array
_INSTRUCTION = re.compile(r"^\s*(?:ROOT\s+)?%?(?P<name>[\w.\-]+)\s*=\s*(?P<shape>\(.*?\)|\S+)\s+"
                          r"(?P<op>" + "|".join(COLLECTIVES) + r")(?P<start>-start)?\(")
_ARRAY = re.compile(r"\b([a-z]+\d*(?:e\d+m\d+\w*)?)\[([\d,]*)\]")


def shape_bytes(text: str) -> int:
  """Bytes of an HLO shape ('f32[64,128]{1,0}', a tuple of them, or several)."""
  total = 0
  for dtype, dims in _ARRAY.findall(text):
    if dtype not in DTYPE_BYTES:
      continue
    n = 1
    for d in dims.split(","):
      if d:
        n *= int(d)
    total += n * DTYPE_BYTES[dtype]
  return total


def first_group(line: str, num_devices: int) -> list[int]:
  """The device ids of the replica group holding device 0, for one collective instruction.

  Three spellings: iota `replica_groups=[G,S]<=[d0,d1,...]T(perm)` (G groups of S: ids
  0..N-1 laid out as [d0,d1,...], transposed by perm, cut into rows of S), explicit
  `{{0,1},{2,3}}`, and the mesh form `mesh['axis_0'=2,'axis_1'=4] {'axis_1'}` (ids laid
  out row-major over the mesh; a group varies the named axes). collective-permute's
  source_target_pairs and an empty `{}` mean every one of `num_devices`.
  """
  import numpy as np
  iota = re.search(r"replica_groups=\[(\d+),(\d+)\]<=\[([\d,]+)\](?:T\(([\d,]+)\))?", line)
  if iota:
    dims = [int(d) for d in iota[3].split(",")]
    ids = np.arange(int(np.prod(dims))).reshape(dims)
    if iota[4]:
      ids = ids.transpose([int(p) for p in iota[4].split(",")])
    return ids.reshape(int(iota[1]), int(iota[2]))[0].tolist()
  mesh = re.search(r"replica_groups=mesh\[(?P<axes>[^\]]*)\]\s*\{(?P<over>[^}]*)\}", line)
  if mesh:
    axes = re.findall(r"'([^']+)'=(\d+)", mesh["axes"])
    over = set(re.findall(r"'([^']+)'", mesh["over"]))
    ids = np.arange(int(np.prod([int(n) for _, n in axes]))).reshape([int(n) for _, n in axes])
    return ids[tuple(slice(None) if a in over else 0 for a, _ in axes)].ravel().tolist()
  explicit = re.search(r"replica_groups=\{\{([\d,\s]*)\}", line)
  if explicit:
    return [int(d) for d in explicit[1].split(",") if d.strip()]
  return list(range(num_devices))


def group_size(line: str, num_devices: int) -> int:
  """Devices per replica group of one collective instruction (see first_group)."""
  return len(first_group(line, num_devices))


def stride(members: list[int]) -> int | None:
  """The step between a group's device ids (1: neighbours), None when they are uneven."""
  steps = {b - a for a, b in zip(members, members[1:])}
  return steps.pop() if len(steps) == 1 else (1 if len(members) == 1 else None)


def ring_factor(op: str, n: int) -> float:
  """Bytes one device sends per byte of the collective's size S (see collectives)."""
  if n <= 1:
    return 0.0
  if op == "all-reduce":
    return 2 * (n - 1) / n
  if op in ("all-gather", "reduce-scatter", "all-to-all"):
    return (n - 1) / n
  return 1.0                                # collective-permute: each device sends its buffer


def collectives(hlo: str, num_devices: int) -> list[dict]:
  """Every collective of an optimized HLO module (`compiled.as_text()`).

  Each: op, name, dtypes, group (devices per replica group), stride (between the ids
  in device 0's group: 1 for neighbours, None if uneven), full_bytes S and
  sent_bytes = ring_factor(op, group) x S, what each device sends under ring
  algorithms. S is the whole reduced array (all-reduce: its result), the whole gathered
  array (all-gather: its result), the whole array before scattering (reduce-scatter:
  its operand = result x group), the per-device buffer (all-to-all, collective-permute).
  An async pair (`-start` / `-done`) counts once, at its start, whose tuple shape lists
  the operands then the results (all-reduce-start: the results only). Collectives with a group of 1 move nothing and are left out.
  """
  out = []
  for line in hlo.splitlines():
    found = _INSTRUCTION.match(line)
    if not found:
      continue
    op, shape = found["op"], found["shape"]
    arrays = _ARRAY.findall(shape)
    if found["start"] and shape.startswith("(") and op != "all-reduce" and len(arrays) >= 2:
      # (operands, results): the results; collective-permute: (operand, result, contexts)
      arrays = arrays[1:2] if op == "collective-permute" else arrays[len(arrays) // 2:]
    result = sum(shape_bytes(f"{d}[{s}]") for d, s in arrays)
    members = first_group(line, num_devices)
    n = len(members)
    if n <= 1:
      continue
    full = result * n if op == "reduce-scatter" else result
    out.append(dict(op=op, name=found["name"], dtypes=sorted({d for d, _ in arrays}), group=n,
                    stride=stride(members), arrays=len(arrays), full_bytes=full,
                    sent_bytes=ring_factor(op, n) * full))
  return out


def ideal_sent_bytes(params: int, split: int, num_devices: int) -> float:
  """Bytes per device a data-parallel float32 step needs at least: the gradient of the
  replicated parameters all-reduced; the split ones (fsdp) all-gathered once and their
  gradient reduce-scattered (ZeRO-3 without re-gathering for the backward pass)."""
  n = num_devices
  return 4 * (ring_factor("all-reduce", n) * (params - split)
              + 2 * ring_factor("all-gather", n) * split)


def summarize(found: list[dict]) -> list[dict]:
  """`collectives(...)`'s list grouped by (op, group, stride): [{op, group, stride, count,
  arrays, full_bytes, sent_bytes}], sorted."""
  by = {}
  for c in found:
    key = (c["op"], c["group"], c["stride"])
    agg = by.setdefault(key, dict(op=c["op"], group=c["group"], stride=c["stride"], count=0,
                                  arrays=0, full_bytes=0, sent_bytes=0.0))
    agg["count"] += 1
    agg["arrays"] += c["arrays"]
    agg["full_bytes"] += c["full_bytes"]
    agg["sent_bytes"] += c["sent_bytes"]
  return [by[k] for k in sorted(by, key=lambda k: (k[0], k[1], k[2] or 0))]


# ------------------------------------------------------------------ compiling the step


def model_config(name: str):
  """The paper's config, or every width of it x10, with XLA's convolution.

  conv_impl 'xla' (lax.conv) is what `auto` picks on GPU and TPU; on CPU `auto` would
  pick matmul forms whose weight gradients are larger than the kernels, and those
  would be all-reduced instead.
  """
  from experiments.configs import paper
  cfg = paper.get_config()
  cfg.model.unet.conv_impl = "xla"
  if name == "wide10":
    m = cfg.model
    m.emb_dim *= 10
    m.obs_hidden = tuple(10 * w for w in m.obs_hidden)
    m.head_hidden = tuple(10 * w for w in m.head_hidden)
    m.unet.down_dims = tuple(10 * w for w in m.unet.down_dims)
  elif name != "paper":
    raise ValueError(f"unknown model {name!r} (one of {MODELS})")
  return cfg


def compile_sharded(step, state, batch, num_devices: int, layout: str, min_size=None):
  """`step(state, batch)` jitted with the state laid out by efjax.train.sharding
  ('replicated' or 'fsdp') and the batch split, over the first `num_devices` devices;
  `state` and `batch` are abstract (jax.ShapeDtypeStruct trees). Lowered and compiled,
  never run."""
  import jax
  from efjax.train import sharding
  mesh = sharding.data_mesh(jax.devices()[:num_devices])
  kwargs = {} if min_size is None else {"min_size": min_size}
  state_sharding = sharding.state_shardings(state, mesh, layout, **kwargs)
  batch_sharding = jax.tree_util.tree_map(lambda _: sharding.batch_sharding(mesh), batch)
  jitted = jax.jit(step, in_shardings=(state_sharding, batch_sharding),
                   out_shardings=(state_sharding, None), donate_argnums=0)
  return jitted.lower(state, batch).compile()


def train_step_program(cfg, global_batch: int):
  """(make_train_step(...), abstract state, abstract batch, parameter count) for `cfg`."""
  import jax
  import jax.numpy as jnp
  from efjax import networks, schedules
  from efjax.train import create_train_state, make_optimizer, make_train_step
  net = networks.make_network(cfg.model)
  d = cfg.data
  optimizer = make_optimizer(cfg.optim)
  step = make_train_step(net, schedules.make_schedule(cfg.schedule), optimizer,
                         cfg.train.num_levels, cfg.train.ema)
  act = jnp.zeros((2, d.action_horizon, d.act_dim))
  obs = jnp.zeros((2, d.obs_horizon, d.obs_dim))
  state = jax.eval_shape(lambda k: create_train_state(net.init(k, act, obs, jnp.zeros(2)),
                                                      optimizer, k), jax.random.key(0))
  batch = {"actions": jax.ShapeDtypeStruct((global_batch, d.action_horizon, d.act_dim),
                                           jnp.float32),
           "obs": jax.ShapeDtypeStruct((global_batch, d.obs_horizon, d.obs_dim), jnp.float32)}
  params = sum(int(x.size) for x in jax.tree_util.tree_leaves(state.params))
  return step, state, batch, params


def analyze(compiled, num_devices: int) -> dict:
  """The compiled program's collectives (summarized and in full), FLOPs and memory."""
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  found = collectives(compiled.as_text(), num_devices)
  memory = compiled.memory_analysis()
  return dict(flops_per_device=float(cost.get("flops", 0.0)),
              bytes_accessed_per_device=float(cost.get("bytes accessed", 0.0)),
              collectives=summarize(found),
              sent_bytes=sum(c["sent_bytes"] for c in found),
              full_bytes=sum(c["full_bytes"] for c in found),
              argument_bytes=getattr(memory, "argument_size_in_bytes", None),
              temp_bytes=getattr(memory, "temp_size_in_bytes", None))


def with_stderr(fn):
  """(fn(), what was written to file descriptor 2 meanwhile, XLA's C++ logging included)."""
  import tempfile
  sys.stderr.flush()
  with tempfile.TemporaryFile() as log:
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
      out = fn()
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
    log.seek(0)
    text = log.read().decode(errors="replace")
  sys.stderr.write(text)
  return out, text


def measure(model: str, num_devices: int, layout: str,
            per_device_batch: int = PER_DEVICE_BATCH) -> dict:
  """One entry of the raw file: `model`'s train step at `num_devices`, `layout`."""
  import jax
  if jax.device_count() < num_devices:
    raise SystemExit(f"needs {num_devices} devices: XLA_FLAGS="
                     f"--xla_force_host_platform_device_count={num_devices}")
  cfg = model_config(model)
  batch = num_devices * per_device_batch
  step, state, data, params = train_step_program(cfg, batch)
  from efjax.train import sharding
  start = time.perf_counter()
  compiled, log = with_stderr(lambda: compile_sharded(step, state, data, num_devices, layout))
  compile_s = time.perf_counter() - start
  # parameters fsdp splits (the rest stay replicated under either layout)
  split = sum(int(x.size) for x in jax.tree_util.tree_leaves(state.params)
              if layout == "fsdp" and sharding.fsdp_spec(x.shape, num_devices) != sharding.P())
  return dict(model=model, devices=num_devices, layout=layout, batch=batch, params=params,
              split_params=split, compute_dtype=cfg.model.compute_dtype,
              compile_s=round(compile_s, 1),
              # XLA's SPMD partitioner, when it cannot reshard an array from one split to
              # another and gathers it whole first (a warning on stderr)
              involuntary_rematerializations=log.count("Involuntary full rematerialization"),
              ideal_sent_bytes=ideal_sent_bytes(
                  params, split, num_devices), **analyze(compiled, num_devices))


def worker(num_devices: int, models, layouts) -> None:
  """One subprocess: every (model, layout) at `num_devices`, one JSON line each."""
  for model in models:
    for layout in layouts:
      print(json.dumps(measure(model, num_devices, layout)), flush=True)


def fake_devices_env(num_devices: int) -> dict:
  """The environment of a subprocess that sees `num_devices` CPU devices."""
  flags = [f for f in os.environ.get("XLA_FLAGS", "").split()
           if not f.startswith("--xla_force_host_platform_device_count")]
  return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=" ".join(
      flags + [f"--xla_force_host_platform_device_count={num_devices}"]))


def run_worker(num_devices: int, models=MODELS, layouts=LAYOUTS) -> list:
  """Runs `worker` in a subprocess with `num_devices` fake devices; its entries."""
  proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker",
                           str(num_devices), "--models", ",".join(models), "--layouts",
                           ",".join(layouts)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=fake_devices_env(num_devices), cwd=ROOT)
  entries = []
  for line in proc.stdout:
    if line.startswith("{"):
      entries.append(json.loads(line))
      e = entries[-1]
      print(f"scaling: {e['model']} {e['layout']} N={num_devices}: compiled in "
            f"{e['compile_s']} s, sends {e['sent_bytes'] / 1e6:.1f} MB per device",
            file=sys.stderr, flush=True)
  err = proc.stderr.read()
  if proc.wait():
    raise RuntimeError(f"scaling worker ({num_devices} devices) failed:\n{err[-3000:]}")
  return entries


# ------------------------------------------------------------------ the time model


def comm_seconds(entry: dict, hw: dict) -> float:
  """Seconds the entry's collectives take on `hw`, bandwidth terms only (no latency).

  One level (a node, a TPU torus): sent bytes / link. Two levels (`node_link`: nodes of
  g = `devices_per_node`, device ids numbered node by node), hierarchically: a group of
  n devices with ids `stride` apart spans k nodes with m = n / k members on each; its
  ring runs within each node over the link (ring_factor(m) S / link), then across
  nodes, where a node's link carries the share of S of each of the g / m groups with
  members on it (g / m x ring_factor(k) S / node_link). all-to-all sends (n - m) / n of
  each device's buffer off the node, for all g devices; collective-permute across
  nodes is charged as if every device's buffer crossed. A group of uneven stride is
  taken to span min(n, nodes) nodes.
  """
  g = hw.get("devices_per_node")
  if not hw.get("node_link") or not g:
    return entry["sent_bytes"] / hw["link"]
  nodes = entry["devices"] // g
  total = 0.0
  for c in entry["collectives"]:
    n, s, op = c["group"], c["full_bytes"], c["op"]
    if c.get("stride"):
      k = len({i * c["stride"] // g for i in range(n)})
    else:
      k = min(n, nodes)
    m = n // k
    if k == 1:
      total += ring_factor(op, n) * s / hw["link"]
    elif op == "all-to-all":
      total += (m - 1) / n * s / hw["link"] + g * (n - m) / n * s / hw["node_link"]
    elif op == "collective-permute":
      total += g * s / hw["node_link"]
    else:
      total += ring_factor(op, m) * s / hw["link"] \
          + g / m * ring_factor(op, k) * s / hw["node_link"]
  return total


def predict(entry: dict, hw: dict, per_device_batch: float,
            utilization: float = UTILIZATION) -> dict:
  """Step time and its parts, efficiency and the stop-scaling batch at a per-device batch.

  FLOPs scale with the batch from the compiled one (FLOPs per sample = the program's
  FLOPs / its per-device batch; the optimizer's few FLOPs per parameter ride along).
  """
  flops_per_sample = entry["flops_per_device"] * entry["devices"] / entry["batch"]
  rate = hw["peak"][entry["compute_dtype"]] * utilization
  compute = flops_per_sample * per_device_batch / rate
  comm = comm_seconds(entry, hw)
  return dict(per_device_batch=per_device_batch, compute_s=compute, comm_s=comm,
              step_s=compute + comm, efficiency=compute / (compute + comm),
              efficiency_overlapped=compute / max(compute, comm),
              stop_per_device_batch=comm * rate / flops_per_sample)


def predictions(entries: list, utilization: float = UTILIZATION) -> list:
  """Every (hardware, entry) whose device count the hardware has: at the compiled batch
  per device and at the paper's global batch (256 / N per device)."""
  out = []
  for key, hw in HARDWARE.items():
    counts = hw["devices"] if isinstance(hw["devices"], tuple) else (hw["devices"],)
    for e in entries:
      if e["devices"] not in counts:
        continue
      at = predict(e, hw, e["batch"] / e["devices"], utilization)
      paper = predict(e, hw, PAPER_BATCH / e["devices"], utilization)
      out.append(dict(hardware=key, model=e["model"], layout=e["layout"], devices=e["devices"],
                      compiled_batch=at, paper_batch=paper,
                      stop_per_device_batch=at["stop_per_device_batch"],
                      stop_global_batch=at["stop_per_device_batch"] * e["devices"]))
  return out


# ------------------------------------------------------------------ the command


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
  p.add_argument("--models", default=",".join(MODELS))
  p.add_argument("--layouts", default=",".join(LAYOUTS))
  p.add_argument("--devices", default=",".join(map(str, DEVICE_COUNTS)))
  p.add_argument("--utilization", type=float, default=UTILIZATION,
                 help="assumed fraction of peak FLOP/s sustained")
  p.add_argument("--out", default=None, help="raw JSON (default: results/raw/" + RAW
                 + ", and BENCHMARKS.md's section is rebuilt from it)")
  args = p.parse_args(argv)
  models, layouts = args.models.split(","), args.layouts.split(",")
  if args.worker:
    worker(args.worker, models, layouts)
    return
  command = shlex.join(["python", "benchmarks/scaling.py"]
                       + (sys.argv[1:] if argv is None else list(argv)))
  start = time.perf_counter()
  entries = []
  for n in map(int, args.devices.split(",")):
    entries += run_worker(n, models, layouts)
  from efjax import provenance
  record = dict(
      benchmark="scaling", command=command,
      date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
      wall_s=round(time.perf_counter() - start),
      settings=dict(per_device_batch=PER_DEVICE_BATCH, utilization=args.utilization,
                    overlap=False, paper_batch=PAPER_BATCH, conv_impl="xla"),
      hardware=HARDWARE,
      models={m: dict(config_hash=provenance.config_hash(model_config(m))) for m in models},
      entries=entries, predictions=predictions(entries, args.utilization),
      fingerprint=provenance.fingerprint())
  path = args.out or os.path.join(ROOT, "results", "raw", RAW)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  with open(path, "w") as f:
    json.dump(record, f, indent=1)
    f.write("\n")
  print(f"scaling: wrote {path}", file=sys.stderr)
  from experiments.reports import scaling as report
  if args.out is None:
    from experiments.reports import build
    build.rebuild([RAW])
    print("scaling: rebuilt BENCHMARKS.md's section", file=sys.stderr)
  print(report.benchmarks_section(record))


if __name__ == "__main__":
  main()
