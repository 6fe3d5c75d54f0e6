"""The Meta-World table: demos, training and evaluation of every model, then the report.

    python -m experiments.metaworld_table --config=experiments/configs/metaworld_table.py \
        --workdir=WORKDIR [--commit]          # runs (or resumes) everything, then reports
    python -m experiments.metaworld_table --report --workdir=WORKDIR    # the report only

For each task: demos once (WORKDIR/<task>/demos, efjax.envs.metaworld_envs.collect_demos),
then every (method, seed) model in WORKDIR/<task>/<method>/seed<k>: trained (resumable)
and evaluated on config.eval_episodes in-range and OOD starts (efjax/evaluation.py).
After each model its row goes into WORKDIR/table.json and the report is rewritten
(the "Success rates" section of config.report.markdown and the bar plot
config.report.plot); with --commit, the report is committed after each task's round.
Re-running skips finished models and evaluations. Models run in seed rounds: round k
trains seed k of every method on every task, so a run cut short still has the whole
table, methods side by side, with fewer seeds.
The recorded per-model commands (experiments.train / train_bc / evaluate) reproduce
each model alone; this main calls the same functions in one process.
"""
import ast
import datetime
import json
import os
import subprocess
import sys
import time

import numpy as np
from absl import flags
from ml_collections import config_flags

from experiments import cli

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None,
                                          "experiments/configs/metaworld_table.py[:smoke]")
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Demos, models and table.json go here.")
_REPORT = flags.DEFINE_bool("report", False, "Only rewrite the report from WORKDIR/table.json.")
_COMMIT = flags.DEFINE_bool("commit", False, "git-commit the report after each finished task.")

TABLE_FILE = "table.json"
METHOD_KEYS = {"energyflow": ("model.parameterization=energy",),
               "nonconservative": ("model.parameterization=score",),
               "bc": ()}
METHOD_MAIN = {"energyflow": "train", "nonconservative": "train", "bc": "train_bc"}
METHOD_LABEL = {"energyflow": "EnergyFlow", "nonconservative": "non-conservative score",
                "bc": "Gaussian BC"}
SECTION = "## Success rates"


class TableError(ValueError):
  """A bad table config or workdir; the message names the key or file."""


# --- configs and commands --------------------------------------------------------------

def apply_overrides(config, overrides) -> None:
  """Sets `key=value` strings on a ConfigDict, each parsed as its current value's type."""
  for item in overrides:
    key, sep, text = item.partition("=")
    if not sep:
      raise TableError(f"config override {item!r} is not key=value")
    *path, leaf = key.split(".")
    node = config
    try:
      for part in path:
        node = node[part]
      old = node[leaf]
    except (KeyError, AttributeError):
      raise TableError(f"config override {item!r}: the model config has no key {key!r}") from None
    if isinstance(old, bool):
      value = text == "True"
    elif isinstance(old, (tuple, list)):
      value = tuple(ast.literal_eval(text))
    elif old is None:
      value = text
    else:
      value = type(old)(text)
    node[leaf] = value


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


def row_key(task: str, method: str, seed: int) -> str:
  return f"{task}/{method}/seed{seed}"


# --- one model -------------------------------------------------------------------------

def _evaluation(config, workdir: str, episodes: int, ood: bool, command: str, log) -> dict:
  """WORKDIR/eval_<task>[_ood].json, reused when it is of the final checkpoint and size."""
  from efjax.evaluation import evaluate_metaworld
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
  from efjax import bc, networks
  from efjax.train.trainer import train_and_evaluate
  config, flags_ = model_config(table_config, task, method, seed, demos_path)
  timing_path = os.path.join(workdir, "table_timing.json")
  timing = json.load(open(timing_path)) if os.path.exists(timing_path) else {"train_s": 0.0}
  start = time.perf_counter()
  train = bc.train_and_evaluate if method == "bc" else train_and_evaluate
  state = train(config, workdir, log=log)
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


def run_table(table_config, workdir: str, commit: bool = False, log=print,
              command: str | None = None) -> dict:
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
      write_report(workdir, table)
    save_table(workdir, table)
    write_report(workdir, table)
    if commit:
      seeds = sorted({seed for _, seed in models})
      commit_report(table_config, f"results/metaworld: {task} rows (seed {seeds}) of the "
                    f"Meta-World table ({table_config.variant or 'paper'} budget)", log)
  return table


