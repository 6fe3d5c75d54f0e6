"""PPO on a brax env's true reward as an experiment: progress, metrics.jsonl, agent, curve.

`train_and_evaluate(config, workdir)` is what experiments/ppo.py calls. The run
is the jitted `PPO.run` called `log_every` updates at a time (one compilation),
the runner state saved after each call, so re-running on the workdir resumes.
"""
import json
import math
import os
import time

import jax
import numpy as np

from efjax.envs.brax_envs import make_env
from efjax.rl.checkpoint import restore_runner, save_agent, save_runner
from efjax.rl.evaluate import evaluate
from efjax.rl.ppo import make_ppo

METRIC_NAMES = {"true_return": "rl/return_true", "episodes": "rl/episodes",
                "reward": "rl/reward", "true_reward": "rl/reward_true",
                "nonfinite_rewards": "rl/nonfinite_rewards",
                "nonfinite_total": "rl/nonfinite_total",
                "first_nonfinite_update": "rl/first_nonfinite_update",
                "policy_loss": "loss/policy", "value_loss": "loss/value",
                "entropy": "loss/entropy", "approx_kl": "loss/approx_kl",
                "clip_frac": "loss/clip_frac"}


def episode_weighted_return(returns, episodes) -> float:
  """Mean true return over the episodes finished in a span of updates ([U] each)."""
  n = float(np.sum(episodes))
  return float(np.nansum(np.asarray(returns) * episodes) / n) if n else float("nan")


def metric_rows(m: dict, first_update: int, wall_s: float, steps_per_s: float) -> list[dict]:
  """One JSON-able dict per update; NaN (no finished episode) becomes null."""
  rows = []
  for i in range(len(m["env_steps"])):
    row = {"step": first_update + i + 1, "env_steps": int(m["env_steps"][i]),
           "wall_s": round(wall_s, 2), "steps_per_s": steps_per_s}
    for k, name in METRIC_NAMES.items():
      v = float(m[k][i])
      row[name] = v if math.isfinite(v) else None
    rows.append(row)
  return rows


def read_metrics(path: str, up_to_update: int | None = None) -> list[dict]:
  if not os.path.exists(path):
    return []
  with open(path) as f:
    rows = [json.loads(line) for line in f if line.strip()]
  return [r for r in rows if up_to_update is None or r["step"] <= up_to_update]


def plot_curve(rows: list[dict], path: str, title: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  steps = np.array([r["env_steps"] for r in rows])
  ret = np.array([np.nan if r["rl/return_true"] is None else r["rl/return_true"] for r in rows])
  ok = np.isfinite(ret)
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(steps[ok], ret[ok], lw=1)
  ax.set_xlabel("env steps")
  ax.set_ylabel("true episode return (finished episodes)")
  ax.set_title(title)
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def train_and_evaluate(config, workdir: str, log=print, reward_fn=None,
                       reward_params=None) -> dict:
  """Trains PPO on config.env; returns the summary written to summary.json.

  reward_fn(reward_params, obs, action, next_obs) -> [B] is the reward optimized
  (None: the env's true reward); the true return is what is logged and evaluated.
  """
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  env = make_env(**config.env)
  ppo = make_ppo(config.ppo, env, reward_fn)
  run = jax.jit(ppo.run, static_argnums=2, donate_argnums=0)
  runner = jax.jit(ppo.init)(jax.random.key(config.seed))
  runner_path = os.path.join(workdir, "runner.npz")
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  if os.path.exists(runner_path):
    runner = restore_runner(runner_path, runner)
    log(f"resuming {workdir} at update {int(runner.update)}/{ppo.num_updates}")
  done = int(runner.update)
  rows = read_metrics(metrics_path, done)       # drop lines written after the saved state
  prior_wall = rows[-1]["wall_s"] if rows else 0.0
  with open(metrics_path, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)

  t_start = time.time()
  steps_timed, t_timed = 0, 0.0
  while done < ppo.num_updates:
    n = min(config.log_every, ppo.num_updates - done)
    t0 = time.time()
    runner, m = run(runner, reward_params, n)
    m = jax.device_get(m)
    dt = time.time() - t0
    # The first call compiles, and so does a shorter last one: leave them out of the speed.
    if (done > 0 or rows) and n == config.log_every:
      steps_timed, t_timed = steps_timed + n * ppo.steps_per_update, t_timed + dt
    sps = steps_timed / t_timed if t_timed else float("nan")
    new_rows = metric_rows(m, done, prior_wall + time.time() - t_start,
                           round(sps, 1) if t_timed else None)
    done += n
    with open(metrics_path, "a") as f:
      f.writelines(json.dumps(r) + "\n" for r in new_rows)
    rows += new_rows
    save_runner(runner_path, runner)
    ret = episode_weighted_return(m["true_return"], m["episodes"])
    eta = (ppo.num_updates - done) * ppo.steps_per_update / sps if sps == sps else float("nan")
    speed = f"steps/s {sps:,.0f}  ETA {eta:5.0f}s" if t_timed else "(compiling call, untimed)"
    log(f"update {done}/{ppo.num_updates}  env steps {int(m['env_steps'][-1]):,}  "
        f"true return {ret:8.1f}  {speed}  nonfinite rewards {int(m['nonfinite_total'][-1])}")

  agent = runner.agent
  agent_dir = os.path.join(workdir, "agent")
  eval_fn = jax.jit(evaluate, static_argnums=(0, 1, 4, 5, 6))
  returns, lengths = eval_fn(env, ppo.act, agent, jax.random.key(config.seed + 1),
                             config.eval_envs, config.env.episode_length, True)
  summary = {"env": dict(config.env), "env_steps": done * ppo.steps_per_update,
             "wall_s": round(prior_wall + time.time() - t_start, 1),
             "train_steps_per_s": round(steps_timed / t_timed, 1) if t_timed else None,
             "final_train_return": episode_weighted_return(
                 [r["rl/return_true"] or np.nan for r in rows[-config.log_every:]],
                 [r["rl/episodes"] for r in rows[-config.log_every:]]),
             "eval_return_mean": float(np.mean(returns)), "eval_return_std": float(np.std(returns)),
             "eval_episode_length_mean": float(np.mean(lengths)),
             "eval_episodes": int(len(returns))}
  save_agent(agent_dir, agent, config.ppo, env.observation_size, env.action_size,
             extra={"env": dict(config.env), "eval_return_mean": summary["eval_return_mean"]})
  plot_curve(rows, os.path.join(workdir, "learning_curve.png"),
             f"PPO {config.env.name} ({config.env.backend}), true reward")
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
  log(f"deterministic eval over {len(returns)} episodes: return {summary['eval_return_mean']:.1f}"
      f" ± {summary['eval_return_std']:.1f}; agent in {agent_dir}")
  return summary
