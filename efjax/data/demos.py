"""The demonstration file (ARCHITECTURE.md, Contracts): load an npz without pickle and validate every field.

    observations  float [T, obs_dim]
    actions       float [T, act_dim]
    episode_ends  int [E], exclusive end of each episode, increasing, last == T
    rewards       float [T]   (optional)
    successes     bool [E]    (optional)

Other fields (metadata such as an expert's return) are kept but not checked.
Every problem raises `DemoFileError` with one line naming the file and the field.
"""
import dataclasses
import os
import zipfile

import numpy as np

from efjax.errors import DataError

REQUIRED = ("observations", "actions", "episode_ends")


class DemoFileError(DataError):
  """A demonstration file that cannot be used; the message names file and field."""


@dataclasses.dataclass(frozen=True)
class Demos:
  """Validated demonstrations, float32 arrays in the file's units."""
  observations: np.ndarray        # [T, obs_dim]
  actions: np.ndarray             # [T, act_dim]
  episode_ends: np.ndarray        # [E] int64
  rewards: np.ndarray | None      # [T]
  successes: np.ndarray | None    # [E] bool
  extra: dict

  @property
  def num_steps(self) -> int:
    return self.actions.shape[0]

  @property
  def num_episodes(self) -> int:
    return self.episode_ends.shape[0]

  @property
  def episode_starts(self) -> np.ndarray:
    return np.concatenate([[0], self.episode_ends[:-1]])


def _fail(path: str, field: str, problem: str):
  raise DemoFileError(f"{path}: field '{field}': {problem}")


def _read_npz(path: str) -> dict:
  if not os.path.exists(path):
    raise DemoFileError(f"{path}: no such file")
  try:
    with np.load(path, allow_pickle=False) as f:
      fields = {}
      for name in f.files:
        try:
          fields[name] = f[name]
        except ValueError as e:   # object arrays need pickle: refused
          _fail(path, name, f"cannot be read without pickle ({e}); store plain numeric arrays")
      return fields
  except DemoFileError:
    raise
  except (zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
    raise DemoFileError(f"{path}: not a readable npz file (truncated or corrupt?): {e}") from None


def _check_float_matrix(path, name, x):
  if x.ndim != 2:
    _fail(path, name, f"must be 2-D [T, dim], got shape {x.shape}")
  if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
    _fail(path, name, f"must be numeric, got dtype {x.dtype}")
  if x.shape[0] == 0 or x.shape[1] == 0:
    _fail(path, name, f"is empty, shape {x.shape}")
  bad = ~np.isfinite(x)
  if bad.any():
    row = int(np.argwhere(bad)[0][0])
    _fail(path, name, f"has {int(bad.sum())} NaN or inf values (first at row {row})")


def validate(fields: dict, path: str = "<arrays>") -> Demos:
  """Checks every field of a loaded demo file; returns `Demos` or raises DemoFileError."""
  for name in REQUIRED:
    if name not in fields:
      _fail(path, name, f"is missing (the file has {sorted(fields)})")
  obs, act, ends = fields["observations"], fields["actions"], fields["episode_ends"]
  _check_float_matrix(path, "observations", obs)
  _check_float_matrix(path, "actions", act)
  t = act.shape[0]
  if obs.shape[0] != t:
    _fail(path, "observations", f"has {obs.shape[0]} rows but 'actions' has {t}")
  if ends.ndim != 1 or not np.issubdtype(ends.dtype, np.integer):
    _fail(path, "episode_ends", f"must be a 1-D integer array, got {ends.dtype} {ends.shape}")
  if ends.size == 0:
    _fail(path, "episode_ends", "is empty: no episodes")
  if ends[0] <= 0 or np.any(np.diff(ends) <= 0):
    bad = 0 if ends[0] <= 0 else int(np.argmax(np.diff(ends) <= 0)) + 1
    _fail(path, "episode_ends", f"must be strictly increasing and positive (empty episode "
          f"{bad}: {ends[max(bad - 1, 0):bad + 1].tolist()})")
  if ends[-1] != t:
    _fail(path, "episode_ends", f"last value {int(ends[-1])} != number of steps {t}")
  rewards = fields.get("rewards")
  if rewards is not None:
    if rewards.shape != (t,) or not np.issubdtype(rewards.dtype, np.number):
      _fail(path, "rewards", f"must be numeric [T] = ({t},), got {rewards.dtype} {rewards.shape}")
    if not np.all(np.isfinite(rewards)):
      _fail(path, "rewards", "has NaN or inf values")
  successes = fields.get("successes")
  if successes is not None:
    if successes.shape != ends.shape or successes.dtype != np.bool_:
      _fail(path, "successes", f"must be bool [E] = ({ends.size},), got {successes.dtype} "
            f"{successes.shape}")
  extra = {k: v for k, v in fields.items() if k not in REQUIRED + ("rewards", "successes")}
  return Demos(observations=obs.astype(np.float32), actions=act.astype(np.float32),
               episode_ends=ends.astype(np.int64),
               rewards=None if rewards is None else rewards.astype(np.float32),
               successes=successes, extra=extra)


def load_demos(path: str) -> Demos:
  """Reads and validates a demo npz (never unpickles)."""
  return validate(_read_npz(path), path)


def save_demos(path: str, observations, actions, episode_ends, rewards=None, successes=None,
               **extra) -> None:
  """Writes a demo file after validating it (so a bad file is never written)."""
  fields = dict(observations=np.asarray(observations), actions=np.asarray(actions),
                episode_ends=np.asarray(episode_ends))
  if rewards is not None:
    fields["rewards"] = np.asarray(rewards)
  if successes is not None:
    fields["successes"] = np.asarray(successes)
  fields.update({k: np.asarray(v) for k, v in extra.items()})
  validate(fields, path)
  np.savez(path, **fields)


def split_episodes(demos: Demos, val_fraction: float) -> tuple[Demos, Demos | None]:
  """(train, validation): the last round(val_fraction * E) episodes (at least one) held out.

  Whole episodes are held out so that no validation window shares frames with a
  training window. val_fraction = 0 returns (demos, None).
  """
  if val_fraction <= 0:
    return demos, None
  num_val = max(1, int(round(val_fraction * demos.num_episodes)))
  if num_val >= demos.num_episodes:
    raise DemoFileError(f"data.val_fraction={val_fraction} holds out all {demos.num_episodes} "
                        "episodes; use a smaller fraction or a file with more episodes")
  cut_episode = demos.num_episodes - num_val
  cut = int(demos.episode_ends[cut_episode - 1])

  def part(rows: slice, episodes: slice, offset: int) -> Demos:
    pick = lambda x: None if x is None else x[rows]  # noqa: E731
    return Demos(demos.observations[rows], demos.actions[rows],
                 demos.episode_ends[episodes] - offset, pick(demos.rewards),
                 None if demos.successes is None else demos.successes[episodes], {})
  return (part(slice(0, cut), slice(0, cut_episode), 0),
          part(slice(cut, None), slice(cut_episode, None), cut))
