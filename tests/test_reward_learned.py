"""efjax.reward.likelihood (BC log-probability, diffusion ELBO) and efjax.reward.learned
(the EnergyFlow rewards as the RL loop reads them, the reward/env size check)."""
import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.data.normalizer import Normalizer
from efjax.energy import encode_obs, energy_from_features
from efjax.reward.learned import RewardMismatchError, check_dims
from efjax.reward.likelihood import bc_log_prob_reward, diffusion_elbo_reward
from efjax.reward.reference import reference_rule
from experiments.configs import quickstart

from conftest import assert_close, untrained_model


def _model(parameterization="energy", obs_dim=4, act_dim=1, preconditioning="none"):
  """An untrained efjax Model of the RL-reward configuration (no workdir needed)."""
  config = quickstart.get_config("smoke").energyflow
  config.model.parameterization = parameterization
  config.model.preconditioning = preconditioning
  config.data.obs_normalizer = "zscore"
  rng = np.random.default_rng(0)
  norms = {"obs": Normalizer(jnp.asarray(rng.normal(size=obs_dim), jnp.float32),
                             jnp.asarray(rng.uniform(0.5, 2, obs_dim), jnp.float32)),
           "actions": Normalizer(jnp.zeros(act_dim), jnp.full(act_dim, 0.5))}
  return untrained_model(config, obs_dim, act_dim, norms)


def _reward_by_definition(model, kind, obs, action, nxt):
  """The centered / soft-Bellman reward from single energy evaluations, row by row."""
  cfg = model.config.reward
  points, weights = reference_rule(cfg, (1, model.act_dim))
  o, n = model.units.obs(obs), model.units.obs(nxt)
  a = model.units.actions(action)
  t = jnp.full((obs.shape[0],), cfg.t)
  energy_at = lambda x, feats: energy_from_features(model.net, model.params, x, feats, t)  # noqa: E731
  f, fn = encode_obs(model.net, model.params, o), encode_obs(model.net, model.params, n)
  ref_at = lambda feats: jnp.stack([energy_at(jnp.broadcast_to(p, a.shape), feats)  # noqa: E731
                                    for p in points])
  if kind == "centered":
    return -(energy_at(a, f) - weights @ ref_at(f))
  log_q = -0.5 * jnp.sum(points.reshape(len(points), -1) ** 2, -1) - 0.5 * model.act_dim * jnp.log(2 * jnp.pi)
  v_next = cfg.alpha * jax.nn.logsumexp(-ref_at(fn) - log_q[:, None] + jnp.log(weights)[:, None], 0)
  return -cfg.alpha * energy_at(a, f) - cfg.gamma * v_next


@pytest.mark.parametrize("kind,reference,preconditioning",
                         [("centered", "sampled", "none"), ("soft_bellman", "sampled", "none"),
                          ("centered", "gauss_hermite", "none"),
                          ("soft_bellman", "gauss_hermite", "edm")])
def test_rl_reward_equals_its_definition(kind, reference, preconditioning):
  """Model.reward_fn (energy rows sharing each state's first-layer work, in chunks) is the
  reward of efjax.reward.formulas' docstring computed row by row."""
  model = _model(act_dim=2, preconditioning=preconditioning)
  model.config.reward.update(reference=reference, num_reference=16 if reference == "sampled" else 3)
  k = jax.random.split(jax.random.key(0), 3)
  n = 300 if reference == "sampled" else 3000   # several chunks, the last one padded
  obs, nxt = jax.random.normal(k[0], (n, 4)), jax.random.normal(k[1], (n, 4))
  action = jax.random.uniform(k[2], (n, 2), minval=-1, maxval=1)
  got = jax.jit(model.reward_fn(kind))(model.params, obs, action, nxt)
  want = _reward_by_definition(model, kind, obs, action, nxt)
  assert got.shape == (n,) and float(jnp.std(want)) > 0
  assert_close(got, want, atol=1e-4)


def test_diffusion_elbo_reward_is_minus_the_fixed_noise_dsm_loss():
  model = _model("score")
  fn = jax.jit(diffusion_elbo_reward(model, levels=(0.3,), draws_per_level=1))
  obs = jax.random.normal(jax.random.key(0), (16, 4))
  a = jax.random.uniform(jax.random.key(1), (16, 1), minval=-1, maxval=1)
  r = fn(model.params, obs, a, obs)
  assert r.shape == (16,) and bool(jnp.all(r <= 0))
  assert_close(r, fn(model.params, obs, a, obs))       # fixed noise: deterministic
  with pytest.raises(ValueError, match="non-conservative"):
    diffusion_elbo_reward(_model("energy"))


def test_bc_log_prob_reward_is_a_gaussian_log_density():
  @dataclasses.dataclass(frozen=True)
  class FakeBC:   # distribution() as efjax.bc.BCModel's: (mean, std) [B, 1, act_dim]
    params: dict

    def distribution(self, obs):
      b = obs.shape[0]
      return (jnp.broadcast_to(self.params["mu"], (b, 1, 2)),
              jnp.broadcast_to(self.params["std"], (b, 1, 2)))

  params = {"mu": jnp.array([0.1, -0.2]), "std": jnp.array([0.5, 2.0])}
  fn = bc_log_prob_reward(FakeBC(params))
  a = jnp.array([[0.3, 0.4]])
  want = jax.scipy.stats.norm.logpdf(a, params["mu"], params["std"]).sum()
  assert_close(fn(params, jnp.zeros((1, 3)), a, None), [want])


def test_reward_for_another_env_is_refused():
  class Env:
    observation_size, action_size = 11, 1
  check_dims("/ckpt", 11, 1, Env())
  with pytest.raises(RewardMismatchError, match=r"/ckpt was trained for obs_dim=4, act_dim=1, "
                     r"but the environment \(Env\) has obs_dim=11, act_dim=1"):
    check_dims("/ckpt", 4, 1, Env())
