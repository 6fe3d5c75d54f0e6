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


class RawKeyWrapper(Wrapper):
  """Accepts new-style typed keys [N] in `reset`: brax's wrappers read rng.shape[:-1]
  as the batch shape, which is only right for raw uint32 keys [N, 2]."""

  def reset(self, rng) -> State:
    if jax.dtypes.issubdtype(rng.dtype, jax.dtypes.prng_key):
      rng = jax.random.key_data(rng)
    return self.env.reset(rng)


def make_raw_env(name: str, backend: str = "positional", episode_length: int = 1000,
                 action_repeat: int = 1, **env_kwargs) -> envs.Env:
  """The unbatched task env (`reset(key)`, `step(state, action)`): what rollouts vmap.

  episode_length and action_repeat belong to the training wrappers (`make_env`) and
  are accepted here so that both take the same config.
  """
  del episode_length, action_repeat
  if backend not in BACKENDS:
    raise ConfigError(f"unknown brax backend {backend!r}; valid: {', '.join(BACKENDS)}")
  if name not in envs._envs:  # brax keeps its registry private; its error is a bare KeyError
    raise ConfigError(f"unknown brax environment {name!r}; valid: "
                      f"{', '.join(sorted(envs._envs))}")
  return envs.get_environment(name, backend=backend, **env_kwargs)


def make_env(name: str, backend: str = "positional", episode_length: int = 1000,
             action_repeat: int = 1, **env_kwargs) -> envs.Env:
  """A batched brax env: `reset(keys [N]) -> State` (typed or raw keys),
  `step(State, actions [N, act_dim]) -> State`.

  Actions are in [-1, 1] (brax envs rescale to their actuator ranges).
  `env.observation_size` and `env.action_size` give obs_dim and act_dim.
  """
  return wrap(make_raw_env(name, backend, **env_kwargs), episode_length, action_repeat)


def wrap(env: envs.Env, episode_length: int = 1000, action_repeat: int = 1) -> envs.Env:
  """brax's training wrappers around an unbatched env, plus NextObsWrapper."""
  env = brax_wrappers.VmapWrapper(env)
  env = brax_wrappers.EpisodeWrapper(env, episode_length, action_repeat)
  env = NextObsWrapper(env)
  return RawKeyWrapper(brax_wrappers.AutoResetWrapper(env))
