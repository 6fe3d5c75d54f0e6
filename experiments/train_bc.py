"""Train the Gaussian MLP behaviour-cloning baseline; re-running on the same workdir resumes.

    python -m experiments.train_bc --config=experiments/configs/metaworld.py:button-press-v3,cpu \
        --config.data.path=/tmp/mw/button-press/demos.npz --workdir=/tmp/mw/button-press/bc

The same config, flags and workdir layout as experiments.train (efjax/bc.py: the
network is config.bc, the rest is shared: efjax.train's `bc` method); `experiments.evaluate` on the workdir
evaluates the BC policy (its mean action chunk).
"""

import functools

from efjax.train import train_and_evaluate
from experiments import cli

if __name__ == "__main__":
  cli.run_config_workdir(functools.partial(train_and_evaluate, method="bc"))
