"""PPO (efjax.rl): GAE, learning on inverted_pendulum, vmap over seeds, NaN rewards,
custom rewards, the policy function and agent save/load. Compiled runs are shared
module fixtures: three compilations in all."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from efjax.envs.brax_envs import make_env
from efjax.rl import gae, load_agent, make_policy_fn, make_ppo, make_train, save_agent
from efjax.rl.ppo import RewardLearner
from experiments.configs.ppo import default_ppo_config

from conftest import assert_close

ENV = dict(name="inverted_pendulum", backend="generalized", episode_length=1000)


def small_config(**kw):
  c = default_ppo_config()
  c.num_envs, c.unroll_length, c.num_minibatches = 64, 32, 8
  c.learning_rate = 1e-3     # fast enough to show learning within the test budget
  c.actor_hidden, c.critic_hidden = (32, 32), (32, 32)
  c.update(kw)
  return c


def mean_return(m, sl):
  """Episode-weighted mean true return over the updates in slice sl ([U] metrics)."""
  ret, eps = np.asarray(m["true_return"])[sl], np.asarray(m["episodes"])[sl]
  return float(np.nansum(ret * eps) / max(eps.sum(), 1))


@pytest.fixture(scope="module")
def env():
  return make_env(**ENV)


@pytest.fixture(scope="module")
def two_seed_run(env):
  """True-reward PPO vmapped over 2 seeds: 40 updates x 2048 steps per seed."""
  config = small_config(total_steps=40 * 64 * 32)
  train = jax.jit(jax.vmap(make_train(config, env), in_axes=(0, None)))
  runner, metrics = train(jax.random.split(jax.random.key(0), 2), None)
  return config, runner, jax.device_get(metrics)


def bad_reward(params, obs, action, next_obs):
  """A stand-in learned reward: pays for the first action dim being near params['target'];
  NaN where the cart position exceeds params['nan_above'] (never, if that is inf)."""
  del next_obs
  r = -(action[:, 0] - params["target"]) ** 2
  return jnp.where(obs[:, 0] > params["nan_above"], jnp.nan, r)


@pytest.fixture(scope="module")
def custom_run(env):
  config = small_config(total_steps=12 * 64 * 32)
  train = jax.jit(make_train(config, env, bad_reward))
  key = jax.random.key(1)
  jax.block_until_ready(train(key, jax.tree.map(jnp.float32, {"target": 0.0, "nan_above": 0.0})))

  def call(**p):
    p = jax.device_put(jax.tree.map(jnp.float32, p))
    with jax.transfer_guard("disallow"):    # the compiled run never syncs with the host
      out = jax.block_until_ready(train(key, p))
    return jax.device_get(out)
  return call


def test_gae_matches_a_python_loop():
  rng = np.random.default_rng(0)
  T, N, gamma, lam = 7, 3, 0.9, 0.8
  r, v, nv = (rng.normal(size=(T, N)) for _ in range(3))
  done = (rng.random((T, N)) < 0.3).astype(np.float32)
  term = done * (rng.random((T, N)) < 0.5)
  adv, targets = jax.jit(gae, static_argnums=(5, 6))(r, v, nv, term, done, gamma, lam)
  expected = np.zeros((T, N))
  for n in range(N):
    a = 0.0
    for t in reversed(range(T)):
      delta = r[t, n] + gamma * (1 - term[t, n]) * nv[t, n] - v[t, n]
      a = delta + gamma * lam * (1 - done[t, n]) * a
      expected[t, n] = a
  assert_close(adv, expected)
  assert_close(targets, expected + v)


def test_ppo_learns_inverted_pendulum(two_seed_run):
  _, _, m = two_seed_run
  for s in range(2):
    seed_m = jax.tree.map(lambda x: x[s], m)
    first, last = mean_return(seed_m, slice(0, 5)), mean_return(seed_m, slice(-5, None))
    # A random policy holds the pole ~10-30 steps; broken PPO stays there.
    assert first < 40 and last > 150, (s, first, last)


def test_vmap_over_seeds_gives_distinct_runs(two_seed_run):
  config, runner, m = two_seed_run
  assert m["true_return"].shape == (2, 40) and m["env_steps"].shape == (2, 40)
  np.testing.assert_array_equal(m["env_steps"][0], 64 * 32 * np.arange(1, 41))
  kernel = runner.params["actor"]["params"]["MLP_0"]["Dense_0"]["kernel"]
  assert kernel.shape == (2, 4, 32)
  assert not np.allclose(kernel[0], kernel[1])
  assert not np.array_equal(m["episodes"][0], m["episodes"][1])
  assert int(m["nonfinite_total"][:, -1].max()) == 0
  assert np.all(m["first_nonfinite_update"] == -1)


def test_policy_fn_and_agent_roundtrip(two_seed_run, env, tmp_path):
  config, runner, _ = two_seed_run
  agent = jax.tree.map(lambda x: x[0], runner.agent)
  save_agent(str(tmp_path), agent, config, env.observation_size, env.action_size,
             extra={"env": ENV})
  loaded, policy_config, meta = load_agent(str(tmp_path))
  assert meta["env"] == ENV and meta["act_dim"] == 1
  act, act_loaded = make_policy_fn(config, 1), make_policy_fn(policy_config, 1)
  obs = jax.random.normal(jax.random.key(2), (5, 4))
  a = jax.jit(act, static_argnums=3)(agent, obs, jax.random.key(3), True)
  b = jax.jit(act_loaded, static_argnums=3)(loaded, obs, jax.random.key(4), True)
  assert a.shape == (5, 1) and np.all(np.abs(a) <= 1)
  assert_close(a, b)
  s1 = act(agent, obs, jax.random.key(3))
  assert not np.allclose(s1, a)        # stochastic actions differ from the mean


def test_custom_reward_is_optimized_and_true_return_logged(custom_run):
  _, m = custom_run(target=0.8, nan_above=np.inf)
  # Optimized reward rises towards 0 as the policy learns to output 0.8.
  assert m["reward"][-3:].mean() > m["reward"][:3].mean() + 0.1, m["reward"]
  assert not np.allclose(m["reward"], m["true_reward"])
  # Pushing the cart one way drops the pole: short episodes, true return logged.
  assert m["episodes"].sum() > 0 and np.isfinite(m["true_return"]).any()
  assert int(m["nonfinite_total"][-1]) == 0


def test_nonfinite_rewards_are_counted_and_zeroed(custom_run):
  runner, m = custom_run(target=0.0, nan_above=0.05)
  assert int(m["nonfinite_total"][-1]) > 0
  assert int(m["nonfinite_total"][-1]) == int(m["nonfinite_rewards"].sum())
  first = int(m["first_nonfinite_update"][-1])
  assert first == int(np.argmax(m["nonfinite_rewards"] > 0))
  assert np.all(np.isfinite(m["reward"])) and np.all(np.isfinite(m["value_loss"]))
  assert all(np.isfinite(x).all() for x in jax.tree.leaves(runner.params))


def test_impossible_config_is_refused(env):
  with pytest.raises(ValueError, match="num_minibatches"):
    make_ppo(small_config(num_minibatches=7), env)


def counting_learner():
  """A RewardLearner whose 'discriminator' counts its updates and pays the last rollout's
  mean true reward + calls; log_prob_fn is evaluated to check it is the policy's."""
  def init(key):
    del key
    return {"calls": jnp.zeros((), jnp.int32), "w": jnp.zeros(())}

  def update(state, traj, log_prob_fn, key):
    del key
    lp = log_prob_fn(traj.obs[0], traj.u[0])       # the policy's own density of its sample
    calls = state["calls"] + 1
    return ({"calls": calls, "w": traj.true_reward.mean() + calls},
            {"calls": calls, "log_prob_gap": jnp.abs(lp - traj.log_prob[0]).max()})

  def reward(state, obs, action, next_obs, log_prob):
    return jnp.full(obs.shape[0], state["w"]) + 0.0 * log_prob

  return RewardLearner(init, update, reward)


