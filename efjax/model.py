"""`efjax.load(workdir)`: a trained model whose methods take and return demo-file units.

    model = efjax.load(workdir)
    model.energy(obs, actions, sigma)                     # [B]
    model.score(obs, actions, sigma)                      # [B, Ha, act_dim] = -grad_a energy
    model.sample(obs, key)                                # [B, Ha, act_dim], PF-ODE
    model.reward(obs, actions, next_obs=None, kind=None)  # [B]

obs is [B, Ho, obs_dim] and actions [B, Ha, act_dim]; a horizon of 1 may be left out.
Normalization happens inside; sigma is in normalized-action units. Every method is a
pure function of its inputs (jit, vmap and grad work on it); inference uses the
EMA parameters of the newest checkpoint that restores.
"""
import dataclasses
import json
import os

import jax
import jax.numpy as jnp
import ml_collections

from efjax import energy as energy_lib
from efjax import rewards, samplers
from efjax.train import checkpoint
from efjax.train.trainer import DATASET_FILE, build

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class Model:
  config: ml_collections.ConfigDict
  params: dict                      # EMA variables {'params', 'spectral'}
  net: object
  schedule: object
  normalizers: dict                 # 'obs', 'actions'
  obs_dim: int
  act_dim: int

  def _prepare(self, x: Array, name: str, horizon: int, dim: int) -> Array:
    """Demo units [B, H, dim] (or [B, dim] when H == 1) -> normalized [B, H, dim]."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim == 2 and horizon == 1:
      x = x[:, None, :]
    if x.ndim != 3 or x.shape[1:] != (horizon, dim):
      raise ValueError(f"{name} must be [B, {horizon}, {dim}], got shape {tuple(x.shape)}")
    return self.normalizers[name].normalize(x)

  def _obs(self, obs: Array) -> Array:
    return self._prepare(obs, "obs", self.config.data.obs_horizon, self.obs_dim)

  def _actions(self, actions: Array) -> Array:
    return self._prepare(actions, "actions", self.config.data.action_horizon, self.act_dim)

  def energy(self, obs: Array, actions: Array, sigma) -> Array:
    """E(a, s, sigma): [B]."""
    a = self._actions(actions)
    t = energy_lib.broadcast_t(self.schedule.t_of_sigma(sigma), a.shape[0])
    return energy_lib.energy(self.net, self.params, a, self._obs(obs), t)

  def score(self, obs: Array, actions: Array, sigma) -> Array:
    """-grad_a E in demo units: [B, Ha, act_dim] (the shape actions came in)."""
    return -jax.grad(lambda a: self.energy(obs, a, sigma).sum())(jnp.asarray(actions, jnp.float32))

  def sample(self, obs: Array, key: Array) -> Array:
    """Action chunks [B, Ha, act_dim] by the config's PF-ODE sampler."""
    o = self._obs(obs)
    features = energy_lib.encode_obs(self.net, self.params, o)
    score = lambda x, t: energy_lib.score_from_features(self.net, self.params, x, features, t)  # noqa: E731
    cfg = self.config.sampler
    shape = (o.shape[0], self.config.data.action_horizon, self.act_dim)
    a = samplers.sample(score, key, shape, self.schedule, cfg.method, cfg.num_steps, cfg.t_end)
    return self.normalizers["actions"].unnormalize(a)

  def reward(self, obs: Array, actions: Array, next_obs: Array | None = None,
             kind: str | None = None) -> Array:
    """The config's reward (`centered` by default): [B]."""
    fn = rewards.make_reward_fn(self.net, self.config.reward,
                                (self.config.data.action_horizon, self.act_dim))
    next_o = None if next_obs is None else self._obs(next_obs)
    return fn(self.params, self._obs(obs), self._actions(actions), next_o, kind)

  def with_reward(self, **overrides) -> "Model":
    """The same model reading its reward with other `reward.*` settings, e.g. t=1e-3."""
    config = ml_collections.ConfigDict(self.config.to_dict())
    config.reward.update(overrides)
    return dataclasses.replace(self, config=config)

  def reward_fn(self, kind: str | None = None):
    """The reward as an RL loop wants it: `fn(params, obs, action, next_obs) -> [B]`.

    obs, next_obs: [B, obs_dim], action: [B, act_dim] in env (demo) units, for a
    model trained with observation history 1 and action chunk 1 (as RL rewards are:
    one transition at a time). Pass `model.params` as `params`.
    """
    d = self.config.data
    if (d.obs_horizon, d.action_horizon) != (1, 1):
      raise ValueError(f"a per-step RL reward needs obs_horizon 1 and action_horizon 1, this "
                       f"model has {d.obs_horizon} and {d.action_horizon}")
    kind = kind or self.config.reward.kind

    def fn(params, obs, action, next_obs):
      model = dataclasses.replace(self, params=params)
      return model.reward(obs, action, next_obs if kind == "soft_bellman" else None, kind)
    return fn


def load(workdir: str, step: int | None = None) -> Model:
  """The model of a training workdir, from its newest checkpoint that restores."""
  config_path = os.path.join(workdir, "config.json")
  if not os.path.exists(config_path):
    raise FileNotFoundError(f"{workdir}: no config.json (not a training workdir?)")
  config = ml_collections.ConfigDict(json.load(open(config_path)))
  spec = json.load(open(os.path.join(workdir, DATASET_FILE)))
  net, schedule, _, template = build(config, spec["obs_dim"], spec["act_dim"])
  state, norms = checkpoint.restore_for_inference(workdir, config.train.keep_checkpoints, template,
                                                 spec["obs_dim"], spec["act_dim"], step)
  return Model(config=config, params=state.ema_variables, net=net, schedule=schedule,
               normalizers=norms, obs_dim=spec["obs_dim"], act_dim=spec["act_dim"])
