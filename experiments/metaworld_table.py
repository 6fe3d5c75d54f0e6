"""The Meta-World table: demos, training and evaluation of every model, then the report.

    python -m experiments.metaworld_table --config=experiments/configs/metaworld_table.py \
        --workdir=WORKDIR                     # runs (or resumes) everything, then reports
    python -m experiments.metaworld_table --report --workdir=WORKDIR    # the report only

For each task: demos once (WORKDIR/<task>/demos, efjax.envs.metaworld_envs.collect_demos),
then every (method, seed) model in WORKDIR/<task>/<method>/seed<k>: trained (resumable)
and evaluated on config.eval_episodes in-range and OOD starts (efjax/policy/suites.py).
After each model its row goes into WORKDIR/table.json and the report is rewritten
(the "Success rates" section of config.report.markdown and the bar plot
config.report.plot; experiments/reports/metaworld.py).
Re-running skips finished models and evaluations. Models run in seed rounds: round k
trains seed k of every method on every task, so a run cut short still has the whole
table, methods side by side, with fewer seeds.
The recorded per-model commands (experiments.train / train_bc / evaluate) reproduce
each model alone; this main calls the same functions in one process.
"""
import datetime
import json
import os
import sys
import time

from absl import flags

from experiments import cli
from experiments.reports import documents
from experiments.reports import metaworld as report
from experiments.reports.metaworld import row_key

from efjax.errors import ConfigError
from efjax.workdir import write_json

_CONFIG = cli.config_flag("experiments/configs/metaworld_table.py[:smoke]")
_WORKDIR = cli.workdir_flag("Demos, models and table.json go here.")
_REPORT = cli.shared_flag(flags.DEFINE_bool, "report", False,
                          "Only rewrite the report from WORKDIR/table.json.")

TABLE_FILE = "table.json"
METHOD_KEYS = {"energyflow": ("model.parameterization=energy",),
               "nonconservative": ("model.parameterization=score",),
               "bc": ()}
METHOD_MAIN = {"energyflow": "train", "nonconservative": "train", "bc": "train_bc"}


class TableError(ConfigError):
  """A bad table config or workdir; the message names the key or file."""


# --- configs and commands --------------------------------------------------------------

def apply_overrides(config, overrides) -> None:
  """`key=value` strings set on the model config (experiments.cli.apply_overrides); a bad
  one is a TableError naming it."""
  try:
    cli.apply_overrides(config, overrides)
  except (KeyError, ValueError) as e:
    raise TableError(e.args[0]) from None


def model_config(table, task: str, method: str, seed: int, demos_path: str):
  """(metaworld.py config of one model, the --config.* flags that make it)."""
  from experiments.configs import metaworld
  flags_ = (f"data.path={demos_path}", f"seed={seed}", *METHOD_KEYS[method], *table.overrides)
  config = metaworld.get_config(f"{task},{table.variant}" if table.variant else task)
  apply_overrides(config, flags_)
  return config, flags_


def _command(main: str, task: str, variant: str, flags_, workdir: str, extra=()) -> str:
  arg = f"{task},{variant}" if variant else task
  return " ".join([f"python -m experiments.{main}",
                   f"--config=experiments/configs/metaworld.py:{arg}",
                   *(f"--config.{f}" for f in flags_), f"--workdir={workdir}", *extra])


# --- table.json ------------------------------------------------------------------------

def load_table(workdir: str) -> dict:
  path = os.path.join(workdir, TABLE_FILE)
  return json.load(open(path)) if os.path.exists(path) else {"rows": {}, "demos": {}}


def save_table(workdir: str, table: dict) -> None:
  """Atomic: a run killed mid-write leaves the previous table, never half of one."""
  path = os.path.join(workdir, TABLE_FILE)
  with open(path + ".tmp", "w") as f:
    json.dump(table, f, indent=2)
  os.replace(path + ".tmp", path)


class TableInterrupted(RuntimeError):
  """A model's training was stopped before its last step: record nothing, end the run."""


# --- one model -------------------------------------------------------------------------