def test_reward_learner_is_updated_between_policy_updates(env):
  config = small_config(total_steps=3 * 64 * 32)
  runner, m = jax.jit(make_train(config, env, reward_learner=counting_learner()))(
      jax.random.key(5), None)
  assert int(runner.reward_state["calls"]) == 3
  np.testing.assert_array_equal(m["reward_learner/calls"], [1, 2, 3])
  # The rewards come from the learner as updated on that same rollout.
  assert_close(m["reward"], m["true_reward"] + np.arange(1, 4))
  # log_prob_fn is the current policy's density (the first update's params = the rollout's).
  assert float(m["reward_learner/log_prob_gap"][0]) < 1e-4
  with pytest.raises(ValueError, match="not both"):
    make_ppo(config, env, bad_reward, counting_learner())


def test_absorbing_reward_replaces_what_a_reward_pays_in_absorbed_steps():
  """On the fixed-horizon pendulum (true reward 1 live, 0 absorbed) a constant reward of 1
  pays `absorbing_reward` exactly where the env is absorbed: the step that falls and the
  first step of an auto-reset episode pay the reward's own value."""
  env = make_env("inverted_pendulum", "spring", episode_length=20, fixed_horizon=True)
  one = lambda params, obs, action, next_obs: jnp.ones(obs.shape[0])  # noqa: E731
  runs = {}
  for value in (None, -3.0):
    config = small_config(num_envs=16, unroll_length=32, num_minibatches=4,
                          total_steps=3 * 16 * 32, absorbing_reward=value)
    _, runs[value] = jax.jit(make_train(config, env, one))(jax.random.key(2), None)
  absorbed = 1.0 - np.asarray(runs[-3.0]["true_reward"])       # share of absorbed steps
  assert absorbed.min() > 0 and absorbed.max() > 0.05          # the untrained policy falls
  assert_close(runs[None]["reward"], np.ones(3))
  assert_close(runs[-3.0]["reward"], 1.0 - 4.0 * absorbed)
  # the metrics say where the reward paid: live steps 1, absorbed ones the set value
  assert_close(runs[-3.0]["absorbed_share"], absorbed)
  assert_close(runs[-3.0]["reward_live"], np.ones(3))
  assert_close(runs[-3.0]["reward_absorbed"], np.full(3, -3.0))
  assert_close(runs[None]["reward_absorbed"], np.ones(3))
  with pytest.raises(ValueError, match="absorbing_reward"):
    make_ppo(small_config(absorbing_reward=float("nan")), env)


