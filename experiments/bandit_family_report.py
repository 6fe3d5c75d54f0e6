"""results/bandit_family.md and its plots, from the committed raw JSON alone.

    python -m experiments.bandit_family --config=experiments/configs/bandit_family.py --report
    python -m experiments.reports.build [--check]     # with the project's other documents

Reads RAW_DIR/held_out/<setting>/seed<k>.json (experiments.bandit_family) and
RAW_DIR/tuning/<candidate>/seed<k>.json and RAW_DIR/study/<name>/seed<k>.json
(experiments.bandit_tune, the latter with --study) and RAW_DIR/ceiling/seed<k>.json
(experiments.bandit_ceiling); every number in the
report is computed here from those files. The choice rule for the defaults
(`choose`) is applied to the tuning records only. `document(files)` and `plot(files, path)`
take {path under RAW_DIR: record}; --report passes every file on disk, the build
(experiments/reports/build.py) only the files git tracks.
"""
import json
import os

import numpy as np

from efjax.envs.bandit import COLD_TEMPERATURE

METRICS = (("pearson", "Pearson"), ("preference_accuracy", "preference accuracy"),
           ("epic", "EPIC"))
GOAL = {"pearson_median": 0.93, "pearson_p10": 0.85, "preference_median": 0.92}
TEMPERATURE_BINS = ((0.1, 0.2), (0.2, 0.5), (0.5, 1.0), (1.0, 2.0))
SPEED_TOLERANCE = 0.02      # choose: the fastest candidate within this of the best median
SAME_SPEED = 0.8            # choose: candidates this close to the fastest count as as fast
P10_TIE = 0.01              # choose, rule 'p10': 10th percentiles this close count as tied
RULES = ("median", "p10")   # choose: a stage's `rule` (stages before 10: 'median')
# choose: the reward kind a default may read. `efjax.load(W).reward(obs, actions)` reads the
# centered reward unless told otherwise (the model contract, ARCHITECTURE.md), so other
# readings (multi_noise) are scored and shown but not picked.
DEFAULT_KIND = "centered"
BOOTSTRAP_RESAMPLES = 2000  # the goals' intervals over held-out members
SPEED_FILE = "speed.json"   # benchmarks/defaults_speed.py --out=RAW_DIR/speed.json


def _quantiles(values) -> dict:
  v = np.asarray(values, float)
  return {"median": float(np.median(v)), "p10": float(np.quantile(v, 0.1)),
          "p90": float(np.quantile(v, 0.9)), "n": int(v.size)}


def round_of(seed: int, rounds) -> dict | None:
  """The held-out round (config `held_out_rounds`) whose seeds hold `seed`."""
  return next((r for r in rounds if seed in tuple(r["seeds"])), None)


def recipe(config: dict) -> str:
  """The tuned keys a run used, read from its config: learning rate, EMA, preconditioning,
  noise levels per sample, the reward reading, the learning rate's warm-up, the weight
  decay and, where set, dropout."""
  train, reward, optim = config["train"], config["reward"], config.get("optim", {})
  ema = (f"EMA {train['ema']:g}" if train.get("ema") is not None
         else f"EMA horizon {train.get('ema_horizon', 0):g}")
  warm_up = (f"warm-up {optim['warmup_steps']} steps" if optim.get("warmup_steps") is not None
             else f"warm-up {optim.get('warmup_fraction', 0):g} of the run")
  return (f"lr {train['learning_rate']:g}, {ema}, {config['model']['preconditioning']}, "
          f"{train['num_levels']} level(s), {reward['kind']} t={reward['t']:g}, {warm_up}, "
          f"weight decay {optim.get('weight_decay', 0):g}"
          + (f", dropout {dropout:g}" if (dropout := config["model"].get("dropout")) else ""))


def held_out_table(records: list[dict], rounds=()) -> dict:
  """{label: {'setting', 'round', 'recipe', 'members': [...], metric: quantiles,
  'box_pearson': ..., wall/speed, 'goal'}}, one entry per (round, setting); label
  'setting, round name' (the setting alone for records of no listed round); then the
  pooled entries of _pooled_rounds."""
  groups = {}
  for r in records:
    rnd = round_of(r["member"]["seed"], rounds)
    label = f"{r['setting']}, {rnd['name']}" if rnd else r["setting"]
    groups.setdefault(label, []).append(r)
  order = [f"{s}, {rnd['name']}" for rnd in rounds for s in rnd["settings"]]
  out = {}
  for label in sorted(groups, key=lambda l: (order.index(l) if l in order else len(order), l)):
    rows = sorted(groups[label], key=lambda r: r["member"]["seed"])
    out[label] = _held_out_entry(rows, round_of(rows[0]["member"]["seed"], rounds))
  return {**out, **_pooled_rounds(out)}


