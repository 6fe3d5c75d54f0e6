"""Saving a trained agent (reusable as an expert) and the full runner state (to resume).

No pickle anywhere: arrays go to .npz (loaded with allow_pickle=False), the
policy's network settings to JSON, so `load_agent(dir)` rebuilds the policy
without the trainer or the run's config file.
"""
import json
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import traverse_util

from efjax.errors import WorkdirError
from efjax.rl.running_stats import RunningStats

# The config keys that define the policy's function (what make_policy_fn reads).
POLICY_KEYS = ("actor_hidden", "critic_hidden", "activation", "init_log_std", "squash",
               "normalize_obs")


def save_agent(directory: str, agent: dict, config, obs_dim: int, act_dim: int,
               extra: dict | None = None) -> None:
  """Writes DIR/agent.npz (actor, critic, obs_stats arrays) and DIR/agent.json.

  agent: RunnerState.agent, {"actor", "critic", "obs_stats"} (unbatched).
  extra: JSON-able facts worth keeping beside it (env name, backend, return).
  """
  os.makedirs(directory, exist_ok=True)
  tree = {**{k: agent[k] for k in ("actor", "critic")},
          "obs_stats": {"mean": agent["obs_stats"].mean, "var": agent["obs_stats"].var,
                        "count": agent["obs_stats"].count}}
  flat = traverse_util.flatten_dict(jax.device_get(tree), sep="/")
  np.savez(os.path.join(directory, "agent.npz"), **{k: np.asarray(v) for k, v in flat.items()})
  meta = {"obs_dim": int(obs_dim), "act_dim": int(act_dim),
          "policy": {k: _jsonable(config[k]) for k in POLICY_KEYS}, **(extra or {})}
  with open(os.path.join(directory, "agent.json"), "w") as f:
    json.dump(meta, f, indent=2)


def load_agent(directory: str) -> tuple[dict, ml_collections.ConfigDict, dict]:
  """Returns (agent, policy_config, meta); `make_policy_fn(policy_config, meta["act_dim"])`
  then gives the policy of the saved agent."""
  with open(os.path.join(directory, "agent.json")) as f:
    meta = json.load(f)
  with np.load(os.path.join(directory, "agent.npz"), allow_pickle=False) as z:
    tree = traverse_util.unflatten_dict({k: jnp.asarray(z[k]) for k in z.files}, sep="/")
  s = tree.pop("obs_stats")
  agent = {**tree, "obs_stats": RunningStats(s["mean"], s["var"], s["count"])}
  return agent, ml_collections.ConfigDict(meta["policy"]), meta


def save_runner(path: str, runner) -> None:
  """The whole RunnerState (params, optimizer, env state, RNG) as leaves of one .npz."""
  leaves = jax.tree.leaves(jax.device_get(runner))
  arrays = {f"leaf_{i:05d}": np.asarray(jax.random.key_data(x) if _is_key(x) else x)
            for i, x in enumerate(leaves)}
  tmp = path + ".tmp.npz"     # write-then-rename: a preempted save never leaves half a file
  np.savez(tmp, **arrays)
  os.replace(tmp, path)


def restore_runner(path: str, template):
  """Fills `template` (a RunnerState of the same config, e.g. ppo.init(key)) from `path`."""
  leaves, treedef = jax.tree.flatten(template)
  with np.load(path, allow_pickle=False) as z:
    if len(z.files) != len(leaves):
      raise WorkdirError(f"{path}: {len(z.files)} arrays, the runner state has {len(leaves)}")
    new = [jax.random.wrap_key_data(z[f"leaf_{i:05d}"], impl=jax.random.key_impl(t))
           if _is_key(t) else jnp.asarray(z[f"leaf_{i:05d}"], t.dtype)
           for i, t in enumerate(leaves)]
  for i, (a, t) in enumerate(zip(new, leaves)):
    if a.shape != t.shape:
      raise WorkdirError(f"{path}: leaf {i} has shape {a.shape}, the runner expects {t.shape}")
  return jax.tree.unflatten(treedef, new)


def _is_key(x) -> bool:
  return jax.dtypes.issubdtype(getattr(x, "dtype", None), jax.dtypes.prng_key)


def _jsonable(v):
  return list(v) if isinstance(v, (tuple, list)) else v
