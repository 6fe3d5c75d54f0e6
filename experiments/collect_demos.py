"""Scripted-expert demonstrations for a Meta-World task.

    python -m experiments.collect_demos --config=experiments/configs/metaworld.py:button-press-v3 \
        --workdir=DIR [--config.collect.num_episodes=100] [--config.collect.keep_failures=True]

Episode i starts from seed collect.seed + i. Writes DIR/demos.npz (DESIGN.md layout,
plus `episode_seeds` [E] and `task`) and DIR/collect_summary.json (expert success
rate, episodes tried and kept, mean length, steps/s). Collection is deterministic:
re-running the same command on a finished workdir prints its summary and stops.
"""
import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli

from efjax.data import DemoFileError
from efjax.envs.metaworld_envs import TaskError, collect_demos

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None, "experiments/configs/metaworld.py:<task>",
                                          lock_config=True)
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "demos.npz and collect_summary.json go here.")


def main(argv):
  del argv
  try:
    collect_demos(_CONFIG.value, _WORKDIR.value)
  except (TaskError, DemoFileError) as e:     # the user's input: one line, no traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
