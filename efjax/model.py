"""`efjax.load(workdir)`: a trained model whose methods take and return demo-file units.

    model = efjax.load(workdir)
    model.energy(obs, actions, sigma)                     # [B]
    model.score(obs, actions, sigma)                      # [B, Ha, act_dim] = -grad_a energy
    model.sample(obs, key)                                # [B, Ha, act_dim], PF-ODE
    model.reward(obs, actions, next_obs=None, kind=None)  # [B]

obs is [B, Ho, obs_dim] and actions [B, Ha, act_dim]; a horizon of 1 may be left out.
Normalization happens inside (efjax.data.units); sigma is in normalized-action units.
Every method is a pure function of its inputs (jit, vmap and grad work on it);
inference uses the EMA parameters of the newest checkpoint that restores. Loading
reads the workdir's config.json, dataset.json and the EMA parameters of a checkpoint
(efjax.checkpoint), and builds the network from the config: nothing of the trainer.
A workdir of another method (its config.json's `method`) loads as that method's
model: `bc` as an efjax.bc.BCModel.
"""
import dataclasses
import sys

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from efjax import checkpoint, networks, provenance, schedules, workdir as workdir_files
from efjax import energy as energy_lib
from efjax.data import fit_normalizer
from efjax.data.units import DemoUnits, InDemoUnits
from efjax.policy import samplers
from efjax.reward.formulas import make_reward_fn
from efjax.reward.reference import reference_rule

Array = jax.Array
# Energy rows per chunk of an RL reward evaluation (Model.reward_fn): on the 2-core CPU a
# 64x64 MLP energy's reward over 4,096 transitions with 3 rows per state ran 1.5x faster
# in chunks of this many rows than in one piece (activations that stay in cache).
ROWS_PER_CHUNK = 4352


def make_network(config: ml_collections.ConfigDict):
  """(EnergyNet, Schedule) of an EnergyFlow config (`model`, `schedule`)."""
  schedule = schedules.make_schedule(config.schedule)
  return networks.make_network(config.model, schedule), schedule


def init_variables(net, config: ml_collections.ConfigDict, obs_dim: int, act_dim: int,
                   key: Array) -> dict:
  """Fresh variables {'params', 'spectral'} for windows of the config's horizons."""
  d = config.data
  return net.init(key, jnp.zeros((1, d.action_horizon, act_dim)),
                  jnp.zeros((1, d.obs_horizon, obs_dim)), jnp.zeros((1,)))


