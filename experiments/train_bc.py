"""Train the Gaussian MLP behaviour-cloning baseline; re-running on the same workdir resumes.

    python -m experiments.train_bc --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --config.data.path=/tmp/mw/button-press/demos.npz --workdir=/tmp/mw/button-press/bc

The same config, flags and workdir layout as experiments.train (efjax/bc.py: the
network is config.bc, the rest is shared); `experiments.evaluate` on the workdir
evaluates the BC policy (its mean action chunk).
"""
import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli

from efjax import bc
from efjax.data import DemoFileError
from efjax.train.trainer import ConfigError

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None, "Experiment config file.",
                                          lock_config=True)
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Checkpoints, config.json and metrics go here.")


def main(argv):
  del argv
  cli.quiet_library_logs()
  try:
    bc.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  except (DemoFileError, ConfigError) as e:    # the user's input: one line, no traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
