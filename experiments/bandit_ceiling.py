"""How much of the bandit family's reward recovery the reading level itself costs: the
scores a perfect energy would get, read at each of the defaults' noise levels.

    python -m experiments.bandit_ceiling --config=experiments/configs/bandit_family.py

For each seed of config.ceiling.seeds (tuning seeds only) writes RAW_DIR/ceiling/seed<k>.json:
the member, and for each t of config.ceiling.readings its sigma (the defaults' schedule,
demos.py) and the support-grid scores of the exact expert density smoothed at that sigma
(efjax.reward.bandit_scores.reading_ceiling) at each of config.ceiling.num_draws (two
counts: how far the Monte Carlo has converged), with what made it. The member's demos and
grid are the ones its training runs use (same seed, same member settings). Members with a
record are skipped. Seconds per member on one core, no training. results/bandit_family.md
("What the reading level leaves") sets each beside the defaults' own run on that member.
"""
import os
import sys
import time

from absl import flags
from ml_collections import config_flags

from experiments import bandit_runs, cli

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None,
                          "experiments/configs/bandit_family.py[:smoke]")
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Only for a config that "
                           "keeps its records under the workdir (the smoke variant).")

FOLDER = "ceiling"


def record_path(family, seed: int) -> str:
  return os.path.join(family.raw_dir, FOLDER, f"seed{seed}.json")


def ceiling_record(family, seed: int, schedule) -> dict:
  """One member's raw record (see the module doc)."""
  import numpy as np

  from efjax.envs.bandit import HELD_OUT_START, family_member
  from efjax.envs.bandit_files import demo_arrays, grid_arrays
  from efjax.reward.bandit_scores import reading_ceiling
  if seed >= HELD_OUT_START:
    raise ValueError(f"seed {seed} is a held-out member; the ceiling is read on tuning seeds")
  m = family.member
  task = family_member(seed)
  actions = demo_arrays(task, m.num_demos, m.episode_length)["actions"]
  grid = grid_arrays(task, m.num_states, m.num_actions)
  scale = np.asarray(actions, np.float64).std(0)     # the model's z-score scale
  sigmas = {t: float(schedule.sigma(np.float32(t))) for t in family.ceiling.readings}
  start = time.perf_counter()
  by_draws = {n: reading_ceiling(task, grid, scale, list(sigmas.values()), n)
              for n in family.ceiling.num_draws}
  readings = {f"centered:{t:g}": {"sigma": sigma, "scores": {
      str(n): by_draws[n][f"{sigma:g}"] for n in by_draws}} for t, sigma in sigmas.items()}
  return {"member": task.summary(), "readings": readings,
          "wall_s": time.perf_counter() - start, **bandit_runs.provenance(sys.argv)}


def main(argv):
  del argv
  cli.quiet_library_logs()
  family = _CONFIG.value
  bandit_runs.place_outputs(family, _WORKDIR.value)
  from efjax.schedules import make_schedule
  from experiments.configs import demos
  schedule = make_schedule(demos.get_config().schedule)
  seeds = list(family.ceiling.seeds)
  for i, seed in enumerate(seeds, 1):
    path = record_path(family, seed)
    if os.path.exists(path):
      cli.progress(f"[{i}/{len(seeds)}] seed {seed}: recorded, skipped ({path})")
      continue
    record = ceiling_record(family, seed, schedule)
    bandit_runs.write_json(path, record)
    shown = ", ".join(f"{r} {v['scores'][str(max(family.ceiling.num_draws))]['pearson']:.3f}"
                      for r, v in record["readings"].items())
    cli.progress(f"[{i}/{len(seeds)}] seed {seed}: Pearson {shown} "
                 f"({record['wall_s']:.0f}s) -> {path}")


if __name__ == "__main__":
  cli.run(main, required=("config",))
