"""Train EnergyFlow on demonstrations; re-running on the same workdir resumes.

    python -m experiments.train --config=experiments/configs/demos.py \
        --config.data.path=demos.npz --workdir=DIR

`--config.method=bc` trains the Gaussian BC baseline instead (as experiments.train_bc).
"""
import os

import jax


from experiments import cli

from efjax.export import export_after_training
from efjax.train import train_and_evaluate
from efjax.workdir import method_of

_CONFIG = cli.config_flag("Experiment config file.")
_WORKDIR = cli.workdir_flag("Checkpoints, config.json and metrics go here.")


def initialize_distributed() -> None:
  """Joins a multi-process run when launch/ set EFJAX_COORDINATOR (and the process count/id).

  On a pod or SLURM, jax.distributed.initialize() with no arguments finds its peers.
  """
  if "EFJAX_COORDINATOR" in os.environ:
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(os.environ["EFJAX_COORDINATOR"],
                               int(os.environ["EFJAX_NUM_PROCESSES"]),
                               int(os.environ["EFJAX_PROCESS_ID"]))
  elif os.environ.get("EFJAX_AUTO_DISTRIBUTED"):
    jax.distributed.initialize()


def main(argv):
  del argv
  cli.quiet_library_logs()
  initialize_distributed()
  state = train_and_evaluate(_CONFIG.value, _WORKDIR.value)
  # WORKDIR/export for jax-only users, once the run is complete (not after a SIGTERM stop,
  # where the grace period is for saving); a failed export is a warning, never fatal.
  finished = int(jax.device_get(state.step.addressable_data(0))) >= _CONFIG.value.train.num_steps
  if finished and jax.process_index() == 0 and method_of(_CONFIG.value) == "energyflow":
    export_after_training(_WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
