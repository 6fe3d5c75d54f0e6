"""benchmarks/scaling.py: the collectives read from optimized HLO, their bytes and the
time model, against hand computations; the compiled step of tiny models on 8 fake
devices (this file run as a script in a subprocess: the device count is fixed before
jax is imported)."""
import importlib.util
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
_SPEC = importlib.util.spec_from_file_location("benchmarks_scaling",
                                               os.path.join(ROOT, "benchmarks", "scaling.py"))
scaling = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(scaling)

N = 8
# Tiny regression net through efjax.train.make_step (AdamW, EMA, non-finite skip count):
# w1 and w2 have >= MIN_SIZE elements and a largest axis divisible by 8, so fsdp splits
# them; b1 stays replicated.
SHAPES = {"w1": (16, 64), "b1": (64,), "w2": (64, 8)}
MIN_SIZE = 256

HLO = """
  %all-reduce.1 = (f32[100,10]{1,0}, f32[]) all-reduce(f32[100,10]{1,0} %a, f32[] %b), channel_id=1, replica_groups=[1,8]<=[8], use_global_device_ids=true, to_apply=%add
  %all-gather.2 = bf16[64,32]{1,0} all-gather(bf16[16,32]{1,0} %c), channel_id=2, replica_groups=mesh['axis_0'=2,'axis_1'=4] {'axis_1'}, dimensions={0}, use_global_device_ids=true
  %reduce-scatter.3 = f32[16]{0} reduce-scatter(f32[64]{0} %d), channel_id=3, replica_groups={{0,1,2,3},{4,5,6,7}}, dimensions={0}, to_apply=%add
  %all-to-all.4 = f32[8,4]{1,0} all-to-all(f32[8,4]{1,0} %e), replica_groups={}, dimensions={0}
  %collective-permute.5 = f32[10]{0} collective-permute(f32[10]{0} %f), source_target_pairs={{0,1},{1,2}}
  %all-gather-start.6 = ((f32[4,8]{1,0}), f32[32,8]{1,0}) all-gather-start(f32[4,8]{1,0} %g), replica_groups=[2,4]<=[8], dimensions={0}
  %all-gather-done.6 = f32[32,8]{1,0} all-gather-done(((f32[4,8]{1,0}), f32[32,8]{1,0}) %all-gather-start.6)
  %all-reduce.9 = f32[8]{0} all-reduce(f32[8]{0} %i), replica_groups=[4,2]<=[2,4]T(1,0), to_apply=%add
  %all-reduce.10 = f32[8]{0} all-reduce(f32[8]{0} %j), replica_groups=mesh['axis_0'=2,'axis_1'=4] {'axis_0'}, to_apply=%add
  ROOT %all-reduce.7 = f32[5]{0} all-reduce(f32[5]{0} %h), replica_groups={{0},{1},{2},{3},{4},{5},{6},{7}}, to_apply=%add
  %add.8 = f32[5]{0} add(f32[5]{0} %all-reduce.7, f32[5]{0} %h)
"""


