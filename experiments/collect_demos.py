"""Scripted-expert demonstrations for a Meta-World task.

    python -m experiments.collect_demos --config=experiments/configs/metaworld.py:button-press-v3 \
        --workdir=DIR [--config.collect.num_episodes=100] [--config.collect.keep_failures=True]

Episode i starts from seed collect.seed + i. Writes DIR/demos.npz (DESIGN.md layout,
plus `episode_seeds` [E] and `task`) and DIR/collect_summary.json (expert success
rate, episodes tried and kept, mean length, steps/s). Collection is deterministic:
re-running the same command on a finished workdir prints its summary and stops.
"""
import sys

from absl import app, flags
from ml_collections import config_flags

from efjax.data import DemoFileError
from efjax.envs.metaworld_envs import TaskError, collect_demos

_CONFIG = config_flags.DEFINE_config_file("config", None, "experiments/configs/metaworld.py:<task>",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "demos.npz and collect_summary.json go here.")


def main(argv):
  del argv
  try:
    collect_demos(_CONFIG.value, _WORKDIR.value)
  except (TaskError, DemoFileError) as e:     # the user's input: one line, no traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


def parse_flags_or_exit(argv):
  """As experiments.train's (importing it would define its flags twice): one line, exit 2."""
  try:
    return flags.FLAGS(argv)
  except (AttributeError, KeyError) as e:     # ml_collections: a key the config lacks
    print(f"error: --config override names a key the config does not have: {e}",
          file=sys.stderr)
    sys.exit(2)
  except flags.Error as e:
    # config_flags puts get_config's traceback in the message (an unknown task, say):
    # its last line is the error itself.
    lines = [line for line in str(e).splitlines() if line.strip()]
    print(f"error: {lines[-1] if 'Traceback' in str(e) else str(e)}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  flags.mark_flags_as_required(["config", "workdir"])
  app.run(main, flags_parser=parse_flags_or_exit)
