"""Reward recovery on the max-ent contextual bandit: train, extract rewards, score them.

    python -m experiments.bandit --config=experiments/configs/bandit.py --workdir=DIR

Writes DIR/config.json and DIR/results.json, and prints a table of reward quality.
"""
import json
import os


from efjax.reward.bandit_recovery import run_bandit_recovery
from experiments import cli

_CONFIG = cli.config_flag("Experiment config file.")
_WORKDIR = cli.workdir_flag("Where config.json and results.json go.")


def format_table(results: dict) -> str:
  lines = ["reward              pearson  spearman  pref.acc  EPIC"]
  rows = [(k, v) for k, v in results.items() if k != "centered_t_sweep"]
  rows += [(f"centered t={t:g}", v) for t, v in results["centered_t_sweep"].items()]
  for name, m in rows:
    lines.append(f"{name:18s}  {m['pearson']:7.3f}  {m['spearman']:8.3f}  "
                 f"{m['preference_accuracy']:8.3f}  {m['epic']:.3f}")
  return "\n".join(lines)


def main(argv):
  del argv
  config, workdir = _CONFIG.value, _WORKDIR.value
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  results = run_bandit_recovery(config)
  with open(os.path.join(workdir, "results.json"), "w") as f:
    json.dump({k: v if k != "centered_t_sweep" else {str(t): m for t, m in v.items()}
               for k, v in results.items()}, f, indent=2)
  print(format_table(results))
  print(f"wrote {os.path.join(workdir, 'results.json')}")


if __name__ == "__main__":
  cli.run(main)
