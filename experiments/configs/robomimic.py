"""robomimic imitation (Lift, Can, Square, Transport, ToolHang) from the low-dim HDF5 files.

The argument is `<task>[,<variant>]`, the task one of lift, can, square, transport,
tool_hang; variants: '' (the paper's UNet and budget, for accelerators), 'cpu' (the
Meta-World cpu variant's MLP: trains in minutes on a 2-core CPU), 'smoke' (tests).

Data: the proficient-human low-dim file of the robomimic v0.1 release, downloaded once
(BUILD.md, "Data"), by default at $EFJAX_ROBOMIMIC_DIR/<task>/ph/low_dim_v141.hdf5
($EFJAX_ROBOMIMIC_DIR defaults to ~/robomimic_data):

    python -m robomimic.scripts.download_datasets --tasks lift --dataset_types ph \
        --hdf5_types low_dim --download_dir ~/robomimic_data
    python -m experiments.train --config=experiments/configs/robomimic.py:lift,cpu \
        --workdir=/tmp/rm/lift/cpu [--config.data.path=.../low_dim_v141.hdf5]
    python -m experiments.evaluate --config=experiments/configs/robomimic.py:lift,cpu \
        --workdir=/tmp/rm/lift/cpu [--episodes=50]
      -> /tmp/rm/lift/cpu/eval_lift.json (success rate, Wilson 95% CI); needs robosuite 1.5
         (pip install 'efjax[robomimic]'), the env rebuilt from the file's env_args

Expected result: the paper's success rates are in PAPER_SUCCESS (config
`paper_success_rate`); no robomimic result has been run with efjax yet (no datasets
or robosuite on the machine this was written on).
The training keys are experiments/configs/demos.py's (this config starts from it).
"""
import os

import ml_collections

from efjax.data.robomimic import DATA_DIR_ENV
from experiments.configs import demos

TASKS = ("lift", "can", "square", "transport", "tool_hang")
VARIANTS = ("", "cpu", "smoke")
# The EnergyFlow paper's robomimic success rates (%), proficient-human low-dim.
PAPER_SUCCESS = {"lift": 100.0, "can": 100.0, "square": 95.3, "transport": 89.4,
                 "tool_hang": 84.2}
# The authors' low-dim keys; transport's second arm adds robot1_*.
_ROBOT0 = ("robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos")
_ROBOT1 = ("robot1_eef_pos", "robot1_eef_quat", "robot1_gripper_qpos")
OBS_KEYS = {task: ("object",) + _ROBOT0 for task in TASKS}
OBS_KEYS["transport"] = ("object",) + _ROBOT0 + _ROBOT1
# Widths of those keys in the v1.4.1 files: 'object' per task, 3 + 4 + 2 per arm;
# actions are 7 per arm (OSC_POSE delta and gripper). A file of other sizes is refused.
_OBJECT_DIM = {"lift": 10, "can": 14, "square": 14, "transport": 41, "tool_hang": 44}
OBS_DIM = {task: _OBJECT_DIM[task] + 9 * (2 if task == "transport" else 1) for task in TASKS}
ACT_DIM = {task: 14 if task == "transport" else 7 for task in TASKS}
# robomimic's rollout horizons for the proficient-human datasets (env steps at 20 Hz).
MAX_STEPS = {"lift": 400, "can": 400, "square": 400, "transport": 700, "tool_hang": 700}


def default_path(task: str) -> str:
  root = os.environ.get(DATA_DIR_ENV, "~/robomimic_data")
  return os.path.expanduser(os.path.join(root, f"{task}/ph/low_dim_v141.hdf5"))


def get_config(arg: str = "lift") -> ml_collections.ConfigDict:
  task, _, variant = arg.partition(",")
  if task not in TASKS:
    raise ValueError(f"unknown robomimic task {task!r}; valid: {', '.join(TASKS)}")
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r} of robomimic.py; valid: {VARIANTS}")
  c = demos.get_config("smoke" if variant == "smoke" else "")
  c.data.update(format="robomimic", path=default_path(task), obs_keys=OBS_KEYS[task],
                filter_key="",             # '' = every demo; 'train' / 'valid' = a mask
                obs_dim=OBS_DIM[task], act_dim=ACT_DIM[task])
  c.paper_success_rate = PAPER_SUCCESS[task]
  # The robosuite env is rebuilt from the HDF5 file's env_args (efjax/envs/robomimic_envs.py).
  c.env = dict(suite="robomimic", task=task)
  c.eval = dict(
      num_episodes=50,
      seed=100_000,         # episode i starts from seed + i (numpy's global seed before reset)
      sampler_seed=0,
      num_envs=10,          # envs stepped in lockstep, one jitted sampler call for all
      action_steps=8,       # of each sampled chunk of data.action_horizon actions
      max_steps=MAX_STEPS[task],   # an episode not solved by then is a failure
      video=False,          # robosuite is built without an offscreen renderer: no videos
  )
  # The Gaussian MLP behaviour-cloning baseline (experiments.train_bc, efjax/bc.py).
  from efjax.bc import default_bc_config
  c.bc = default_bc_config()

  if variant == "":
    # The paper's protocol as the authors ran it: raw observations (anchors README).
    demos.apply_paper_recipe(c, reward_t=0.4)   # demos.py's defaults when this was made
    c.data.obs_normalizer = "identity"
  elif variant == "cpu":
    demos.apply_cpu_budget(c)     # an MLP energy, z-scored obs, EDM preconditioning
  elif variant == "smoke":
    c.data.obs_horizon, c.data.action_horizon = 2, 4
    c.sampler.num_steps = 4
    c.eval.update(num_episodes=2, num_envs=2, action_steps=2, max_steps=20)
    c.bc.hidden = (64, 64)
  return c
