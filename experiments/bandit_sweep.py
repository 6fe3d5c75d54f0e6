"""The evidence behind the reward defaults: learning rate x reward noise level on the bandit.

    python -m experiments.bandit_sweep --config=experiments/configs/bandit.py \
        --learning_rates=1e-4,1e-3,3e-3,1e-2 --seeds=0,1 --out=results/bandit.md

For each learning rate and seed, trains the bandit energy (the config's budget) and
scores the centered reward at every `eval.t_sweep` level, then writes a Markdown
table of mean offset-free Pearson correlation / preference accuracy over seeds.
"""
import datetime
import json

import numpy as np
from absl import flags

from efjax.reward.bandit_recovery import run_bandit_recovery
from experiments import cli

_CONFIG = cli.config_flag("Bandit config file.")
_LRS = flags.DEFINE_list("learning_rates", ["1e-4", "1e-3", "3e-3", "1e-2"], "Peak learning rates.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1"], "Seeds.")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", "results/bandit.md", "Markdown file to write.")


def main(argv):
  del argv
  base = _CONFIG.value
  rows = {}
  for lr in _LRS.value:
    for seed in _SEEDS.value:
      cfg = base.copy_and_resolve_references()
      cfg.train.learning_rate, cfg.seed = float(lr), int(seed)
      res = run_bandit_recovery(cfg, log=None)
      rows.setdefault(lr, []).append(res)
      print(json.dumps({"lr": lr, "seed": seed, "centered": res["centered"]}), flush=True)
  levels = list(base.eval.t_sweep)
  sigma = lambda t: 0.01 * 1000.0**t  # noqa: E731  (VE, the config's schedule)
  lines = [
      "# Reward recovery on the max-ent bandit: learning rate x reward noise level", "",
      f"Made {datetime.date.today()} on the 2-core CPU by:", "",
      "```",
      "python -m experiments.bandit_sweep --config=experiments/configs/bandit.py "
      f"--learning_rates={','.join(_LRS.value)} --seeds={','.join(_SEEDS.value)} --out={_OUT.value}",
      "```", "",
      f"Budget per run: {base.train.num_steps} steps of batch {base.train.batch_size} x "
      f"K={base.train.num_levels} noise levels, MLP {tuple(base.model.mlp.hidden)}. "
      f"Each cell: offset-free Pearson correlation / preference accuracy of the centered "
      f"reward against Q on {base.eval.num_states} held-out states x {base.eval.num_actions} "
      f"expert actions, mean over seeds {', '.join(_SEEDS.value)}.", "",
      "| lr \\ reward t (sigma) | " + " | ".join(f"{t:g} ({sigma(t):.3f})" for t in levels) + " |",
      "|---" * (len(levels) + 1) + "|",
  ]
  for lr, runs in rows.items():
    cells = []
    for t in levels:
      p = np.mean([r["centered_t_sweep"][float(t)]["pearson"] for r in runs])
      a = np.mean([r["centered_t_sweep"][float(t)]["preference_accuracy"] for r in runs])
      cells.append(f"{p:.3f} / {a:.3f}")
    lines.append(f"| {lr} | " + " | ".join(cells) + " |")
  with open(_OUT.value, "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  cli.run(main, required=("config",))
