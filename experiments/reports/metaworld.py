"""The Meta-World table's report: the "Success rates" section of results/metaworld.md and
its bar plot, from a table.json of experiments.metaworld_table."""
import datetime
import os

import numpy as np

from experiments.configs.metaworld_table import METHOD_LABEL, PAPER_ENERGYFLOW

SECTION = "## Success rates"


def row_key(task: str, method: str, seed: int) -> str:
  return f"{task}/{method}/seed{seed}"


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


