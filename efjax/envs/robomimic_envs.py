"""robomimic tasks in robosuite, rebuilt from a dataset's env metadata, as reset/step envs.

    meta = efjax.data.robomimic.read_env_meta(hdf5_path)   # the file's data.attrs["env_args"]
    env = make_env(meta, obs_keys=("object", "robot0_eef_pos", ...), max_steps=400)
    obs, info = env.reset(seed=7)          # obs [obs_dim] float64, the keys concatenated in order
    obs, reward, terminated, truncated, info = env.step(action)   # action [act_dim]
    info["success"]                        # robosuite's env._check_success() after this step

The interface is the one efjax.evaluation.evaluate steps (gymnasium's reset/step, an
`action_space` with `low`/`high`), without needing gymnasium. Observations are put
together from robosuite's observation dict with the training file's keys in the same
order; robomimic stores robosuite's `object-state` under `object`.

Seeding: `reset(seed=s)` seeds numpy's global generator (what robosuite < 1.5 draws
from, as robomimic's and diffusion policy's rollouts do) and, in robosuite 1.5, resets
the state of `env.rng`, the Generator its placement samplers and robot resets share
(`seed=` is not accepted by every task's constructor: robosuite issue #600), so an
episode's start depends on its seed alone.

The v1.4.1 files name a part controller (`{"type": "OSC_POSE", ...}`); robosuite 1.5
expects a composite controller, so such a config is converted with robosuite's
`refactor_composite_controller_config` for each robot's arm. Tested against a fake
robosuite (tests/test_robomimic.py), and checked once against robosuite 1.5.2 in a
separate venv (BUILD.md): all five tasks build from v1.4.1-style env_args, their
observation widths (19, 23, 23, 59, 53) and action sizes match the configs, and the
same seed gives the same start.
"""
import types

import numpy as np

from efjax.errors import TaskError

INSTALL_HINT = "robosuite is not installed: pip install 'efjax[robomimic]' (robosuite 1.5)"
# robosuite's dict key for each robomimic key that is named differently.
_ROBOSUITE_KEY = {"object": "object-state"}
# What evaluation needs of the simulator, whatever the file's env_kwargs say: no
# windows or cameras, the sparse task reward, and no robosuite horizon (max_steps ends
# an episode here, as robomimic's rollouts do).
_OVERRIDES = dict(has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False,
                  reward_shaping=False, ignore_done=True, use_object_obs=True)


class RobomimicError(TaskError):
  """A robomimic setting or install the user has to change; one line."""


def import_robosuite():
  """robosuite, or RobomimicError with the install line."""
  try:
    import robosuite
  except ImportError:
    raise RobomimicError(INSTALL_HINT) from None
  return robosuite


def _version(robosuite) -> tuple[int, int]:
  try:
    return tuple(int(x) for x in robosuite.__version__.split(".")[:2])
  except (AttributeError, ValueError):
    return (0, 0)


def _controller_configs(robosuite, kwargs: dict) -> dict:
  """A v1.4-style part controller config as robosuite >= 1.5's composite one."""
  config = kwargs.get("controller_configs")
  if not isinstance(config, dict) or "body_parts" in config or _version(robosuite) < (1, 5):
    return kwargs
  from robosuite.controllers.composite.composite_controller_factory import (
      refactor_composite_controller_config)
  robots = kwargs.get("robots", "Panda")
  robot = robots if isinstance(robots, str) else robots[0]
  # The robomimic tasks' robots are single-armed Pandas (transport: two of them), whose
  # one arm robosuite calls "right".
  return dict(kwargs, controller_configs=refactor_composite_controller_config(
      config, robot, ["right"]))


class RobosuiteEnv:
  """A robosuite env with seeded resets, flat observations, success in `info`, a step limit."""

  def __init__(self, env, obs_keys, max_steps: int):
    if max_steps < 1:
      raise RobomimicError(f"config eval.max_steps must be positive, got {max_steps}")
    self.env, self.obs_keys, self.max_steps = env, tuple(obs_keys), int(max_steps)
    low, high = env.action_spec
    self.action_space = types.SimpleNamespace(low=np.asarray(low), high=np.asarray(high),
                                              shape=np.shape(low))
    self.t = 0

  def observation(self, obs: dict) -> np.ndarray:
    """[obs_dim]: obs_keys' arrays from robosuite's dict, flattened, concatenated."""
    parts = []
    for key in self.obs_keys:
      name = _ROBOSUITE_KEY.get(key, key)
      if name not in obs:
        raise KeyError(f"robosuite observation {name!r} (for obs key {key!r}) is missing; "
                       f"it has {sorted(obs)}")
      parts.append(np.asarray(obs[name], np.float64).ravel())
    return np.concatenate(parts)

  def success(self) -> bool:
    done = self.env._check_success()
    return bool(done["task"] if isinstance(done, dict) else done)

  def reset(self, *, seed: int | None = None, options=None):
    del options
    if seed is not None:
      np.random.seed(int(seed))
      # robosuite 1.5 draws placements and joint noise from env.rng, one Generator it
      # shares with its placement samplers: reseed that object in place.
      rng = getattr(self.env, "rng", None)
      if isinstance(rng, np.random.Generator):
        rng.bit_generator.state = np.random.default_rng(int(seed)).bit_generator.state
    self.t = 0
    return self.observation(self.env.reset()), {}

  def step(self, action):
    obs, reward, _, info = self.env.step(np.asarray(action, np.float64))
    self.t += 1
    info = dict(info or {}, success=self.success())
    return self.observation(obs), float(reward), False, self.t >= self.max_steps, info

  def render(self):
    raise RobomimicError("robomimic envs are built without an offscreen renderer: no frames")

  def close(self):
    self.env.close()


def make_env(env_meta: dict, obs_keys, max_steps: int) -> RobosuiteEnv:
  """The robosuite env of a robomimic file's `env_args` (efjax.data.robomimic.read_env_meta)."""
  robosuite = import_robosuite()
  kwargs = dict(env_meta.get("env_kwargs", {}), **_OVERRIDES)
  kwargs = _controller_configs(robosuite, kwargs)
  env = robosuite.make(env_meta["env_name"], **kwargs)
  return RobosuiteEnv(env, obs_keys, max_steps)
