"""Brax environments for the jitted RL loop: batched, episodic, auto-resetting.

`make_env(name, backend, episode_length)` returns brax's own training wrappers
(VmapWrapper -> EpisodeWrapper -> AutoResetWrapper) with two additions: the
observation reached by each step *before* an auto-reset is kept in
`state.info["next_obs"]` [N, obs_dim], and `reset` takes typed keys too. AutoResetWrapper overwrites `state.obs`
with the first observation of the next episode, so without it a reward
r(s, a, s') and the value bootstrap at a time-limit truncation would see the
wrong s'.

State fields the PPO loop reads after `step` (all [N]):
  reward      the environment's true reward of that step
  done        1.0 where the episode ended (termination or time limit)
  info["truncation"]                       1.0 where it ended by the time limit only
  info["episode_metrics"]["sum_reward"]    true return so far (the full return where done)
"""
import jax
import jax.numpy as jnp
from brax import envs
from brax.envs.base import State, Wrapper
from brax.envs.wrappers import training as brax_wrappers

from efjax.errors import ConfigError

BACKENDS = ("spring", "positional", "generalized", "mjx")


class NextObsWrapper(Wrapper):
  """Keeps the pre-reset observation of each step in `info["next_obs"]` [N, obs_dim].

  Sits between EpisodeWrapper and AutoResetWrapper, so it sees the step's
  result before the reset replaces it.
  """

  def reset(self, rng) -> State:
    state = self.env.reset(rng)
    state.info["next_obs"] = state.obs
    return state

  def step(self, state: State, action) -> State:
    state = self.env.step(state, action)
    state.info["next_obs"] = state.obs
    return state


class FixedHorizonWrapper(Wrapper):
  """Episodes that never end early (unbatched; under the training wrappers).

  A step that would end the episode moves it instead to an absorbing state: the terminal
  state, repeated until the time limit, with true reward 0 and `done` 0, as the seals
  suite makes terminating tasks fixed-horizon. No learned reward's sign or offset can
  then change how long an episode lasts; what it pays in the absorbing state counts.
  `state.info["absorbed"]` is 1 from the terminal step on.
  """

  def reset(self, rng) -> State:
    state = self.env.reset(rng)
    state.info["absorbed"] = jnp.zeros(())
    return state

  def step(self, state: State, action) -> State:
    absorbed = state.info["absorbed"] > 0
    nxt = self.env.step(state, action)
    nxt.info["absorbed"] = state.info["absorbed"]
    kept = jax.tree.map(lambda old, new: jnp.where(absorbed, old, new), state, nxt)
    kept.info["absorbed"] = jnp.maximum(state.info["absorbed"], nxt.done)
    return kept.replace(reward=jnp.where(absorbed, 0.0, nxt.reward),
                        done=jnp.zeros_like(nxt.done))


class RawKeyWrapper(Wrapper):
  """Accepts new-style typed keys [N] in `reset`: brax's wrappers read rng.shape[:-1]
  as the batch shape, which is only right for raw uint32 keys [N, 2]."""

  def reset(self, rng) -> State:
    if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
      rng = jax.random.key_data(rng)
    return self.env.reset(rng)


def make_raw_env(name: str, backend: str = "positional", episode_length: int = 1000,
                 action_repeat: int = 1, fixed_horizon: bool = False, **env_kwargs) -> envs.Env:
  """The unbatched task env (`reset(key)`, `step(state, action)`): what rollouts vmap.

  fixed_horizon: episodes never end early (FixedHorizonWrapper). episode_length and
  action_repeat belong to the training wrappers (`make_env`) and are accepted here so
  that both take the same config.
  """
  del episode_length, action_repeat
  if backend not in BACKENDS:
    raise ConfigError(f"unknown brax backend {backend!r}; valid: {', '.join(BACKENDS)}")
  if name not in envs._envs:  # brax keeps its registry private; its error is a bare KeyError
    raise ConfigError(f"unknown brax environment {name!r}; valid: "
                      f"{', '.join(sorted(envs._envs))}")
  env = envs.get_environment(name, backend=backend, **env_kwargs)
  return FixedHorizonWrapper(env) if fixed_horizon else env


def make_env(name: str, backend: str = "positional", episode_length: int = 1000,
             action_repeat: int = 1, fixed_horizon: bool = False, **env_kwargs) -> envs.Env:
  """A batched brax env: `reset(keys [N]) -> State` (typed or raw keys),
  `step(State, actions [N, act_dim]) -> State`.

  Actions are in [-1, 1] (brax envs rescale to their actuator ranges).
  `env.observation_size` and `env.action_size` give obs_dim and act_dim.
  """
  return wrap(make_raw_env(name, backend, fixed_horizon=fixed_horizon, **env_kwargs),
              episode_length, action_repeat)


class AutoResetWrapper(brax_wrappers.AutoResetWrapper):
  """brax's auto-reset, which also starts FixedHorizonWrapper's next episode live: brax
  restores only the pipeline state and the observation at the end of an episode, so an
  absorbed env would otherwise stay absorbed (frozen, reward 0) in every later episode."""

  def step(self, state: State, action) -> State:
    if "absorbed" in state.info:
      state.info["absorbed"] = jnp.where(state.done > 0, 0.0, state.info["absorbed"])
    return super().step(state, action)


def wrap(env: envs.Env, episode_length: int = 1000, action_repeat: int = 1) -> envs.Env:
  """brax's training wrappers around an unbatched env, plus NextObsWrapper."""
  env = brax_wrappers.VmapWrapper(env)
  env = brax_wrappers.EpisodeWrapper(env, episode_length, action_repeat)
  env = NextObsWrapper(env)
  return RawKeyWrapper(AutoResetWrapper(env))
