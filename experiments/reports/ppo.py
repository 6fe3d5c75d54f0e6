"""The PPO speed tables, from the raw JSON benchmarks/ppo.py writes (results/raw/ppo/).

brax_section(raw)            efjax PPO against brax's own PPO (brax.json)
energyflow_section(raw)      PPO with the EnergyFlow reward against the true reward, per
                             env (energyflow_reward.json): issue 19's speed goal
readme_bullet(brax, ef)      README's summary of both
validation_section(raw)      PPO on the true reward of each brax task (validation.json,
                             experiments.ppo_validation --record)
write_curves(raw, folder)    the validation runs' learning curves, folder/ppo_<name>.png
env_speed_section(raw)       env steps/s per physics backend (env_speed.json,
                             benchmarks/env_speed.py --record)
playground_section(raw)      MuJoCo Playground's DM Control tasks against the brax tasks
                             (playground_speed.json, benchmarks/playground_speed.py --record)
budget_section(files)        whether each reward-comparison env's RL budget lets the
                             oracle reach the expert (rl_budget/<env>.json,
                             experiments.rl_budget --record)

Every figure is a median [min-max] over the timed rounds. A ratio between two cases
timed in the same rounds is taken round by round (each case against the other's figure of
that round), then summarized, so a round where the machine was busy counts against both.
"""
import os

import numpy as np

from efjax.errors import DataError

BRAX, ENERGYFLOW = "ppo/brax.json", "ppo/energyflow_reward.json"   # under results/raw/
VALIDATION, ENV_SPEED = "ppo/validation.json", "ppo/env_speed.json"
PLAYGROUND_SPEED = "ppo/playground_speed.json"
RL_BUDGET = "ppo/rl_budget"       # experiments.rl_budget --record: <env>.json, one per env


def spread(values) -> tuple[float, float, float]:
  """(median, min, max)."""
  v = np.asarray(values, float)
  if v.size == 0:
    raise ValueError("no rounds to summarize")
  return float(np.median(v)), float(v.min()), float(v.max())


def ratios(numerator, denominator) -> list[float]:
  """Round-by-round ratios of two cases timed in the same rounds."""
  if len(numerator) != len(denominator):
    raise ValueError(f"{len(numerator)} rounds against {len(denominator)}: not timed together")
  return [a / b for a, b in zip(numerator, denominator)]


def rate_cell(values) -> str:
  m, lo, hi = spread(values)
  return f"{m:,.0f} [{lo:,.0f}-{hi:,.0f}]"


def ratio_cell(values) -> str:
  m, lo, hi = spread(values)
  return f"{m:.2f} [{lo:.2f}-{hi:.2f}]"


def made_by(raw: dict) -> str:
  """`command` (date, CPU, commit; load average at the end)."""
  fp = raw["fingerprint"]
  commit = (fp["code"].get("commit") or "?")[:7] + (" with uncommitted changes"
                                                     if fp["code"].get("dirty") else "")
  load = raw.get("load_average_at_end")
  return (f"`{raw['command']}` ({raw['date']}, {raw['wall_s']:.0f} s; "
          f"{fp['platform'].get('cpu') or '?'}, {raw['cpu_count']} cores, "
          f"{fp['platform'].get('backend')}; commit {commit}"
          + (f"; load average {load[0]:.1f} at its end" if load else "") + ")")


def brax_section(raw: dict) -> str:
  """efjax PPO vs brax's PPO: one env, brax's default networks."""
  s, r = raw["setting"], raw["steps_per_s"]
  versus = ratios(r["efjax_learned"], r["efjax_true"])
  brax, efjax = spread(r["brax_ppo"])[0], spread(r["efjax_true"])[0]
  return "\n".join([
      f"{made_by(raw)}: {s['env']} ({s['backend']}), {s['num_envs']} envs x "
      f"{s['unroll_length']} steps per update, {s['num_minibatches']} minibatches x "
      f"{s['update_epochs']} epochs, policy 4x32 / value 5x256 swish (brax's defaults), "
      f"{s['updates']} updates per timed call / brax epoch. brax's PPO reports its own "
      f"`training/sps` for each of {len(r['brax_ppo'])} epochs after the one that compiled; "
      f"the two efjax cases are timed in turn, {s['rounds']} rounds, after brax. Cells: "
      "median [min-max] over rounds (epochs for brax); the learned reward's ratio is taken "
      "round by round, the brax ratio is of the medians (brax is not timed in the rounds).", "",
      "| workload | env steps/s | ratio |", "|---|---:|---:|",
      f"| brax PPO, true reward | {rate_cell(r['brax_ppo'])} | 1.00 (ref) |",
      f"| efjax PPO, true reward | {rate_cell(r['efjax_true'])} | {efjax / brax:.2f} vs brax "
      "(goal >= 1.0) |",
      f"| efjax PPO, MLP reward (3x256) | {rate_cell(r['efjax_learned'])} | "
      f"{ratio_cell(versus)} vs efjax true (goal >= 0.85) |", "",
      f"Raw figures: `results/raw/{BRAX}` (`benchmarks/ppo.py --record` writes it)."])


