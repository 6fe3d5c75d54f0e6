"""Export: jax-only artifacts equal to efjax.load, any batch size, tamper-evident."""
import os
import shutil
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import efjax
from efjax import export
from efjax.data import save_demos
from conftest import assert_close, untrained_model

ROOT = os.path.join(os.path.dirname(__file__), "..")
OBS_DIM, ACT_DIM = 3, 2


@pytest.fixture(scope="module")
def run(tmp_path_factory):
  """A 40-step smoke run through experiments.train, which writes WORKDIR/export at its end."""
  tmp = tmp_path_factory.mktemp("export")
  rng = np.random.default_rng(0)
  demos = str(tmp / "demos.npz")
  save_demos(demos, 3 * rng.normal(size=(80, OBS_DIM)) + 1, 2 * rng.normal(size=(80, ACT_DIM)) - 1,
             np.array([40, 80]))
  workdir = str(tmp / "run")
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", "--config=experiments/configs/demos.py:smoke",
       f"--config.data.path={demos}", f"--workdir={workdir}", "--config.train.num_steps=40",
       "--config.train.checkpoint_every=20", "--config.train.log_every=20"],
      capture_output=True, text=True, cwd=ROOT, timeout=900)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "warning: export failed" not in proc.stderr, proc.stderr[-3000:]
  return workdir, os.path.join(workdir, "export")


@pytest.fixture(scope="module")
def model(run):
  """The in-process model, its methods jitted once for the module (each batch compiles once)."""
  m = efjax.load(run[0])
  return m, jax.jit(m.sample), jax.jit(m.reward, static_argnames="kind")


def _inputs(batch, seed):
  rng = np.random.default_rng(seed)
  obs = jnp.asarray(3 * rng.normal(size=(batch, 1, OBS_DIM)) + 1, jnp.float32)
  actions = jnp.asarray(2 * rng.normal(size=(batch, 4, ACT_DIM)) - 1, jnp.float32)
  return obs, actions, obs + 0.1


def test_export_equals_model_at_two_batch_sizes(run, model):
  loaded = export.load(run[1])
  model, sample, reward = model
  assert str(loaded.exported["policy"].in_avals[0].shape[0]) == "b"      # symbolic batch
  meta = loaded.metadata
  assert meta["obs_shape"] == [1, OBS_DIM] and meta["action_shape"] == [4, ACT_DIM]
  assert meta["platforms"] == ["cpu", "cuda", "tpu"] and meta["platform_errors"] == {}
  assert meta["reward"]["kind"] == "centered" and meta["config"]["train"]["num_steps"] == 40
  np.testing.assert_allclose(meta["normalizers"]["actions"]["scale"],
                             model.normalizers["actions"].scale, rtol=1e-6)
  for batch in (8, 3):
    obs, actions, next_obs = _inputs(batch, batch)
    key = jax.random.key(batch)
    got = loaded.policy(obs, key)
    assert got.shape == (batch, 4, ACT_DIM)
    assert_close(got, sample(obs, key), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(got, loaded.policy(obs, key))          # same key, same actions
    assert not np.allclose(got, loaded.policy(obs, jax.random.key(99)))
    assert_close(loaded.reward(obs, actions), reward(obs, actions), rtol=1e-5, atol=1e-5)
    assert_close(loaded.reward_soft_bellman(obs, actions, next_obs),
                 reward(obs, actions, next_obs, kind="soft_bellman"), rtol=1e-5, atol=1e-5)
  assert loaded.policy(obs[:, 0], key).shape == (3, 4, ACT_DIM)   # horizon 1 may be left out


def _doc_snippet(out):
  """The jax-only loading snippet from efjax/export.py's docstring, pointed at out."""
  doc = export.__doc__
  start, end = doc.index("    import hashlib"), doc.index("r = reward.call")
  code = textwrap.dedent(doc[start:doc.index("\n", end)])
  return code.replace('"WORKDIR/export"', repr(out))


def test_documented_snippet_loads_with_jax_only(run, model, tmp_path):
  out = run[1]
  _, sample, reward = model
  script = _doc_snippet(out) + textwrap.dedent(f"""
      import sys, numpy as np
      assert "efjax" not in sys.modules
      np.save({str(tmp_path / "a.npy")!r}, np.asarray(actions))
      np.save({str(tmp_path / "r.npy")!r}, np.asarray(r))
      """)
  env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
  proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        cwd=tmp_path, env=env, timeout=120)
  assert proc.returncode == 0, proc.stderr[-3000:]
  obs = jnp.zeros((8, 1, OBS_DIM), jnp.float32)      # the snippet's batch of 8
  actions = np.load(tmp_path / "a.npy", allow_pickle=False)
  assert_close(actions, sample(obs, jax.random.key(0)))
  assert_close(np.load(tmp_path / "r.npy", allow_pickle=False), reward(obs, jnp.asarray(actions)))


