"""The pipeline's report: WORKDIR/report.md and three PNG plots, from the stage results."""
import os

import numpy as np

from efjax.train.metrics import read_metrics


def _curve(workdir: str):
  """(env steps, true return) of a one-seed PPO run's metrics, updates without episodes
  dropped."""
  rows = [r for r in read_metrics(workdir) if r["rl/true_return"][0] is not None]
  return (np.array([r["env_steps"] for r in rows]),
          np.array([r["rl/true_return"][0] for r in rows]))


def _plots(workdir: str, results: dict) -> list[str]:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = []

  fig, ax = plt.subplots(figsize=(6, 4))
  for stage, label in (("expert", "PPO on the true reward (expert)"),
                       ("reward_rl", "PPO on the EnergyFlow reward")):
    steps, ret = _curve(os.path.join(workdir, stage))
    ax.plot(steps, ret, label=label)
  ax.set_xlabel("env steps")
  ax.set_ylabel("true episode return")
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "learning_curves.png"), dpi=100)
  plt.close(fig)
  names.append("learning_curves.png")

  fig, ax = plt.subplots(figsize=(6, 4))
  bars = {"expert (demos)": results["demos"]["return_mean"],
          "diffusion policy": results["imitation"]["return_mean"],
          "PPO on EnergyFlow reward": results["reward_rl"]["eval_return_mean"]}
  ax.bar(list(bars), list(bars.values()), color=["gray", "tab:blue", "tab:orange"])
  ax.set_ylabel("true return")
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "returns.png"), dpi=100)
  plt.close(fig)
  names.append("returns.png")

  episodes = results["reward"]["episodes"]
  fig, ax = plt.subplots(figsize=(5, 4))
  sc = ax.scatter(episodes["true_return"], episodes["learned_return"],
                  c=episodes["noise_level"], cmap="viridis")
  fig.colorbar(sc, label="probability of a random action")
  ax.set_xlabel("true return")
  ax.set_ylabel("learned return (sum of centered energy)")
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(workdir, "reward_vs_true.png"), dpi=100)
  plt.close(fig)
  names.append("reward_vs_true.png")
  return names


def write_report(config, workdir: str, results: dict) -> str:
  """Writes WORKDIR/report.md (and the plots); returns its path."""
  plots = _plots(workdir, results)
  demos, imitation, reward = results["demos"], results["imitation"], results["reward"]
  expert, reward_rl = results["expert"], results["reward_rl"]
  env = config.expert.env
  lines = [
      f"# EnergyFlow pipeline: {env.name} ({env.backend} backend)", "",
      f"Wall time {results['wall_s']:.0f} s for this invocation (stages already done are "
      "skipped on a resumed run).", "",
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
      f"replaced by random ones with probability {list(config.reward.noise_levels)}): "
      f"**{reward['return_spearman']:.3f}**",
      f"- expert action rewarded above a uniform random action at the expert's states: "
      f"**{reward['expert_vs_random_preference']:.1%}**", "",
      f"Expert PPO: {expert['env_steps_per_seed']:,} env steps in {expert['wall_s']:.0f} s; "
      f"EnergyFlow: {results['energyflow']['steps']} DSM steps (final loss "
      f"{results['energyflow']['final_loss']:.3f}); PPO on the learned reward: "
      f"{reward_rl['env_steps_per_seed']:,} env steps in {reward_rl['wall_s']:.0f} s.", "",
  ] + [f"![{name}]({name})" for name in plots] + [""]
  path = os.path.join(workdir, "report.md")
  with open(path, "w") as f:
    f.write("\n".join(lines))
  return path