def goal_ratios(raw: dict) -> dict:
  """{env: round-by-round ratios of the goal's case against the true reward}."""
  case = raw["goal"]["case"]
  return {e["env"]: ratios(e["steps_per_s"][case], e["steps_per_s"]["true"])
          for e in raw["envs"] if case in e["steps_per_s"]}


def goal_verdict(raw: dict) -> str:
  """Met / not met on each env, by the median ratio of the goal's case."""
  goal, per_env = raw["goal"]["ratio"], goal_ratios(raw)
  met = [env for env, v in per_env.items() if spread(v)[0] >= goal]
  detail = ", ".join(f"{env} {ratio_cell(v)}" for env, v in per_env.items())
  return (f"**The goal (median ratio >= {goal:g} for the bold row) is "
          f"{'met' if len(met) == len(per_env) else 'NOT met'} on {len(met)} of "
          f"{len(per_env)} envs**: {detail}.")


def energyflow_section(raw: dict) -> str:
  """PPO with the real EnergyFlow centered reward vs the true reward, per env."""
  s, labels, goal = raw["setting"], raw["labels"], raw["goal"]
  lines = [f"{made_by(raw)}. Setting: each env's PPO of experiments/configs/ppo.py (64x64 "
           f"tanh actor and critic), {s['num_envs']} envs x {s['unroll_length']} steps per "
           f"update, {s['updates']} updates per timed call; every case is timed once per "
           f"round, {s['rounds']} rounds, round-robin (the true reward first), so the "
           "machine's drift falls on every case alike. Cells: median [min-max] over the "
           "rounds; a ratio is taken within each round, then summarized. The reward is "
           "evaluated on every transition: the action and the reference actions, 16 sampled "
           "ones (the paper's, 17 energy rows) or the Gauss-Hermite rule with 2 nodes per "
           "action dimension (rl_compare's, 1 + 2^act_dim rows); an untrained network of "
           "each size is timed (weights do not change the cost). The goal's ratio is the "
           "bold row, rl_compare's reward.", "",
           f"| env (backend) | reward | env steps/s | ratio vs true (goal >= {goal['ratio']:g}) |",
           "|---|---|---:|---:|"]
  for e in raw["envs"]:
    rates, where = e["steps_per_s"], f"{e['env']} ({e['backend']})"
    lines.append(f"| {where} | true reward | {rate_cell(rates['true'])} | 1.00 |")
    for case, values in rates.items():
      if case == "true":
        continue
      label = f"**{labels[case]}**" if case == goal["case"] else labels[case]
      lines.append(f"| {where} | {label} | {rate_cell(values)} | "
                   f"{ratio_cell(ratios(values, rates['true']))} |")
  lines += ["", goal_verdict(raw), "", f"Raw figures: `results/raw/{ENERGYFLOW}` "
            "(`benchmarks/ppo.py --record` writes it)."]
  return "\n".join(lines)


def readme_bullet(brax: dict, ef: dict) -> str:
  """README's "Results so far" bullet on PPO speed."""
  r = brax["steps_per_s"]
  per_env = goal_ratios(ef)
  paper = [ratios(e["steps_per_s"][ef["paper_case"]], e["steps_per_s"]["true"])
           for e in ef["envs"] if ef.get("paper_case") in e["steps_per_s"]]
  text = (f"- PPO speed ([BENCHMARKS.md](BENCHMARKS.md), `python benchmarks/ppo.py`, medians "
          f"over rounds, min-max in brackets): our PPO runs "
          f"{spread(r['efjax_true'])[0] / spread(r['brax_ppo'])[0]:.2f}x brax's PPO on the "
          f"true reward ({brax['setting']['env']}). With the EnergyFlow reward as rl_compare "
          "reads it (64x64 net, 2-node Gauss-Hermite reference actions) PPO runs at "
          + ", ".join(f"{ratio_cell(v)}x on {env}" for env, v in per_env.items())
          + f" its true-reward speed (goal: {ef['goal']['ratio']:g}x)")
  if paper:
    medians = [spread(v)[0] for v in paper]
    text += (f"; with the paper's 16 sampled references on a 128x128 net, "
             f"{min(medians):.2f}-{max(medians):.2f}x")
  return text + "."