@pytest.mark.parametrize("damage", ["flip", "truncate", "delete"])
def test_damaged_file_is_one_export_error_naming_it(run, tmp_path, damage):
  copy = str(tmp_path / "export")
  shutil.copytree(run[1], copy)
  path = os.path.join(copy, "reward.jaxexport")
  blob = bytearray(open(path, "rb").read())
  if damage == "delete":
    os.remove(path)
  else:
    if damage == "flip":
      blob[len(blob) // 2] ^= 1
    else:
      blob = blob[:-100]
    open(path, "wb").write(blob)
  with pytest.raises(export.ExportError, match="reward.jaxexport"):
    export.load(copy)


def test_failed_export_leaves_the_existing_one(run, monkeypatch):
  workdir, out = run
  before = {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)}

  def half_written(model, out_dir, platforms, fingerprint=None):
    open(os.path.join(out_dir, "policy.jaxexport"), "wb").write(b"partial")
    raise RuntimeError("killed mid-export")
  monkeypatch.setattr(export, "export_model", half_written)
  with pytest.raises(RuntimeError):
    export.export_workdir(workdir)
  assert {f: open(os.path.join(out, f), "rb").read() for f in os.listdir(out)} == before
  assert not [f for f in os.listdir(workdir) if f.startswith(".export-")]


def test_cli_on_a_non_workdir_is_one_line_exit_2(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "experiments.export", f"--workdir={tmp_path}"],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert proc.returncode == 2
  lines = proc.stderr.strip().splitlines()
  assert len(lines) == 1 and "config.json" in lines[0] and str(tmp_path) in lines[0], lines



@pytest.mark.parametrize("preconditioning", ["none", "edm"])
def test_unet_export_equals_model(tmp_path, preconditioning):
  """A UNet exports its convolutions per platform (im2col on CPU) and matches in process."""
  from experiments.configs import demos as demos_config
  config = demos_config.get_config()
  config.data.obs_horizon, config.data.action_horizon = 1, 4
  config.model.update(emb_dim=16, obs_hidden=(16,), head_hidden=(16,))
  config.model.unet.update(down_dims=(8, 16), kernel_size=3, num_groups=4)
  config.model.preconditioning = preconditioning
  model = untrained_model(config, OBS_DIM, ACT_DIM)
  export.export_model(model, str(tmp_path / "unet"))
  loaded = export.load(str(tmp_path / "unet"))
  assert loaded.metadata["export_overrides"] == {"model.unet.conv_impl": "portable"}
  for batch in (2, 40):                   # in process, batch 40 takes the Toeplitz form
    obs, actions, _ = _inputs(batch, batch)
    assert_close(loaded.reward(obs, actions), model.reward(obs, actions), rtol=1e-4, atol=1e-4)
    key = jax.random.key(batch)
    assert_close(loaded.policy(obs, key), model.sample(obs, key), rtol=1e-4, atol=1e-4)
