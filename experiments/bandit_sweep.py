"""The evidence behind the bandit config's learning rate and reward level: lr x reading level.

    python -m experiments.bandit_sweep --config=experiments/configs/bandit.py \
        --learning_rates=1e-4,1e-3,3e-3,1e-2 --seeds=0,1 --out=results/raw/bandit/sweep.json

For each learning rate and seed, trains the bandit energy (the config's budget) and
scores the centered reward at every `eval.t_sweep` level; writes the raw runs (JSON with
the command and the fingerprint of what made them). results/bandit.md's table is built
from it (python -m experiments.reports.build).
"""
import json
import sys

from absl import flags

from efjax import provenance
from efjax.reward.bandit_recovery import run_bandit_recovery
from efjax.workdir import write_json
from experiments import cli

_CONFIG = cli.config_flag("Bandit config file.")
_LRS = flags.DEFINE_list("learning_rates", ["1e-4", "1e-3", "3e-3", "1e-2"], "Peak learning rates.")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1"], "Seeds.")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", "results/raw/bandit/sweep.json",
                       "The raw JSON to write.")


def main(argv):
  del argv
  cli.quiet_library_logs()
  base = _CONFIG.value
  runs = {}
  for lr in _LRS.value:
    for seed in _SEEDS.value:
      cfg = base.copy_and_resolve_references()
      cfg.train.learning_rate, cfg.seed = float(lr), int(seed)
      res = run_bandit_recovery(cfg, log=None)
      res["centered_t_sweep"] = {str(t): m for t, m in res["centered_t_sweep"].items()}
      runs.setdefault(lr, []).append(res)
      print(json.dumps({"lr": lr, "seed": seed, "centered": res["centered"]}), flush=True)
  t = base.train
  write_json(_OUT.value, {
      "command": "python -m experiments.bandit_sweep " + " ".join(sys.argv[1:]),
      "budget": f"{t.num_steps} steps of batch {t.batch_size} x K={t.num_levels} noise "
                f"levels, MLP {tuple(base.model.mlp.hidden)}",
      "seeds": [int(s) for s in _SEEDS.value], "t_sweep": list(base.eval.t_sweep),
      "runs": runs, "config": base.to_dict(), "fingerprint": provenance.fingerprint(base)})
  print(f"wrote {_OUT.value}")


if __name__ == "__main__":
  cli.run(main, required=("config",))
