"""The scripted experts' demonstrations of the Meta-World table's tasks: results/metaworld.md's
"Demonstrations" table.

    python -m experiments.metaworld_demos --workdir=/tmp/mw_demos [--record]

For each task of experiments/configs/metaworld_table.py, three collections, each what one
`python -m experiments.collect_demos ...` command does (the recorded `command`), in
WORKDIR/<task>/<run>:

  demos     100 episodes from seeds 0, 1, ... (the demos every model of the table trains on)
  in_range  10 episodes, at most 10 tries (the expert's success on the first 10 seeds)
  ood       the same from out-of-range starts (`env.ood`, the box widened `env.ood_scale`)
  ood_20_scale1.25, ood_20_scale1.5
            20 out-of-range starts with the box widened 1.25x and 1.5x (how feasible
            the OOD starts are)

Collection is deterministic, and a finished workdir returns its summary without collecting
again. With --record, every collect_summary.json goes to results/raw/metaworld/demos.json
and the table of results/metaworld.md is rebuilt from it (experiments.reports.metaworld).
"""
import os
import shlex
import time

from absl import app, flags

from efjax import provenance
from experiments import cli
from experiments.configs import metaworld as metaworld_configs
from experiments.configs import metaworld_table
from experiments.configs.common import with_overrides
from experiments.reports import build
from experiments.reports.metaworld import DEMOS

# (run, overrides of metaworld.py:<task>)
RUNS = (("demos", {}),
        ("in_range", {"collect.num_episodes": 10, "collect.max_tries": 10}),
        ("ood", {"collect.num_episodes": 10, "collect.max_tries": 10, "env.ood": True}),
        ("ood_20_scale1.25", {"collect.num_episodes": 20, "collect.max_tries": 20,
                              "env.ood": True, "env.ood_scale": 1.25}),
        ("ood_20_scale1.5", {"collect.num_episodes": 20, "collect.max_tries": 20,
                             "env.ood": True, "env.ood_scale": 1.5}))

_WORKDIR = cli.workdir_flag("Folder of the collections (WORKDIR/<task>/<run>).")
_RECORD = cli.shared_flag(flags.DEFINE_bool, "record", False,
                          "Write results/raw/metaworld/demos.json and "
                          "rebuild results/metaworld.md's table.")


def command(task: str, run: str, overrides: dict) -> str:
  """The single collection command a user types for this run."""
  return shlex.join(["python", "-m", "experiments.collect_demos",
                     f"--config=experiments/configs/metaworld.py:{task}",
                     f"--workdir=WORKDIR/{task}/{run}"]
                    + [f"--config.{k}={v}" for k, v in overrides.items()])


def collect_all(root: str, tasks, log=print) -> list[dict]:
  """Collects (or reads) every task's runs; [{'task', 'run', 'command', 'summary'}]."""
  from efjax.envs.metaworld_envs import collect_demos
  out = []
  for task in tasks:
    for run, overrides in RUNS:
      log(f"{task}: {run}")
      config = with_overrides(metaworld_configs.get_config(task), overrides)
      summary = collect_demos(config, os.path.join(root, task, run), log=lambda s: None)
      out.append({"task": task, "run": run, "command": command(task, run, overrides),
                  "summary": summary})
  return out


def main(argv):
  del argv
  cli.quiet_library_logs()
  tasks = metaworld_table.get_config().tasks
  start = time.perf_counter()
  results = collect_all(_WORKDIR.value, tasks, cli.progress)
  for r in results:
    cli.progress(f"{r['task']} {r['run']}: {r['summary']['message']}")
  if not _RECORD.value:
    return
  header = provenance.result_header(
      "python -m experiments.metaworld_demos --workdir=WORKDIR --record", start,
      {"tasks": list(tasks), "runs": [list(r) for r in RUNS]})
  # The collections' own wall time: a --record on finished workdirs reads them in seconds.
  header["wall_s"] = round(sum(r["summary"]["wall_s"] for r in results), 1)
  build.record({DEMOS: {"collections": results, **header}})


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(cli.user_errors_as_one_line(main), flags_parser=cli.parse_flags_or_exit)
