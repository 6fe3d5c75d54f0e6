"""PPO on a brax environment's true reward; re-running on the same workdir resumes.

    python -m experiments.ppo --config=experiments/configs/ppo.py:inverted_pendulum --workdir=DIR

Writes DIR/config.json, DIR/metrics.jsonl (one line per update), DIR/runner.npz
(resume), DIR/agent/ (agent.npz + agent.json, reload with efjax.rl.load_agent),
DIR/learning_curve.png and DIR/summary.json (efjax.rl.driver). `--config.num_seeds=N`
runs N seeds side by side (vmapped); their agents go to DIR/agent/seed<k>/.
"""

from efjax.rl.driver import train_seeds
from experiments import cli

if __name__ == "__main__":
  cli.run_config_workdir(train_seeds)
