"""The pipeline's report, from its results.json alone (WORKDIR/results.json; the published
run's is results/raw/quickstart/results.json).

markdown(results)            WORKDIR/report.md (results/quickstart/report.md)
readme_summary(results)      README's paragraph on what the main job made
write_plots(results, dir)    learning_curves.png, returns.png, reward_vs_true.png
report_inputs(config, dir)   what the report needs beyond the stage summaries (the
                             environment, the reward's noise levels, the PPO curves)
"""
import os

from efjax.train.metrics import read_metrics

PLOTS = ("learning_curves.png", "returns.png", "reward_vs_true.png")
CURVES = (("expert", "PPO on the true reward (expert)"),
          ("reward_rl", "PPO on the EnergyFlow reward"))
CONTROL_LABELS = {"constant_plus": "a constant reward (+1)", "constant_minus":
                  "a constant reward (-1)", "zero": "a zero reward",
                  "random_network": "a fixed random network's reward"}


def _control_curves(config) -> tuple:
  return tuple((f"controls/{name}", f"PPO on {CONTROL_LABELS.get(name, name)} (control)")
               for name in config.get("controls", ()))


def _curve(workdir: str) -> dict:
  """{'env_steps', 'true_return'} of a one-seed PPO run's metrics (updates without a
  finished episode dropped)."""
  rows = [r for r in read_metrics(workdir) if r["rl/true_return"][0] is not None]
  return {"env_steps": [r["env_steps"] for r in rows],
          "true_return": [r["rl/true_return"][0] for r in rows]}


def report_inputs(config, workdir: str) -> dict:
  """The entries results.json carries for the report besides the stage summaries."""
  env = config.expert.env
  curves = CURVES + _control_curves(config)
  return {"env": env.name, "backend": env.backend,
          "noise_levels": list(config.reward.noise_levels),
          "curves": {stage: _curve(os.path.join(workdir, stage)) for stage, _ in curves},
          "curve_labels": dict(curves)}


def normalized(results: dict, value: float) -> float | None:
  """(R - R_random) / (R_expert - R_random), R_expert the demonstrations' mean return
  (None for a run without the random policy's return)."""
  random = (results.get("random") or {}).get("return_mean")
  if random is None:
    return None
  return (value - random) / (results["demos"]["return_mean"] - random)


def policy_rows(results: dict) -> list[tuple[str, float, float, int]]:
  """(label, true return mean, std, episodes) of every policy the report sets side by side."""
  demos, imitation, reward_rl = results["demos"], results["imitation"], results["reward_rl"]
  rows = [("expert (PPO, true reward; the demonstrations)", demos["return_mean"],
           demos["return_std"], demos["episodes"]),
          ("EnergyFlow diffusion policy (PF-ODE sampler)", imitation["return_mean"],
           imitation["return_std"], imitation["episodes"]),
          ("PPO from scratch on the EnergyFlow reward only", reward_rl["eval_return_mean"],
           reward_rl["eval_return_std"], reward_rl["eval_episodes_per_seed"])]
  for name, summary in (results.get("controls") or {}).items():
    rows.append((f"PPO from scratch on {CONTROL_LABELS.get(name, name)} (control)",
                 summary["eval_return_mean"], summary["eval_return_std"],
                 summary["eval_episodes_per_seed"]))
  if results.get("random"):
    rows.append(("uniform random actions", results["random"]["return_mean"],
                 results["random"]["return_std"], None))
  return rows


def write_plots(results: dict, out_dir: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  labels = results["about"].get("curve_labels", dict(CURVES))
  for stage, curve in results["about"]["curves"].items():
    ax.plot(curve["env_steps"], curve["true_return"], label=labels.get(stage, stage))
  ax.set_xlabel("env steps")
  ax.set_ylabel("true episode return")
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, PLOTS[0]), dpi=100)
  plt.close(fig)

  fig, ax = plt.subplots(figsize=(7, 4))
  rows = policy_rows(results)
  ax.barh([label.replace(" (", "\n(", 1) for label, *_ in rows], [r[1] for r in rows],
          xerr=[r[2] for r in rows], color="tab:blue")
  ax.invert_yaxis()
  ax.tick_params(axis="y", labelsize=7)
  ax.set_xlabel("true return")
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, PLOTS[1]), dpi=100)
  plt.close(fig)

  episodes = results["reward"]["episodes"]
  fig, ax = plt.subplots(figsize=(5, 4))
  sc = ax.scatter(episodes["true_return"], episodes["learned_return"],
                  c=episodes["noise_level"], cmap="viridis")
  fig.colorbar(sc, label="probability of a random action")
  ax.set_xlabel("true return")
  ax.set_ylabel("learned return (sum of centered energy)")
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, PLOTS[2]), dpi=100)
  plt.close(fig)


def _made_by(results: dict) -> str:
  fp = results.get("fingerprint") or {}
  code = fp.get("code") or {}
  commit = (code.get("commit") or "unknown")[:7] + (" (uncommitted changes)"
                                                    if code.get("dirty") else "")
  jax = (fp.get("versions") or {}).get("jax", "?")
  return f"commit {commit}, jax {jax}"