def commit_report(table_config, message: str, log=print, tries: int = 30) -> None:
  """git add + commit of only the report's two files (others' staged work stays out)."""
  paths = [table_config.report.markdown, table_config.report.plot]
  for _ in range(tries):
    if not os.path.exists(".git/index.lock"):
      add = subprocess.run(["git", "add", *paths], capture_output=True, text=True)
      done = add.returncode == 0 and subprocess.run(
          ["git", "commit", "-m", message, "--", *paths], capture_output=True,
          text=True).returncode in (0, 1)     # 1: nothing changed
      if done:
        log(f"committed {paths}")
        return
    time.sleep(10)
  log(f"warning: could not commit {paths} (git index busy)")


# --- the report ------------------------------------------------------------------------

def aggregate(table: dict) -> dict:
  """{(task, method): {'in': [rates %], 'ood': [rates %]}} over finished seeds."""
  out = {}
  for row in table["rows"].values():
    cell = out.setdefault((row["task"], row["method"]), {"in": [], "ood": [], "rows": []})
    cell["in"].append(100 * row["eval"]["success_rate"])
    if "eval_ood" in row:
      cell["ood"].append(100 * row["eval_ood"]["success_rate"])
    cell["rows"].append(row)
  return out


def _mean_std(values) -> str:
  if not values:
    return "—"
  if len(values) == 1:
    return f"{values[0]:.0f}"
  return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def report_markdown(table: dict) -> str:
  from experiments.configs.metaworld_table import PAPER_ENERGYFLOW
  cfg, cells = table["config"], aggregate(table)
  tasks = [t for t in cfg["tasks"] if any((t, m) in cells for m in cfg["methods"])]
  methods = cfg["methods"]
  total = sum(cfg["seeds"][m] for m in methods) * len(cfg["tasks"])
  scales = sorted({r["eval_ood"]["ood_scale"] for r in table["rows"].values()
                   if r.get("eval_ood", {}).get("ood_scale")})
  lines = [SECTION, "",
           f"Written {datetime.date.today().isoformat()} from the models finished so far "
           f"({len(table['rows'])} of {total}) by the run `{table['command']}` (niced, on the "
           f"shared 2-core CPU, metaworld.py's `{cfg['variant'] or 'paper-scale'}` budget; it "
           "rewrites this section after every model, and `python -m "
           f"experiments.metaworld_table --report --workdir={table['workdir']}` does so alone).",
           "",
           f"Success rate (%) over {cfg['eval_episodes']} episodes per model, in range "
           "(eval seeds 1000000 + i, as every model) / OOD (`--config.env.ood=True`: "
           f"object/goal box widened {'/'.join(f'{s:g}' for s in scales) or '?'}x, the first "
           "starts outside the demos' range that the scripted expert solves), mean ± sample "
           "std (ddof 1) over training seeds, n = seeds finished. Paper: EnergyFlow's in-range "
           "rate in the paper (its UNet and budget, not this one).", "",
           "| task | paper | " + " | ".join(f"{METHOD_LABEL[m]} in / OOD" for m in methods)
           + " |", "|---|---|" + "---|" * len(methods)]
  for task in tasks:
    cols = []
    for m in methods:
      c = cells.get((task, m))
      cols.append("—" if c is None else
                  f"{_mean_std(c['in'])} / {_mean_std(c['ood'])} (n={len(c['in'])})")
    lines.append(f"| {task} | {PAPER_ENERGYFLOW.get(task, float('nan')):g} | "
                 + " | ".join(cols) + " |")
  lines += ["", "![success rates](metaworld_success.png)", "",
            "Every model (success k/N with its Wilson 95% CI; train wall time as measured, "
            "niced while other jobs shared the 2 cores, so an upper bound on the budget):", "",
            "| task | method | seed | in range | OOD | steps x batch | params | train wall s "
            "| samples/s | final loss |", "|---|---|---|---|---|---|---|---|---|---|"]

  def cell(e):
    if e is None:
      return "—"
    n = e["successes"] + e["failures"]
    return f"{e['successes']}/{n} [{100 * e['ci95'][0]:.0f}, {100 * e['ci95'][1]:.0f}]"
  for row in sorted(table["rows"].values(), key=lambda r: (cfg["tasks"].index(r["task"]),
                                                           methods.index(r["method"]), r["seed"])):
    sps = row.get("samples_per_s")
    lines.append(f"| {row['task']} | {row['method']} | {row['seed']} | {cell(row['eval'])} | "
                 f"{cell(row.get('eval_ood'))} | {row['steps']} x {row['batch_size']} | "
                 f"{row['params']:,} ({row['model']}) | {row['train_wall_s']:.0f} | "
                 f"{'—' if sps is None else f'{sps:.0f}'} | {row['final_loss']:.3f} |")
  lines += ["", "Commands (seed 0 of each method; other seeds change `--config.seed` and the "
            "workdir; every model's commands are in WORKDIR/table.json):", "", "```"]
  for task in tasks:
    if task in table["demos"]:
      lines.append(table["demos"][task]["command"])
    for m in methods:
      row = table["rows"].get(row_key(task, m, 0))
      if row:
        lines += [row["commands"][k] for k in ("train", "eval", "eval_ood") if k in row["commands"]]
  lines += ["```", ""]
  return "\n".join(lines)


