"""The PPO speed tables, from the raw JSON benchmarks/ppo.py writes (results/raw/ppo/).

brax_section(raw)            efjax PPO against brax's own PPO (brax.json)
energyflow_section(raw)      PPO with the EnergyFlow reward against the true reward, per
                             env (energyflow_reward.json): issue 19's speed goal
readme_bullet(brax, ef)      README's summary of both

Every figure is a median [min-max] over the timed rounds. A ratio between two cases
timed in the same rounds is taken round by round (each case against the other's figure of
that round), then summarized, so a round where the machine was busy counts against both.
"""
import numpy as np

BRAX, ENERGYFLOW = "ppo/brax.json", "ppo/energyflow_reward.json"   # under results/raw/


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
