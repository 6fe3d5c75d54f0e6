"""robomimic low-dim HDF5 files -> `Demos` in the demo-file layout.

The official layout: `data/demo_<i>/obs/<key>` [T_i, d], `data/demo_<i>/actions`
[T_i, act_dim], optional `data/demo_<i>/rewards`; `mask/<filter_key>` lists demo
names (e.g. `train`, `valid`, `20_percent`); `data.attrs["env_args"]` is the JSON
environment metadata used to rebuild the robosuite environment for evaluation.
Observation keys are concatenated in the order given.

The files are not shipped or fetched at run time: the proficient-human low-dim files
of the robomimic v0.1 release (`<task>/ph/low_dim_v141.hdf5`) are downloaded once
(`download_hint(task)` says how; BUILD.md, "Data").
"""
import json
import os
import re

import numpy as np

from efjax.data.demos import DemoFileError, Demos, validate

# The authors' low-dim keys (anchors README); robot1_* are added for transport.
DEFAULT_OBS_KEYS = ("object", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")
DATA_DIR_ENV = "EFJAX_ROBOMIMIC_DIR"          # where <task>/ph/low_dim_v141.hdf5 files live
RELEASE_URL = "http://downloads.cs.stanford.edu/downloads/rt_benchmark/{task}/ph/low_dim_v141.hdf5"


def download_hint(task: str) -> str:
  """One line: where robomimic `task`'s proficient-human low-dim file comes from."""
  return (f"robomimic task '{task}' uses the robomimic v0.1 dataset release's proficient-human "
          f"low-dim file: python -m robomimic.scripts.download_datasets --tasks {task} "
          f"--dataset_types ph --hdf5_types low_dim --download_dir ${DATA_DIR_ENV} "
          f"(or {RELEASE_URL.format(task=task)}); put it at ${DATA_DIR_ENV}/{task}/ph/"
          f"low_dim_v141.hdf5 (${DATA_DIR_ENV} defaults to ~/robomimic_data) or pass "
          "--config.data.path")


def _missing(path: str, task: str | None) -> DemoFileError:
  if task is None:
    return DemoFileError(f"{path}: no such file (robomimic HDF5 files are downloaded "
                         "separately; see BUILD.md)")
  return DemoFileError(f"{path}: no such file; {download_hint(task)}")


def _open(path: str, task: str | None):
  if not os.path.exists(path):
    raise _missing(path, task)
  try:
    import h5py  # optional dependency
  except ImportError:
    raise DemoFileError(f"{path}: reading robomimic HDF5 files needs h5py: "
                        "pip install 'efjax[robomimic]'") from None
  try:
    return h5py.File(path, "r")
  except OSError as e:
    raise DemoFileError(f"{path}: not a readable HDF5 file: {e}") from None


def read_env_meta(path: str, task: str | None = None) -> dict:
  """The file's `data.attrs["env_args"]`: {"env_name", "type", "env_kwargs"} (robosuite)."""
  with _open(path, task) as f:
    env_args = f["data"].attrs.get("env_args") if "data" in f else None
  if env_args is None:
    raise DemoFileError(f"{path}: field 'data.attrs[env_args]': missing (the robosuite env "
                        "metadata evaluation rebuilds the environment from)")
  return json.loads(env_args)


def _demo_order(name: str) -> int:
  match = re.fullmatch(r"demo_(\d+)", name)
  return int(match.group(1)) if match else -1


def load_robomimic(path: str, obs_keys=DEFAULT_OBS_KEYS, filter_key: str | None = None,
                   task: str | None = None) -> Demos:
  """Reads the demos of `filter_key` (all when None); env metadata goes to `extra`.

  `task` (a robomimic task name) only makes a missing file's error say how to get it.
  `extra["obs_key_dims"]`: {key: columns} in `obs_keys` order.
  """
  with _open(path, task) as f:
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
    obs, actions, rewards, ends, key_dims = [], [], [], [], None
    for name in names:
      demo = f["data"][name]
      missing = [k for k in obs_keys if k not in demo["obs"]]
      if missing:
        raise DemoFileError(f"{path}: field 'data/{name}/obs/{missing[0]}': missing; "
                            f"available: {sorted(demo['obs'].keys())}")
      parts = [np.asarray(demo["obs"][k], np.float64) for k in obs_keys]
      dims = {k: int(np.prod(p.shape[1:])) for k, p in zip(obs_keys, parts)}
      if key_dims is not None and dims != key_dims:
        bad = next(k for k in obs_keys if dims[k] != key_dims[k])
        raise DemoFileError(f"{path}: field 'data/{name}/obs/{bad}': {dims[bad]} columns, "
                            f"{key_dims[bad]} in '{names[0]}'")
      key_dims = dims
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
  demos.extra["obs_key_dims"] = key_dims
  demos.extra["demo_names"] = names
  if env_args is not None:
    demos.extra["env_args"] = json.loads(env_args)
  return demos
