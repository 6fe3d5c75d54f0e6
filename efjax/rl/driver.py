"""PPO on one reward for one or several seeds at once (jax.vmap): resumable, logged, evaluated.

    summary = train_seeds(config, workdir, log)                                 # true reward
    summary = train_seeds(config, workdir, log, reward_fn=..., reward_params=...)
    summary = train_seeds(config, workdir, log, reward_learner=make_airl(...))

config: env (make_env kwargs), ppo (make_ppo config), num_seeds (1 when absent), seed,
log_every, eval_envs. Seed i starts from jax.random.key(seed + i). The run is
`jax.vmap(PPO.run)` called `log_every` updates at a time; after each call the runner
states of all seeds go to WORKDIR/runner.npz and one line per update to
WORKDIR/metrics.jsonl (efjax.train.metrics; every metric a list over seeds), so
re-running on the workdir resumes. The run ends with a deterministic evaluation of
each seed's agent, the agents (WORKDIR/agent/, or agent/seed<k>/ for several seeds;
reload with efjax.rl.load_agent), the discriminators of a reward learner
(reward_params.npz), WORKDIR/learning_curve.png and WORKDIR/summary.json.
"""
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from efjax import protocols, provenance
from efjax.envs.brax_envs import make_env, make_raw_env
from efjax.policy.rollout import episode_returns, rollout
from efjax.rl.checkpoint import restore_runner, save_agent, save_runner
from efjax.rl.ppo import make_ppo
from efjax.train.metrics import MetricsWriter, truncate_metrics
from efjax.workdir import write_json

# PPO's per-update metrics -> their names in metrics.jsonl and TensorBoard.
METRIC_NAMES = {"true_return": "rl/true_return", "episodes": "rl/episodes",
                "reward": "rl/reward", "true_reward": "rl/true_reward",
                "absorbed_share": "rl/absorbed_share", "reward_live": "rl/reward_live",
                "reward_absorbed": "rl/reward_absorbed", "reward_entering": "rl/reward_entering",
                "nonfinite_rewards": "rl/nonfinite_rewards",
                "nonfinite_total": "rl/nonfinite_total",
                "policy_loss": "ppo/policy_loss", "value_loss": "ppo/value_loss",
                "entropy": "ppo/entropy", "approx_kl": "ppo/approx_kl",
                "clip_frac": "ppo/clip_frac"}


def _rows(m: dict, first_update: int, wall_s: float, steps_per_s) -> list[dict]:
  """One JSON-able dict per update; per-seed lists; NaN (no finished episode) -> null."""
  rows = []
  for i in range(m["env_steps"].shape[1]):
    row = {"step": first_update + i + 1, "env_steps": int(m["env_steps"][0, i]),
           "wall_s": round(wall_s, 2), "steps_per_s": steps_per_s}
    names = {**METRIC_NAMES, **{k: k for k in m if k.startswith("reward_learner/")}}
    for k, name in names.items():
      row[name] = [None if not math.isfinite(float(v)) else float(v) for v in m[k][:, i]]
    rows.append(row)
  return rows


def evaluate_agents(raw_env, act, agents, key, num_envs: int, episode_length: int):
  """Deterministic returns [S, num_envs] and episode lengths of each seed's agent (vmapped
  over the agents' leading axis; every seed sees the same starts)."""
  def one(agent):
    arrays = rollout(raw_env, lambda obs, k: act(agent, obs, k, True), key, num_envs,
                     episode_length)
    return episode_returns(arrays), arrays["valid"].sum(axis=1)
  return jax.jit(jax.vmap(one))(agents)


def seed_return(returns, episodes) -> float:
  """Mean true return over the episodes finished in a span of updates ([U] each)."""
  returns = np.asarray([np.nan if r is None else r for r in returns], float)
  n = float(np.sum(episodes))
  return float(np.nansum(returns * np.asarray(episodes)) / n) if n else float("nan")


