"""Network construction: the paper's size, shapes, per-sample independence, config errors."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax import networks
from experiments.configs import paper
from conftest import init_network, tiny_mlp_config, tiny_unet_config


def test_paper_network_has_the_reference_parameter_count():
  cfg = paper.get_config()
  net = networks.make_network(cfg.model)
  d = cfg.data
  shapes = jax.eval_shape(net.init, jax.random.key(0), jnp.zeros((1, d.action_horizon, d.act_dim)),
                          jnp.zeros((1, d.obs_horizon, d.obs_dim)), jnp.zeros((1,)))
  assert networks.count_params(shapes["params"]) == 4_812_032
  assert set(shapes) == {"params", "spectral"}   # u, v are buffers, not parameters


@pytest.mark.parametrize("make_cfg", [tiny_unet_config, tiny_mlp_config])
def test_energy_and_score_network_output_shapes(make_cfg):
  net, variables, actions, obs, t = init_network(make_cfg("energy"))
  out = jax.jit(net.apply)(variables, actions, obs, t)
  assert out.shape == (actions.shape[0],) and out.dtype == jnp.float32
  net, variables, actions, obs, t = init_network(make_cfg("score"))
  assert jax.jit(net.apply)(variables, actions, obs, t).shape == actions.shape


def test_samples_do_not_interact(tiny_energy):
  """Changing one sample's inputs leaves every other sample's energy unchanged."""
  net, variables, actions, obs, t = tiny_energy
  base = net.apply(variables, actions, obs, t)
  moved = net.apply(variables, actions.at[0].add(3.0), obs.at[0].add(1.0), t.at[0].set(0.9))
  assert not jnp.allclose(base[0], moved[0])
  assert jnp.allclose(base[1:], moved[1:], atol=1e-6)


def test_bfloat16_compute_switch_is_close():
  cfg = tiny_unet_config()
  net, variables, actions, obs, t = init_network(cfg)
  cfg.compute_dtype = "bfloat16"
  bf16 = networks.make_network(cfg).apply(variables, actions, obs, t)
  f32 = net.apply(variables, actions, obs, t)
  assert bf16.dtype == jnp.float32
  assert jnp.max(jnp.abs(bf16 - f32)) < 0.05 * (1 + jnp.max(jnp.abs(f32)))


@pytest.mark.parametrize("key,value,match", [
    ("backbone", "transformer", "unknown backbone 'transformer'; valid: mlp, unet"),
    ("activation", "relu", "unknown activation 'relu'; valid: silu, softplus"),
    ("parameterization", "eps", "model.parameterization"),
    ("compute_dtype", "float16", "model.compute_dtype"),
    ("dropout", 1.0, r"model.dropout must be in \[0, 1\), got 1.0"),
    ("dropout", -0.1, "model.dropout must be in"),
])
def test_bad_model_config_names_the_key(key, value, match):
  cfg = tiny_unet_config()
  cfg[key] = value
  with pytest.raises(ValueError, match=match):
    networks.make_network(cfg)


def test_unet_groups_must_divide_channels():
  cfg = tiny_unet_config()
  cfg.unet.down_dims = (6, 16)
  with pytest.raises(ValueError, match="model.unet.down_dims"):
    networks.make_network(cfg)


def test_group_norm_matches_flax():
  from flax import linen as nn
  from efjax.networks.unet import GroupNorm
  x = jax.random.normal(jax.random.key(0), (3, 4, 16)) * 2 + 1
  ours, ref = GroupNorm(4), nn.GroupNorm(num_groups=4, epsilon=1e-5)
  variables = ref.init(jax.random.key(1), x)
  assert jax.tree_util.tree_map(jnp.shape, ours.init(jax.random.key(1), x)) == \
      jax.tree_util.tree_map(jnp.shape, variables)
  np.testing.assert_allclose(ours.apply(variables, x), ref.apply(variables, x), atol=1e-5)


def test_group_norm_derivatives_match_flax_to_second_order():
  """Our GroupNorm's derivatives against flax's: the input gradient (the score) and the
  gradients of a loss on it (the DSM step differentiates the network twice)."""
  from flax import linen as nn
  from efjax.networks.unet import GroupNorm
  k = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(k[0], (3, 4, 16)) * 2 + 1
  w = jax.random.normal(k[1], (16,))
  ours, ref = GroupNorm(4), nn.GroupNorm(num_groups=4, epsilon=1e-5)
  variables = ref.init(jax.random.key(1), x)
  variables = jax.tree_util.tree_map(lambda v: v + jax.random.normal(k[2], v.shape), variables)

  def dsm_like(module, variables, x):
    energy = lambda a: jnp.sum(jnp.tanh(module.apply(variables, a)) * w)   # noqa: E731
    return jnp.sum(jnp.square(jax.grad(energy)(x) - 0.3))

  for argnum in (1, 2):                 # d/dparams and d/dx of the loss on the input gradient
    got = jax.grad(dsm_like, argnums=argnum)(ours, variables, x)
    want = jax.grad(dsm_like, argnums=argnum)(ref, variables, x)
    for g, r in zip(jax.tree_util.tree_leaves(got), jax.tree_util.tree_leaves(want)):
      np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def _edm_pair(parameterization):
  """(preconditioned net, plain net with the same variables, inputs, schedule)."""
  from efjax.schedules import VESchedule
  schedule = VESchedule()
  cfg = tiny_mlp_config(parameterization)
  plain, variables, actions, obs, t = init_network(cfg)
  cfg.preconditioning = "edm"
  return networks.make_network(cfg, schedule), plain, variables, actions, obs, t, schedule


def test_edm_preconditioned_energy_is_the_formula_and_score_is_its_gradient():
  from efjax import energy as energy_lib
  net, plain, variables, actions, obs, t, schedule = _edm_pair("energy")
  sigma = schedule.sigma(t)
  std = jnp.sqrt(1.0 + sigma**2)[:, None, None]
  expected = (0.5 * jnp.sum(jnp.square(actions / std), (1, 2))
              - plain.apply(variables, actions / std, obs, t) / sigma)
  np.testing.assert_allclose(net.apply(variables, actions, obs, t), expected, rtol=1e-5)
  score = energy_lib.score(net, variables, actions, obs, t)
  numeric = -jax.grad(lambda a: net.apply(variables, a, obs, t).sum())(actions)
  np.testing.assert_allclose(score, numeric, rtol=1e-5, atol=1e-5)
  # Far from the data the prior term dominates: the field points back toward 0.
  far = 1e3 * jnp.ones_like(actions)
  assert jnp.all(energy_lib.score(net, variables, far, obs, t) * far < 0)


def test_edm_preconditioned_score_network_and_missing_schedule():
  net, plain, variables, actions, obs, t, schedule = _edm_pair("score")
  sigma = schedule.sigma(t)[:, None, None]
  std = jnp.sqrt(1.0 + sigma**2)
  expected = -actions / std**2 + plain.apply(variables, actions / std, obs, t) / (sigma * std)
  np.testing.assert_allclose(net.apply(variables, actions, obs, t), expected, rtol=1e-5,
                             atol=1e-5)
  cfg = tiny_mlp_config()
  cfg.preconditioning = "edm"
  with pytest.raises(ValueError, match="needs the noise schedule"):
    networks.make_network(cfg)
  cfg.preconditioning = "karras"
  with pytest.raises(ValueError, match="model.preconditioning"):
    networks.make_network(cfg)
