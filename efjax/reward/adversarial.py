"""Adversarial rewards trained inside the PPO loop: GAIL and AIRL discriminators.

    expert = expert_transitions(demos)                 # {obs, action, next_obs}, [M, ...]
    learner = make_airl(irl_config(), expert, gamma=0.99)   # or make_gail(...)
    ppo = make_ppo(ppo_config, env, reward_learner=learner)

Each PPO update first takes `disc_steps` Adam steps on the discriminator, each on
`batch_size` transitions of the fresh rollout (label 0) and as many expert
transitions drawn from device arrays inside the jit (label 1), then computes the
rollout's rewards with the updated discriminator.

- GAIL (Ho & Ermon 2016): D(s, a) = sigmoid(d(s, a)); the policy's reward is
  -log(1 - D) = softplus(d), positive, so it never teaches the agent to end
  episodes early (log D would, on the terminating Brax tasks).
- AIRL (Fu et al. 2018): D(s, a, s') = exp f / (exp f + pi(a|s)) with the
  shaped f(s, a, s') = g + gamma h(s') - h(s), so the logit is f - log pi(a|s)
  and the reward log D - log(1 - D) is that same logit. g is the recovered reward,
  h the shaping potential. `reward_inputs` picks g's inputs: "state", g(s) (the
  paper's disentangled reward, the default), or "state_action", g(s, a) (as the
  `imitation` library's AIRL). At a terminal s' h(s') is still evaluated (Brax gives
  the terminal observation); a small bias, kept for simplicity.

  The policy's reward holds -log pi(a|s), an entropy bonus of weight 1, so pi must be
  the density of the action the env receives: the PPO learner passes log pi(u) minus
  the squash's log-Jacobian (efjax.rl.networks.squash_log_det). With the tanh squash
  that density lives on [-1, 1]^d and its entropy is bounded; a clipped Gaussian has
  no density at the bounds, its log pi(u) falls without limit as the std grows, and
  the bonus pays the policy to widen until nearly every action sits at a bound. Hence
  `airl_squash` ("tanh"), which experiments.rl_compare gives AIRL's PPO policy; the
  runs that showed it are results/rl_compare.md's "Diagnosis: AIRL" (made by
  experiments.rl_sweep's `diagnoses`).

Observations are normalized with the expert's fixed mean and std (computed once
from the demos), so the discriminator's input scale never drifts with the agent.
"""
from typing import NamedTuple

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from efjax.registry import Registry
from efjax.rl.networks import MLP
from efjax.rl.ppo import RewardLearner, Transition

Array = jax.Array


def irl_config() -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(dict(
      hidden=(64, 64), activation="tanh", learning_rate=3e-4,
      disc_steps=4,          # discriminator Adam steps per PPO update
      batch_size=512,        # policy transitions (and as many expert ones) per step
      entropy_coef=0.0,      # logit-entropy bonus; 0 = plain binary cross-entropy
      reward_inputs="state",   # AIRL's g: "state" g(s) (the paper's) or "state_action"
      airl_squash="tanh"))     # the squash of AIRL's PPO policy (see the module docstring)


def expert_transitions(observations: np.ndarray, actions: np.ndarray,
                       episode_ends: np.ndarray) -> dict:
  """(s, a, s') of a demo file whose s' lies in the same episode: {obs, action, next_obs}.

  observations [T, obs_dim], actions [T, act_dim], episode_ends [E] (exclusive ends).
  An episode's last step has no recorded s' and is dropped.
  """
  last = np.zeros(len(observations), bool)
  last[np.asarray(episode_ends) - 1] = True
  idx = np.flatnonzero(~last)
  return {"obs": np.asarray(observations[idx], np.float32),
          "action": np.asarray(actions[idx], np.float32),
          "next_obs": np.asarray(observations[idx + 1], np.float32)}


@flax.struct.dataclass
class DiscState:
  params: dict
  opt_state: optax.OptState
  step: Array


class _Nets(NamedTuple):
  init: callable      # key -> params
  logit: callable     # (params, obs_n, action, next_obs_n, log_prob) -> [B]
  reward: callable    # same signature -> [B], the policy's reward


