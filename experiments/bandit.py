"""Reward recovery on the max-ent contextual bandit: train, extract rewards, score them.

    python -m experiments.bandit --config=experiments/configs/bandit.py --workdir=DIR

Writes DIR/config.json and DIR/results.json (every reward's quality, the wall time, the
command and the fingerprint of what made it), and prints a table of reward quality.
results/raw/bandit/main/ and results/raw/bandit/edm/ are such workdirs (the command with
--workdir=results/raw/bandit/main, and with --config.model.preconditioning=edm);
results/bandit.md's tables are built from them (experiments/reports/bandit.py,
python -m experiments.reports.build).
"""
import os
import sys
import time

from efjax import provenance
from efjax.reward.bandit_recovery import run_bandit_recovery
from efjax.workdir import write_json
from experiments import cli, stages
from experiments.reports.bandit import format_table

_CONFIG = cli.config_flag("Experiment config file.")
_WORKDIR = cli.workdir_flag("Where config.json and results.json go.")


def run(config, workdir: str, log=print) -> dict:
  """Trains and scores; returns (and writes) the raw result."""
  stages.check_workdir_config(config, workdir)
  start = time.perf_counter()
  results = run_bandit_recovery(config, log=log)
  raw = {"results": {k: v if k != "centered_t_sweep" else {str(t): m for t, m in v.items()}
                     for k, v in results.items()},
         "wall_s": round(time.perf_counter() - start, 1),
         "command": "python -m experiments.bandit " + " ".join(sys.argv[1:]),
         "config": config.to_dict(), "fingerprint": provenance.fingerprint(config)}
  write_json(os.path.join(workdir, "results.json"), raw)
  return raw


def main(argv):
  del argv
  cli.quiet_library_logs()
  raw = run(_CONFIG.value, _WORKDIR.value, log=cli.progress)
  print(format_table(raw["results"]))
  print(f"wrote {os.path.join(_WORKDIR.value, 'results.json')}")


if __name__ == "__main__":
  cli.run(main)
