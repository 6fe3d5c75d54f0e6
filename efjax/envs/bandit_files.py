"""A bandit family member as files a user would have: a demo npz and an evaluation grid.

    write_member(task, directory)  ->  directory/demos.npz   (the demo-file layout)
                                       directory/eval.npz    (held-out grid with the true Q)

demos.npz holds `num_demos` exact expert pairs in file units (`BanditTask.to_file_*`):
observations [T, dc], actions [T, da], episode_ends [E] (episodes of `episode_length`
pairs; the contexts are independent, so for obs_horizon = action_horizon = 1 the
episode cut does not matter).

eval.npz holds `num_states` fresh contexts (never in the demos) and, at each, two action
sets with their true Q (Q units):
    observations    [S, dc]       file units
    support_actions [S, N, da]    file units, exact expert draws (where demos give support)
    support_q       [S, N]
    box_actions     [S, N, da]    file units, uniform in the action box
    box_q           [S, N]
    temperature     []            the member's alpha (Q units)
    seed            []
Loaded with allow_pickle=False (`load_grid`).
"""
import os

import numpy as np

from efjax.data import save_demos
from efjax.envs.bandit import BanditTask

DEMOS_FILE, GRID_FILE = "demos.npz", "eval.npz"
GRID_FIELDS = ("observations", "support_actions", "support_q", "box_actions", "box_q",
               "temperature", "seed")


def demo_arrays(task: BanditTask, num_demos: int, episode_length: int = 100) -> dict:
  """The demo file's fields (file units): observations, actions, episode_ends."""
  rng = np.random.default_rng([task.seed, 1])
  s = task.sample_states(rng, num_demos)
  a = task.sample_actions(rng, s, 1)[:, 0]
  ends = np.unique(np.append(np.arange(episode_length, num_demos, episode_length), num_demos))
  return {"observations": task.to_file_obs(s).astype(np.float32),
          "actions": task.to_file_actions(a).astype(np.float32),
          "episode_ends": ends.astype(np.int64)}


def grid_arrays(task: BanditTask, num_states: int = 64, num_actions: int = 64) -> dict:
  """The evaluation grid's fields (see the module doc); its own random stream."""
  rng = np.random.default_rng([task.seed, 2])
  s = task.sample_states(rng, num_states)
  support = task.sample_actions(rng, s, num_actions)
  box = rng.uniform(-1.0, 1.0, size=(num_states, num_actions, task.act_dim))
  return {"observations": task.to_file_obs(s).astype(np.float32),
          "support_actions": task.to_file_actions(support).astype(np.float32),
          "support_q": task.q(s, support).astype(np.float32),
          "box_actions": task.to_file_actions(box).astype(np.float32),
          "box_q": task.q(s, box).astype(np.float32),
          "temperature": np.float64(task.temperature), "seed": np.int64(task.seed)}


def write_member(task: BanditTask, directory: str, num_demos: int = 20_000,
                 episode_length: int = 100, num_states: int = 64,
                 num_actions: int = 64) -> tuple[str, str]:
  """Writes demos.npz and eval.npz into directory (made if missing); returns their paths."""
  os.makedirs(directory, exist_ok=True)
  demos_path, grid_path = os.path.join(directory, DEMOS_FILE), os.path.join(directory, GRID_FILE)
  save_demos(demos_path, **demo_arrays(task, num_demos, episode_length))
  np.savez(grid_path, **grid_arrays(task, num_states, num_actions))
  return demos_path, grid_path


def load_grid(path: str) -> dict:
  """eval.npz as a dict of arrays (no pickle); ValueError naming a missing field."""
  with np.load(path, allow_pickle=False) as f:
    missing = [k for k in GRID_FIELDS if k not in f.files]
    if missing:
      raise ValueError(f"{path}: not a bandit evaluation grid, missing {missing}")
    return {k: f[k] for k in f.files}