def _gail_nets(config, obs_dim: int, act_dim: int) -> _Nets:
  d = MLP(tuple(config.hidden), 1, config.activation)

  def init(key):
    return {"d": d.init(key, jnp.zeros((1, obs_dim + act_dim)))}

  def logit(params, obs, action, next_obs, log_prob):
    del next_obs, log_prob
    return d.apply(params["d"], jnp.concatenate([obs, action], -1))[:, 0]

  def reward(params, *args):
    return jax.nn.softplus(logit(params, *args))    # -log(1 - D)

  return _Nets(init, logit, reward)


AIRL_REWARD_INPUTS = ("state_action", "state")


def airl_f(g, h, params, obs, action, next_obs, gamma: float, state_only: bool) -> Array:
  """f(s, a, s') = g + gamma h(s') - h(s): [B], g = g(s) if state_only else g(s, a).

  obs, next_obs normalized [B, obs_dim]; action [B, act_dim].
  """
  g_in = obs if state_only else jnp.concatenate([obs, action], -1)
  g_s = g.apply(params["g"], g_in)[:, 0]
  return g_s + gamma * h.apply(params["h"], next_obs)[:, 0] - h.apply(params["h"], obs)[:, 0]


def _airl_nets(config, obs_dim: int, act_dim: int, gamma: float) -> _Nets:
  if config.reward_inputs not in AIRL_REWARD_INPUTS:
    raise ValueError(f"irl.reward_inputs={config.reward_inputs!r}: expected one of "
                     f"{AIRL_REWARD_INPUTS}")
  state_only = config.reward_inputs == "state"
  g = MLP(tuple(config.hidden), 1, config.activation)
  h = MLP(tuple(config.hidden), 1, config.activation)

  def init(key):
    kg, kh = jax.random.split(key)
    g_dim = obs_dim if state_only else obs_dim + act_dim
    return {"g": g.init(kg, jnp.zeros((1, g_dim))), "h": h.init(kh, jnp.zeros((1, obs_dim)))}

  def logit(params, obs, action, next_obs, log_prob):
    return airl_f(g, h, params, obs, action, next_obs, gamma, state_only) - log_prob

  return _Nets(init, logit, logit)   # log D - log(1 - D) is the logit itself


