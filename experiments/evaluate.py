"""Success rate of a trained policy on a Meta-World task, with a 95% confidence interval.

    python -m experiments.evaluate --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --workdir=TRAIN_WORKDIR [--episodes=50] [--video] [--config.env.ood=True]

Loads `efjax.load(TRAIN_WORKDIR)` (EMA parameters of the newest good checkpoint) and
runs eval.num_episodes episodes from seeds eval.seed + i on eval.num_envs envs in
lockstep (efjax/evaluation.py): each round samples a chunk of data.action_horizon
actions for every env with one jitted call and executes the first eval.action_steps.
Writes TRAIN_WORKDIR/eval_<task>.json (eval_<task>_ood.json with env.ood): success
rate over the episodes that ran, Wilson 95% CI, errored episodes with their seeds,
per-episode results; with --video, GIFs of the first eval.video_episodes episodes.
"""
import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli

from efjax.data import DemoFileError
from efjax.envs.metaworld_envs import TaskError
from efjax.evaluation import evaluate_metaworld

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None, "experiments/configs/metaworld.py:<task>",
                                          lock_config=True)
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "A training workdir (efjax.load).")
_EPISODES = flags.DEFINE_integer("episodes", None, "Overrides config eval.num_episodes.")
_VIDEO = flags.DEFINE_bool("video", None, "GIFs of the first episodes (overrides eval.video).")


def main(argv):
  del argv
  cli.quiet_library_logs()
  command = "python -m experiments.evaluate " + " ".join(sys.argv[1:])
  try:
    evaluate_metaworld(_CONFIG.value, _WORKDIR.value, _EPISODES.value, _VIDEO.value,
                       command=command)
  except (TaskError, DemoFileError) as e:     # the user's input: one line, no traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
