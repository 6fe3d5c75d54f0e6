"""PPO whose whole training run is one jitted function (purejaxrl's shape), on brax envs.

    train = make_train(config, env, reward_fn)         # reward_fn=None: the env's reward
    runner, metrics = jax.jit(train)(jax.random.key(0), reward_params)
    runners, metrics = jax.jit(jax.vmap(train, (0, None)))(keys, reward_params)   # seeds

One update = a rollout of `unroll_length` steps from `num_envs` envs (lax.scan),
the reward, GAE, then `update_epochs` x `num_minibatches` Adam steps (nested
lax.scan); the run is lax.scan over updates. `metrics` holds one entry per
update ([U] arrays, [S, U] under vmap): the true return of the episodes that
finished in it is logged whatever reward is optimized; `env_steps` counts agent
steps (every config uses action_repeat 1).

A reward is a pure function `reward_fn(reward_params, obs [B, obs_dim],
action [B, act_dim], next_obs [B, obs_dim]) -> [B]` in raw env units, the
action being what the env received (in [-1, 1]). A reward that is itself
learned during the run (AIRL, GAIL) is a `RewardLearner` instead: its state
rides in `RunnerState.reward_state`, and each update trains it on the fresh
rollout (before the rollout's rewards are computed) inside the same jit. On a
fixed-horizon env that can end early, `absorbing_reward` sets what a fixed reward pays
on absorbed steps and `entry_reward_fn` (same signature as reward_fn) what it pays on
the step into the absorbing state. Non-finite rewards are
counted, replaced by 0 and the first update that had one is recorded, so a
broken learned reward shows up in the metrics instead of in NaN params.
"""
import math
from typing import Any, Callable, NamedTuple

import flax
import jax
import jax.numpy as jnp
import optax

from efjax.errors import ConfigError
from efjax.rl.networks import (SQUASHES, distribution, make_networks, make_policy_fn,
                               squash_log_det, unsquash)
from efjax.rl.running_stats import RunningStats, init_stats, normalize, update_stats

Array = jax.Array
RewardFn = Callable[[Any, Array, Array, Array], Array]


class RewardLearner(NamedTuple):
  """A reward trained inside the PPO loop (efjax.rl.irl builds AIRL's and GAIL's).

  init(key) -> reward_state
  update(reward_state, traj: Transition, log_prob_fn, key) -> (reward_state, metrics)
      one round of discriminator steps on the rollout; log_prob_fn(obs [B, obs_dim],
      action [B, act_dim]) -> [B] is the current policy's log-density (AIRL needs it
      at expert transitions).
  reward(reward_state, obs, action, next_obs, log_prob [B]) -> [B]
  The learner's traj.log_prob and log_prob are log pi of the env action squash(u)
  (efjax.rl.networks.squash_log_det), not PPO's log pi(u).
  """
  init: Callable
  update: Callable
  reward: Callable


class Transition(NamedTuple):
  """One rollout; every field is [T, N, ...] (T = unroll_length, N = num_envs)."""
  obs: Array             # [T, N, obs_dim] raw observation the action was chosen in
  u: Array               # [T, N, act_dim] pre-squash Gaussian sample
  action: Array          # [T, N, act_dim] squash(u), what the env received
  log_prob: Array        # [T, N] log pi_old(u | obs)
  true_reward: Array     # [T, N]
  next_obs: Array        # [T, N, obs_dim] observation reached, before any auto-reset
  done: Array            # [T, N] episode ended (termination or time limit)
  truncation: Array      # [T, N] ended by the time limit only
  episode_return: Array  # [T, N] true return so far (the full return where done)
  absorbed: Array        # [T, N] 1 where obs is a fixed-horizon env's absorbing state
  enters_absorbing: Array  # [T, N] 1 where obs is live and next_obs the absorbing state


