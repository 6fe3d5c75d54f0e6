"""efjax.reward.adversarial: GAIL and AIRL discriminators on toy problems (no env, seconds)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.reward import adversarial as irl
from efjax.rl.ppo import Transition

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
  return Transition(obs, action, action, z, z, nxt, z, z, z, z, z)


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


def test_airl_state_action_reward_sees_the_action_and_bad_inputs_are_refused():
  config, expert, gamma = irl.irl_config(), toy_expert(), 0.9
  config.reward_inputs = "state_action"
  learner = irl.make_airl(config, expert, gamma)
  state = learner.init(jax.random.key(1))
  roll = random_rollout(jax.random.key(2))
  obs, action, nxt = roll.obs[0], roll.action[0], roll.next_obs[0]
  log_prob = jnp.zeros((N,))
  r = learner.reward(state, obs, action, nxt, log_prob)
  g = irl.MLP(tuple(config.hidden), 1, config.activation)
  mean, std = expert["obs"].mean(0), expert["obs"].std(0) + 1e-6
  norm = lambda o: (o - mean) / std  # noqa: E731
  g_sa = g.apply(state.params["g"], jnp.concatenate([norm(obs), action], -1))[:, 0]
  h = lambda o: g.apply(state.params["h"], norm(o))[:, 0]  # noqa: E731
  assert_close(r, g_sa + gamma * h(nxt) - h(obs), atol=1e-5)
  assert float(jnp.abs(learner.reward(state, obs, -action, nxt, log_prob) - r).max()) > 1e-3
  config.reward_inputs = "action"
  with pytest.raises(ValueError, match="irl.reward_inputs='action'"):
    irl.make_airl(config, expert, gamma)


@pytest.mark.parametrize("entropy_coef", [0.0, 0.01])
def test_airl_update_stays_finite_when_the_expert_is_unlikely_under_the_policy(entropy_coef):
  """An expert action the policy finds unlikely (log pi = -40, as at a tanh policy's bound)
  drives the logit past sigmoid's float32 range; the jitted update must stay finite."""
  config = irl.irl_config()
  config.entropy_coef = entropy_coef
  learner = irl.make_airl(config, toy_expert(), 0.9)
  state = learner.init(jax.random.key(1))
  unlikely = lambda obs, action: jnp.full(obs.shape[0], -40.0)  # noqa: E731
  state, metrics = jax.jit(learner.update, static_argnums=2)(
      state, random_rollout(jax.random.key(2)), unlikely, jax.random.key(3))
  assert all(np.isfinite(float(v)) for v in metrics.values()), metrics
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(state.params))