def _pooled_rounds(table: dict) -> dict:
  """One more entry per setting whose rounds (two or more) ran the same recipe: their
  members together, labelled 'setting, round a + round b (pooled)', its round
  {'name', 'seeds', 'pooled': True}."""
  same = {}
  for e in table.values():
    if e["round"] and not e["recipe"].startswith("mixed: "):
      same.setdefault((e["setting"], e["recipe"]), []).append(e)
  out = {}
  for (setting, _), entries in same.items():
    if len(entries) > 1:
      rnd = {"name": " + ".join(e["round"]["name"] for e in entries) + " (pooled)",
             "seeds": tuple(s for e in entries for s in e["round"]["seeds"]), "pooled": True}
      rows = sorted((r for e in entries for r in e["members"]), key=lambda r: r["member"]["seed"])
      out[f"{setting}, {rnd['name']}"] = _held_out_entry(rows, rnd)
  return out


def _held_out_entry(rows: list[dict], rnd: dict | None) -> dict:
  """held_out_table's entry for the records `rows` of round `rnd`."""
  recipes = sorted({recipe(r["config"]) for r in rows})
  entry = {"members": rows, "setting": rows[0]["setting"], "round": rnd,
           "recipe": recipes[0] if len(recipes) == 1 else "mixed: " + "; ".join(recipes)}
  for key, _ in METRICS:
    entry[key] = _quantiles([r["scores"]["support"][key] for r in rows])
  entry["box_pearson"] = _quantiles([r["scores"]["box"]["pearson"] for r in rows])
  entry["train_wall_s"] = _quantiles([r["train_wall_s"] for r in rows])
  entry["total_wall_s"] = float(sum(r["train_wall_s"] + r["score_wall_s"] for r in rows))
  entry["samples_per_s"] = _quantiles([r["samples_per_s"] for r in rows if r["samples_per_s"]])
  entry["goal"] = {"pearson_median": entry["pearson"]["median"] >= GOAL["pearson_median"],
                   "pearson_p10": entry["pearson"]["p10"] >= GOAL["pearson_p10"],
                   "preference_median":
                       entry["preference_accuracy"]["median"] >= GOAL["preference_median"]}
  return entry


def tuning_table(records: list[dict], stage: dict) -> dict:
  """{'cells': {(candidate, ema horizon, reading): {'pearson', 'p10', 'preference_accuracy'}},
  'seeds', 'samples_per_s', 'cpus'}: medians over the stage's seeds, for its candidates
  ('cpus': each candidate's CPU models, None for a run that did not record it); {} cells
  until every (seed, candidate) of the stage has a record."""
  rows = [r for r in records if r["candidate"] in stage["candidates"]
          and r["member"]["seed"] in stage["seeds"]]
  done = {(r["member"]["seed"], r["candidate"]) for r in rows}
  complete = len(done) == len(stage["seeds"]) * len(stage["candidates"])
  cells, speed, cpus = {}, {}, {}
  for r in rows if complete else []:
    speed.setdefault(r["candidate"], []).append(r["samples_per_s"])
    cpus.setdefault(r["candidate"], set()).add(r.get("cpu"))
    for ema, per in r["scores"].items():
      for reading, sets in per.items():
        cell = cells.setdefault((r["candidate"], ema, reading), {"pearson": [], "pref": []})
        cell["pearson"].append(sets["support"]["pearson"])
        cell["pref"].append(sets["support"]["preference_accuracy"])
  table = {k: {"pearson": float(np.median(v["pearson"])),
               "p10": float(np.quantile(v["pearson"], 0.1)),
               "preference_accuracy": float(np.median(v["pref"]))} for k, v in cells.items()}
  return {"cells": table, "seeds": list(stage["seeds"]), "done": len(done),
          "runs": len(stage["seeds"]) * len(stage["candidates"]),
          "samples_per_s": {c: float(np.median(v)) for c, v in speed.items()},
          "cpus": {c: sorted(v, key=str) for c, v in cpus.items()}}


def choose(tuning: dict, rule: str = "median") -> dict | None:
  """The rule that picked the defaults, on the tuning seeds only: the highest median Pearson
  over (candidate, EMA horizon, reading) among the readings of DEFAULT_KIND; then, among
  cells within SPEED_TOLERANCE of it, the fastest candidates (those at least SAME_SPEED x the
  fastest one's samples/s: equal cost within the load noise of the shared CPU), and of
  their cells the best: by median Pearson (rule 'median'), or (rule 'p10', the goal's
  other Pearson figure) by 10th percentile, those within P10_TIE of the best one tied and
  the best median of them taken. Speeds are compared only when every run of those
  candidates recorded one and the same CPU model (these machines vary between sessions);
  otherwise every candidate near the best counts as fast ('speed_compared' False)."""
  if rule not in RULES:
    raise ValueError(f"tuning rule {rule!r} is not one of {RULES}")
  cells = {k: v for k, v in tuning["cells"].items()
           if k[2].partition(":")[0] == DEFAULT_KIND}
  if not cells:
    return None
  best = max(v["pearson"] for v in cells.values())
  near = {k: v for k, v in cells.items() if v["pearson"] >= best - SPEED_TOLERANCE}
  speed = lambda c: tuning["samples_per_s"].get(c, 0.0)  # noqa: E731
  machines = {m for k in near for m in tuning.get("cpus", {}).get(k[0], [None])}
  compared = len(machines) == 1 and None not in machines
  top = max(speed(k[0]) for k in near)
  fastest = {k[0] for k in near if not compared or speed(k[0]) >= SAME_SPEED * top}
  candidates = [k for k in near if k[0] in fastest]
  if rule == "p10":
    top_p10 = max(cells[k]["p10"] for k in candidates)
    candidates = [k for k in candidates if cells[k]["p10"] >= top_p10 - P10_TIE]
  key = max(candidates, key=lambda k: cells[k]["pearson"])
  return {"candidate": key[0], "ema_horizon": key[1], "reading": key[2], **cells[key],
          "best_pearson": best, "speed_compared": compared}