def plot_curve(rows: list[dict], path: str, title: str) -> None:
  """True episode return over env steps, one line per seed."""
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  steps = np.array([r["env_steps"] for r in rows])
  returns = np.array([[np.nan if v is None else v for v in r["rl/true_return"]] for r in rows])
  fig, ax = plt.subplots(figsize=(6, 4))
  for s in range(returns.shape[1]):
    ok = np.isfinite(returns[:, s])
    ax.plot(steps[ok], returns[ok, s], lw=1, label=f"seed {s}" if returns.shape[1] > 1 else None)
  ax.set_xlabel("env steps")
  ax.set_ylabel("true episode return (finished episodes)")
  ax.set_title(title)
  ax.grid(alpha=0.3)
  if returns.shape[1] > 1:
    ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def train_seeds(config, workdir: str, log=print, reward_fn=None, reward_params=None,
                reward_learner=None, entry_reward_fn=None) -> dict:
  """Trains (or resumes) config.num_seeds PPO runs side by side; returns the summary.

  reward_fn(reward_params, obs, action, next_obs) -> [B] is the reward optimized (None:
  the env's true reward; reward_learner: a reward trained inside the loop); the true
  return is what is logged and evaluated. entry_reward_fn: what reward_fn pays on a step
  into a fixed-horizon env's absorbing state (efjax.rl.ppo.make_ppo). A finished workdir
  returns its summary.
  """
  summary_path = os.path.join(workdir, "summary.json")
  if os.path.exists(summary_path):
    with open(summary_path) as f:
      return json.load(f)
  os.makedirs(workdir, exist_ok=True)
  num_seeds = config.get("num_seeds", 1)
  env = make_env(**config.env)
  ppo = make_ppo(config.ppo, env, reward_fn, reward_learner, entry_reward_fn)
  run = jax.jit(jax.vmap(ppo.run, in_axes=(0, None, None)), static_argnums=2, donate_argnums=0)
  # One init per seed, stacked: jit(vmap(init)) with a reward learner never returned on
  # this CPU (jax 0.10.2, every XLA thread asleep), while the unbatched init runs.
  init = jax.jit(ppo.init)
  runner = jax.tree.map(lambda *x: jnp.stack(x),
                        *[init(jax.random.key(config.seed + i)) for i in range(num_seeds)])
  runner_path = os.path.join(workdir, "runner.npz")
  if os.path.exists(runner_path):
    runner = restore_runner(runner_path, runner)
    log(f"resuming {workdir} at update {int(runner.update[0])}/{ppo.num_updates}")
  # Committed to one device from the start, as the first call's outputs are: otherwise a
  # learned reward's (committed) parameters make the second call compile again.
  runner, reward_params = jax.device_put((runner, reward_params), jax.devices()[0])
  done = int(runner.update[0])
  rows = truncate_metrics(workdir, done)     # drop lines written after the saved state
  writer = MetricsWriter(workdir)
  prior_wall = rows[-1]["wall_s"] if rows else 0.0
  steps_per_call = num_seeds * ppo.steps_per_update
  t_start, t_timed, steps_timed, calls = time.time(), 0.0, 0, 0
  try:
    while done < ppo.num_updates:
      n = min(config.log_every, ppo.num_updates - done)
      t0 = time.time()
      runner, m = run(runner, reward_params, n)
      m = jax.device_get(m)
      dt = time.time() - t0
      # Compiling calls are not timed: the first, and a shorter last one (the second is
      # left out too, as before the runner was committed to its device: see above).
      if calls >= 2 and n == config.log_every:
        t_timed, steps_timed = t_timed + dt, steps_timed + n * steps_per_call
      calls += 1
      sps = round(steps_timed / t_timed, 1) if t_timed else None
      new = _rows(m, done, prior_wall + time.time() - t_start, sps)
      done += n
      for row in new:
        writer.write(row)
      rows += new
      save_runner(runner_path, runner)
      ended = m["episodes"] > 0                                   # [S, U]
      ret = [f"{np.mean(r[e]):.1f}" if e.any() else "-"         # "-": no episode ended
             for r, e in zip(m["true_return"], ended)]
      eta = (ppo.num_updates - done) * steps_per_call / sps if sps else None
      speed = (f"steps/s {sps:,.0f}  ETA {eta:5.0f}s" if sps else "(compiling call, untimed)")
      log(f"update {done}/{ppo.num_updates}  env steps {int(m['env_steps'][0, -1]):,}  "
          f"true return [{' '.join(ret)}]  {speed}  nonfinite rewards "
          f"{int(np.sum(m['nonfinite_total'][:, -1]))}")
  finally:
    writer.close()

  raw_env = make_raw_env(**config.env)
  returns, lengths = jax.device_get(evaluate_agents(
      raw_env, ppo.act, runner.agent, jax.random.key(config.seed + 1), config.eval_envs,
      config.env.episode_length))
  last = rows[-config.log_every:]
  summary = {"env": dict(config.env), "num_seeds": num_seeds,
             "env_steps_per_seed": done * ppo.steps_per_update,
             "wall_s": round(prior_wall + time.time() - t_start, 1),
             "steps_per_s": round(steps_timed / t_timed, 1) if t_timed else None,
             "eval_return_mean": float(returns.mean()), "eval_return_std": float(returns.std()),
             "eval_return_per_seed": returns.mean(1).tolist(),
             "eval_return_std_per_seed": returns.std(1).tolist(),
             "eval_episode_length_mean": float(lengths.mean()),
             "eval_episodes_per_seed": int(returns.shape[1]),
             "final_train_return_per_seed": [
                 seed_return([r["rl/true_return"][s] for r in last],
                             [r["rl/episodes"][s] for r in last]) for s in range(num_seeds)],
             "nonfinite_rewards": [int(x) for x in np.asarray(runner.nonfinite_total)],
             "protocol": protocols.protocol_id("brax/deterministic",
                                               {"eval_envs": config.eval_envs, "key_offset": 1}),
             "fingerprint": provenance.fingerprint(config)}
  for s in range(num_seeds):
    agent = jax.tree.map(lambda x: x[s], runner.agent)
    save_agent(os.path.join(workdir, "agent" if num_seeds == 1 else f"agent/seed{s}"), agent,
               config.ppo, env.observation_size, env.action_size,
               extra={"env": dict(config.env), "eval_return_mean": float(returns[s].mean())})
  if reward_learner is not None:    # the discriminators, for reward-quality metrics
    leaves = jax.tree.leaves(jax.device_get(runner.reward_state.params))
    np.savez(os.path.join(workdir, "reward_params.npz"),
             **{f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)})
  plot_curve(rows, os.path.join(workdir, "learning_curve.png"),
             f"PPO {config.env.name} ({config.env.backend})")
  write_json(summary_path, summary)
  log(f"deterministic eval over {returns.shape[1]} episodes per seed: return "
      f"{summary['eval_return_mean']:.1f} ± {summary['eval_return_std']:.1f}")
  return summary


def load_reward_params(workdir: str, template):
  """The saved discriminator params [S, ...] of a reward-learner run, in template's tree."""
  leaves, treedef = jax.tree.flatten(template)
  with np.load(os.path.join(workdir, "reward_params.npz"), allow_pickle=False) as z:
    return jax.tree.unflatten(treedef, [z[f"leaf_{i:05d}"] for i in range(len(leaves))])
