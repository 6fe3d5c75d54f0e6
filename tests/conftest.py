"""Shared fixtures: tiny networks, a persistent compilation cache, float32 everywhere."""
import os

import jax
import jax.numpy as jnp
import pytest

from efjax import networks

# One persistent compilation cache for this process and, through the environment, for the
# experiment subprocesses the tests start (the pipeline, rl_compare and the CLI compile the
# same PPO and training programs).
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR",
                      os.environ.get("EFJAX_JAX_CACHE", os.path.expanduser("~/.cache/efjax/jax")))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1.0")
jax.config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
jax.config.update("jax_persistent_cache_min_compile_time_secs",
                  float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))


def tiny_unet_config(parameterization: str = "energy"):
  cfg = networks.default_model_config()
  cfg.parameterization = parameterization
  cfg.emb_dim = 16
  cfg.obs_hidden = (16, 16)
  cfg.head_hidden = (16,)
  cfg.unet.down_dims = (8, 16)
  cfg.unet.kernel_size = 3
  cfg.unet.num_groups = 4
  return cfg


def tiny_mlp_config(parameterization: str = "energy"):
  cfg = networks.default_model_config()
  cfg.parameterization = parameterization
  cfg.backbone = "mlp"
  cfg.emb_dim = 16
  cfg.obs_hidden = (16,)
  cfg.head_hidden = (16,)
  cfg.mlp.hidden = (32, 32)
  return cfg


def init_network(cfg, batch=3, obs_shape=(2, 5), act_shape=(4, 2), seed=0):
  """Returns (net, variables, actions, obs, t) with random inputs of the given shapes."""
  net = networks.make_network(cfg)
  ka, ko, kt, ki = jax.random.split(jax.random.key(seed), 4)
  actions = jax.random.normal(ka, (batch,) + act_shape)
  obs = jax.random.normal(ko, (batch,) + obs_shape)
  t = jax.random.uniform(kt, (batch,))
  variables = net.init(ki, actions, obs, t)
  return net, variables, actions, obs, t


@pytest.fixture(params=["unet", "mlp"])
def tiny_energy(request):
  cfg = tiny_unet_config() if request.param == "unet" else tiny_mlp_config()
  return init_network(cfg)


@pytest.fixture
def rng():
  return jax.random.key(0)


def assert_close(a, b, rtol=1e-5, atol=1e-5):
  a, b = jnp.asarray(a), jnp.asarray(b)
  assert a.shape == b.shape, (a.shape, b.shape)
  err = float(jnp.max(jnp.abs(a - b)))
  scale = float(jnp.max(jnp.abs(b)))
  assert err <= atol + rtol * scale, f"max abs error {err} (scale {scale})"



def untrained_model(config, obs_dim: int, act_dim: int, normalizers=None, seed: int = 0):
  """An efjax.model.Model of `config` with fresh parameters (efjax.model.init_model)."""
  from efjax.model import init_model
  return init_model(config, obs_dim, act_dim, jax.random.key(seed), normalizers)


# The modules whose shared fixtures take minutes (each trains every method of an RL
# comparison): run first, so that with `-n 2 --dist loadfile` (README) they start on the
# two workers at once instead of leaving one worker alone at the end.
SLOW_MODULES = ("test_rl_compare.py", "test_rl_sweep.py")


def pytest_collection_modifyitems(config, items):
  del config
  items.sort(key=lambda item: item.path.name not in SLOW_MODULES)   # stable: order kept
