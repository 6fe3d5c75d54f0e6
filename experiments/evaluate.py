"""Success rate of a trained policy on a Meta-World or robomimic task, with a 95% CI.

    python -m experiments.evaluate --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --workdir=TRAIN_WORKDIR [--episodes=50] [--video] [--config.env.ood=True]
    python -m experiments.evaluate --config=experiments/configs/robomimic.py:lift,cpu \
        --workdir=TRAIN_WORKDIR [--episodes=50]        # robosuite 1.5; no --video

Loads `efjax.load(TRAIN_WORKDIR)` (EMA parameters of the newest good checkpoint) and
runs eval.num_episodes episodes from seeds eval.seed + i on eval.num_envs envs in
lockstep (efjax/policy/lockstep.py): each round samples a chunk of data.action_horizon
actions for every env with one jitted call and executes the first eval.action_steps.
Writes TRAIN_WORKDIR/eval_<task>.json (eval_<task>_ood.json with env.ood): success
rate over the episodes that ran, Wilson 95% CI, errored episodes with their seeds,
per-episode results; with --video, GIFs of the first eval.video_episodes episodes.
A config with data.format='robomimic' runs the task in robosuite instead, rebuilt from
the training HDF5 file's env metadata (efjax.policy.suites.evaluate_robomimic), for at most
eval.max_steps steps an episode, and writes TRAIN_WORKDIR/eval_<task>.json.
"""
import sys

from absl import flags

from experiments import cli


_CONFIG = cli.config_flag("experiments/configs/metaworld.py:<task> or robomimic.py:<task>")
_WORKDIR = cli.workdir_flag("A training workdir (efjax.load).")
_EPISODES = flags.DEFINE_integer("episodes", None, "Overrides config eval.num_episodes.")
_VIDEO = flags.DEFINE_bool("video", None, "GIFs of the first episodes (overrides eval.video).")


def main(argv):
  del argv
  cli.quiet_library_logs()
  command = "python -m experiments.evaluate " + " ".join(sys.argv[1:])
  from efjax.policy import suites
  evaluate = (suites.evaluate_robomimic if _CONFIG.value.data.get("format") == "robomimic"
              else suites.evaluate_metaworld)
  evaluate(_CONFIG.value, _WORKDIR.value, _EPISODES.value, _VIDEO.value, command=command)


if __name__ == "__main__":
  cli.run(main)
