"""PPO (efjax.rl) on the true reward of each brax task: the validation runs of results/ppo.md.

    python -m experiments.ppo_validation --workdir=/tmp/ppo [--record]

Each run is what `python -m experiments.ppo --config=experiments/configs/ppo.py:<env>
--workdir=WORKDIR/<name> [overrides]` does (the recorded `command`), in WORKDIR/<name>; re-running
resumes a run that was stopped and returns a finished one's summary without training.
With --record, the runs' summaries (each with its fingerprint) and learning curves (true
return per update) go to results/raw/ppo/validation.json, and results/ppo.md's table and
the curves results/ppo_<name>.png are rebuilt from it (experiments.reports.ppo).
"""
import json
import os
import shlex
import time

from absl import app, flags

from efjax import provenance
from efjax.rl.driver import train_seeds
from experiments import cli
from experiments.configs import ppo as ppo_configs
from experiments.configs.common import with_overrides
from experiments.reports import build
from experiments.reports.ppo import VALIDATION

# (name, env, overrides): the configs of experiments/configs/ppo.py, and the two variants
# results/ppo.md discusses (spring physics for inverted_double_pendulum, twice the budget
# for reacher).
RUNS = (("inverted_pendulum", "inverted_pendulum", {}),
        ("inverted_double_pendulum", "inverted_double_pendulum", {}),
        ("inverted_double_pendulum_spring", "inverted_double_pendulum", {"env.backend": "spring"}),
        ("reacher", "reacher", {}),
        ("reacher_10m", "reacher", {"ppo.total_steps": 10_000_000}))

_WORKDIR = cli.workdir_flag("Folder of the runs' workdirs (WORKDIR/<name>).")
_RECORD = cli.shared_flag(flags.DEFINE_bool, "record", False,
                          "Write results/raw/ppo/validation.json and the "
                          "curves, and rebuild results/ppo.md's table.")
_ONLY = cli.shared_flag(flags.DEFINE_list, "only", None,
                        "Run only these names (not with --record).")


def command(name: str, env: str, overrides: dict) -> str:
  """The single-run command a user types for this run."""
  return shlex.join(["python", "-m", "experiments.ppo",
                     f"--config=experiments/configs/ppo.py:{env}", f"--workdir=WORKDIR/{name}"]
                    + [f"--config.{k}={v}" for k, v in overrides.items()])


def curve(workdir: str) -> dict:
  """{'env_steps': [U], 'true_return': [U][seeds]}: the run's metrics.jsonl, per update."""
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  return {"env_steps": [r["env_steps"] for r in rows],
          "true_return": [[None if v is None else round(v, 2) for v in r["rl/true_return"]]
                          for r in rows]}


def run_all(root: str, runs=RUNS, log=print) -> list[dict]:
  """Trains (or resumes, or reads) each run in root/<name>;
  [{'name', 'command', 'summary', 'curve'}]."""
  out = []
  for i, (name, env, overrides) in enumerate(runs):
    log(f"[{i + 1}/{len(runs)}] {name}")
    config = with_overrides(ppo_configs.get_config(env), overrides)
    workdir = os.path.join(root, name)
    summary = train_seeds(config, workdir, log)
    out.append({"name": name, "command": command(name, env, overrides), "summary": summary,
                "curve": curve(workdir)})
  return out


def main(argv):
  del argv
  cli.quiet_library_logs()
  if _RECORD.value and _ONLY.value:
    raise app.UsageError("--record publishes every run: drop --only")
  runs = [r for r in RUNS if not _ONLY.value or r[0] in _ONLY.value]
  unknown = sorted(set(_ONLY.value or ()) - {r[0] for r in RUNS})
  if unknown:
    raise app.UsageError(f"--only: unknown run(s) {', '.join(unknown)}; known: "
                         f"{', '.join(r[0] for r in RUNS)}")
  start = time.perf_counter()
  results = run_all(_WORKDIR.value, runs, cli.progress)
  if not _RECORD.value:
    return
  header = provenance.result_header(
      "python -m experiments.ppo_validation --workdir=WORKDIR --record", start,
      {"runs": [list(r[:2]) + [r[2]] for r in RUNS]})
  # The runs' own wall time: a --record on finished runs reads them in seconds.
  header["wall_s"] = round(sum(r["summary"]["wall_s"] for r in results), 1)
  build.record({VALIDATION: {"runs": results, **header}})


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(cli.user_errors_as_one_line(main), flags_parser=cli.parse_flags_or_exit)
