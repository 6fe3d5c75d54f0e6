"""results/bandit.md's tables (and README's bullet) from the raw results of experiments.bandit
and experiments.bandit_sweep (results/raw/bandit/: main/ and edm/ are the workdirs of the
main job, without and with the EDM preconditioning; sweep.json the sweep's output)."""
import numpy as np


def _rows(results: dict):
  rows = [(k, v) for k, v in results.items() if k != "centered_t_sweep"]
  return rows + [(f"centered t={float(t):g}", v) for t, v in results["centered_t_sweep"].items()]


def format_table(results: dict) -> str:
  """The reward-quality table experiments.bandit prints (a code block in the report)."""
  lines = ["reward              pearson  spearman  pref.acc  EPIC"]
  for name, m in _rows(results):
    lines.append(f"{name:18s}  {m['pearson']:7.3f}  {m['spearman']:8.3f}  "
                 f"{m['preference_accuracy']:8.3f}  {m['epic']:.3f}")
  return "\n".join(lines)


def main_job(raw: dict) -> str:
  """The main job's command, wall time and table."""
  return "\n".join([f"`{raw['command']}`: {raw['wall_s']:.0f} s wall (compilation included) on "
                    f"{raw['fingerprint']['platform']['cpu']}, commit "
                    f"{(raw['fingerprint']['code']['commit'] or '?')[:7]}.", "", "```",
                    format_table(raw["results"]), "```"])


def preconditioning(raws: dict) -> str:
  """{'none': raw, 'edm': raw} -> a side-by-side table of every reward."""
  def cell(m):
    return " / ".join(f"{m[k]:.3f}" for k in ("pearson", "spearman", "preference_accuracy",
                                              "epic"))
  rows = {name: dict(_rows(raw["results"])) for name, raw in raws.items()}
  lines = ["Commands: " + "; ".join(f"`{raw['command']}`" for raw in raws.values()), "",
           "| reward | " + " | ".join(f"{n}: pearson / spearman / pref.acc / EPIC" for n in raws)
           + " |", "|---|" + "---|" * len(raws)]
  for name in rows[next(iter(raws))]:
    lines.append(f"| {name} | " + " | ".join(cell(rows[n][name]) for n in raws) + " |")
  return "\n".join(lines)


def sweep(raw: dict) -> str:
  """Learning rate x reading level: mean offset-free Pearson / preference accuracy over seeds."""
  levels = raw["t_sweep"]
  sigma = lambda t: 0.01 * 1000.0**t  # noqa: E731  (VE, the bandit config's schedule)
  lines = [f"`{raw['command']}` ({raw['budget']}; each cell: offset-free Pearson / preference "
           f"accuracy of the centered reward, mean over seeds {raw['seeds']})", "",
           "| lr \\ reward t (sigma) | " + " | ".join(f"{t:g} ({sigma(t):.3f})" for t in levels)
           + " |", "|---" * (len(levels) + 1) + "|"]
  for lr, runs in raw["runs"].items():
    cells = []
    for t in levels:
      p = np.mean([r["centered_t_sweep"][str(float(t))]["pearson"] for r in runs])
      a = np.mean([r["centered_t_sweep"][str(float(t))]["preference_accuracy"] for r in runs])
      cells.append(f"{p:.3f} / {a:.3f}")
    lines.append(f"| {lr} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


PAPER_T = "0.001"     # the paper's reading level, a key of centered_t_sweep


def readme_bullet(raw: dict) -> str:
  """README's "Results so far" bullet: the main job's default and paper-level rewards."""
  def cell(m):
    return f"{m['pearson']:.3f} / {m['preference_accuracy']:.3f} / {m['epic']:.3f}"
  res, fp = raw["results"], raw["fingerprint"]
  return (f"- Reward recovery on a max-ent contextual bandit with a known Q "
          f"(`python -m experiments.bandit --config=experiments/configs/bandit.py "
          f"--workdir=DIR`, {raw['wall_s']:.0f} s on {fp['platform']['cpu'] or '?'}, "
          f"commit {(fp['code']['commit'] or '?')[:7]}): the centered energy at the default "
          f"noise level (t = {raw['config']['reward']['t']:g}) reaches Pearson / preference "
          f"accuracy / EPIC {cell(res['centered'])}; at the paper's level (t = "
          f"{float(PAPER_T):g}) {cell(res['centered_t_sweep'][PAPER_T])} "
          "([results/bandit.md](results/bandit.md)).")