@flax.struct.dataclass
class RunnerState:
  """Everything the jitted loop carries; `agent` is what a policy needs."""
  params: dict                 # {"actor", "critic"} flax variables
  obs_stats: RunningStats
  opt_state: Any
  env_state: Any
  rng: Array
  update: Array                # int32, updates done
  nonfinite_total: Array       # int32, non-finite rewards seen so far
  first_nonfinite_update: Array  # int32, -1 while none
  reward_state: Any = None       # a RewardLearner's state (None for a fixed reward)

  @property
  def agent(self) -> dict:
    return {**self.params, "obs_stats": self.obs_stats}


class PPO(NamedTuple):
  init: Callable    # key -> RunnerState
  run: Callable     # (RunnerState, reward_params, num_updates: static) -> (RunnerState, metrics)
  train: Callable   # (key, reward_params) -> (RunnerState, metrics over all updates)
  act: Callable     # make_policy_fn(config, act_dim)
  num_updates: int
  steps_per_update: int


def gae(rewards, values, next_values, terminations, dones, gamma: float, lam: float):
  """Generalized advantage estimation over a rollout; every input and output is [T, N].

  next_values[t] = V(s'_t) of the observation the step reached (before reset), so
  a time-limit truncation bootstraps from the true last state; terminations cut
  the bootstrap, and any episode end (dones) cuts the lambda-recursion.
  Returns (advantages, value targets = advantages + values).
  """
  deltas = rewards + gamma * (1.0 - terminations) * next_values - values

  def backward(adv_next, x):
    delta, done = x
    adv = delta + gamma * lam * (1.0 - done) * adv_next
    return adv, adv

  _, adv = jax.lax.scan(backward, jnp.zeros_like(deltas[0]), (deltas, dones), reverse=True)
  return adv, adv + values


def ppo_loss(params: dict, actor, critic, batch: dict, config):
  """Clipped-surrogate PPO loss on a minibatch; batch fields are [B, ...] with obs normalized.

  Returns (loss, metrics). Value loss is unclipped MSE (as brax's PPO).
  """
  mean, log_std = actor.apply(params["actor"], batch["obs"])
  dist = distribution(mean, log_std)
  log_prob = dist.log_prob(batch["u"])
  adv = batch["advantages"]
  if config.normalize_advantage:
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
  log_ratio = log_prob - batch["log_prob"]
  ratio = jnp.exp(log_ratio)
  clipped = jnp.clip(ratio, 1 - config.clip_eps, 1 + config.clip_eps)
  policy_loss = -jnp.minimum(ratio * adv, clipped * adv).mean()
  value = critic.apply(params["critic"], batch["obs"])
  value_loss = 0.5 * ((value - batch["targets"]) ** 2).mean()
  entropy = dist.entropy().mean()
  loss = policy_loss + config.vf_coef * value_loss - config.entropy_coef * entropy
  return loss, {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
                "approx_kl": ((ratio - 1) - log_ratio).mean(),
                "clip_frac": (jnp.abs(ratio - 1) > config.clip_eps).mean()}


def _masked_mean(x: Array, mask: Array) -> Array:
  """Mean of x where mask holds; NaN where it never does."""
  n = mask.sum()
  return jnp.where(n > 0, jnp.where(mask, x, 0.0).sum() / jnp.maximum(n, 1), jnp.nan)


def check_config(config) -> None:
  """Refuses impossible settings before anything compiles."""
  batch = config.num_envs * config.unroll_length
  if batch % config.num_minibatches:
    raise ConfigError(f"ppo: num_envs * unroll_length = {batch} is not divisible by "
                     f"num_minibatches = {config.num_minibatches}")
  if config.total_steps < batch:
    raise ConfigError(f"ppo: total_steps = {config.total_steps} is less than one update "
                     f"(num_envs * unroll_length = {batch})")
  SQUASHES.get(config.squash)
  absorbing = config.get("absorbing_reward")
  if absorbing is not None and not (isinstance(absorbing, (int, float))
                                    and math.isfinite(absorbing)):
    raise ConfigError(f"ppo: absorbing_reward must be None or a finite number, got "
                      f"{absorbing!r}")


