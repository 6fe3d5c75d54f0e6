"""The paper's Meta-World table: tasks x methods x training seeds, in range and OOD.

    python -m experiments.metaworld_table --config=experiments/configs/metaworld_table.py \
        --workdir=WORKDIR
    python -m experiments.metaworld_table --report --workdir=WORKDIR

Each model is `experiments/configs/metaworld.py:<task>,<variant>` plus the method's
keys (energyflow: model.parameterization='energy'; nonconservative: 'score', the
same backbone predicting the score directly, Diffusion-Policy style; bc: the
Gaussian MLP of efjax/bc.py) plus `overrides`. Results: results/metaworld.md
("Success rates") and results/metaworld_success.png. Variants: '' (the CPU budget:
metaworld.py's `cpu` MLP, 50k steps of 256, ~8 min per energy model alone on the
2-core CPU), 'paper' (metaworld.py's paper-scale UNet, for accelerators), 'smoke'
(tests: one task, tiny budgets, 2 episodes).
"""
import ml_collections

from experiments.configs.common import parse_arg
from experiments.configs.metaworld import PAPER_TASKS

# The paper's EnergyFlow success rates (%), Meta-World.
PAPER_ENERGYFLOW = {"button-press-v3": 100.0, "drawer-open-v3": 94.2, "assembly-v3": 82.6,
                    "bin-picking-v3": 90.9, "hammer-v3": 94.6}

METHOD_LABEL = {"energyflow": "EnergyFlow", "nonconservative": "non-conservative score",
                "bc": "Gaussian BC"}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.tasks = PAPER_TASKS
  c.variant = "cpu"                 # of metaworld.py
  c.methods = ("energyflow", "nonconservative", "bc")
  c.seeds = dict(energyflow=3, nonconservative=3, bc=1)
  c.eval_episodes = 50              # each, in range and OOD
  c.ood = True
  # Extra `key=value` settings of every model's metaworld.py config, applied (and
  # recorded in the commands) as --config.key=value flags.
  c.overrides = ()
  # Where each finished model's row is published: the raw table (README's and
  # results/metaworld.md's tables are rebuilt from it by python -m experiments.reports.build),
  # the results document's generated section and the plot.
  c.report = dict(raw="results/raw/metaworld/table.json", markdown="results/metaworld.md",
                  plot="results/metaworld_success.png")
  _, flags = parse_arg(arg, "metaworld_table.py", flags=("paper", "smoke"), exclusive=True)
  if "paper" in flags:
    c.variant = ""
  elif "smoke" in flags:
    c.tasks = ("button-press-v3",)
    c.variant = "smoke"
    c.seeds = dict(energyflow=1, nonconservative=1, bc=1)
    c.eval_episodes = 2
    c.overrides = ("train.num_steps=40", "train.log_every=20",
                   "train.checkpoint_every=20", "train.eval_every=0")
  return c
