"""The Meta-World table's report, from a table.json of experiments.metaworld_table (the
published one: results/raw/metaworld/table.json).

success_section(table)  the generated "success rates" section of results/metaworld.md
demos_section(raw)      its "demonstrations" section, from results/raw/metaworld/demos.json
                        (experiments.metaworld_demos --record)
diagnosis_section(raw)  its "why the cpu variant normalizes" table, from
                        results/raw/metaworld/diagnosis.json (experiments.metaworld_diagnosis)
fit_section(raw)        the same record's fit of each table method to the assembly demos
speed_section(raw)      env stepping, render and training speeds (benchmarks/metaworld_speed.py)
readme_table(table)     README's table (mean ± std per task and method)
write_plot(table, path) results/metaworld_success.png

Rates and Wilson intervals are computed from each model's success counts.
"""
import numpy as np

from efjax.policy.stats import wilson_interval
from experiments.configs.metaworld_table import METHOD_LABEL, PAPER_ENERGYFLOW

SECTION = "metaworld/success_rates"     # its generated section in results/metaworld.md
DEMOS = "metaworld/demos.json"          # under results/raw/
DIAGNOSIS = "metaworld/diagnosis.json"  # under results/raw/
SPEED = "metaworld/speed.json"          # under results/raw/ (benchmarks/metaworld_speed.py)


def row_key(task: str, method: str, seed: int) -> str:
  return f"{task}/{method}/seed{seed}"


def rate(e: dict) -> float:
  """Success rate (%) over the episodes that ran (errored ones excluded)."""
  return 100 * e["successes"] / (e["successes"] + e["failures"])


def aggregate(table: dict) -> dict:
  """{(task, method): {'in': [rates %], 'ood': [rates %]}} over finished seeds."""
  out = {}
  for row in table["rows"].values():
    cell = out.setdefault((row["task"], row["method"]), {"in": [], "ood": [], "rows": []})
    cell["in"].append(rate(row["eval"]))
    if "eval_ood" in row:
      cell["ood"].append(rate(row["eval_ood"]))
    cell["rows"].append(row)
  return out


def _mean_std(values) -> str:
  if not values:
    return "—"
  if len(values) == 1:
    return f"{values[0]:.0f}"
  return f"{np.mean(values):.1f} ± {np.std(values, ddof=1):.1f}"


def _tasks(table: dict, cells: dict) -> list[str]:
  return [t for t in table["config"]["tasks"]
          if any((t, m) in cells for m in table["config"]["methods"])]


def readme_table(table: dict) -> str:
  """Success % in range / OOD, mean ± std over training seeds, per task and method."""
  cfg, cells = table["config"], aggregate(table)
  methods = cfg["methods"]
  lines = ["| task (paper EnergyFlow) | " + " | ".join(METHOD_LABEL[m] for m in methods) + " |",
           "|---|" + "---|" * len(methods)]
  for task in _tasks(table, cells):
    cols = [(lambda c: "—" if c is None else f"{_mean_std(c['in'])} / {_mean_std(c['ood'])}")(
        cells.get((task, m))) for m in methods]
    lines.append(f"| {task.removesuffix('-v3')} ({PAPER_ENERGYFLOW.get(task, float('nan')):g}) | "
                 + " | ".join(cols) + " |")
  return "\n".join(lines)