def make_ppo(config, env, reward_fn: RewardFn | None = None,
             reward_learner: RewardLearner | None = None,
             entry_reward_fn: RewardFn | None = None) -> PPO:
  """Builds init/run/train for a batched env from efjax.envs.brax_envs.make_env.

  reward_fn: a fixed reward (None: the env's own); reward_learner: a learned one
  (then reward_fn must be None and train's reward_params is ignored). entry_reward_fn:
  what a fixed reward pays, instead of reward_fn, on a step from a live state into a
  fixed-horizon env's absorbing state (None: reward_fn); it takes reward_fn's params
  (efjax.reward.absorbing.soft_bellman_entry keeps the soft-Bellman reward's
  value term consistent with what absorbed steps pay).

  config: num_envs, unroll_length, total_steps, num_minibatches, update_epochs,
  gamma, gae_lambda, clip_eps, entropy_coef, vf_coef, learning_rate, anneal_lr,
  max_grad_norm, reward_scaling, normalize_obs, normalize_advantage, squash,
  actor_hidden, critic_hidden, activation, init_log_std, and optionally
  absorbing_reward: None (a reward pays what it reads at a fixed-horizon env's absorbing
  state) or the value every absorbed step of a learned or fixed reward pays instead.
  """
  check_config(config)
  if reward_fn is not None and reward_learner is not None:
    raise ValueError("give make_ppo a reward_fn or a reward_learner, not both")
  if entry_reward_fn is not None and reward_fn is None:
    raise ValueError("make_ppo: entry_reward_fn replaces reward_fn on some steps; give both")
  T, N = config.unroll_length, config.num_envs
  steps_per_update = T * N
  num_updates = config.total_steps // steps_per_update
  obs_dim, act_dim = env.observation_size, env.action_size
  actor, critic = make_networks(config, act_dim)
  squash = SQUASHES.get(config.squash)
  num_sgd = num_updates * config.update_epochs * config.num_minibatches
  lr = (optax.linear_schedule(config.learning_rate, 0.0, num_sgd) if config.anneal_lr
        else config.learning_rate)
  # Clipped per network: the critic's gradients (returns in the hundreds) would
  # otherwise set the global norm and shrink the actor's steps to nothing.
  net_tx = optax.chain(optax.clip_by_global_norm(config.max_grad_norm), optax.adam(lr, eps=1e-5))
  tx = optax.multi_transform({"actor": net_tx, "critic": net_tx},
                             lambda p: {k: jax.tree.map(lambda _: k, v) for k, v in p.items()})

  def norm(stats, x):
    return normalize(stats, x) if config.normalize_obs else x

  def init(key) -> RunnerState:
    k_env, k_actor, k_critic, k_run = jax.random.split(key, 4)
    dummy = jnp.zeros((1, obs_dim))
    params = {"actor": actor.init(k_actor, dummy), "critic": critic.init(k_critic, dummy)}
    env_state = env.reset(jax.random.split(k_env, N))
    reward_state = None
    if reward_learner is not None:   # its own key: the fixed-reward path keeps its numbers
      reward_state = reward_learner.init(jax.random.fold_in(key, 1))
    return RunnerState(params, init_stats(obs_dim), tx.init(params), env_state, k_run,
                       jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32),
                       -jnp.ones((), jnp.int32), reward_state)

  def rollout(runner: RunnerState, key):
    def step(env_state, k):
      mean, log_std = actor.apply(runner.params["actor"], norm(runner.obs_stats, env_state.obs))
      dist = distribution(mean, log_std)
      u = dist.sample(seed=k)
      action = squash(u)
      nxt = env.step(env_state, action)
      live = 1.0 - absorbed_at(env_state)
      return nxt, Transition(env_state.obs, u, action, dist.log_prob(u), nxt.reward,
                             nxt.info["next_obs"], nxt.done, nxt.info["truncation"],
                             nxt.info["episode_metrics"]["sum_reward"], 1.0 - live,
                             live * absorbed_at(nxt))
    return jax.lax.scan(step, runner.env_state, jax.random.split(key, T))

  def absorbed_at(env_state) -> Array:
    """[N]: 1 where the state acted in is absorbed (FixedHorizonWrapper's flag; an env
    just auto-reset (done) starts live although the flag clears only at its next step)."""
    flag = env_state.info.get("absorbed")
    if flag is None:
      return jnp.zeros_like(env_state.done)
    return flag * (1.0 - env_state.done)

  def optimized_reward(reward_params, reward_state, traj: Transition) -> Array:
    """[T, N]; evaluated once on the flattened rollout (one big batch, not T small ones).
    With config.absorbing_reward set, every absorbed step of a learned or fixed reward
    pays that value instead of what the reward reads at the frozen state (the true
    reward already pays 0 there); with entry_reward_fn, the step into it pays that."""
    if reward_fn is None and reward_learner is None:
      return traj.true_reward
    flat = lambda x: x.reshape((T * N,) + x.shape[2:])
    if reward_learner is not None:
      r = reward_learner.reward(reward_state, flat(traj.obs), flat(traj.action),
                                flat(traj.next_obs), flat(traj.log_prob))
    else:
      r = reward_fn(reward_params, flat(traj.obs), flat(traj.action), flat(traj.next_obs))
    r = r.reshape(T, N)
    if entry_reward_fn is not None:
      entry = entry_reward_fn(reward_params, flat(traj.obs), flat(traj.action),
                              flat(traj.next_obs)).reshape(T, N)
      r = jnp.where(traj.enters_absorbing > 0, entry, r)
    if config.get("absorbing_reward") is not None:
      r = jnp.where(traj.absorbed > 0, config.get("absorbing_reward"), r)
    return r

  def policy_log_prob(params, obs_stats):
    """log pi(a | s) [B] of the current policy at an env action a [B, act_dim]: the
    density of squash(u) (tanh: with its Jacobian; clip: the Gaussian's at u = a, exact
    inside [-1, 1], where the expert's actions lie)."""
    def log_prob(obs, action):
      mean, log_std = actor.apply(params["actor"], norm(obs_stats, obs))
      u = unsquash(action, config.squash)
      return distribution(mean, log_std).log_prob(u) - squash_log_det(u, config.squash)
    return log_prob

  def update(runner: RunnerState, reward_params):
    k_roll, k_epochs, rng = jax.random.split(runner.rng, 3)
    env_state, traj = rollout(runner, k_roll)
    # brax's step returns weak-typed floats; keep init's types so run() never recompiles.
    env_state = jax.tree.map(lambda n, o: n.astype(o.dtype), env_state, runner.env_state)
    reward_state, learner_metrics = runner.reward_state, {}
    if reward_learner is not None:   # discriminator first, then the rewards it gives
      # The learner sees log pi of the env action (AIRL's D is a density over what the
      # env received); PPO's ratio below keeps log pi(u).
      learner_traj = traj._replace(log_prob=traj.log_prob - squash_log_det(traj.u, config.squash))
      reward_state, learner_metrics = reward_learner.update(
          reward_state, learner_traj, policy_log_prob(runner.params, runner.obs_stats),
          jax.random.fold_in(k_roll, 1))
      reward = optimized_reward(reward_params, reward_state, learner_traj)
    else:
      reward = optimized_reward(reward_params, reward_state, traj)
    finite = jnp.isfinite(reward)
    num_bad = jnp.sum(~finite).astype(jnp.int32)
    reward = jnp.where(finite, reward, 0.0)

    # As brax: the stats include this rollout before the SGD epochs; log_prob was
    # taken under the old stats, a small, standard off-policy-ness.
    obs_stats = runner.obs_stats
    if config.normalize_obs:
      obs_stats = update_stats(obs_stats, traj.obs)
    obs_n, next_obs_n = norm(obs_stats, traj.obs), norm(obs_stats, traj.next_obs)
    values = critic.apply(runner.params["critic"], obs_n)
    next_values = critic.apply(runner.params["critic"], next_obs_n)
    terminations = traj.done * (1.0 - traj.truncation)
    adv, targets = gae(reward * config.reward_scaling, values, next_values, terminations,
                       traj.done, config.gamma, config.gae_lambda)

    batch = {"obs": obs_n, "u": traj.u, "log_prob": traj.log_prob,
             "advantages": adv, "targets": targets}
    batch = jax.tree.map(lambda x: x.reshape((T * N,) + x.shape[2:]), batch)
    grad_fn = jax.grad(ppo_loss, has_aux=True)

    def sgd_step(carry, mb):
      params, opt_state = carry
      grads, aux = grad_fn(params, actor, critic, mb, config)
      updates, opt_state = tx.update(grads, opt_state, params)
      return (optax.apply_updates(params, updates), opt_state), aux

    def epoch(carry, key):
      perm = jax.random.permutation(key, T * N)
      mbs = jax.tree.map(lambda x: x[perm].reshape((config.num_minibatches, -1) + x.shape[1:]),
                         batch)
      return jax.lax.scan(sgd_step, carry, mbs)

    (params, opt_state), aux = jax.lax.scan(
        epoch, (runner.params, runner.opt_state), jax.random.split(k_epochs, config.update_epochs))

    first_bad = jnp.where((runner.first_nonfinite_update < 0) & (num_bad > 0),
                          runner.update, runner.first_nonfinite_update)
    new = RunnerState(params, obs_stats, opt_state, env_state, rng, runner.update + 1,
                      runner.nonfinite_total + num_bad, first_bad, reward_state)
    episodes = traj.done.sum()
    metrics = {
        "env_steps": (runner.update + 1) * steps_per_update,
        # NaN where no episode finished in this update (honest, and skipped by the plots).
        "true_return": jnp.where(episodes > 0, (traj.episode_return * traj.done).sum()
                                 / jnp.maximum(episodes, 1), jnp.nan),
        "episodes": episodes,
        "reward": reward.mean(),
        # Where the optimized reward pays on a fixed-horizon env: the share of absorbed
        # steps and the mean reward on live and on absorbed ones, and on the steps into
        # the absorbing state (NaN where none).
        "absorbed_share": traj.absorbed.mean(),
        "reward_live": _masked_mean(reward, traj.absorbed == 0),
        "reward_absorbed": _masked_mean(reward, traj.absorbed > 0),
        "reward_entering": _masked_mean(reward, traj.enters_absorbing > 0),
        "true_reward": traj.true_reward.mean(),
        "nonfinite_rewards": num_bad,
        "nonfinite_total": new.nonfinite_total,
        "first_nonfinite_update": first_bad,
        **jax.tree.map(jnp.mean, aux),
        **{f"reward_learner/{k}": v for k, v in learner_metrics.items()},
    }
    return new, metrics

  def run(runner: RunnerState, reward_params, num_updates: int):
    return jax.lax.scan(lambda r, _: update(r, reward_params), runner, None, length=num_updates)

  def train(key, reward_params=None):
    return run(init(key), reward_params, num_updates)

  return PPO(init, run, train, make_policy_fn(config, act_dim), num_updates, steps_per_update)


def make_train(config, env, reward_fn: RewardFn | None = None,
               reward_learner: RewardLearner | None = None,
               entry_reward_fn: RewardFn | None = None):
  """`train(key, reward_params) -> (RunnerState, metrics)`: the whole run, jit- and vmap-able."""
  return make_ppo(config, env, reward_fn, reward_learner, entry_reward_fn).train