def _evaluation(config, workdir: str, episodes: int, ood: bool, command: str, log) -> dict:
  """WORKDIR/eval_<task>[_ood].json, reused when it is of the final checkpoint and size."""
  from efjax.policy.suites import evaluate_metaworld
  path = os.path.join(workdir, f"eval_{config.env.task}{'_ood' if ood else ''}.json")
  if os.path.exists(path):
    old = json.load(open(path))
    if (old.get("newest_checkpoint") == config.train.num_steps and old["episodes"] == episodes
        and old.get("command") == command):
      return old
  config = config.copy_and_resolve_references()
  config.env.ood = ood
  return evaluate_metaworld(config, workdir, episodes, video=False, command=command, log=log)


def run_model(table_config, task: str, method: str, seed: int, demos_path: str,
              workdir: str, log=print) -> dict:
  """Trains (or resumes) and evaluates one model; returns its table row."""
  from efjax import networks
  from efjax.train import trainer
  config, flags_ = model_config(table_config, task, method, seed, demos_path)
  timing_path = os.path.join(workdir, "table_timing.json")
  timing = json.load(open(timing_path)) if os.path.exists(timing_path) else {"train_s": 0.0}
  start = time.perf_counter()
  state = trainer.train_and_evaluate(config, workdir, log=log,
                                     method="bc" if method == "bc" else None)
  if int(state.step) < config.train.num_steps:    # SIGTERM: saved and stopped early
    raise TableInterrupted(f"{workdir}: training stopped at step {int(state.step)} of "
                           f"{config.train.num_steps} (SIGTERM); rerun the table to resume")
  if not timing.get("finished"):     # wall time summed over resumed runs, not re-counted
    timing["train_s"] += time.perf_counter() - start
    timing["finished"] = int(state.step) >= config.train.num_steps
    with open(timing_path, "w") as f:
      json.dump(timing, f)
  variant = table_config.variant
  commands = {"train": _command(METHOD_MAIN[method], task, variant, flags_, workdir)}
  evals = {}
  for ood in ((False, True) if table_config.ood else (False,)):
    name = "eval_ood" if ood else "eval"
    commands[name] = _command("evaluate", task, variant, table_config.overrides, workdir,
                              (f"--episodes={table_config.eval_episodes}",
                               *(("--config.env.ood=True",) if ood else ())))
    evals[name] = _evaluation(config, workdir, table_config.eval_episodes, ood,
                              commands[name], log)
  metrics = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  row = {"task": task, "method": method, "seed": seed, "workdir": os.path.abspath(workdir),
         "steps": int(state.step), "batch_size": config.train.batch_size,
         "params": int(networks.count_params(state.params)),
         "model": (f"bc mlp {tuple(config.bc.hidden)}" if method == "bc" else
                   f"{config.model.backbone} {config.model.parameterization}"),
         "train_wall_s": round(timing["train_s"], 1),
         "samples_per_s": metrics[-1].get("samples_per_s"), "final_loss": metrics[-1]["loss"],
         "commands": commands, "date": datetime.date.today().isoformat()}
  for name, e in evals.items():
    row[name] = {k: e.get(k) for k in ("success_rate", "successes", "failures", "errored",
                                       "ci95", "mean_length", "wall_s", "ood_scale", "ood_seeds_tried",
                                       "ood_expert_success_rate")}
  return row


# --- the whole table -------------------------------------------------------------------

def model_order(table_config):
  """(method, seed), seed-major: every method's seed 0 first."""
  most = max(table_config.seeds[m] for m in table_config.methods)
  return [(m, k) for k in range(most) for m in table_config.methods if k < table_config.seeds[m]]


def seed_rounds(table_config):
  """[(task, [(method, seed), ...])]: round k trains seed k of every method on every task,
  so the whole table has one seed of each model before any model gets a second."""
  order = model_order(table_config)
  rounds = sorted({seed for _, seed in order})
  return [(task, [(m, k) for m, k in order if k == r])
          for r in rounds for task in table_config.tasks]


