"""efjax.rl.irl (GAIL, AIRL discriminators), likelihood rewards, the batched EnergyFlow
reward and the reward/env size check, on toy problems (no env, seconds)."""
import dataclasses

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from efjax.data.normalizer import Normalizer
from efjax.model import Model
from efjax.rl import irl
from efjax.rl.fast_energy_reward import fast_reward_fn
from efjax.rl.learned_rewards import RewardMismatchError, check_dims
from efjax.rl.likelihood import bc_log_prob_reward, diffusion_elbo_reward
from efjax.rl.ppo import Transition
from efjax.train.trainer import build
from experiments.configs import quickstart

from conftest import assert_close

OBS, ACT, T, N = 3, 2, 8, 32


def toy_expert(n=2000, seed=0):
  """Expert transitions: actions near +0.8 (a fixed point), s' = s + a."""
  rng = np.random.default_rng(seed)
  obs = rng.normal(size=(n, OBS)).astype(np.float32)
  action = np.clip(0.8 + 0.05 * rng.normal(size=(n, ACT)), -1, 1).astype(np.float32)
  nxt = obs.copy()
  nxt[:, :ACT] += action
  return {"obs": obs, "action": action, "next_obs": nxt}


def random_rollout(key):
  """A policy rollout [T, N, ...] with uniform random actions (log pi = 0 for simplicity)."""
  k1, k2 = jax.random.split(key)
  obs = jax.random.normal(k1, (T, N, OBS))
  action = jax.random.uniform(k2, (T, N, ACT), minval=-1, maxval=1)
  nxt = obs.at[..., :ACT].add(action)
  z = jnp.zeros((T, N))
  return Transition(obs, action, action, z, z, nxt, z, z, z)


def zero_log_prob(obs, action):
  return jnp.zeros(obs.shape[0])


@pytest.mark.parametrize("kind", ["gail", "airl"])
def test_discriminator_separates_expert_from_random(kind):
  config = irl.irl_config()
  config.update(learning_rate=3e-3, batch_size=128, disc_steps=10)
  expert = toy_expert()
  learner = irl.make_gail(config, expert) if kind == "gail" else irl.make_airl(config, expert, 0.9)
  state = learner.init(jax.random.key(0))
  update = jax.jit(learner.update, static_argnums=2)
  for i in range(30):
    state, m = update(state, random_rollout(jax.random.key(i)), zero_log_prob,
                      jax.random.key(100 + i))
  assert int(state.step) == 300
  assert float(m["disc_accuracy"]) > 0.9, m
  roll = random_rollout(jax.random.key(999))
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
  z = jnp.zeros(T * N)
  r_pol = learner.reward(state, flat(roll.obs), flat(roll.action), flat(roll.next_obs), z)
  e = jax.tree.map(lambda x: jnp.asarray(x[:T * N]), expert)
  r_exp = learner.reward(state, e["obs"], e["action"], e["next_obs"], z)
  assert r_pol.shape == (T * N,)
  assert float(r_exp.mean()) > float(r_pol.mean()) + 1.0
  if kind == "gail":     # -log(1 - D) > 0 everywhere
    assert float(r_pol.min()) > 0


def test_airl_reward_has_the_disentangled_form():
  config, expert, gamma = irl.irl_config(), toy_expert(), 0.9
  learner = irl.make_airl(config, expert, gamma)
  state = learner.init(jax.random.key(1))
  roll = random_rollout(jax.random.key(2))
  obs, action, nxt = roll.obs[0], roll.action[0], roll.next_obs[0]
  log_prob = jax.random.normal(jax.random.key(3), (N,))
  r = learner.reward(state, obs, action, nxt, log_prob)
  g = irl.MLP(tuple(config.hidden), 1, config.activation)
  mean, std = expert["obs"].mean(0), expert["obs"].std(0) + 1e-6
  norm = lambda o: (o - mean) / std  # noqa: E731
  g_s = g.apply(state.params["g"], norm(obs))[:, 0]
  h = lambda o: g.apply(state.params["h"], norm(o))[:, 0]  # noqa: E731  same architecture
  assert_close(r, g_s + gamma * h(nxt) - h(obs) - log_prob, atol=1e-5)
  # The action enters only through s' (state-only g: the disentangled reward).
  other = learner.reward(state, obs, -action, nxt, log_prob)
  assert_close(r, other)
  recovered = irl.recovered_reward("airl", config, expert, gamma)
  assert_close(recovered(state.params, obs, action, nxt), r + log_prob, atol=1e-5)


def test_expert_transitions_stay_inside_episodes():
  obs = np.arange(10, dtype=np.float32)[:, None]
  out = irl.expert_transitions(obs, obs, np.array([4, 10]))
  np.testing.assert_array_equal(out["obs"][:, 0], [0, 1, 2, 4, 5, 6, 7, 8])
  np.testing.assert_array_equal(out["next_obs"][:, 0] - out["obs"][:, 0], 1)


def _model(parameterization="energy", obs_dim=4, act_dim=1):
  """An untrained efjax Model of the RL-reward configuration (no workdir needed)."""
  config = quickstart.get_config("smoke").energyflow
  config.model.parameterization = parameterization
  config.data.obs_normalizer = "zscore"
  net, schedule, _, state = build(config, obs_dim, act_dim)
  rng = np.random.default_rng(0)
  norms = {"obs": Normalizer(jnp.asarray(rng.normal(size=obs_dim), jnp.float32),
                             jnp.asarray(rng.uniform(0.5, 2, obs_dim), jnp.float32)),
           "actions": Normalizer(jnp.zeros(act_dim), jnp.full(act_dim, 0.5))}
  return Model(config=ml_collections.ConfigDict(config.to_dict()), params=state.ema_variables,
               net=net, schedule=schedule, normalizers=norms, obs_dim=obs_dim, act_dim=act_dim)


@pytest.mark.parametrize("kind,reference", [("centered", "sampled"), ("soft_bellman", "sampled"),
                                            ("centered", "gauss_hermite"),
                                            ("soft_bellman", "gauss_hermite")])
def test_batched_energy_reward_matches_model_reward_fn(kind, reference):
  model = _model(act_dim=2)
  model.config.reward.update(reference=reference, num_reference=16 if reference == "sampled" else 3)
  k = jax.random.split(jax.random.key(0), 3)
  n = 300 if reference == "sampled" else 3000   # several chunks, the last one padded
  obs, nxt = jax.random.normal(k[0], (n, 4)), jax.random.normal(k[1], (n, 4))
  action = jax.random.uniform(k[2], (n, 2), minval=-1, maxval=1)
  want = jax.jit(model.reward_fn(kind))(model.params, obs, action, nxt)
  got = jax.jit(fast_reward_fn(model, kind))(model.params, obs, action, nxt)
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


def test_batched_energy_reward_leaves_preconditioned_models_to_the_generic_path():
  from efjax.rl.fast_energy_reward import supported
  model = _model()
  assert supported(model)
  model.config.model.preconditioning = "edm"
  assert not supported(model)
