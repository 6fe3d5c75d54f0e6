"""Meta-World v3 imitation: scripted-expert demos, EnergyFlow training, evaluation.

The argument is `<task>[,<variant>]`, the task a v3 name ('button-press-v3'; the
'-v3' may be left out); variants: '' (the paper's UNet and budget, for accelerators),
'cpu' (a small model that trains in minutes on a 2-core CPU), 'smoke' (tests).

    python -m experiments.collect_demos --config=experiments/configs/metaworld.py:button-press-v3 \
        --workdir=/tmp/mw/button-press
      -> /tmp/mw/button-press/demos.npz (100 successful episodes) and collect_summary.json;
         prints "expert success 100.0% (100/100 tried), kept 100 episodes, mean length 70"
    python -m experiments.train --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --config.data.path=/tmp/mw/button-press/demos.npz --workdir=/tmp/mw/button-press/cpu
    python -m experiments.evaluate --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --workdir=/tmp/mw/button-press/cpu [--episodes=50] [--video]
      -> /tmp/mw/button-press/cpu/eval_button-press-v3.json (success rate, Wilson 95% CI)
    ... --config.env.ood=True   # starts outside the demonstrations' range (those the
                                # scripted expert solves) -> eval_<task>_ood.json

Expert success and collection speed for the paper's five tasks: results/metaworld.md.
Success rates of trained policies: results/metaworld.md.
The training keys are experiments/configs/demos.py's (this config starts from it).
"""
import ml_collections

from experiments.configs import demos

PAPER_TASKS = ("button-press-v3", "drawer-open-v3", "assembly-v3", "bin-picking-v3", "hammer-v3")
VARIANTS = ("", "cpu", "smoke")


def get_config(arg: str = "button-press-v3") -> ml_collections.ConfigDict:
  task, _, variant = arg.partition(",")
  task = task if task.endswith("-v3") else f"{task}-v3"
  if variant not in VARIANTS:
    raise ValueError(f"unknown variant {variant!r} of metaworld.py; valid: {VARIANTS}")
  from efjax.envs.metaworld_envs import check_task
  check_task(task)                       # an unknown task lists the valid ones
  c = demos.get_config("smoke" if variant == "smoke" else "")
  # Every v3 task: obs 39 (hand, gripper, two objects, the previous frame's 18, goal),
  # action 4 (xyz delta, gripper). A demo file of other sizes is refused.
  c.data.obs_dim, c.data.act_dim = 39, 4

  c.env = dict(
      task=task,
      # Meta-World v3's own episode limit; an episode the expert has not solved by then
      # is a failure (and is dropped from the demos unless collect.keep_failures).
      max_path_length=500,
      # Demos stop this many steps after the first success: running on to
      # max_path_length would fill them with hundreds of idle post-success frames,
      # stopping at success would leave the last action chunks without what follows.
      steps_after_success=10,
      # Out-of-distribution starts: object/goal positions drawn from the randomization
      # box widened by ood_scale about its centre, outside the original box
      # (efjax/envs/metaworld_envs.py). Written to eval_<task>_ood.json.
      ood=False,
      ood_scale=1.5,
  )
  c.collect = dict(num_episodes=100, seed=0, keep_failures=False,
                   max_tries=0)          # 0: 2 * num_episodes + 10 before giving up
  c.eval = dict(
      num_episodes=50,
      seed=1_000_000,       # episode i starts from seed + i: disjoint from the demos' seeds
      sampler_seed=0,
      num_envs=10,          # envs stepped in lockstep, one jitted sampler call for all
      action_steps=8,       # of each sampled chunk of data.action_horizon actions
      # With env.ood: evaluate on the first num_episodes OOD starts the scripted expert
      # solves (some widened starts are infeasible: results/metaworld.md).
      ood_expert_solvable=True,
      video=False, video_episodes=3, video_size=224, video_fps=40,
  )
  # The Gaussian MLP behaviour-cloning baseline (experiments.train_bc, efjax/bc.py);
  # it shares data.*, optim.* and train.* with EnergyFlow.
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
    c.model.preconditioning = "edm"    # as the cpu variant (tests cover its train-load-eval path)
    c.sampler.num_steps = 4
    c.env.max_path_length = 100        # the button-press expert needs ~60 steps
    c.collect.num_episodes = 3
    c.eval.update(num_episodes=2, num_envs=2, action_steps=2, video_size=64)
    c.bc.hidden = (64, 64)
  return c