def test_collectives_parsed_from_hlo_text_by_hand():
  found = {c["name"]: c for c in scaling.collectives(HLO, N)}
  # all-reduce.7 has groups of one device: it moves nothing and is left out; -done and
  # the add that reads a collective are not collectives
  assert sorted(found) == ["all-gather-start.6", "all-gather.2", "all-reduce.1",
                           "all-reduce.10", "all-reduce.9", "all-to-all.4",
                           "collective-permute.5", "reduce-scatter.3"]
  expect = {  # name: (group, stride, S bytes, sent bytes), by hand
      "all-reduce.1": (8, 1, 100 * 10 * 4 + 4, 2 * 7 / 8 * 4004),      # iota groups of 8
      "all-gather.2": (4, 1, 64 * 32 * 2, 3 / 4 * 4096),               # mesh axis_1: 0..3, bf16
      "reduce-scatter.3": (4, 1, 4 * 16 * 4, 3 / 4 * 256),             # S = operand = 4 x result
      "all-to-all.4": (8, 1, 8 * 4 * 4, 7 / 8 * 128),                  # {} = every device
      "collective-permute.5": (8, 1, 40, 40),                          # sends its buffer
      "all-gather-start.6": (4, 1, 32 * 8 * 4, 3 / 4 * 1024),          # the result, not operand
      "all-reduce.9": (2, 4, 32, 2 * 1 / 2 * 32),     # [0..8) as [2,4], transposed: {0,4}, ...
      "all-reduce.10": (2, 4, 32, 32.0),              # mesh axis_0 of [2,4]: {0,4}, ...
  }
  for name, (group, step, full, sent) in expect.items():
    c = found[name]
    assert (c["group"], c["stride"], c["full_bytes"]) == (group, step, full), name
    assert c["sent_bytes"] == pytest.approx(sent), name
  summary = {(c["op"], c["group"], c["stride"]): (c["count"], c["full_bytes"])
             for c in scaling.summarize(list(found.values()))}
  assert summary[("all-gather", 4, 1)] == (2, 4096 + 1024)
  assert summary[("all-reduce", 2, 4)] == (2, 64) and summary[("all-reduce", 8, 1)] == (1, 4004)


def test_time_model_by_hand():
  hw = dict(peak={"float32": 1e12}, link=1e9, node_link=1e8, devices_per_node=4, devices=8)
  entry = dict(devices=8, batch=64, flops_per_device=8e9, compute_dtype="float32",
               sent_bytes=2 * 7 / 8 * 1e9,
               collectives=[dict(op="all-reduce", group=8, full_bytes=1e9, count=1)])
  # 1e9 FLOPs per sample; at 16 per device and 50 % of 1e12: 0.032 s of compute.
  # Two nodes of 4: ring within the node 2 (3/4) 1e9 / 1e9 = 1.5 s, across the two
  # nodes 2 (1/2) 1e9 / 1e8 = 10 s.
  p = scaling.predict(entry, hw, 16, utilization=0.5)
  assert p["compute_s"] == pytest.approx(0.032)
  assert p["comm_s"] == pytest.approx(11.5)
  assert p["efficiency"] == pytest.approx(0.032 / 11.532)
  assert p["stop_per_device_batch"] == pytest.approx(11.5 * 0.5e12 / 1e9)
  one_level = dict(hw, node_link=None)                          # sent bytes / link
  assert scaling.predict(entry, one_level, 16, 0.5)["comm_s"] == pytest.approx(1.75)
  # Groups of 2: neighbours {0,1} stay in a node (2 (1/2) 1e9 / 1e9 = 1 s); ids 4 apart
  # {0,4} pair the two nodes, one member on each: each node's link carries the 4 groups'
  # 2 (1/2) 1e9 (40 s).
  pair = dict(op="all-reduce", group=2, full_bytes=1e9, count=1)
  assert scaling.comm_seconds(dict(entry, collectives=[dict(pair, stride=1)]), hw) == 1.0
  assert scaling.comm_seconds(dict(entry, collectives=[dict(pair, stride=4)]), hw) == 40.0