def success_section(table: dict) -> str:
  """The body of results/metaworld.md's generated "success rates" section."""
  cfg, cells = table["config"], aggregate(table)
  tasks = _tasks(table, cells)
  methods = cfg["methods"]
  total = sum(cfg["seeds"][m] for m in methods) * len(cfg["tasks"])
  scales = sorted({r["eval_ood"]["ood_scale"] for r in table["rows"].values()
                   if r.get("eval_ood", {}).get("ood_scale")})
  lines = [f"From the models finished by {table['date']} ({len(table['rows'])} of {total}) in "
           f"the run `{table['command']}` (metaworld.py's `{cfg['variant'] or 'paper-scale'}` "
           f"budget); the raw rows are results/raw/metaworld/table.json"
           + (f" ({table['recovered_from']['why']})" if table.get("recovered_from") else "")
           + ".", "",
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
    low, high = wilson_interval(e["successes"], n)
    return f"{e['successes']}/{n} [{100 * low:.0f}, {100 * high:.0f}]"
  for row in sorted(table["rows"].values(), key=lambda r: (cfg["tasks"].index(r["task"]),
                                                           methods.index(r["method"]), r["seed"])):
    sps = row.get("samples_per_s")
    lines.append(f"| {row['task']} | {row['method']} | {row['seed']} | {cell(row['eval'])} | "
                 f"{cell(row.get('eval_ood'))} | {row['steps']} x {row['batch_size']} | "
                 f"{row['params']:,} ({row['model']}) | {row['train_wall_s']:.0f} | "
                 f"{'—' if sps is None else f'{sps:.0f}'} | {row['final_loss']:.3f} |")
  lines += ["", "Commands (seed 0 of each method; other seeds change `--config.seed` and the "
            "workdir; every model's commands are in the raw table):", "", "```"]
  for task in tasks:
    if task in table["demos"]:
      lines.append(table["demos"][task]["command"])
    for m in methods:
      row = table["rows"].get(row_key(task, m, 0))
      if row:
        lines += [row["commands"][k] for k in ("train", "eval", "eval_ood") if k in row["commands"]]
  lines += ["```", ""]
  return "\n".join(lines)


def write_plot(table: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  cfg, cells = table["config"], aggregate(table)
  tasks = _tasks(table, cells)
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




def demos_section(raw: dict) -> str:
  """The scripted experts' success and episode lengths per task: 100 demo seeds, the first
  10 seeds, and 10 out-of-range starts (experiments.metaworld_demos)."""
  runs = {(c["task"], c["run"]): c for c in raw["collections"]}
  tasks = list(dict.fromkeys(c["task"] for c in raw["collections"]))
  scale = {c["summary"]["settings"]["env"]["ood_scale"] for c in raw["collections"]
           if c["run"] == "ood"}

  def success(c):
    s = c["summary"]
    return f"{s['episodes_successful']}/{s['episodes_tried']}"

  lines = [f"Collected {raw['date']} by `{raw['command']}` (the raw summaries: "
           f"results/raw/metaworld/demos.json; {raw['wall_s']:.0f} s of collection in all). "
           "Mean lengths are of the kept (solved) episodes.", "",
           "| task | expert success, 100 demo seeds | mean length (steps) | wall s | "
           "env steps/s | expert success, first 10 seeds | expert success, 10 OOD seeds "
           f"(scale {'/'.join(f'{x:g}' for x in sorted(scale))}) | mean OOD length (solved) |",
           "|---|---|---:|---:|---:|---|---|---:|"]
  for task in tasks:
    demos, first, ood = (runs.get((task, r)) for r in ("demos", "in_range", "ood"))
    ood_length = f"{ood['summary']['mean_length_kept']:.1f}" if ood else "—"
    lines.append(
        f"| {task} | {success(demos)} | {demos['summary']['mean_length_kept']:.1f} | "
        f"{demos['summary']['wall_s']:.1f} | {demos['summary']['env_steps_per_s']:,.0f} | "
        f"{success(first) if first else '—'} | {success(ood) if ood else '—'} | "
        f"{ood_length} |")
  widened = list(dict.fromkeys(c["run"] for c in raw["collections"]
                               if c["run"].startswith("ood_20_")))
  if widened:
    scales = [runs[(tasks[0], r)]["summary"]["settings"]["env"]["ood_scale"] for r in widened]
    lines += ["", "How many out-of-range starts the scripted expert solves as the box widens "
              "(20 starts each, seeds 0-19):", "",
              "| task | " + " | ".join(f"scale {x:g}" for x in scales) + " |",
              "|---|" + "---|" * len(scales)]
    lines += [f"| {task} | " + " | ".join(success(runs[(task, r)]) for r in widened) + " |"
              for task in tasks]
  lines += ["", "Commands (WORKDIR: any folder; `<task>` as in the table):", "", "```"]
  lines += list(dict.fromkeys(c["command"].replace(c["task"], "<task>")
                              for c in raw["collections"]))
  lines += ["```", ""]
  return "\n".join(lines)


DIAGNOSIS_LABEL = {"raw_plain": "raw observations, plain energy (the old `cpu`)",
                   "zscore": "z-scored observations",
                   "zscore_edm": "z-scored observations + `model.preconditioning=edm` (`cpu`)"}


def diagnosis_section(raw: dict) -> str:
  """Action error and success of the `cpu` variant with and without its two changes."""
  s = raw["setting"]
  first = raw["models"][0]["action_error"]
  lines = [f"Measured {raw['date']} by `{raw['command']}` (raw: "
           "results/raw/metaworld/diagnosis.json): EnergyFlow models on the demos of "
           f"{s['task']}, {s['num_steps']:,} steps of 256, seed 0. Action error: median and "
           f"mean |sampled - demo| over the executed steps of {s['windows']} demo windows, "
           "per action dim x, y, z, gripper (the demos' mean |a|: "
           f"{', '.join(f'{v:.2f}' for v in first['demo_mean_abs'])}).", "",
           f"| model ({s['num_steps'] // 1000}k steps) | median abs error | mean abs error | "
           f"success, {s['episodes']} episodes |", "|---|---|---|---|"]
  for m in raw["models"]:
    e, ev = m["action_error"], m["eval"]
    lines.append(f"| {DIAGNOSIS_LABEL.get(m['name'], m['name'])} | "
                 f"{', '.join(f'{v:.3f}' for v in e['median'])} | "
                 f"{', '.join(f'{v:.3f}' for v in e['mean'])} | "
                 f"{ev['successes']}/{ev['successes'] + ev['failures']} |")
  lines += ["", "Commands (WORKDIR/demos: `python -m experiments.collect_demos "
            f"--config=experiments/configs/metaworld.py:{s['task']},cpu "
            "--workdir=WORKDIR/demos`; evaluation: `python -m experiments.evaluate "
            f"--config=experiments/configs/metaworld.py:{s['task']},cpu --workdir=WORKDIR/<model> "
            f"--episodes={s['episodes']}`):", "", "```"]
  lines += [m["command"] for m in raw["models"]]
  lines += ["```", ""]
  return "\n".join(lines)


def fit_section(raw: dict) -> str:
  """How closely the seed-0 model of each table method fits the assembly demos."""
  s = raw["setting"]
  fit = raw["assembly_fit"]
  lines = [f"Measured {raw['date']} by `{raw['command']}` (raw: "
           "results/raw/metaworld/diagnosis.json): the seed-0 model of each method, trained as "
           f"the table trains it ({fit[0]['steps']:,} steps), mean |sampled - demo| over the "
           f"executed steps of {s['windows']} demo windows of assembly-v3, per action dim x, "
           "y, z, gripper (BC: its mean action).", "",
           "| model | mean abs action error (x, y, z, gripper) |", "|---|---|"]
  lines += [f"| {METHOD_LABEL[m['method']]} | "
            f"{', '.join(f'{v:.3f}' for v in m['action_error']['mean'])} |" for m in fit]
  lines += ["", "```"] + [m["command"] for m in fit] + ["```", ""]
  return "\n".join(lines)


STEPPING_LABEL = {"list": "a plain list (the harness)", "sync": "gymnasium SyncVectorEnv",
                  "async": "gymnasium AsyncVectorEnv (a process per env)"}


def speed_section(raw: dict) -> str:
  """How the harness steps its envs, what a frame costs, and the training speeds."""
  from experiments.reports.ppo import rate_cell
  s = raw["setting"]
  lines = [f"Measured {raw['date']} by `{raw['command']}` (raw: results/raw/metaworld/speed.json; "
           f"{raw['fingerprint']['platform']['cpu']}, {raw['cpu_count']} cores, load average "
           f"{raw['load_average_at_end'][0]:.1f} at the end: other jobs shared the machine "
           "when it is above the core count). Stepping "
           f"{s['num_envs']} envs of assembly-v3 in lockstep, uniform random actions, "
           f"{s['steps']} steps each, driven from one process, {s['rounds']} rounds interleaved "
           "(env steps/s, median [min-max]):", "",
           "| envs held as | env steps/s |", "|---|---:|"]
  lines += [f"| {STEPPING_LABEL.get(k, k)} | {rate_cell(v)} |" for k, v in raw["stepping"].items()]
  render = raw["render"]
  lines += ["", (f"A 128 x 128 video frame (`--video`, MUJOCO_GL={render['mujoco_gl']}) took "
                 f"{render['seconds_per_frame']:.3f} s." if render["seconds_per_frame"] is not None
                 else f"Rendering failed on this machine ({render['error']})."), "",
            f"Training on 100 scripted-expert episodes of button-press-v3, batch 256, "
            f"{s['train_steps']} steps, one model after the other:", "",
            f"| model | samples/s | DSM loss at step {s['train_steps']} |", "|---|---:|---:|"]
  lines += [f"| {t['model']} | {t['samples_per_s']:,.0f} | {t['final_loss']:.3f} |"
            for t in raw["training"]]
  return "\n".join(lines) + "\n"
