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


def _curve(workdir: str) -> dict:
  """{'env_steps', 'true_return'} of a one-seed PPO run's metrics (updates without a
  finished episode dropped)."""
  rows = [r for r in read_metrics(workdir) if r["rl/true_return"][0] is not None]
  return {"env_steps": [r["env_steps"] for r in rows],
          "true_return": [r["rl/true_return"][0] for r in rows]}


def report_inputs(config, workdir: str) -> dict:
  """The entries results.json carries for the report besides the stage summaries."""
  env = config.expert.env
  return {"env": env.name, "backend": env.backend,
          "noise_levels": list(config.reward.noise_levels),
          "curves": {stage: _curve(os.path.join(workdir, stage)) for stage, _ in CURVES}}


def write_plots(results: dict, out_dir: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  fig, ax = plt.subplots(figsize=(6, 4))
  for stage, label in CURVES:
    curve = results["about"]["curves"][stage]
    ax.plot(curve["env_steps"], curve["true_return"], label=label)
  ax.set_xlabel("env steps")
  ax.set_ylabel("true episode return")
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(out_dir, PLOTS[0]), dpi=100)
  plt.close(fig)

  fig, ax = plt.subplots(figsize=(6, 4))
  bars = {"expert (demos)": results["demos"]["return_mean"],
          "diffusion policy": results["imitation"]["return_mean"],
          "PPO on EnergyFlow reward": results["reward_rl"]["eval_return_mean"]}
  ax.bar(list(bars), list(bars.values()), color=["gray", "tab:blue", "tab:orange"])
  ax.set_ylabel("true return")
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
  about = results["about"]
  demos, imitation, reward = results["demos"], results["imitation"], results["reward"]
  expert, reward_rl = results["expert"], results["reward_rl"]
  lines = [
      f"# EnergyFlow pipeline: {about['env']} ({about['backend']} backend)", "",
      f"Made by `{about.get('command', 'python -m experiments.pipeline')}` "
      f"({_made_by(results)}). Wall time {results['wall_s']:.0f} s for the invocation that "
      "wrote it (stages already done are skipped on a resumed run).", "",
      "| policy | true return (mean ± std) | episodes |", "|---|---|---|",
      f"| expert (PPO, true reward; the demonstrations) | {demos['return_mean']:.1f} ± "
      f"{demos['return_std']:.1f} | {demos['episodes']} |",
      f"| EnergyFlow diffusion policy (PF-ODE sampler) | {imitation['return_mean']:.1f} ± "
      f"{imitation['return_std']:.1f} | {imitation['episodes']} |",
      f"| PPO from scratch on the EnergyFlow reward only | {reward_rl['eval_return_mean']:.1f} ± "
      f"{reward_rl['eval_return_std']:.1f} | {reward_rl['eval_episodes_per_seed']} |", "",
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
  return (
      f"`report.md` (with {', '.join(f'`{p}`' for p in PLOTS)}) tabulates the true return "
      f"of the expert ({results['demos']['return_mean']:.1f}), of the EnergyFlow diffusion "
      f"policy ({results['imitation']['return_mean']:.1f}), and of a PPO agent trained from "
      f"scratch on the recovered reward alone ({results['reward_rl']['eval_return_mean']:.1f}),"
      " and two reward-quality figures: the Spearman correlation of the learned return with "
      "the true return over episodes of graded quality (the expert with its actions replaced "
      f"by random ones with probability {about['noise_levels'][0]:g} to "
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
CONSOLE_PICKS = ("== stage 1/7", "update 100/", "...", "demos:", "step    4000/", "imitation:",
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
