"""Training data on device: normalized flat arrays plus window index arrays.

    data, norms, summary = prepare_data(config)         # from config.data (a demo file)
    data = in_memory_data(obs [N, obs_dim], actions [N, act_dim])   # pairs, e.g. a bandit
    batch = window_batch(key, data, batch_size)          # inside the jitted steps

`data`: {'obs' [T, obs_dim], 'actions' [T, act_dim] (normalized), 'obs_idx' [W, Ho],
'act_idx' [W, Ha]} with one row of indices per training window (efjax.data.windows),
so a batch is drawn inside the jit with no host work.
"""
import os

import jax
import jax.numpy as jnp

from efjax.data import fit_normalizer, load_training_demos, split_episodes, window_indices
from efjax.errors import ConfigError


def prepare_data(config, split: str = "train"):
  """Device arrays of one split for in-jit batching, the normalizers and the dataset summary.

  split: 'train', or 'val' (the episodes held out by data.val_fraction; None when
  there are none). The normalizers are always fitted on the training split.
  """
  demos = load_training_demos(config.data, config.get("env", {}).get("task"))
  for key, size in (("obs_dim", demos.observations.shape[1]), ("act_dim", demos.actions.shape[1])):
    expected = config.data.get(key)         # set by configs made for one environment
    if expected is not None and expected != size:
      raise ConfigError(f"{config.data.path} has {key}={size}, but the config (data.{key}) "
                        f"expects {expected} for its environment")
  train, val = split_episodes(demos, config.data.get("val_fraction", 0.0))
  norms = {"obs": fit_normalizer(train.observations, config.data.obs_normalizer),
           "actions": fit_normalizer(train.actions, config.data.action_normalizer)}
  demos = {"train": train, "val": val}[split]
  if demos is None:
    return None, norms, None
  obs_idx, act_idx = window_indices(demos.episode_ends, config.data.obs_horizon,
                                    config.data.action_horizon)
  data = {"obs": norms["obs"].normalize(jnp.asarray(demos.observations)),
          "actions": norms["actions"].normalize(jnp.asarray(demos.actions)),
          "obs_idx": jnp.asarray(obs_idx), "act_idx": jnp.asarray(act_idx)}
  summary = {"path": os.path.abspath(config.data.path), "obs_dim": demos.observations.shape[1],
             "act_dim": demos.actions.shape[1], "num_steps": demos.num_steps,
             "num_episodes": demos.num_episodes,
             "val_episodes": 0 if val is None else val.num_episodes}
  return data, norms, summary


def in_memory_data(obs, actions) -> dict:
  """Pairs (obs [N, obs_dim], actions [N, act_dim], already normalized) as training data
  of windows of one step each."""
  index = jnp.arange(obs.shape[0])[:, None]
  return {"obs": jnp.asarray(obs), "actions": jnp.asarray(actions), "obs_idx": index,
          "act_idx": index}


def window_batch(key, data, batch_size):
  """Samples B windows: obs [B, Ho, obs_dim], actions [B, Ha, act_dim]."""
  idx = jax.random.randint(key, (batch_size,), 0, data["obs_idx"].shape[0])
  return {"obs": data["obs"][data["obs_idx"][idx]], "actions": data["actions"][data["act_idx"][idx]]}