def validation_section(raw: dict) -> str:
  """One row per PPO run on the true reward: budget, wall, speed, returns, curve."""
  lines = [f"{made_by(raw)}. Each row is one seed; `command` below reruns it alone "
           "(WORKDIR: any folder). Train return: the stochastic policy's mean return over the "
           "episodes that finished in the last 10 updates; eval: the deterministic policy "
           "(the mean action) on fresh episodes, mean ± std; wall time includes "
           "compilation.", "",
           "| run | env (backend) | env steps | wall | train steps/s | train return | "
           "eval return | curve |", "|---|---|---:|---:|---:|---:|---:|---|"]
  for r in raw["runs"]:
    s, env = r["summary"], r["summary"]["env"]
    train = s["final_train_return_per_seed"][0]
    lines.append(
        f"| {r['name']} | {env['name']} ({env['backend']}) | "
        f"{s['env_steps_per_seed'] / 1e6:.1f}M | {s['wall_s']:.0f} s | "
        f"{'—' if s['steps_per_s'] is None else format(s['steps_per_s'] / 1e3, '.0f') + 'k'} | "
        f"{train:.0f} | "
        f"{s['eval_return_mean']:.1f} ± {s['eval_return_std']:.1f} "
        f"({s['eval_episodes_per_seed']} episodes) | `ppo_{r['name']}.png` |")
  lines += ["", "Commands:", "", "```"] + [r["command"] for r in raw["runs"]] + [
      "```", "", f"Raw figures: `results/raw/{VALIDATION}` "
      "(`python -m experiments.ppo_validation --workdir=WORKDIR --record` writes it)."]
  return "\n".join(lines)


def env_speed_section(raw: dict) -> str:
  """Env steps/s of each (env, physics backend): a table of envs by backend."""
  s, rates = raw["setting"], raw["steps_per_s"]
  envs = list(dict.fromkeys(k.split("/")[0] for k in rates))
  backends = list(dict.fromkeys(k.split("/")[1] for k in rates))
  lines = [f"{made_by(raw)}. A jitted `lax.scan` of {s['steps']} steps of the wrapped, "
           f"fixed-horizon env (`efjax.envs.brax_envs.make_env`) with {s['num_envs']} envs "
           f"and uniform random actions, after compilation; every case timed once per round, "
           f"{s['rounds']} rounds. Cells: env steps/s, median [min-max]; the fastest backend "
           "of each env in bold.", "",
           "| env | " + " | ".join(backends) + " |", "|---|" + "---:|" * len(backends)]
  for env in envs:
    medians = {b: spread(rates[f"{env}/{b}"])[0] for b in backends if f"{env}/{b}" in rates}
    best = max(medians, key=medians.get)
    cells = [("**" + rate_cell(rates[f"{env}/{b}"]) + "**" if b == best
              else rate_cell(rates[f"{env}/{b}"])) if b in medians else "—" for b in backends]
    lines.append(f"| {env} | " + " | ".join(cells) + " |")
  lines += ["", f"Raw figures: `results/raw/{ENV_SPEED}` "
            "(`python benchmarks/env_speed.py --record` writes it)."]
  return "\n".join(lines)


def playground_section(raw: dict) -> str:
  """MuJoCo Playground's DM Control tasks and the brax tasks timed in the same rounds: env
  steps/s, and the hours one seed of Playground's tuned PPO budget would spend on physics."""
  s, rates, tasks = raw["setting"], raw["steps_per_s"], raw["playground_tasks"]
  versions = ", ".join(f"{k} {v}" for k, v in raw["packages"].items() if v)
  lines = [f"{made_by(raw)}; {versions}. Every case: a jitted `lax.scan` of {s['steps']} "
           f"steps with {s['num_envs']} envs and uniform random actions, after compilation, "
           f"timed once per round, {s['rounds']} rounds (median [min-max]). Brax tasks: the "
           f"wrapped, fixed-horizon env on the `{s['backend']}` backend; Playground tasks "
           "through each MJX implementation. Physics hours: one seed of Playground's tuned "
           "PPO budget (`brax_ppo_config`) at the median rate, before any network or update "
           "cost.", "",
           "| task | physics | episode (steps) | control dt (s) | env steps/s | "
           "tuned PPO budget | physics hours per seed |",
           "|---|---|---:|---:|---:|---:|---:|"]
  for key, values in rates.items():
    source, name, engine = key.split("/")
    fact = tasks.get(name, {}) if source == "playground" else {}
    budget = fact.get("tuned_ppo_steps")
    physics = f"MJX {engine}" if fact else engine
    dt = f"{fact['control_dt']:g}" if fact else "—"
    cost = (f"{budget / 1e6:g}M | {budget / spread(values)[0] / 3600:.1f}" if budget
            else "— | —")
    lines.append(f"| {name} ({source}) | {physics} | {fact.get('episode_length', 1000)} | "
                 f"{dt} | {rate_cell(values)} | {cost} |")
  for key, error in raw.get("errors", {}).items():
    _, name, engine = key.split("/")
    lines.append(f"| {name} (playground) | MJX {engine} | — | — | cannot run: {error} | — "
                 "| — |")
  lines += ["", "Playground's requirements: " + ", ".join(
      f"`{r}`" for r in raw["playground_requires"]) + ".", "",
            f"Raw figures: `results/raw/{PLAYGROUND_SPEED}` "
            "(`python benchmarks/playground_speed.py --record` writes it, from Playground's "
            "own virtual environment: see its docstring)."]
  return "\n".join(lines)


