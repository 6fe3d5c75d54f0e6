"""Data parallelism: on 8 fake CPU devices a training call matches 1 device, with the
state replicated and with it split FSDP-style."""
import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = r"""
import json, jax, jax.numpy as jnp, numpy as np
from efjax import networks, schedules
from efjax.train import create_train_state, default_optim_config, make_multi_step, make_optimizer, make_train_step
from efjax.train import sharding
assert jax.device_count() == 8
cfg = networks.default_model_config()
cfg.emb_dim, cfg.obs_hidden, cfg.head_hidden = 16, (16,), (16,)
cfg.unet.down_dims, cfg.unet.kernel_size, cfg.unet.num_groups = (8, 16), 3, 4
net = networks.make_network(cfg)
data = {"actions": jax.random.normal(jax.random.key(1), (64, 4, 2)),
        "obs": jax.random.normal(jax.random.key(2), (64, 2, 3))}
optimizer = make_optimizer(default_optim_config())
step = make_train_step(net, schedules.make_schedule(schedules.default_schedule_config()), optimizer)
held = lambda xs: sum(x.addressable_shards[0].data.size for x in xs) / sum(x.size for x in xs)
out = {}
for n, mode in ((1, "replicated"), (8, "replicated"), (8, "fsdp")):
  mesh = sharding.data_mesh(jax.devices()[:n])
  state = create_train_state(net.init(jax.random.key(0), data["actions"][:2], data["obs"][:2],
                                      jnp.zeros(2)), optimizer, jax.random.key(3))
  shardings = sharding.state_shardings(state, mesh, mode, min_size=64)   # tiny net: split most
  state = sharding.place(state, shardings)
  multi = jax.jit(make_multi_step(step, 16, 3, batch_sharding=sharding.batch_sharding(mesh)),
                  out_shardings=(shardings, None))
  replicated = sharding.replicate(data, mesh)
  hlo = multi.lower(state, replicated).compile().as_text()
  state, metrics = multi(state, replicated)
  leaves = jax.tree_util.tree_leaves(state.params)
  mu = jax.tree_util.tree_leaves(state.opt_state)
  out[f"{n}_{mode}"] = {
      "loss": np.asarray(metrics["loss"]).tolist(),
      "params": [np.asarray(x).ravel()[:50].tolist() for x in leaves],
      "devices": len(leaves[0].sharding.device_set), "all_reduce": "all-reduce" in hlo,
      "all_gather": "all-gather" in hlo,
      # the fraction of all parameter / optimizer-state elements that device 0 holds
      "held_params": held(leaves), "held_opt": held([x for x in mu if x.ndim > 0])}
print("RESULT" + json.dumps(out))
"""


def test_eight_devices_match_one():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  root = os.path.join(os.path.dirname(__file__), "..")
  proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                        cwd=root)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][0]
  out = json.loads(line[len("RESULT"):])
  one, eight, fsdp = out["1_replicated"], out["8_replicated"], out["8_fsdp"]
  assert eight["devices"] == 8 and one["devices"] == 1
  assert eight["all_reduce"] and not one["all_reduce"]     # the batch really is split
  assert eight["held_params"] == 1.0 and eight["held_opt"] == 1.0
  assert fsdp["held_params"] < 0.3 and fsdp["held_opt"] < 0.3 and fsdp["all_gather"]
  for other in (eight, fsdp):
    np.testing.assert_allclose(other["loss"], one["loss"], rtol=1e-5)
    for a, b in zip(other["params"], one["params"]):
      np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
