"""PPO on a brax environment's true reward; re-running on the same workdir resumes.

    python -m experiments.ppo --config=experiments/configs/ppo.py:inverted_pendulum --workdir=DIR

Writes DIR/config.json, DIR/metrics.jsonl (one line per update), DIR/runner.npz
(resume), DIR/agent/ (agent.npz + agent.json, reload with efjax.rl.load_agent),
DIR/learning_curve.png and DIR/summary.json.
"""
import sys

from absl import flags
from ml_collections import config_flags

from experiments import cli

from efjax.rl.loop import train_and_evaluate

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None, "Experiment config file.",
                                          lock_config=True)
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Metrics, agent and curve go here.")


def main(argv):
  del argv
  try:
    train_and_evaluate(_CONFIG.value, _WORKDIR.value, log=lambda s: print(s, flush=True))
  except ValueError as e:     # impossible settings, refused before compiling
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
