"""Is each reward-comparison env's PPO budget enough? The oracle (PPO on the true reward of
the fixed-horizon env, at experiments/configs/rl_compare.py's budget) against the expert,
with the constant, zero and random-network controls beside it: results/ppo.md's "RL
budgets" table.

    python -m experiments.rl_budget --workdir=DIR [--envs=hopper,walker2d] [--record]

Each env runs what one `python -m experiments.rl_compare ...` command does (the recorded
`command`: the oracle and the controls only, NUM_SEEDS seeds) in DIR/<env>, which resumes;
no reward model is trained. Scores are normalized as in results/rl_compare.md: (R -
R_random) / (R_expert - R_random), R_expert the mean return of the demonstrations. A budget
holds when the oracle's mean normalized return is at least GOAL; a control that also gets
there says the env cannot tell rewards apart. With --record each env's result goes to
results/raw/ppo/rl_budget/<env>.json (other envs' records are kept) and the table is rebuilt.
"""
import os
import shlex
import time

from absl import app, flags

from efjax import provenance
from experiments import cli, rl_compare
from experiments.configs import rl_compare as compare_configs
from experiments.configs.common import with_overrides
from experiments.reports import build
from experiments.reports.ppo import RL_BUDGET
from experiments.reports.rl_compare import normalized

METHODS = ("true_reward",) + compare_configs.CONTROL_METHODS
NUM_SEEDS = 2
GOAL = 0.8

_WORKDIR = cli.workdir_flag("Folder of the envs' rl_compare workdirs (WORKDIR/<env>).")
_ENVS = flags.DEFINE_list("envs", list(compare_configs.ENVS), "rl_compare envs to check.")
_RECORD = cli.shared_flag(flags.DEFINE_bool, "record", False,
                          "Write results/raw/ppo/rl_budget/<env>.json and "
                          "rebuild results/ppo.md's table.")


def overrides() -> dict:
  return {"methods": METHODS, "rl.num_seeds": NUM_SEEDS}


def command(env: str) -> str:
  """The single rl_compare command a user types for this env."""
  methods = "(" + ",".join(repr(m) for m in METHODS) + ")"
  return " ".join(["python", "-m", "experiments.rl_compare",
                   f"--config=experiments/configs/rl_compare.py:{env}",
                   f"--workdir=WORKDIR/{env}", f'"--config.methods={methods}"',
                   f"--config.rl.num_seeds={NUM_SEEDS}"])


def check(env: str, workdir: str, log=print) -> dict:
  """Runs (or reads) one env; its expert, random and per-method per-seed results."""
  config = with_overrides(compare_configs.get_config(env), overrides())
  results = rl_compare.run_compare(config, workdir, log)
  expert, random = results["demos"]["return_mean"], results["random"]["return_mean"]
  methods = {}
  for method, r in results["methods"].items():
    rl = r["rl"]
    methods[method] = {"eval_return_per_seed": rl["eval_return_per_seed"],
                       "normalized_per_seed": normalized(rl["eval_return_per_seed"], random,
                                                         expert).round(4).tolist(),
                       "wall_s": rl["wall_s"], "steps_per_s": rl["steps_per_s"]}
  return {"env": env, "command": command(env), "expert_return": expert,
          "expert_eval_return": results["expert"].get("eval_return_mean"),
          "expert_steps": config.expert.ppo.total_steps, "random_return": random,
          "rl_steps": config.rl.ppo.total_steps, "backend": config.rl.env.backend,
          "episode_length": config.rl.env.episode_length,
          "methods": methods,
          "wall_s": round(results["expert"]["wall_s"] + sum(m["wall_s"] for m in methods.values()),
                          1)}


def main(argv):
  del argv
  cli.quiet_library_logs()
  unknown = sorted(set(_ENVS.value) - set(compare_configs.ENVS))
  if unknown:
    raise app.UsageError(f"--envs: unknown env(s) {', '.join(unknown)}; known: "
                         f"{', '.join(compare_configs.ENVS)}")
  start = time.perf_counter()
  checks = [check(env, os.path.join(_WORKDIR.value, env), cli.progress) for env in _ENVS.value]
  for c in checks:
    oracle = c["methods"]["true_reward"]["normalized_per_seed"]
    cli.progress(f"{c['env']}: oracle normalized return {oracle} (goal {GOAL})")
  if _RECORD.value:
    # One record per env, each with its own command and provenance: an env checked later
    # (or again) leaves the others' records as they are.
    build.record({f"{RL_BUDGET}/{c['env']}.json": _record(c, start) for c in checks})


def _record(check: dict, start: float) -> dict:
  header = provenance.result_header(
      shlex.join(["python", "-m", "experiments.rl_budget", "--workdir=WORKDIR",
                  f"--envs={check['env']}", "--record"]), start,
      {"envs": [check["env"]], **overrides(), "goal": GOAL})
  # The run's own wall time: a --record on a finished workdir reads it in seconds.
  header["wall_s"] = check["wall_s"]
  return {"checks": [check], **header}

if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(cli.user_errors_as_one_line(main), flags_parser=cli.parse_flags_or_exit)
