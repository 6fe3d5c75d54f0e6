"""Demo files: every malformed field gets one clear error; windows pad within episodes."""
import numpy as np
import pytest

from efjax.data import (DemoFileError, fit_normalizer, load_demos, save_demos, split_episodes,
                        validate, window_indices)


def _fields(t=10, obs_dim=3, act_dim=2):
  rng = np.random.default_rng(0)
  return dict(observations=rng.normal(size=(t, obs_dim)).astype(np.float32),
              actions=rng.normal(size=(t, act_dim)).astype(np.float32),
              episode_ends=np.array([4, 10]), rewards=np.ones(t, np.float32),
              successes=np.array([True, False]))


def test_round_trip(tmp_path):
  path = str(tmp_path / "demos.npz")
  save_demos(path, **_fields(), expert_return=np.float32(3.5))
  demos = load_demos(path)
  assert demos.num_steps == 10 and demos.num_episodes == 2
  assert demos.episode_starts.tolist() == [0, 4]
  assert float(demos.extra["expert_return"]) == 3.5


@pytest.mark.parametrize("change,field,message", [
    (lambda f: f.pop("actions"), "actions", "is missing"),
    (lambda f: f.update(actions=f["actions"][:, 0]), "actions", "must be 2-D"),
    (lambda f: f["actions"].__setitem__((3, 1), np.nan), "actions", "NaN or inf values .first at row 3"),
    (lambda f: f["observations"].__setitem__((0, 0), np.inf), "observations", "NaN or inf"),
    (lambda f: f.update(observations=f["observations"][:9]), "observations", "has 9 rows but 'actions' has 10"),
    (lambda f: f.update(episode_ends=np.array([4, 4, 10])), "episode_ends", "empty episode"),
    (lambda f: f.update(episode_ends=np.array([4, 9])), "episode_ends", "last value 9 != number of steps 10"),
    (lambda f: f.update(episode_ends=np.array([4.0, 10.0])), "episode_ends", "integer"),
    (lambda f: f.update(episode_ends=np.array([], np.int64)), "episode_ends", "no episodes"),
    (lambda f: f.update(rewards=np.ones(9)), "rewards", r"\[T\] = \(10,\)"),
    (lambda f: f.update(successes=np.array([1, 0])), "successes", "must be bool"),
])
def test_each_bad_field_is_named(change, field, message):
  fields = _fields()
  change(fields)
  with pytest.raises(DemoFileError, match=f"demo.npz: field '{field}': .*{message}"):
    validate(fields, "demo.npz")


def test_unreadable_files(tmp_path):
  with pytest.raises(DemoFileError, match="no such file"):
    load_demos(str(tmp_path / "missing.npz"))
  path = tmp_path / "demos.npz"
  save_demos(str(path), **_fields())
  path.write_bytes(path.read_bytes()[:100])                 # truncated
  with pytest.raises(DemoFileError, match="not a readable npz"):
    load_demos(str(path))
  obj = tmp_path / "pickled.npz"
  fields = _fields()
  fields["actions"] = np.array([object()] * 10)
  np.savez(str(obj), **fields)
  with pytest.raises(DemoFileError, match="field 'actions': cannot be read without pickle"):
    load_demos(str(obj))


def test_save_refuses_bad_data_and_writes_nothing(tmp_path):
  path = tmp_path / "demos.npz"
  fields = _fields()
  fields["actions"][0, 0] = np.nan
  with pytest.raises(DemoFileError):
    save_demos(str(path), **fields)
  assert not path.exists()


def test_split_holds_out_whole_final_episodes():
  fields = _fields()
  demos = validate(fields)
  train, val = split_episodes(demos, 0.5)
  ends = fields["episode_ends"]
  assert train.num_episodes + val.num_episodes == demos.num_episodes and val.num_episodes >= 1
  assert train.episode_ends[-1] == train.num_steps and val.episode_ends[-1] == val.num_steps
  assert train.num_steps + val.num_steps == demos.num_steps
  np.testing.assert_array_equal(val.actions[0], demos.actions[ends[train.num_episodes - 1]])
  assert split_episodes(demos, 0.0)[0] is demos and split_episodes(demos, 0.0)[1] is None


def test_windows_pad_within_episodes():
  obs_idx, act_idx = window_indices(np.array([3, 7]), obs_horizon=2, action_horizon=3)
  assert obs_idx.shape == (7, 2) and act_idx.shape == (7, 3)
  assert obs_idx[0].tolist() == [0, 0] and obs_idx[3].tolist() == [3, 3]   # first frames repeat
  assert obs_idx[4].tolist() == [3, 4]
  assert act_idx[1].tolist() == [1, 2, 2] and act_idx[2].tolist() == [2, 2, 2]   # last action repeats
  assert act_idx[6].tolist() == [6, 6, 6] and act_idx[3].tolist() == [3, 4, 5]
  with pytest.raises(ValueError, match="horizons must be >= 1"):
    window_indices(np.array([3]), 0, 2)


def test_normalizers():
  x = np.array([[0.0, 5.0], [2.0, 5.0], [4.0, 5.0]])
  z = fit_normalizer(x, "zscore")
  np.testing.assert_allclose(z.normalize(x).mean(0), [0, 0], atol=1e-6)
  np.testing.assert_allclose(z.unnormalize(z.normalize(x)), x, atol=1e-5)
  m = fit_normalizer(x, "minmax")
  np.testing.assert_allclose(m.normalize(x)[:, 0], [-1, 0, 1], atol=1e-6)
  assert np.all(np.isfinite(m.normalize(x)))                # constant dimension: no blow-up
  with pytest.raises(ValueError, match="normalizer kind 'robust'"):
    fit_normalizer(x, "robust")