def run_table(table_config, workdir: str, log=print, command: str | None = None) -> dict:
  from efjax.envs.metaworld_envs import collect_demos
  from experiments.configs import metaworld
  for method in table_config.methods:
    if method not in METHOD_KEYS or method not in table_config.seeds:
      raise TableError(f"config methods: {method!r} is not one of {tuple(METHOD_KEYS)} or has "
                       "no entry in config seeds")
  os.makedirs(workdir, exist_ok=True)
  table = load_table(workdir)
  table["config"] = table_config.to_dict()
  table["command"] = command or ("python -m experiments.metaworld_table "
                                 + " ".join(sys.argv[1:]))
  for task, models in seed_rounds(table_config):
    demos_dir = os.path.join(workdir, task, "demos")
    arg = f"{task},{table_config.variant}" if table_config.variant else task
    summary = collect_demos(metaworld.get_config(arg), demos_dir, log=log)
    table["demos"][task] = {
        "message": summary["message"], "steps_kept": summary["steps_kept"],
        "command": (f"python -m experiments.collect_demos "
                    f"--config=experiments/configs/metaworld.py:{arg} --workdir={demos_dir}")}
    demos_path = os.path.join(demos_dir, "demos.npz")
    for method, seed in models:
      key = row_key(task, method, seed)
      old = table["rows"].get(key)
      config, _ = model_config(table_config, task, method, seed, demos_path)
      if (old and old["steps"] == config.train.num_steps and "eval" in old
          and old["eval"]["successes"] + old["eval"]["failures"] + old["eval"]["errored"]
          == table_config.eval_episodes and ("eval_ood" in old or not table_config.ood)):
        log(f"{key}: finished earlier, skipped")
        continue
      log(f"=== {key}")
      table["rows"][key] = run_model(table_config, task, method, seed, demos_path,
                                     os.path.join(workdir, task, method, f"seed{seed}"), log)
      save_table(workdir, table)
      publish(table, table_config.report)
    save_table(workdir, table)
    publish(table, table_config.report)
  return table


def publish(table: dict, cfg) -> None:
  """The table as a raw result (cfg.raw, JSON with today's date), the generated section of
  cfg.markdown (appended under '## Success rates' when the document has none yet) and the
  plot cfg.plot. `python -m experiments.reports.build` then rebuilds README from the raw."""
  if not table["rows"]:
    return
  table = dict(table, date=datetime.date.today().isoformat())
  os.makedirs(os.path.dirname(os.path.abspath(cfg["raw"])), exist_ok=True)
  write_json(cfg["raw"], table)
  text = open(cfg["markdown"]).read() if os.path.exists(cfg["markdown"]) else "# Meta-World\n"
  body = report.success_section(table)
  if report.SECTION in documents.names(text):
    text = documents.replace_section(text, report.SECTION, body, cfg["markdown"])
  else:
    text = text.rstrip("\n") + "\n\n## Success rates\n\n" + documents.section(report.SECTION, body)
  with open(cfg["markdown"], "w") as f:
    f.write(text)
  report.write_plot(table, cfg["plot"])


def main(argv):
  del argv
  cli.quiet_library_logs()
  workdir = _WORKDIR.value
  try:
    if _REPORT.value:
      table = load_table(workdir)
      if not table["rows"]:
        raise TableError(f"{os.path.join(workdir, TABLE_FILE)}: no finished models to report")
      if _CONFIG.value is not None:
        table["config"]["report"] = _CONFIG.value.report.to_dict()
      cfg = table["config"]["report"]
      publish(table, cfg)
      print(f"wrote {cfg['raw']}, {cfg['markdown']} and {cfg['plot']} "
            f"({len(table['rows'])} models)")
      return
    if _CONFIG.value is None:
      raise TableError("--config is required unless --report")
    run_table(_CONFIG.value, workdir)
  except TableInterrupted as e:
    print(f"stopped: {e}", file=sys.stderr)
    sys.exit(143)                    # 128 + SIGTERM, as if the signal had ended it


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
