"""benchmarks/torch_reference.py: the PyTorch side of the core benchmark is the same network.

Checked two ways: against efjax's own paper network (weights copied across, same
energy and score), and, where the authors' rebuild sits beside the repository in
../shared/anchors/reference_torch.py, against that (parameter count, and the same
outputs once its weights are copied into ours by name). Skips without torch.
"""
import importlib.util
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import traverse_util

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch==2.13.0)")

ROOT = os.path.join(os.path.dirname(__file__), "..")
AUTHORS = os.path.join(ROOT, "..", "shared", "anchors", "reference_torch.py")
PARAMS = 4_812_032


def _load(name, path):
  spec = importlib.util.spec_from_file_location(name, path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


ours = _load("efjax_torch_reference", os.path.join(ROOT, "benchmarks", "torch_reference.py"))


def _inputs(b=5, seed=0):
  g = torch.Generator().manual_seed(seed)
  return (torch.randn(b, 16, 4, generator=g), torch.randn(b, 2, 39, generator=g),
          torch.rand(b, generator=g))


def _rel(a, b):
  a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
  return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_parameter_count_is_the_papers():
  assert ours.num_params(ours.EnergyUNet()) == PARAMS


def test_same_energy_and_score_as_efjax_network():
  from efjax import energy, networks
  from efjax.networks import power_iteration
  from experiments.configs import paper
  net = networks.make_network(paper.get_config().model)
  actions, obs, t = _inputs()
  a, o, tt = (jnp.asarray(x.numpy()) for x in (actions, obs, t))
  # Random variables of the network's shapes (net.init itself takes tens of seconds here).
  shapes = jax.eval_shape(net.init, jax.random.key(3), a, o, tt)
  rng = np.random.default_rng(3)
  flat, tree = {}, {}
  for path, x in traverse_util.flatten_dict(shapes).items():
    if path[0] == "params":
      fan_in = int(np.prod(x.shape[:-1])) if len(x.shape) > 1 else 100
      tree[path] = rng.uniform(-1, 1, x.shape).astype(np.float32) / np.sqrt(fan_in)
      flat["/".join(path)] = tree[path]
  for path, _ in traverse_util.flatten_dict(shapes["spectral"]).items():
    # (u, v): the kernel's leading singular vectors, then perturbed (the iteration moves them).
    u, _, vt = np.linalg.svd(tree[("params",) + path[:-1] + ("kernel",)].T)
    uv = tuple(w / np.linalg.norm(w) for w in (u[:, 0] + 0.1 * rng.normal(size=u.shape[0]),
                                               vt[0] + 0.1 * rng.normal(size=vt.shape[1])))
    tree[("spectral",) + path] = tuple(w.astype(np.float32) for w in uv)
    flat.update({"/".join(("spectral",) + path + (str(i),)): w
                 for i, w in enumerate(tree[("spectral",) + path])})
  variables = jax.tree_util.tree_map(jnp.asarray, traverse_util.unflatten_dict(tree))
  model = ours.EnergyUNet()
  ours.load_efjax(model, flat)
  model.eval()
  both = jax.jit(lambda v: (energy.energy(net, v, a, o, tt), energy.score(net, v, a, o, tt)))
  e_jax, s_jax = both(variables)
  with torch.no_grad():
    e_torch = model(actions, obs, t)
  s_torch = ours.score(model, actions, obs, t)
  assert _rel(e_torch, e_jax) < 1e-5
  assert _rel(s_torch, s_jax) < 1e-4
  # Training mode: one power iteration first, on both sides.
  variables = {**variables, "spectral": power_iteration(variables["params"],
                                                        variables["spectral"])}
  model.train()
  with torch.no_grad():
    e_train = model(actions, obs, t)
  assert _rel(e_train, both(variables)[0]) < 1e-5


# The authors' rebuild's state_dict keys -> ours.
_RENAME = [
    (r"^time_embedding\.mlp\.0\.", "time_mlp.fc1."),
    (r"^time_embedding\.mlp\.2\.", "time_mlp.fc2."),
    (r"^obs_encoder\.0\.", "state_mlp.0."),
    (r"^obs_encoder\.2\.", "state_mlp.1."),
    (r"^down\.(\d)\.([01])\.", r"encoder.\1.\2."),
    (r"^down\.(\d)\.2\.", r"downsample.\1."),
    (r"^mid\.", "bottleneck."),
    (r"^up\.(\d)\.([01])\.", r"decoder.\1.\2."),
    (r"^up\.(\d)\.2\.1\.", r"upsample.\1."),
    (r"\.block1\.0\.", ".conv_a.conv."), (r"\.block1\.1\.", ".conv_a.norm."),
    (r"\.block2\.0\.", ".conv_b.conv."), (r"\.block2\.1\.", ".conv_b.norm."),
    (r"\.film\.", ".modulation."), (r"\.skip\.", ".shortcut."),
    (r"^head\.(\d)\.weight_orig$", lambda m: f"head.{int(m[1]) // 2}.linear.weight"),
    (r"^head\.(\d)\.bias$", lambda m: f"head.{int(m[1]) // 2}.linear.bias"),
    (r"^head\.(\d)\.weight_u$", lambda m: f"head.{int(m[1]) // 2}.u"),
    (r"^head\.(\d)\.weight_v$", lambda m: f"head.{int(m[1]) // 2}.v"),
]


def _rename(key):
  for pattern, new in _RENAME:
    key = re.sub(pattern, new, key)
  return key


@pytest.mark.skipif(not os.path.exists(AUTHORS),
                    reason="the authors' rebuild ../shared/anchors/reference_torch.py is absent")
def test_same_network_as_the_authors_rebuild():
  authors = _load("authors_reference_torch", AUTHORS)
  torch.manual_seed(0)
  theirs = authors.EnergyUNet()
  mine = ours.EnergyUNet()
  assert (sum(p.numel() for p in theirs.parameters()) == ours.num_params(mine) == PARAMS)
  state = {_rename(k): v for k, v in theirs.state_dict().items()
           if k != "time_embedding.freqs"}     # a constant buffer; ours is not saved
  expected = mine.state_dict()
  assert sorted(state) == sorted(expected)
  assert all(state[k].shape == expected[k].shape for k in state)
  mine.load_state_dict(state)
  actions, obs, t = _inputs()
  for train in (False, True):     # eval: stored (u, v); train: one power iteration each
    theirs.train(train)
    mine.train(train)
    with torch.no_grad():
      np.testing.assert_allclose(mine(actions, obs, t), theirs(actions, obs, t),
                                 rtol=1e-5, atol=1e-6)
  theirs.eval()
  mine.eval()
  np.testing.assert_allclose(ours.score(mine, actions, obs, t),
                             authors.score(theirs, actions, obs, t), rtol=1e-4, atol=1e-6)
  # The DSM loss from the same generator state: same draws, same value.
  loss = [m.dsm_loss(n, actions, obs, torch.Generator().manual_seed(1)).item()
          for m, n in ((ours, mine), (authors, theirs))]
  assert loss[0] == pytest.approx(loss[1], rel=1e-5)