def write_report(workdir: str, table: dict) -> None:
  """Replaces (or appends) the Success rates section of report.markdown; writes the plot."""
  if not table["rows"]:
    return
  table = dict(table, workdir=workdir)
  cfg = table["config"]["report"]
  path = cfg["markdown"]
  text = open(path).read() if os.path.exists(path) else "# Meta-World\n"
  start = text.find(SECTION + "\n")
  section = report_markdown(table)
  if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
  else:
    end = text.find("\n## ", start + len(SECTION))
    text = text[:start] + section + ("" if end < 0 else text[end:])
  text = text.replace("Success rates of full runs: not measured yet (the paper table is a "
                      "separate job).", "Success rates of full runs: \"Success rates\" below.")
  with open(path, "w") as f:
    f.write(text)
  write_plot(table, cfg["plot"])


def write_plot(table: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  from experiments.configs.metaworld_table import PAPER_ENERGYFLOW
  cfg, cells = table["config"], aggregate(table)
  tasks = [t for t in cfg["tasks"] if any((t, m) in cells for m in cfg["methods"])]
  methods = cfg["methods"]
  fig, axes = plt.subplots(1, 2, figsize=(max(6, 2.2 * len(tasks)) * 1.6, 3.8), sharey=True)
  width = 0.8 / len(methods)
  x = np.arange(len(tasks))
  for ax, split, title in zip(axes, ("in", "ood"), ("in range", "out of distribution")):
    for i, m in enumerate(methods):
      vals = [cells.get((t, m), {}).get(split, []) for t in tasks]
      ax.bar(x + (i - (len(methods) - 1) / 2) * width, [np.mean(v) if v else 0 for v in vals],
             width, yerr=[np.std(v, ddof=1) if len(v) > 1 else 0 for v in vals], capsize=3,
             label=METHOD_LABEL[m])
    if split == "in":
      ax.scatter(x, [PAPER_ENERGYFLOW.get(t, np.nan) for t in tasks], marker="_", s=600,
                 color="black", zorder=3, label="paper EnergyFlow")
    ax.set_xticks(x, [t.removesuffix("-v3") for t in tasks])
    ax.set_title(f"Meta-World success, {title}")
    ax.set_ylim(0, 105)
  axes[0].set_ylabel(f"success % ({cfg['eval_episodes']} episodes; mean ± std over seeds)")
  fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(methods) + 1,
             fontsize=8, frameon=False)
  fig.tight_layout(rect=(0, 0.07, 1, 1))      # room for the legend below the bars
  fig.savefig(path, dpi=100)
  plt.close(fig)


def main(argv):
  del argv
  cli.quiet_library_logs()
  from efjax.data import DemoFileError
  from efjax.envs.metaworld_envs import TaskError
  from efjax.train.trainer import ConfigError
  workdir = _WORKDIR.value
  try:
    if _REPORT.value:
      table = load_table(workdir)
      if not table["rows"]:
        raise TableError(f"{os.path.join(workdir, TABLE_FILE)}: no finished models to report")
      if _CONFIG.value is not None:
        table["config"]["report"] = _CONFIG.value.report.to_dict()
      write_report(workdir, table)
      print(f"wrote {table['config']['report']['markdown']} and "
            f"{table['config']['report']['plot']} ({len(table['rows'])} models)")
      return
    if _CONFIG.value is None:
      raise TableError("--config is required unless --report")
    run_table(_CONFIG.value, workdir, _COMMIT.value)
  except (TableError, TaskError, DemoFileError, ConfigError) as e:   # one line, no traceback
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  except TableInterrupted as e:
    print(f"stopped: {e}", file=sys.stderr)
    sys.exit(143)                    # 128 + SIGTERM, as if the signal had ended it


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
