"""DSM: the K-level loss equals a loop and a vmap; DSM learns a known mixture's score."""
import jax
import jax.numpy as jnp
import pytest

from efjax import energy, losses, networks, schedules
from efjax.train import (create_train_state, default_optim_config, make_multi_step,
                         make_optimizer, make_train_step)
from conftest import assert_close, init_network, tiny_mlp_config, tiny_unet_config

SCHEDULE = schedules.make_schedule(schedules.default_schedule_config())


def test_k_level_loss_equals_vmap_and_explicit_loop(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  k = 3
  key = jax.random.key(4)
  folded = jax.jit(lambda v: losses.dsm_loss(net, v, actions, obs, key, SCHEDULE, k))(variables)
  # The same draws, level by level.
  t_key, eps_key = jax.random.split(key)
  t = SCHEDULE.sample_t(t_key, (k, actions.shape[0]))
  eps = jax.random.normal(eps_key, (k,) + actions.shape)
  features = energy.encode_obs(net, variables, obs)
  # Jitted: run op by op, the UNet's double backward takes a minute on 2 cores.
  loop = jax.jit(lambda v: jnp.mean(jnp.stack([
      losses.dsm_loss_at(net, v, actions, features, t[i], eps[i], SCHEDULE)
      for i in range(k)]), axis=0))(variables)
  vmapped = jax.jit(lambda v: jax.vmap(lambda ti, ei: losses.dsm_loss_at(
      net, v, actions, features, ti, ei, SCHEDULE))(t, eps).mean(0))(variables)
  assert folded.shape == (actions.shape[0],)
  assert_close(folded, loop, rtol=1e-5)
  assert_close(folded, vmapped, rtol=1e-5)


def test_k1_loss_is_the_papers_formula():
  net, variables, actions, obs, _ = init_network(tiny_unet_config())
  key = jax.random.key(9)
  loss = losses.dsm_loss(net, variables, actions, obs, key, SCHEDULE, 1)
  t_key, eps_key = jax.random.split(key)
  t = jax.random.uniform(t_key, (1, actions.shape[0]))[0]
  eps = jax.random.normal(eps_key, (1,) + actions.shape)[0]
  sigma = (0.01 * 1000.0**t)[:, None, None]
  s = energy.score(net, variables, actions + sigma * eps, obs, t)
  assert_close(loss.mean(), jnp.mean((sigma * s + eps) ** 2), rtol=1e-5)


def test_dropout_acts_in_the_training_loss_only():
  """model.dropout masks the MLP layers in dsm_loss (one mask for the energy and its
  gradient), and nowhere else: every reading of the energy is the network without it."""
  plain_cfg, drop_cfg = tiny_mlp_config(), tiny_mlp_config()
  drop_cfg.dropout = 0.5
  plain, variables, actions, obs, t = init_network(plain_cfg)
  drop = networks.make_network(drop_cfg)
  assert jax.tree.structure(drop.init(jax.random.key(0), actions, obs, t)) == \
      jax.tree.structure(variables)                       # dropout adds no parameters
  read = lambda net: energy.energy_from_features(  # noqa: E731
      net, variables, actions, energy.encode_obs(net, variables, obs), t)
  assert_close(read(drop), read(plain), rtol=0, atol=0)
  key = jax.random.key(3)
  loss = lambda net: losses.dsm_loss(net, variables, actions, obs, key, SCHEDULE)  # noqa: E731
  assert float(jnp.max(jnp.abs(loss(drop) - loss(plain)))) > 1e-5   # at init: 7e-4
  assert_close(loss(drop), loss(drop), rtol=0, atol=0)    # the masks come from the key
  # The score under dropout is the gradient of the same masked energy.
  rngs = {"dropout": jax.random.key(5)}
  features = energy.encode_obs(drop, variables, obs, rngs)
  masked = lambda a: energy.energy_from_features(drop, variables, a, features, t,  # noqa: E731
                                                 rngs).sum()
  assert_close(energy.score_from_features(drop, variables, actions, features, t, rngs),
               -jax.grad(masked)(actions), rtol=1e-5)
  assert float(jnp.max(jnp.abs(masked(actions) - read(plain).sum()))) > 1e-4


def test_num_levels_must_be_positive(tiny_energy):
  net, variables, actions, obs, _ = tiny_energy
  with pytest.raises(ValueError, match="num_levels must be >= 1"):
    losses.dsm_loss(net, variables, actions, obs, jax.random.key(0), SCHEDULE, 0)


# A 2-D mixture of three isotropic Gaussians (weights, means, std).
WEIGHTS = jnp.array([0.5, 0.3, 0.2])
MEANS = jnp.array([[-1.0, 0.0], [1.0, 1.0], [0.8, -1.2]])
STD = 0.3


def mixture_score(x, sigma):
  """Analytic score of the mixture convolved with N(0, sigma^2 I): x [N, 2]."""
  var = STD**2 + sigma**2
  diff = x[:, None, :] - MEANS[None]                                  # [N, 3, 2]
  logits = jnp.log(WEIGHTS) - 0.5 * jnp.sum(diff**2, -1) / var
  resp = jax.nn.softmax(logits, axis=-1)
  return -jnp.sum(resp[..., None] * diff, axis=1) / var


def test_dsm_learns_a_gaussian_mixture_score():
  key_data, key_init, key_train, key_eval = jax.random.split(jax.random.key(0), 4)
  n = 20_000
  comp = jax.random.choice(key_data, 3, (n,), p=WEIGHTS)
  x = MEANS[comp] + STD * jax.random.normal(jax.random.fold_in(key_data, 1), (n, 2))
  data = {"actions": x[:, None, :], "obs": jnp.zeros((n, 1, 1))}
  cfg = networks.default_model_config()
  cfg.backbone, cfg.spectral_norm, cfg.head_hidden = "mlp", False, ()
  cfg.mlp.hidden, cfg.obs_hidden, cfg.emb_dim = (128, 128, 128), (8,), 32
  net = networks.make_network(cfg)
  optim = default_optim_config()
  # A large learning rate is what makes this fit in a CPU-minute: at 2e-3 the same
  # 4000 steps leave a relative error of about 0.5 at sigma = 0.1 (measured).
  optim.learning_rate, optim.warmup_steps, optim.decay_steps = 1e-2, 100, 4000
  optimizer = make_optimizer(optim)
  state = create_train_state(net.init(key_init, data["actions"][:2], data["obs"][:2],
                                      jnp.zeros(2)), optimizer, key_train)
  step = make_train_step(net, SCHEDULE, optimizer, num_levels=4, ema=0.99)
  multi = jax.jit(make_multi_step(step, 256, 500), donate_argnums=0)
  for _ in range(8):
    state, _ = multi(state, data)
  sigma = 0.1                                          # low noise: 1/3 of the data's std
  t = jnp.log(sigma / 0.01) / jnp.log(1000.0)
  probe = x[:2000] + sigma * jax.random.normal(key_eval, (2000, 2))
  learned = energy.score(net, state.ema_variables, probe[:, None, :], jnp.zeros((2000, 1, 1)),
                         jnp.full((2000,), t))[:, 0]
  true = mixture_score(probe, sigma)
  rel_err = float(jnp.mean(jnp.sum((learned - true) ** 2, -1)) / jnp.mean(jnp.sum(true**2, -1)))
  print(f"relative score error at sigma={sigma}: {rel_err:.4f}")
  assert rel_err < 0.05
