"""A bandit family member as files a user would have: a demo npz and an evaluation grid.

    write_member(task, directory)  ->  directory/demos.npz   (the demo-file layout)
                                       directory/eval.npz    (held-out grid with the true Q)

demos.npz holds `num_demos` exact expert pairs in file units (`BanditTask.to_file_*`):
observations [T, dc], actions [T, da], episode_ends [E] (episodes of `episode_length`
pairs; the contexts are independent, so for obs_horizon = action_horizon = 1 the
episode cut does not matter).

With action_horizon H > 1 (for a backbone that reads action chunks, as the UNet) each
episode holds one context and `episode_length` exact expert draws at it, so a chunk of H
consecutive actions is H independent draws of pi(. | s): the expert of a max-ent bandit
over chunks whose soft Q is the sum of its steps' Q, at the same temperature. A training
window starting in the last H - 1 steps of an episode repeats the episode's last action
(Diffusion Policy's padding, efjax/data/windows.py): (H - 1) / episode_length of the
windows are not exact chunks.

eval.npz holds `num_states` fresh contexts (never in the demos) and, at each, two action
sets with their true Q (Q units):
    observations    [S, dc]       file units
    support_actions [S, N, da]    file units, exact expert draws (where demos give support);
                                  [S, N, H, da] chunks of H draws when H > 1
    support_q       [S, N]        Q of each action (of a chunk: the sum of its steps' Q)
    box_actions     [S, N, da]    file units, uniform in the action box ([S, N, H, da])
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


def demo_arrays(task: BanditTask, num_demos: int, episode_length: int = 100,
                action_horizon: int = 1) -> dict:
  """The demo file's fields (file units): observations, actions, episode_ends; with
  action_horizon > 1, num_demos // episode_length episodes of one context each (see the
  module doc)."""
  rng = np.random.default_rng([task.seed, 1])
  if action_horizon == 1:
    s = task.sample_states(rng, num_demos)
    a = task.sample_actions(rng, s, 1)[:, 0]
  else:
    _check_chunking(num_demos, episode_length, action_horizon)
    contexts = task.sample_states(rng, num_demos // episode_length)
    s = np.repeat(contexts, episode_length, axis=0)
    a = task.sample_actions(rng, contexts, episode_length).reshape(-1, task.act_dim)
    num_demos = s.shape[0]
  ends = np.unique(np.append(np.arange(episode_length, num_demos, episode_length), num_demos))
  return {"observations": task.to_file_obs(s).astype(np.float32),
          "actions": task.to_file_actions(a).astype(np.float32),
          "episode_ends": ends.astype(np.int64)}


def _check_chunking(num_demos: int, episode_length: int, action_horizon: int) -> None:
  if action_horizon < 1 or episode_length < action_horizon or num_demos < episode_length:
    raise ValueError(f"chunked bandit demos need 1 <= action_horizon <= episode_length <= "
                     f"num_demos, got {action_horizon}, {episode_length}, {num_demos}")


def grid_arrays(task: BanditTask, num_states: int = 64, num_actions: int = 64,
                action_horizon: int = 1) -> dict:
  """The evaluation grid's fields (see the module doc); its own random stream."""
  rng = np.random.default_rng([task.seed, 2])
  s = task.sample_states(rng, num_states)
  steps = num_actions * action_horizon
  support = task.sample_actions(rng, s, steps)                         # [S, N*H, da]
  box = rng.uniform(-1.0, 1.0, size=(num_states, steps, task.act_dim))

  def chunked(a):                  # [S, N*H, ...] -> [S, N, ...] or [S, N, H, ...]
    shape = (num_states, num_actions) + ((action_horizon,) if action_horizon > 1 else ())
    return a.reshape(shape + a.shape[2:])

  def q(a):                        # each chunk's summed Q: [S, N]
    per_step = chunked(task.q(s, a))
    return per_step.sum(-1) if action_horizon > 1 else per_step
  return {"observations": task.to_file_obs(s).astype(np.float32),
          "support_actions": chunked(task.to_file_actions(support)).astype(np.float32),
          "support_q": q(support).astype(np.float32),
          "box_actions": chunked(task.to_file_actions(box)).astype(np.float32),
          "box_q": q(box).astype(np.float32),
          "temperature": np.float64(task.temperature), "seed": np.int64(task.seed)}


def write_member(task: BanditTask, directory: str, num_demos: int = 20_000,
                 episode_length: int = 100, num_states: int = 64,
                 num_actions: int = 64, action_horizon: int = 1) -> tuple[str, str]:
  """Writes demos.npz and eval.npz into directory (made if missing); returns their paths."""
  os.makedirs(directory, exist_ok=True)
  demos_path, grid_path = os.path.join(directory, DEMOS_FILE), os.path.join(directory, GRID_FILE)
  save_demos(demos_path, **demo_arrays(task, num_demos, episode_length, action_horizon))
  np.savez(grid_path, **grid_arrays(task, num_states, num_actions, action_horizon))
  return demos_path, grid_path


def load_grid(path: str) -> dict:
  """eval.npz as a dict of arrays (no pickle); ValueError naming a missing field."""
  with np.load(path, allow_pickle=False) as f:
    missing = [k for k in GRID_FIELDS if k not in f.files]
    if missing:
      raise ValueError(f"{path}: not a bandit evaluation grid, missing {missing}")
    return {k: f[k] for k in f.files}