def markdown(results: dict) -> str:
  """report.md: the returns table, the reward-quality figures and the stage costs."""
  about, reward = results["about"], results["reward"]
  expert, reward_rl = results["expert"], results["reward_rl"]
  lines = [
      f"# EnergyFlow pipeline: {about['env']} ({about['backend']} backend)", "",
      f"Made by `{about.get('command', 'python -m experiments.pipeline')}` "
      f"({_made_by(results)}). Wall time {results['wall_s']:.0f} s for the invocation that "
      "wrote it (stages already done are skipped on a resumed run).", "",
      "| policy | true return (mean ± std) | normalized | episodes |", "|---|---|---|---|"]
  for label, mean, std, episodes in policy_rows(results):
    score = normalized(results, mean)
    lines.append(f"| {label} | {mean:.1f} ± {std:.1f} | "
                 f"{'—' if score is None else f'{score:.2f}'} | {episodes or '—'} |")
  lines += [
      "", "Normalized: (R - R_random) / (R_expert - R_random), R_expert the demonstrations' "
      "mean return: 0 is the random policy, 1 the expert. The controls run PPO with the same "
      "budget on rewards that say nothing about the task; the recovered reward means "
      "something here only where it beats them.", "",
      "Reward quality (no known Q here, so measured by behaviour):", "",
      f"- Spearman correlation of learned return with true return over "
      f"{len(reward['episodes']['true_return'])} episodes of graded quality (expert actions "
      f"replaced by random ones with probability {about['noise_levels']}): "
      f"**{reward['return_spearman']:.3f}**",
      f"- expert action rewarded above a uniform random action at the expert's states: "
      f"**{reward['expert_vs_random_preference']:.1%}**", "",
      f"Expert PPO: {expert['env_steps_per_seed']:,} env steps in {expert['wall_s']:.0f} s; "
      f"EnergyFlow: {results['energyflow']['steps']} DSM steps (final loss "
      f"{results['energyflow']['final_loss']:.3f}); PPO on the learned reward: "
      f"{reward_rl['env_steps_per_seed']:,} env steps in {reward_rl['wall_s']:.0f} s.", "",
  ] + [f"![{name}]({name})" for name in PLOTS] + [""]
  return "\n".join(lines)


def readme_summary(results: dict) -> str:
  """README's paragraph under the main job's output: what its report says."""
  about, reward = results["about"], results["reward"]

  def score(value):
    x = normalized(results, value)
    return "" if x is None else f", normalized {x:.2f}"
  controls = results.get("controls") or {}
  control_text = "; ".join(f"on {CONTROL_LABELS.get(n, n)} {c['eval_return_mean']:.1f}"
                           f"{score(c['eval_return_mean'])}" for n, c in controls.items())
  return (
      f"`report.md` (with {', '.join(f'`{p}`' for p in PLOTS)}) tabulates the true return "
      f"on {about['env']} of the expert ({results['demos']['return_mean']:.1f}), of the "
      f"EnergyFlow diffusion policy ({results['imitation']['return_mean']:.1f}"
      f"{score(results['imitation']['return_mean'])}), of a PPO agent trained from scratch "
      f"on the recovered reward alone ({results['reward_rl']['eval_return_mean']:.1f}"
      f"{score(results['reward_rl']['eval_return_mean'])})"
      + (f", and of PPO with the same budget on control rewards ({control_text}; uniform "
         f"random actions {results['random']['return_mean']:.1f})" if controls else "")
      + "; and two reward-quality figures: the Spearman correlation of the learned return "
      "with the true return over episodes of graded quality (the expert with its actions "
      f"replaced by random ones with probability {about['noise_levels'][0]:g} to "
      f"{about['noise_levels'][-1]:g}): {reward['return_spearman']:.3f}; and how often the "
      "expert's action is rewarded above a random one at the expert's states: "
      f"{reward['expert_vs_random_preference']:.1%}. The published run "
      f"([results/quickstart/report.md](results/quickstart/report.md); {_made_by(results)}) "
      f"took {results['wall_s']:.0f} s on the 2-core CPU.")


def write_report(results: dict, workdir: str) -> str:
  """Writes WORKDIR/report.md and its plots; returns the report's path."""
  write_plots(results, workdir)
  path = os.path.join(workdir, "report.md")
  with open(path, "w") as f:
    f.write(markdown(results))
  return path


# The console lines README shows of the published run, by how they start (the first of each;
# `deterministic eval` twice: the expert's, then the reward-trained agent's).
CONSOLE_PICKS = ("== stage 1/9", "update 100/", "...", "demos:", "step    4000/", "imitation:",
                 "reward:", "deterministic eval#2", "report:")


def console_excerpt(console: dict) -> str:
  """README's excerpt of the published run's output (results/raw/quickstart/console.json)."""
  out = []
  for pick in CONSOLE_PICKS:
    if pick == "...":
      out.append("...")
      continue
    prefix, _, nth = pick.partition("#")
    found = [line for line in console["lines"] if line.startswith(prefix)]
    out.append(found[int(nth or 1) - 1])
  return "```\n" + "\n".join(out) + "\n```"