def last_pick(family, tuning_records: list[dict]) -> dict | None:
  """The pick of the last stage whose runs have all finished, each stage by its own rule:
  what demos.py ships (tests/test_config_overrides.py holds it to that)."""
  picks = [choose(tuning_table(tuning_records, stage), stage.get("rule", "median"))
           for stage in family.tune.stages]
  return next((p for p in reversed(picks) if p is not None), None)


def _goal_parts(members: list, goal: str):
  """(the members' scores [n] of a GOAL key's metric, its statistic over the last axis,
  the metric's (worst, best))."""
  key, stat = goal.rsplit("_", 1)
  metric = "preference_accuracy" if key == "preference" else key
  scores = np.asarray([r["scores"]["support"][metric] for r in members], float)
  statistic = ((lambda v: np.median(v, axis=-1)) if stat == "median"
               else (lambda v: np.quantile(v, 0.1, axis=-1)))
  return scores, statistic, ((0.0, 1.0) if key == "preference" else (-1.0, 1.0))


def _verdict(members: list, goal: str, missing: int) -> str:
  """'met' / 'NOT met' for a GOAL key, decided when the `missing` members of a round cut
  short could not change it (all at the metric's worst or all at its best); else 'open'."""
  scores, statistic, (worst, best) = _goal_parts(members, goal)
  met = lambda fill: statistic(np.append(scores, [fill] * missing)) >= GOAL[goal]  # noqa: E731
  return "met" if met(worst) else ("NOT met" if not met(best) else "open")


def _goal_statistic(members: list, goal: str, resamples: int = BOOTSTRAP_RESAMPLES,
                    seed: int = 0) -> tuple[float, float, float]:
  """A GOAL key's statistic over the scored members and its 90 % bootstrap interval
  (members resampled with replacement, seeded): (value, low, high)."""
  scores, statistic, _ = _goal_parts(members, goal)
  draws = np.random.default_rng(seed).integers(0, scores.size, (resamples, scores.size))
  low, high = np.quantile(statistic(scores[draws]), (0.05, 0.95))
  return float(statistic(scores)), float(low), float(high)


def _fmt(q: dict, digits: int = 3) -> str:
  return f"{q['median']:.{digits}f} [{q['p10']:.{digits}f}, {q['p90']:.{digits}f}]"


def _group_rows(table: dict, label: str, key_fn, keys) -> list[str]:
  settings = list(table)
  lines = [f"| {label} | " + " | ".join(f"{s}: n, median Pearson / pref. acc." for s in settings)
           + " |", "|---" * (len(settings) + 1) + "|"]
  for key in keys:
    cells = []
    for s in settings:
      rows = [r for r in table[s]["members"] if key_fn(r["member"]) == key]
      if rows:
        p = np.median([r["scores"]["support"]["pearson"] for r in rows])
        a = np.median([r["scores"]["support"]["preference_accuracy"] for r in rows])
        cells.append(f"{len(rows)}, {p:.3f} / {a:.3f}")
      else:
        cells.append("-")
    name = f"{key[0]:g}-{key[1]:g}" if isinstance(key, tuple) else str(key)
    lines.append(f"| {name} | " + " | ".join(cells) + " |")
  return lines


MODE_GROUPS = ("1-3 modes", f"4-5 modes, temperature < {COLD_TEMPERATURE:g}",
               f"4-5 modes, temperature >= {COLD_TEMPERATURE:g}")


def _modes_and_warmth(member) -> str:
  """The member's MODE_GROUPS entry: 1-3 modes, or 4-5 modes cold or warm (the corner
  where the defaults read lowest, apart)."""
  if member["num_modes"] <= 3:
    return MODE_GROUPS[0]
  return MODE_GROUPS[1] if member["temperature"] < COLD_TEMPERATURE else MODE_GROUPS[2]


def _temperature_bin(member):
  for lo, hi in TEMPERATURE_BINS:
    if lo <= member["temperature"] < hi or (hi == TEMPERATURE_BINS[-1][1]
                                             and member["temperature"] == hi):
      return (lo, hi)
  return None


