"""robomimic HDF5 reading on a small synthetic file written in the official layout."""
import json

import h5py
import numpy as np
import pytest

from efjax.data import DemoFileError
from efjax.data.robomimic import load_robomimic

KEYS = ("object", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")
DIMS = (10, 3, 4, 2)


def _write(path, lengths=(5, 3, 4)):
  rng = np.random.default_rng(0)
  with h5py.File(path, "w") as f:
    data = f.create_group("data")
    data.attrs["env_args"] = json.dumps({"env_name": "Lift", "type": 1, "env_kwargs": {}})
    for i, n in enumerate(lengths):
      demo = data.create_group(f"demo_{i}")
      demo.attrs["num_samples"] = n
      for key, d in zip(KEYS, DIMS):
        demo.create_dataset(f"obs/{key}", data=rng.normal(size=(n, d)))
      demo.create_dataset("actions", data=np.full((n, 7), float(i)))
      demo.create_dataset("rewards", data=np.zeros(n))
    mask = f.create_group("mask")
    mask.create_dataset("train", data=np.array([b"demo_0", b"demo_2"]))
    mask.create_dataset("valid", data=np.array([b"demo_1"]))


def test_reads_official_layout_with_filter_keys(tmp_path):
  path = str(tmp_path / "low_dim.hdf5")
  _write(path)
  demos = load_robomimic(path)
  assert demos.observations.shape == (12, sum(DIMS)) and demos.actions.shape == (12, 7)
  assert demos.episode_ends.tolist() == [5, 8, 12]
  assert demos.extra["env_args"]["env_name"] == "Lift"
  train = load_robomimic(path, filter_key="train")
  assert train.episode_ends.tolist() == [5, 9]
  assert np.unique(train.actions).tolist() == [0.0, 2.0]


def test_errors_name_what_is_missing(tmp_path):
  path = str(tmp_path / "low_dim.hdf5")
  _write(path)
  with pytest.raises(DemoFileError, match=r"mask/test'.*available: \['train', 'valid'\]"):
    load_robomimic(path, filter_key="test")
  with pytest.raises(DemoFileError, match="obs/robot1_eef_pos': missing"):
    load_robomimic(path, obs_keys=("object", "robot1_eef_pos"))
  with pytest.raises(DemoFileError, match="no such file.*BUILD.md"):
    load_robomimic(str(tmp_path / "can_ph.hdf5"))