def test_entry_reward_pays_on_the_step_into_the_absorbing_state_only():
  """With entry_reward_fn, the step that falls (live obs, absorbed next obs) pays the
  entry reward; other live steps keep the reward's own value, absorbed ones the set one."""
  env = make_env("inverted_pendulum", "spring", episode_length=20, fixed_horizon=True)
  one = lambda params, obs, action, next_obs: jnp.ones(obs.shape[0])  # noqa: E731
  seven = lambda params, obs, action, next_obs: jnp.full(obs.shape[0], 7.0)  # noqa: E731
  config = small_config(num_envs=16, unroll_length=32, num_minibatches=4,
                        total_steps=3 * 16 * 32, absorbing_reward=-3.0)
  _, m = jax.jit(make_train(config, env, one, entry_reward_fn=seven))(jax.random.key(2), None)
  assert_close(m["reward_entering"], np.full(3, 7.0))
  assert_close(m["reward_absorbed"], np.full(3, -3.0))
  # reward = live * 1 + entering * 7 + absorbed * (-3), so the share of entries is
  # (reward - 1 + 4 absorbed) / 6: one per fall, more than none and fewer than the
  # absorbed steps that follow them
  absorbed = np.asarray(m["absorbed_share"])
  entering = (np.asarray(m["reward"]) - 1.0 + 4.0 * absorbed) / 6.0
  assert np.all(entering > 0.002) and np.all(entering < absorbed), (entering, absorbed)
  # live steps (entries among them) pay between 1 and 7
  live = np.asarray(m["reward_live"])
  assert_close(live, (1.0 - absorbed - entering + 7.0 * entering) / (1.0 - absorbed))
  with pytest.raises(ValueError, match="give both"):
    make_ppo(config, env, entry_reward_fn=seven)
