"""Observation histories and action chunks as index arrays into the flat [T, ...] arrays.

Sample t of an episode [start, end) pairs the observation window t-Ho+1 .. t (before
the episode's start the first frame repeats) with the action chunk t .. t+Ha-1
(past its end the last action repeats), Diffusion Policy's padding. Every step of
every episode is one sample, so a window never crosses an episode boundary.
"""
import numpy as np


def window_indices(episode_ends: np.ndarray, obs_horizon: int, action_horizon: int):
  """Returns (obs_idx [T, Ho], act_idx [T, Ha]) int32 index arrays."""
  if obs_horizon < 1 or action_horizon < 1:
    raise ValueError(f"horizons must be >= 1, got obs {obs_horizon}, action {action_horizon}")
  ends = np.asarray(episode_ends, np.int64)
  starts = np.concatenate([[0], ends[:-1]])
  t = np.arange(ends[-1])
  episode = np.searchsorted(ends, t, side="right")
  start, end = starts[episode], ends[episode]
  obs_idx = np.clip(t[:, None] + np.arange(-obs_horizon + 1, 1), start[:, None], None)
  act_idx = np.clip(t[:, None] + np.arange(action_horizon), None, end[:, None] - 1)
  return obs_idx.astype(np.int32), act_idx.astype(np.int32)