def tiny_programs() -> dict:
  """(script mode, 8 devices) The collectives of tiny sharded train steps, in full."""
  import jax
  import jax.numpy as jnp
  sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
  from conftest import tiny_mlp_config
  from efjax.train import create_train_state, default_optim_config, make_optimizer, make_step
  from experiments.configs import paper
  optimizer = make_optimizer(default_optim_config())

  def objective(variables, batch, key):
    p = variables["params"]
    hidden = jnp.tanh(batch["x"] @ p["w1"] + p["b1"])
    return jnp.sum((hidden @ p["w2"] - batch["y"]) ** 2, -1)
  params = {k: jnp.zeros(s) for k, s in SHAPES.items()}
  state = jax.eval_shape(lambda k: create_train_state({"params": params}, optimizer, k),
                         jax.random.key(0))
  batch = {"x": jax.ShapeDtypeStruct((64, 16), jnp.float32),
           "y": jax.ShapeDtypeStruct((64, 8), jnp.float32)}
  out = {}
  for layout in ("replicated", "fsdp"):
    compiled = scaling.compile_sharded(make_step(objective, optimizer), state, batch, N, layout,
                                       min_size=MIN_SIZE)
    out[f"regression_{layout}"] = scaling.collectives(compiled.as_text(), N)
  # the benchmark's own program (DSM step of an energy MLP), replicated
  cfg = paper.get_config()
  cfg.model = tiny_mlp_config()
  cfg.data.update(obs_dim=3, obs_horizon=2, act_dim=2, action_horizon=4)
  step, state, batch, count = scaling.train_step_program(cfg, 64)
  compiled = scaling.compile_sharded(step, state, batch, N, "replicated")
  out["energy_replicated"] = scaling.collectives(compiled.as_text(), N)
  out["energy_params"] = {jax.tree_util.keystr(k): list(x.shape) for k, x in
                          jax.tree_util.tree_flatten_with_path(state.params)[0]}
  out["energy_count"] = count
  return out


@pytest.fixture(scope="module")
def compiled():
  proc = subprocess.run([sys.executable, os.path.abspath(__file__)], capture_output=True,
                        text=True, env=scaling.fake_devices_env(N), cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return json.loads(proc.stdout.strip().splitlines()[-1])


def _size(shape):
  n = 1
  for d in shape:
    n *= d
  return n


def test_replicated_step_all_reduces_the_gradient_once(compiled):
  p = sum(_size(s) for s in SHAPES.values())
  (c,) = compiled["regression_replicated"]              # nothing else crosses devices
  # the float32 gradient (4 bytes x parameters) and the mean loss, in one all-reduce
  assert (c["op"], c["group"], c["full_bytes"]) == ("all-reduce", N, 4 * p + 4)
  assert c["sent_bytes"] == pytest.approx(2 * (N - 1) / N * (4 * p + 4))


def test_fsdp_step_gathers_each_split_parameter_once(compiled):
  found = compiled["regression_fsdp"]
  p = sum(_size(s) for s in SHAPES.values())
  split = _size(SHAPES["w1"]) + _size(SHAPES["w2"])
  gathers = [c for c in found if c["op"] == "all-gather"]
  assert sorted(c["full_bytes"] for c in gathers) == sorted(4 * _size(SHAPES[k])
                                                            for k in ("w1", "w2"))
  assert sum(c["sent_bytes"] for c in gathers) == pytest.approx((N - 1) / N * 4 * split)
  # XLA's CPU pipeline leaves the partitioner's all-reduce (then each device keeps its
  # slice) for the gradient, where GPU and TPU make a reduce-scatter; the remaining
  # all-reduces are scalars (the loss, the split gradient's norm, the finite checks).
  reduces = sorted((c for c in found if c["op"] == "all-reduce"), key=lambda c: -c["full_bytes"])
  assert reduces[0]["full_bytes"] == 4 * p
  assert sum(c["full_bytes"] for c in reduces[1:]) <= 32
  assert {c["op"] for c in found} == {"all-gather", "all-reduce"}


def test_energy_step_all_reduces_twice_the_kernels_on_the_action_path(compiled):
  """The DSM loss reads -grad_a E: every backbone kernel before the last multiplies both
  the primal and the tangent of that gradient, so its gradient is two batch sums, and
  XLA all-reduces the two before adding them."""
  shapes = compiled["energy_params"]
  p = sum(_size(s) for s in shapes.values())
  assert p == compiled["energy_count"]
  kernels = [k for k in shapes if k.startswith("['backbone']") and k.endswith("['kernel']")]
  last = "['backbone']['SpectralLinear_1']['kernel']"
  assert last in kernels and len(kernels) == 4
  twice = sum(_size(shapes[k]) for k in kernels if k != last)
  (c,) = compiled["energy_replicated"]
  assert (c["op"], c["group"]) == ("all-reduce", N)
  assert c["full_bytes"] == 4 * (p + twice) + 4


if __name__ == "__main__":
  print(json.dumps(tiny_programs()))