def _make_learner(config, nets: _Nets, expert: dict) -> RewardLearner:
  obs_mean = jnp.asarray(expert["obs"].mean(0))
  obs_std = jnp.asarray(expert["obs"].std(0) + 1e-6)
  expert = jax.tree.map(jnp.asarray, expert)
  num_expert = expert["obs"].shape[0]
  tx = optax.adam(config.learning_rate)
  norm = lambda o: (o - obs_mean) / obs_std  # noqa: E731

  def init(key) -> DiscState:
    params = nets.init(key)
    return DiscState(params, tx.init(params), jnp.zeros((), jnp.int32))

  def loss_fn(params, pol: dict, exp: dict):
    """Binary cross-entropy, expert = 1, policy = 0; fields [B, ...], obs normalized."""
    lp = nets.logit(params, pol["obs"], pol["action"], pol["next_obs"], pol["log_prob"])
    le = nets.logit(params, exp["obs"], exp["action"], exp["next_obs"], exp["log_prob"])
    bce = jnp.mean(jax.nn.softplus(lp)) + jnp.mean(jax.nn.softplus(-le))
    # Bernoulli entropy from the logits: -log p = softplus(-x), -log(1 - p) = softplus(x).
    # (The p * log(p + 1e-8) form gave NaN once |x| > ~17 under jit: XLA folds
    # 1 - p + 1e-8 into 1 - p = 0, and 0 * log 0 is NaN even at entropy_coef = 0.)
    logits = jnp.concatenate([lp, le])
    probs = jax.nn.sigmoid(logits)
    entropy = jnp.mean(probs * jax.nn.softplus(-logits) + (1 - probs) * jax.nn.softplus(logits))
    acc = 0.5 * (jnp.mean(lp < 0) + jnp.mean(le > 0))
    return bce - config.entropy_coef * entropy, {"disc_loss": bce, "disc_accuracy": acc,
                                                  "expert_logit": le.mean(),
                                                  "policy_logit": lp.mean()}

  def update(state: DiscState, traj: Transition, log_prob_fn, key):
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731  [T, N, ...] -> [T N, ...]
    pol_all = {"obs": flat(traj.obs), "action": flat(traj.action),
               "next_obs": flat(traj.next_obs), "log_prob": flat(traj.log_prob)}
    n_pol, b = pol_all["obs"].shape[0], config.batch_size

    def step(state, k):
      k_pol, k_exp = jax.random.split(k)
      i = jax.random.randint(k_pol, (b,), 0, n_pol)
      j = jax.random.randint(k_exp, (b,), 0, num_expert)
      pol = jax.tree.map(lambda x: x[i], pol_all)
      exp = jax.tree.map(lambda x: x[j], expert)
      # The expert's log pi under the current policy (AIRL's D needs it; GAIL ignores it).
      exp["log_prob"] = log_prob_fn(exp["obs"], exp["action"])
      for batch in (pol, exp):
        batch["obs"], batch["next_obs"] = norm(batch["obs"]), norm(batch["next_obs"])
      (_, metrics), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, pol, exp)
      updates, opt_state = tx.update(grads, state.opt_state, state.params)
      return DiscState(optax.apply_updates(state.params, updates), opt_state,
                       state.step + 1), metrics

    state, metrics = jax.lax.scan(step, state, jax.random.split(key, config.disc_steps))
    return state, jax.tree.map(jnp.mean, metrics)

  def reward(state: DiscState, obs, action, next_obs, log_prob):
    """The policy's reward [B] from raw env obs [B, obs_dim], actions [B, act_dim]."""
    return nets.reward(state.params, norm(obs), action, norm(next_obs), log_prob)

  return RewardLearner(init, update, reward)


def make_gail(config, expert: dict) -> RewardLearner:
  """GAIL's learner; expert = expert_transitions(...) (numpy, [M, ...])."""
  obs_dim, act_dim = expert["obs"].shape[1], expert["action"].shape[1]
  return _make_learner(config, _gail_nets(config, obs_dim, act_dim), expert)


def make_airl(config, expert: dict, gamma: float) -> RewardLearner:
  """AIRL's learner with the shaped g + gamma h(s') - h(s) discriminator."""
  obs_dim, act_dim = expert["obs"].shape[1], expert["action"].shape[1]
  return _make_learner(config, _airl_nets(config, obs_dim, act_dim, gamma), expert)


def recovered_reward(kind: str, config, expert: dict, gamma: float):
  """The learned reward without the policy term, for reward-quality metrics:
  `fn(disc_params, obs, action, next_obs) -> [B]` in raw env units.

  AIRL: f(s, a, s') = g + gamma h(s') - h(s) (its reward up to the shaping h);
  GAIL: the policy's reward softplus(d(s, a)).
  """
  obs_mean = jnp.asarray(expert["obs"].mean(0))
  obs_std = jnp.asarray(expert["obs"].std(0) + 1e-6)
  norm = lambda o: (o - obs_mean) / obs_std  # noqa: E731
  obs_dim, act_dim = expert["obs"].shape[1], expert["action"].shape[1]
  return RECOVERED.get(kind)(config, obs_dim, act_dim, gamma, norm)


def _airl_recovered(config, obs_dim, act_dim, gamma, norm):
  nets = _airl_nets(config, obs_dim, act_dim, gamma)
  zero = lambda obs: jnp.zeros(obs.shape[0])  # noqa: E731
  return lambda p, o, a, n: nets.logit(p, norm(o), a, norm(n), zero(o))


def _gail_recovered(config, obs_dim, act_dim, gamma, norm):
  nets = _gail_nets(config, obs_dim, act_dim)
  return lambda p, o, a, n: nets.reward(p, norm(o), a, norm(n), None)


RECOVERED: Registry = Registry("adversarial reward")
RECOVERED.register("airl", _airl_recovered)
RECOVERED.register("gail", _gail_recovered)