def _plot(table: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  settings = list(table)
  fig, axes = plt.subplots(1, 5, figsize=(19, 3.8))
  for ax, (key, name) in zip(axes[:3], METRICS):
    data = [[r["scores"]["support"][key] for r in table[s]["members"]] for s in settings]
    ax.boxplot(data, showfliers=False)
    for i, d in enumerate(data):
      ax.scatter(np.full(len(d), i + 1) + np.linspace(-0.12, 0.12, len(d)), d, s=12, alpha=0.7)
    ax.set_xticks(range(1, len(settings) + 1), settings)
    ax.set_title(f"{name} (held-out members)")
    ax.grid(alpha=0.3)
  for ax, (field, label, log) in zip(axes[3:], (("act_dim", "action dimension", False),
                                                 ("temperature", "temperature", True))):
    for s in settings:
      x = [r["member"][field] for r in table[s]["members"]]
      y = [r["scores"]["support"]["pearson"] for r in table[s]["members"]]
      ax.scatter(x, y, label=s, alpha=0.8)
    ax.set_xscale("log" if log else "linear")
    ax.set_xlabel(label)
    ax.set_ylabel("Pearson")
    ax.grid(alpha=0.3)
    ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def _cell(record: dict, ema: str, reading: str) -> float:
  return record["scores"][ema][reading]["support"]["pearson"]


def _default_kind_pearsons(record: dict) -> list[float]:
  return [s["support"]["pearson"] for per in record["scores"].values()
          for reading, s in per.items() if reading.partition(":")[0] == DEFAULT_KIND]


def is_baseline(study: dict) -> bool:
  """A study that changes nothing and pairs with nothing: the defaults' own runs on its
  members, for other studies to pair with."""
  return not study["member"] and not study.get("flags") and not study.get("paired_with")


def _arm(arm: str, record: dict, cell: dict) -> dict:
  """One arm of a study row: Pearson at `cell`, at the best DEFAULT_KIND reading, and the
  spread over those readings."""
  pearsons = _default_kind_pearsons(record)
  return {arm: _cell(record, cell["ema_horizon"], cell["reading"]),
          f"{arm}_best": max(pearsons), f"{arm}_spread": max(pearsons) - min(pearsons)}


def study_table(name: str, study: dict, records: list[dict], tuning_records: list[dict],
                pick: dict, studies: dict | None = None) -> dict:
  """Study `name` of config tune.studies, each finished seed paired with the stage run of
  the same candidate and seed, or with the run of study `paired_with` on that seed:
  {'rows': [{'member', 'base', 'study', 'base_best', 'study_best', 'base_spread',
  'study_spread'}], 'done', 'runs', 'median': {...}}, Pearson at each arm's cell (a
  study's own `cell`, else `pick`: the last stage's EMA horizon and reading), at each run's
  best reading of DEFAULT_KIND, and the spread (max - min) over those readings: near 0, the
  reward reads the same at every level, as when the learned term has gone flat in the
  action and only the EDM prior's quadratic is left. studies: every study by name (for a
  paired study's cell). A baseline study (nothing changed, paired with nothing: the
  defaults on members outside the stages) has rows of its own arm only, 'study*'."""
  if is_baseline(study):
    mine = {r["member"]["seed"]: r for r in records if r.get("study") == name}
    rows = [{"member": mine[s]["member"], **_arm("study", mine[s], study.get("cell") or pick)}
            for s in study["seeds"] if s in mine]
    median = ({k: float(np.median([r[k] for r in rows])) for k in ("study", "study_best")}
              if rows else {})
    return {"rows": rows, "done": len(mine), "runs": len(study["seeds"]), "median": median}
  paired = study.get("paired_with")
  if paired:
    base = {r["member"]["seed"]: r for r in records if r.get("study") == paired}
    base_cell = (studies or {}).get(paired, {}).get("cell") or pick
  else:
    base = {r["member"]["seed"]: r for r in tuning_records
            if r["candidate"] == study["candidate"]}
    base_cell = pick
  mine = {r["member"]["seed"]: r for r in records if r.get("study") == name}
  rows = []
  for seed in study["seeds"]:
    if seed in mine and seed in base:
      row = {"member": mine[seed]["member"]}
      for arm, record, cell in (("base", base[seed], base_cell),
                                ("study", mine[seed], study.get("cell") or pick)):
        row.update(_arm(arm, record, cell))
      rows.append(row)
  keys = ("base", "study", "base_best", "study_best")
  median = {k: float(np.median([r[k] for r in rows])) for k in keys} if rows else {}
  if rows:
    median["change"] = float(np.median([r["study"] - r["base"] for r in rows]))
  return {"rows": rows, "done": len(mine), "runs": len(study["seeds"]), "median": median}


def _study_lines(family, tuning_records: list[dict], study_records: list[dict]) -> list[str]:
  studies = family.tune.get("studies") or {}
  pick = last_pick(family, tuning_records)
  if not studies or pick is None:
    return []
  lines = ["", "## Controlled studies (tuning seeds only)", "",
           "`python -m experiments.bandit_tune --config=experiments/configs/bandit_family.py "
           "--workdir=... --study=NAME`: one candidate on the listed tuning seeds with "
           "member settings or flags changed, each run paired with that candidate's stage run "
           "on the same seed, or with the run of the study it names (a baseline study, which "
           "changes nothing, stands alone). Support Pearson at the "
           "defaults' cell (EMA horizon "
           f"{pick['ema_horizon']}, `{pick['reading']}`: the last finished stage's pick; a study "
           "of another recipe at its own cell, named below) and at each "
           f"run's best `{DEFAULT_KIND}` reading."]
  for name, study in studies.items():
    table = study_table(name, study, study_records, tuning_records, pick, studies)
    changes = [f"{k}={v}" for k, v in study["member"].items()] + list(study.get("flags", ()))
    if is_baseline(study):
      lines += _baseline_lines(name, study, table)
      continue
    if study.get("paired_with"):
      changed, base = name, study["paired_with"]
      against = f"against study {base}"
    else:
      changed = ", ".join(changes)
      base = (", ".join(f"{k}={family.member[k]}" for k in study["member"])
              or "the stage runs")
      against = f"stage runs: {base}" if study["member"] else "against the stage runs"
    cell = study.get("cell")
    at = (f"; read at EMA horizon {cell['ema_horizon']}, `{cell['reading']}`" if cell else "")
    lines += ["", f"### {name}: `{study['candidate']}` with {', '.join(changes)} "
              f"({against}{at})", "", f"{table['done']} of {table['runs']} runs finished."]
    if not table["rows"]:
      continue
    lines += ["", f"| seed | obs_dim | act_dim | modes | temperature | {base} | {changed} | "
              f"change | best reading, {base} | best reading, {changed} | spread over "
              f"readings, {base} / {changed} |", "|---" * 11 + "|"]
    for r in table["rows"]:
      m = r["member"]
      lines.append(f"| {m['seed']} | {m['obs_dim']} | {m['act_dim']} | {m['num_modes']} | "
                   f"{m['temperature']:.3f} | {r['base']:.3f} | {r['study']:.3f} | "
                   f"{r['study'] - r['base']:+.3f} | {r['base_best']:.3f} | "
                   f"{r['study_best']:.3f} | {r['base_spread']:.3f} / {r['study_spread']:.3f} |")
    md = table["median"]
    lines += [f"| median | | | | | {md['base']:.3f} | {md['study']:.3f} | {md['change']:+.3f} "
              f"| {md['base_best']:.3f} | {md['study_best']:.3f} | |", "",
              "Spread over readings: the run's best minus its worst Pearson over every EMA "
              f"horizon and `{DEFAULT_KIND}` reading; near 0, the reward reads the same at "
              "every level, as when the learned term has gone flat in the action and only the "
              "EDM prior's quadratic is left (`experiments.reward_report` flags such a run)."]
  return lines


def _baseline_lines(name: str, study: dict, table: dict) -> list[str]:
  lines = ["", f"### {name}: `{study['candidate']}` as shipped, on members outside the stages "
           "(a baseline for the studies paired with it)", "",
           f"{table['done']} of {table['runs']} runs finished."]
  if not table["rows"]:
    return lines
  lines += ["", "| seed | obs_dim | act_dim | modes | temperature | Pearson | best reading | "
            "spread over readings |", "|---" * 8 + "|"]
  for r in table["rows"]:
    m = r["member"]
    lines.append(f"| {m['seed']} | {m['obs_dim']} | {m['act_dim']} | {m['num_modes']} | "
                 f"{m['temperature']:.3f} | {r['study']:.3f} | {r['study_best']:.3f} | "
                 f"{r['study_spread']:.3f} |")
  md = table["median"]
  return lines + [f"| median | | | | | {md['study']:.3f} | {md['study_best']:.3f} | |"]


def _shipped_runs(pick: dict, tuning_records: list[dict], study_records: list[dict],
                  studies: dict) -> dict:
  """{seed: record} of the defaults' own runs: the pick's candidate in the stages, or in a
  baseline study (nothing changed)."""
  baselines = {n for n, st in studies.items() if is_baseline(st)}
  runs = [r for r in tuning_records if r["candidate"] == pick["candidate"]]
  runs += [r for r in study_records
           if r.get("study") in baselines and r["candidate"] == pick["candidate"]]
  return {r["member"]["seed"]: r for r in runs}


def ceiling_lines(family, ceiling_records: list[dict], tuning_records: list[dict],
                  study_records: list[dict]) -> list[str]:
  """The section on what the reading level leaves: each member's ceiling (experiments.
  bandit_ceiling) at every reading, beside the defaults' own run at their cell."""
  pick = last_pick(family, tuning_records)
  if not ceiling_records or pick is None:
    return []
  runs = _shipped_runs(pick, tuning_records, study_records, family.tune.get("studies") or {})
  readings = list(ceiling_records[0]["readings"])
  draws = sorted(ceiling_records[0]["readings"][readings[0]]["scores"], key=int)
  lines = ["", "## What the reading level leaves (tuning seeds only)", "",
           "`python -m experiments.bandit_ceiling --config=experiments/configs/"
           "bandit_family.py`: the support Pearson of the exact expert density smoothed by "
           "the noise of each reading level, in the model's z-scored action units (what a "
           "perfect energy would read there; Monte Carlo over "
           f"{int(draws[-1]):,} exact draws per state, and the largest change over the "
           f"readings from {int(draws[0]):,} draws, which bounds how far it has converged: it "
           "reads low where it has not), beside the defaults' own run on the member (the "
           f"shipped candidate `{pick['candidate']}` at EMA horizon {pick['ema_horizon']}, "
           f"`{pick['reading']}`, from its stage or a baseline study). One minus the "
           "ceiling is what the reading level costs; the ceiling minus the run, what "
           "training leaves.", "",
           "| seed | obs_dim | act_dim | modes | temperature | "
           + " | ".join(f"ceiling, `{r}`" for r in readings)
           + f" | the defaults' run, `{pick['reading']}` | ceiling minus run | change from "
           f"{int(draws[0]):,} draws |", "|---" * (8 + len(readings)) + "|"]
  tops, paired = [], []
  for rec in sorted(ceiling_records, key=lambda r: r["member"]["seed"]):
    m, seed = rec["member"], rec["member"]["seed"]
    top = {r: rec["readings"][r]["scores"][draws[-1]]["pearson"] for r in readings}
    moved = max(abs(top[r] - rec["readings"][r]["scores"][draws[0]]["pearson"])
                for r in readings)
    run = (_cell(runs[seed], pick["ema_horizon"], pick["reading"]) if seed in runs else None)
    gap = (top[pick["reading"]] - run if run is not None and pick["reading"] in top else None)
    tops.append(top)
    if gap is not None:
      paired.append((run, gap))
    lines.append(f"| {seed} | {m['obs_dim']} | {m['act_dim']} | {m['num_modes']} | "
                 f"{m['temperature']:.3f} | " + " | ".join(f"{top[r]:.3f}" for r in readings)
                 + f" | {'—' if run is None else f'{run:.3f}'} | "
                 f"{'—' if gap is None else f'{gap:+.3f}'} | {moved:.3f} |")
  run = f"{np.median([p[0] for p in paired]):.3f}" if paired else "—"
  gap = f"{np.median([p[1] for p in paired]):+.3f}" if paired else "—"
  lines.append("| median | | | | | " + " | ".join(f"{np.median([t[r] for t in tops]):.3f}"
                                                  for r in readings) + f" | {run} | {gap} | |")
  return lines


def _provenance(records: list[dict]) -> list[str]:
  commits = sorted({(r["git_commit"] or "?")[:10] + (" (uncommitted changes)" if r["git_dirty"]
                                                      else "") for r in records})
  versions = sorted({f"jax {r['jax']}, flax {r['flax']}" for r in records})
  return [f"- git commits of the runs: {', '.join(commits)}",
          f"- versions: {'; '.join(versions)}"]


def _tuning_tables(tuning: dict, pick: dict) -> list[str]:
  """Candidates x readings at the picked EMA horizon; EMA horizons x candidates at the
  picked reading."""
  cells = tuning["cells"]
  cands = sorted({k[0] for k in cells})
  emas = sorted({k[1] for k in cells}, key=float)
  readings = list(dict.fromkeys(k[2] for k in cells))
  lines = [f"| candidate (EMA horizon {pick['ema_horizon']}) | samples/s | "
           + " | ".join(readings) + " |", "|---" * (len(readings) + 2) + "|"]
  for c in cands:
    lines.append(f"| {c} | {tuning['samples_per_s'][c]:.0f} | " + " | ".join(
        f"{cells[(c, pick['ema_horizon'], r)]['pearson']:.3f}" for r in readings) + " |")
  lines += ["", f"| EMA horizon (reading {pick['reading']}) | " + " | ".join(cands) + " |",
            "|---" * (len(cands) + 1) + "|"]
  for h in emas:
    lines.append(f"| {h} | " + " | ".join(
        f"{cells[(c, h, pick['reading'])]['pearson']:.3f}" for c in cands) + " |")
  return lines


def markdown(family, held_out: list[dict], tuning_records: list[dict], plot_name: str,
             speed: dict | None = None, study_records: list[dict] = (),
             ceiling_records: list[dict] = ()) -> str:
  rounds = tuple(family.held_out_rounds)
  table = held_out_table(held_out, rounds)
  lines = ["# Reward recovery on a held-out family of max-ent bandits", "",
           "Generated by `python -m experiments.bandit_family "
           "--config=experiments/configs/bandit_family.py --report` (or `python -m "
           "experiments.reports.build`, from the committed files) from the raw JSON in "
           f"`{family.raw_dir}/`; do not edit by hand.", "",
           "Each member (efjax/envs/bandit.py) draws its context dimension (1-8), action "
           "dimension (1-6), number of modes (1-5) and temperature (0.1-2, log-uniform) from "
           "its seed; its soft Q is a smoothed maximum of quadratic bowls whose centres and "
           "heights move with the context; the expert's actions are exact draws of "
           "exp(Q / temperature) on the action box, and the demo file is stored in random "
           "affine units. Each member is trained by the command a user types "
           f"(`{' '.join('--config.' + f for f in family.user_flags)}`, "
           f"{family.member.num_demos} demo pairs) and its reward read by "
           "`efjax.load(W).reward(obs, actions)` in file units on "
           f"{family.member.num_states} fresh states x {family.member.num_actions} expert "
           "actions each. Pearson: after centering each state's rewards (and Q); preference "
           "accuracy: same-state pairs whose true Q differs by more than 0.1 x temperature; "
           "EPIC: for a bandit. Cells: median [10th, 90th percentile] over members.", "",
           "## Held-out family", ""]
  if not table:
    lines.append("No held-out member has finished yet.")
  else:
    for i, rnd in enumerate(rounds, 1):
      seeds = sorted(rnd["seeds"])
      lines.append(f"- {rnd['name']} (`--rounds={i}`): held-out seeds {seeds[0]}-{seeds[-1]}, "
                   f"settings {', '.join(rnd['settings'])}; the defaults as {rnd['picked_by']} "
                   "of the tuning below picked them.")
    lines.append("- (pooled): the members of every round that ran one setting with the same "
                 "recipe (the `run with` column), together.")
    lines += ["", "| setting | members | run with | Pearson | preference accuracy | EPIC | "
              "Pearson, uniform box actions | train wall s / member | samples/s | total wall |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for s, e in table.items():
      lines.append(f"| {s} (`{family.settings.get(e['setting'], '?')}`) | {e['pearson']['n']} | "
                   f"{e['recipe']} | "
                   f"{_fmt(e['pearson'])} | {_fmt(e['preference_accuracy'])} | {_fmt(e['epic'])} "
                   f"| {_fmt(e['box_pearson'])} | {e['train_wall_s']['median']:.0f} | "
                   f"{e['samples_per_s']['median']:.0f} | {e['total_wall_s'] / 3600:.1f} h |")
    lines += ["", "Goal at 24k x 256 steps with the MLP: median Pearson >= "
              f"{GOAL['pearson_median']}, 10th percentile >= {GOAL['pearson_p10']}, median "
              f"preference accuracy >= {GOAL['preference_median']}. In brackets: the "
              "statistic over the scored members [its 90 % bootstrap interval, the members "
              f"resampled with replacement {BOOTSTRAP_RESAMPLES:,} times, seeded]: how "
              "closely 12 members pin it down.", ""]
    for s, e in table.items():
      missing = (len(e["round"]["seeds"]) if e["round"] else len(e["members"])) - len(e["members"])
      verdict = ", ".join(
          f"{k} {_verdict(e['members'], k, missing)} "
          "({:.3f} [{:.3f}, {:.3f}])".format(*_goal_statistic(e["members"], k)) for k in GOAL)
      if missing:                              # a round cut short or still running
        verdict += f" ({len(e['members'])} of {len(e['members']) + missing} members scored)"
      lines.append(f"- {s}: {verdict}")
    lines += ["", f"![held-out family]({plot_name})", "",
              "Wall times are of the shared 2-core CPU, with other jobs running beside; the "
              "samples/s are each run's last logged rate.", "", "### By action dimension", ""]
    per_round = {k: e for k, e in table.items() if not (e["round"] or {}).get("pooled")}
    lines += _group_rows(per_round, "act_dim", lambda m: m["act_dim"], range(1, 7))
    lines += ["", "### By context dimension", ""]
    lines += _group_rows(per_round, "obs_dim", lambda m: m["obs_dim"], range(1, 9))
    lines += ["", "### By temperature", ""]
    lines += _group_rows(per_round, "temperature", _temperature_bin, TEMPERATURE_BINS)
    lines += ["", "### By number of modes", ""]
    lines += _group_rows(table, "modes", lambda m: m["num_modes"], range(1, 6))
    lines += ["", "### By modes and temperature", ""]
    lines += _group_rows(table, "members", _modes_and_warmth, MODE_GROUPS)
    lines += ["", "### Every member (support Pearson / preference accuracy / EPIC)", "",
              "| seed | obs_dim | act_dim | modes | temperature | " + " | ".join(per_round) + " |",
              "|---" * (5 + len(per_round)) + "|"]
    seeds = sorted({r["member"]["seed"] for e in per_round.values() for r in e["members"]})
    for seed in seeds:
      member = next(r["member"] for e in per_round.values() for r in e["members"]
                    if r["member"]["seed"] == seed)
      cells = []
      for e in per_round.values():
        r = next((r for r in e["members"] if r["member"]["seed"] == seed), None)
        sc = r and r["scores"]["support"]
        cells.append(f"{sc['pearson']:.3f} / {sc['preference_accuracy']:.3f} / {sc['epic']:.3f}"
                     if sc else "-")
      lines.append(f"| {seed} | {member['obs_dim']} | {member['act_dim']} | "
                   f"{member['num_modes']} | {member['temperature']:.3f} | "
                   + " | ".join(cells) + " |")
  lines += ["", "## Tuning (tuning seeds only)", "",
            "`python -m experiments.bandit_tune --config=experiments/configs/bandit_family.py "
            "--workdir=...`: each run trains one candidate on one tuning member for "
            f"{family.user_flags[-1].split('=')[-1]} steps of 256, keeping an EMA per horizon "
            f"{list(family.tune.ema_horizons)} (x num_steps), and reads the reward at every "
            "level listed; cells are the median Pearson over the stage's members "
            "(samples/s: the runs' own, on the shared CPU)."]
  stages = family.tune.stages
  for i, stage in enumerate(stages, 1):
    tuning = tuning_table(tuning_records, stage)
    lines += ["", f"### Stage {i}: seeds {list(stage['seeds'])}, candidates "
              f"{', '.join(stage['candidates'])}", ""]
    if not tuning["cells"]:
      lines.append(f"{tuning['done']} of {tuning['runs']} runs finished.")
      continue
    rule = stage.get("rule", "median")
    pick = choose(tuning, rule)
    lines += _tuning_tables(tuning, pick)
    if i == len(stages):
      best = ("the best" if rule == "median" else
              f"the best median of those whose 10th percentile is within {P10_TIE} of the "
              "best 10th percentile")
      lines += ["", f"The rule (`choose`, rule `{rule}`, on this last stage): of the "
                f"`{DEFAULT_KIND}` readings (the kind `efjax.load(W).reward` reads by "
                f"default), the best median Pearson is {pick['best_pearson']:.3f}; among the "
                f"cells within {SPEED_TOLERANCE} of it, "
                + (f"of the fastest candidates (samples/s at least {SAME_SPEED} x the fastest's) "
                   if pick["speed_compared"] else
                   "of all candidates (their runs were not all timed on one recorded CPU "
                   "model, so their samples/s are not compared) ")
                + f"{best} is `{pick['candidate']}`, at EMA horizon "
                f"{pick['ema_horizon']} and reading `{pick['reading']}` (median Pearson "
                f"{pick['pearson']:.3f}, 10th percentile {pick['p10']:.3f}, preference "
                f"accuracy {pick['preference_accuracy']:.3f})."]
  if speed:
    lines += ["", "### Training speed of the candidates", "",
              f"`{speed['command']}` (round-robin timing, {speed['rows'][0]['rounds']} rounds; "
              f"load average at its end {speed['load_average_at_end'][0]:.1f} on "
              f"{speed['cpu_count']} cores):", "",
              "| backbone | candidate | samples/s | x the paper's recipe |", "|---|---|---|---|"]
    for row in speed["rows"]:
      lines.append(f"| {row['backbone']} | {row['candidate']} | {row['samples_per_s']:.0f} | "
                   f"{row['ratio_to_paper']:.2f} |")
  lines += _study_lines(family, tuning_records, list(study_records))
  lines += ceiling_lines(family, list(ceiling_records), tuning_records, list(study_records))
  lines += ["", "## Provenance", ""] + _provenance(held_out + tuning_records
                                                   + list(study_records) + list(ceiling_records))
  if speed:
    lines.append(f"- speed: git commit {speed['git_commit'][:10]}, jax {speed['jax']}")
  return "\n".join(lines) + "\n"


def split(files: dict) -> tuple[list, list, dict | None, list, list]:
  """{path under RAW_DIR: record} -> (held-out records, tuning records, speed record, study
  records, ceiling records), each list in path order (the order read_records gives)."""
  under = lambda prefix: [files[p] for p in sorted(files) if p.startswith(prefix)]  # noqa: E731
  return (under("held_out/"), under("tuning/"), files.get(SPEED_FILE), under("study/"),
          under("ceiling/"))


def _family(family):
  if family is None:
    from experiments.configs import bandit_family
    family = bandit_family.get_config()
  return family


def document(files: dict, family=None) -> str:
  """The report's markdown from {path under RAW_DIR: record} (family: the config's)."""
  family = _family(family)
  held_out, tuning, speed, studies, ceiling = split(files)
  return markdown(family, held_out, tuning, os.path.basename(family.report.plot), speed,
                  studies, ceiling)


def plot(files: dict, path: str, family=None) -> None:
  """The report's plot (none until a held-out member has finished)."""
  held_out = split(files)[0]
  if held_out:
    _plot(held_out_table(held_out, tuple(_family(family).held_out_rounds)), path)


def read_files(raw_dir: str) -> dict:
  """{path under raw_dir: record} of every *.json on disk."""
  files = {}
  for root, _, names in sorted(os.walk(raw_dir)):
    for name in sorted(names):
      if name.endswith(".json"):
        path = os.path.join(root, name)
        with open(path) as f:
          files[os.path.relpath(path, raw_dir)] = json.load(f)
  return files


def write_report(family) -> str:
  """Writes config.report.markdown (and the plot beside it); returns the markdown's path."""
  files = read_files(family.raw_dir)
  path = family.report.markdown
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  plot(files, family.report.plot, family)
  with open(path + ".tmp", "w") as f:               # whole or not at all
    f.write(document(files, family))
  os.replace(path + ".tmp", path)
  return path
