"""The EnergyFlow story end to end: expert, demonstrations, energy, policy, reward, RL.

    python -m experiments.pipeline --config=experiments/configs/quickstart.py --workdir=DIR

Each stage (experiments/stages.py) keeps its outputs under DIR and is skipped when
they exist, so re-running the command after an interruption resumes (the PPO and
EnergyFlow stages also resume inside themselves). The final report is DIR/report.md
with PNG plots beside it (experiments/reports/pipeline.py); DIR/results.json holds
every number in it. A stage's result made by other code, config or data is recomputed
(`--stale=report` keeps it and says so; experiments/stages.py).
"""
import os
import sys
import time

import efjax
from efjax import provenance

from efjax.reward.controls import control_reward
from efjax.rl.driver import train_seeds
from efjax.workdir import write_json
from experiments import cli, stages
from experiments.reports import pipeline as report

def controls(config, workdir: str, log) -> dict:
  """PPO from scratch on each control reward of config.controls, reward_rl's budget and
  seeds: {control: its PPO summary}."""
  out = {}
  env = stages.raw_env(config)
  for name in config.controls:
    rl_dir = os.path.join(workdir, "controls", name)
    stages.claim_dir(rl_dir, stages.made_by(config, ("reward_rl", "seed")), log)
    fn, params = control_reward(name, env.observation_size, env.action_size, config.seed)
    log(f"control reward {name}: PPO from scratch")
    out[name] = train_seeds(config.reward_rl, rl_dir, log, reward_fn=fn, reward_params=params)
  return out


def reward_rl(config, workdir: str, log) -> dict:
  """PPO from scratch on the EnergyFlow reward alone; the true return is what is scored."""
  rl_dir = os.path.join(workdir, "reward_rl")
  stages.claim_dir(rl_dir, stages.made_by(config, ("reward_rl", "energyflow"),
                                          (os.path.join(workdir, "demos.npz"),)), log)
  model = efjax.load(os.path.join(workdir, "energyflow"))
  return train_seeds(config.reward_rl, rl_dir, log, reward_fn=model.reward_fn(),
                     reward_params=model.params)


STAGES = (("expert", stages.expert), ("demos", stages.demos),
          ("energyflow", stages.energyflow), ("imitation", stages.imitation),
          ("reward", stages.reward_ranking), ("reward_rl", reward_rl),
          ("random", stages.random_policy), ("controls", controls))


def run_pipeline(config, workdir: str, log=print) -> dict:
  """Runs (or resumes) every stage; returns {stage: summary} and writes the report."""
  stages.check_workdir_config(config, workdir)
  start, results = time.perf_counter(), {}

  def write_report(config, workdir, log):
    """WORKDIR/results.json (every number) and WORKDIR/report.md with its plots."""
    done = {k: v for k, v in results.items() if v is not None}
    done["wall_s"] = round(time.perf_counter() - start, 1)
    done["about"] = {**report.report_inputs(config, workdir),
                      "command": "python -m experiments.pipeline " + " ".join(sys.argv[1:])}
    done["fingerprint"] = provenance.fingerprint(config)
    write_json(os.path.join(workdir, "results.json"), done)
    path = report.write_report(done, workdir)
    log(f"report: {path}")

  stages.run_stages(STAGES + (("report", write_report),), config, workdir, log, results)
  results.pop("report")
  results["wall_s"] = round(time.perf_counter() - start, 1)
  return results


if __name__ == "__main__":
  cli.run_config_workdir(run_pipeline, stale=True)