@dataclasses.dataclass(frozen=True)
class Model(InDemoUnits):
  """A trained EnergyFlow energy; obs_dim, act_dim and normalizers come with `units`."""
  config: ml_collections.ConfigDict
  params: dict                      # EMA variables {'params', 'spectral'}
  net: object
  schedule: object
  units: DemoUnits
  step: int | None = None           # the checkpoint's training step

  def energy(self, obs: Array, actions: Array, sigma) -> Array:
    """E(a, s, sigma): [B]."""
    a = self.units.actions(actions)
    t = energy_lib.broadcast_t(self.schedule.t_of_sigma(sigma), a.shape[0])
    return energy_lib.energy(self.net, self.params, a, self.units.obs(obs), t)

  def score(self, obs: Array, actions: Array, sigma) -> Array:
    """-grad_a E in demo units: [B, Ha, act_dim] (the shape actions came in)."""
    return -jax.grad(lambda a: self.energy(obs, a, sigma).sum())(jnp.asarray(actions, jnp.float32))

  def sample(self, obs: Array, key: Array) -> Array:
    """Action chunks [B, Ha, act_dim] by the config's PF-ODE sampler."""
    o = self.units.obs(obs)
    features = energy_lib.encode_obs(self.net, self.params, o)
    score = lambda x, t: energy_lib.score_from_features(self.net, self.params, x, features, t)  # noqa: E731
    cfg = self.config.sampler
    shape = (o.shape[0], self.config.data.action_horizon, self.act_dim)
    a = samplers.sample(score, key, shape, self.schedule, cfg.method, cfg.num_steps, cfg.t_end)
    return self.units.to_demo_actions(a)

  def reward(self, obs: Array, actions: Array, next_obs: Array | None = None,
             kind: str | None = None) -> Array:
    """The config's reward (`centered` by default): [B]."""
    fn = make_reward_fn(self.net, self.config.reward,
                        (self.config.data.action_horizon, self.act_dim))
    next_o = None if next_obs is None else self.units.obs(next_obs)
    return fn(self.params, self.units.obs(obs), self.units.actions(actions), next_o, kind)

  def with_reward(self, **overrides) -> "Model":
    """The same model reading its reward with other `reward.*` settings, e.g. t=1e-3."""
    config = ml_collections.ConfigDict(self.config.to_dict())
    config.reward.update(overrides)
    return dataclasses.replace(self, config=config)

  def reward_fn(self, kind: str | None = None):
    """The reward as an RL loop wants it: `fn(params, obs, action, next_obs) -> [B]`.

    obs, next_obs: [B, obs_dim], action: [B, act_dim] in env (demo) units, for a
    model trained with observation history 1 and action chunk 1 (as RL rewards are:
    one transition at a time). Pass `model.params` as `params`. Large batches are
    evaluated in chunks of about ROWS_PER_CHUNK energy rows.
    """
    d = self.config.data
    if (d.obs_horizon, d.action_horizon) != (1, 1):
      raise ValueError(f"a per-step RL reward needs obs_horizon 1 and action_horizon 1, this "
                       f"model has {d.obs_horizon} and {d.action_horizon}")
    kind = kind or self.config.reward.kind
    points, _ = reference_rule(self.config.reward, (1, self.act_dim))
    chunk = max(1, ROWS_PER_CHUNK // (1 + points.shape[0]))

    def fn(params, obs, action, next_obs):
      model = dataclasses.replace(self, params=params)
      if kind == "soft_bellman":
        return energy_lib.map_in_chunks(lambda o, a, n: model.reward(o, a, n, kind), obs,
                                        action, next_obs, chunk=chunk)
      return energy_lib.map_in_chunks(lambda o, a: model.reward(o, a, None, kind), obs,
                                      action, chunk=chunk)
    return fn


def init_model(config: ml_collections.ConfigDict, obs_dim: int, act_dim: int, key: Array,
               normalizers: dict | None = None) -> Model:
  """A Model of `config` with freshly initialized parameters (no workdir): for tests and
  benchmarks. normalizers: {'obs', 'actions'} (default: identity)."""
  config = ml_collections.ConfigDict(config.to_dict())
  net, schedule = make_network(config)
  if normalizers is None:
    normalizers = {"obs": fit_normalizer(np.zeros((1, obs_dim)), "identity"),
                   "actions": fit_normalizer(np.zeros((1, act_dim)), "identity")}
  units = DemoUnits(normalizers, config.data.obs_horizon, config.data.action_horizon,
                    obs_dim, act_dim)
  return Model(config=config, params=init_variables(net, config, obs_dim, act_dim, key),
               net=net, schedule=schedule, units=units)


def load(workdir: str, step: int | None = None):
  """The model of a training workdir, from its newest checkpoint that restores (or `step`).

  An EnergyFlow workdir gives a Model; a BC one (config.json `method: bc`) an
  efjax.bc.BCModel. WorkdirError when the workdir has no config, dataset or checkpoint.
  """
  config = workdir_files.read_config(workdir)
  if (note := provenance.loading_note(workdir)) is not None:
    print(note, file=sys.stderr)
  if workdir_files.method_of(config) == "bc":
    from efjax import bc
    return bc.load(workdir, step)
  net, schedule = make_network(config)
  params, ckpt_step, units = checkpoint.load_trained(
      workdir, config, lambda o, a, key: init_variables(net, config, o, a, key), step)
  return Model(config=config, params=params, net=net, schedule=schedule, units=units,
               step=ckpt_step)
