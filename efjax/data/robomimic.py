"""robomimic low-dim HDF5 files -> `Demos` in the demo-file layout.

The official layout: `data/demo_<i>/obs/<key>` [T_i, d], `data/demo_<i>/actions`
[T_i, act_dim], optional `data/demo_<i>/rewards`; `mask/<filter_key>` lists demo
names (e.g. `train`, `valid`, `20_percent`); `data.attrs["env_args"]` is the JSON
environment metadata used to rebuild the robosuite environment for evaluation.
Observation keys are concatenated in the order given.
"""
import json
import os
import re

import numpy as np

from efjax.data.demos import DemoFileError, Demos, validate

# The authors' low-dim keys (anchors README); robot1_* are added for transport.
DEFAULT_OBS_KEYS = ("object", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")


def _demo_order(name: str) -> int:
  match = re.fullmatch(r"demo_(\d+)", name)
  return int(match.group(1)) if match else -1


def load_robomimic(path: str, obs_keys=DEFAULT_OBS_KEYS, filter_key: str | None = None) -> Demos:
  """Reads the demos of `filter_key` (all when None); env metadata goes to `extra`."""
  import h5py  # optional dependency: pip install efjax[robomimic]
  if not os.path.exists(path):
    raise DemoFileError(f"{path}: no such file (robomimic HDF5 files are downloaded separately; "
                        "see BUILD.md)")
  try:
    f = h5py.File(path, "r")
  except OSError as e:
    raise DemoFileError(f"{path}: not a readable HDF5 file: {e}") from None
  with f:
    if "data" not in f:
      raise DemoFileError(f"{path}: field 'data': group is missing (not a robomimic file?)")
    names = sorted(f["data"].keys(), key=_demo_order)
    if filter_key is not None:
      masks = sorted(f["mask"].keys()) if "mask" in f else []
      if filter_key not in masks:
        raise DemoFileError(f"{path}: field 'mask/{filter_key}': unknown filter key; "
                            f"available: {masks}")
      chosen = {n.decode() if isinstance(n, bytes) else str(n) for n in f["mask"][filter_key][:]}
      names = [n for n in names if n in chosen]
    if not names:
      raise DemoFileError(f"{path}: field 'data': no demonstrations"
                          + (f" in filter '{filter_key}'" if filter_key else ""))
    obs, actions, rewards, ends = [], [], [], []
    for name in names:
      demo = f["data"][name]
      missing = [k for k in obs_keys if k not in demo["obs"]]
      if missing:
        raise DemoFileError(f"{path}: field 'data/{name}/obs/{missing[0]}': missing; "
                            f"available: {sorted(demo['obs'].keys())}")
      parts = [np.asarray(demo["obs"][k], np.float64) for k in obs_keys]
      obs.append(np.concatenate([p.reshape(p.shape[0], -1) for p in parts], axis=1))
      actions.append(np.asarray(demo["actions"]))
      if "rewards" in demo:
        rewards.append(np.asarray(demo["rewards"]))
      ends.append((ends[-1] if ends else 0) + actions[-1].shape[0])
    env_args = f["data"].attrs.get("env_args")
  fields = dict(observations=np.concatenate(obs), actions=np.concatenate(actions),
                episode_ends=np.asarray(ends, np.int64))
  if len(rewards) == len(names):
    fields["rewards"] = np.concatenate(rewards)
  demos = validate(fields, path)
  demos.extra["obs_keys"] = list(obs_keys)
  demos.extra["demo_names"] = names
  if env_args is not None:
    demos.extra["env_args"] = json.loads(env_args)
  return demos