def write_curves(raw: dict, folder: str) -> None:
  """folder/ppo_<name>.png: each validation run's true return over env steps."""
  from efjax.rl.driver import plot_curve
  for r in raw["runs"]:
    rows = [{"env_steps": s, "rl/true_return": v}
            for s, v in zip(r["curve"]["env_steps"], r["curve"]["true_return"])]
    env = r["summary"]["env"]
    plot_curve(rows, os.path.join(folder, f"ppo_{r['name']}.png"),
               f"PPO {env['name']} ({env['backend']})")


BUDGET_COLUMNS = (("true_reward", "oracle (true reward)"), ("constant_plus", "constant +1"),
                  ("constant_minus", "constant -1"), ("zero", "zero"),
                  ("random_network", "random network"))


def budget_section(files: dict) -> str:
  """Per env (files: {name: one env's record}, each made by its own command): the expert,
  the random policy, and the oracle's and controls' normalized returns at the env's RL
  budget, with whether the oracle reaches the goal."""
  raws = [files[name] for name in sorted(files)]
  settings = {(raw["setting"]["goal"], raw["setting"]["rl.num_seeds"]) for raw in raws}
  if len(settings) != 1:
    raise DataError(f"results/raw/{RL_BUDGET}: the envs' records differ in goal or seeds "
                    f"({sorted(settings)}); rerun them with one setting")
  (goal, num_seeds), = settings
  lines = ["Per env: the expert's PPO budget and the mean return of its "
           "demonstrations (R_expert), uniform random actions' return (R_random), the RL "
           "budget each method of the comparison gets, and each reward's normalized return "
           "(R - R_random) / (R_expert - R_random) per seed (deterministic eval, "
           f"{num_seeds} seeds, fixed-horizon env). The budget holds when "
           f"the oracle's mean is at least {goal}; a control near the oracle means the env "
           "cannot tell rewards apart.", "",
           "| env (backend, episode steps) | expert: budget, R_expert | R_random | RL budget | "
           + " | ".join(label for _, label in BUDGET_COLUMNS) + " | budget holds | wall |",
           "|---|---|---:|---:|" + "---|" * len(BUDGET_COLUMNS) + "---|---:|"]
  for c in (c for raw in raws for c in raw["checks"]):
    cells = []
    for method, _ in BUDGET_COLUMNS:
      m = c["methods"].get(method)
      cells.append("—" if m is None else
                   f"{np.mean(m['normalized_per_seed']):.2f} ("
                   + ", ".join(f"{v:.2f}" for v in m["normalized_per_seed"]) + ")")
    oracle = np.mean(c["methods"]["true_reward"]["normalized_per_seed"])
    # Records made before the check named it ran brax's own 1000-step episodes.
    lines.append(f"| {c['env']} ({c['backend']}, {c.get('episode_length', 1000)}) | "
                 f"{c['expert_steps'] / 1e6:g}M, "
                 f"{c['expert_return']:.1f} | {c['random_return']:.1f} | "
                 f"{c['rl_steps'] / 1e6:g}M | " + " | ".join(cells) + " | "
                 f"{'yes' if oracle >= goal else '**no**'} | {c['wall_s'] / 60:.0f} min |")
  lines += ["", "Made by (one record per env):", ""]
  lines += [f"- {', '.join(c['env'] for c in raw['checks'])}: {made_by(raw)}" for raw in raws]
  lines += ["", "Each env's run alone (what the record's command ran for it):", "", "```"]
  lines += [c["command"] for raw in raws for c in raw["checks"]]
  lines += ["```", "", f"Raw figures: `results/raw/{RL_BUDGET}/` (one file per env)."]
  return "\n".join(lines)
