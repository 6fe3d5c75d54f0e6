"""PPO on one reward for several seeds at once (jax.vmap), resumable, with a final eval.

    summary = train_seeds(config, workdir, log, reward_fn=..., reward_params=...)
    summary = train_seeds(config, workdir, log, reward_learner=make_airl(...))

config: env (make_env kwargs), ppo (make_ppo config), num_seeds, seed, log_every,
eval_envs. The run is `jax.vmap(PPO.run)` called `log_every` updates at a time;
after each call the runner states of all seeds go to WORKDIR/runner.npz and
one line per update to WORKDIR/metrics.jsonl (every metric a list over seeds), so
re-running on the workdir resumes. WORKDIR/summary.json ends the run: per-seed
deterministic eval returns, wall time and env steps/s (all seeds counted; the
compiling call left out).
"""
import json
import math
import os
import time

import jax
import numpy as np

from efjax.envs.brax_envs import make_env
from efjax.rl.checkpoint import restore_runner, save_runner
from efjax.rl.evaluate import evaluate
from efjax.rl.ppo import make_ppo

LOGGED = ("true_return", "episodes", "reward", "true_reward", "nonfinite_total")


def _rows(m: dict, first_update: int, wall_s: float) -> list[dict]:
  rows = []
  for i in range(m["env_steps"].shape[1]):
    row = {"step": first_update + i + 1, "env_steps": int(m["env_steps"][0, i]),
           "wall_s": round(wall_s, 2)}
    for k in LOGGED + tuple(k for k in m if k.startswith("reward_learner/")):
      row[k] = [None if not math.isfinite(float(v)) else float(v) for v in m[k][:, i]]
    rows.append(row)
  return rows


def read_rows(workdir: str) -> list[dict]:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def train_seeds(config, workdir: str, log=print, reward_fn=None, reward_params=None,
                reward_learner=None) -> dict:
  """Trains (or resumes) config.num_seeds PPO runs side by side; returns the summary."""
  summary_path = os.path.join(workdir, "summary.json")
  if os.path.exists(summary_path):
    with open(summary_path) as f:
      return json.load(f)
  os.makedirs(workdir, exist_ok=True)
  env = make_env(**config.env)
  ppo = make_ppo(config.ppo, env, reward_fn, reward_learner)
  run = jax.jit(jax.vmap(ppo.run, in_axes=(0, None, None)), static_argnums=2, donate_argnums=0)
  keys = jax.random.split(jax.random.key(config.seed), config.num_seeds)
  # One init per seed, stacked: jit(vmap(init)) with a reward learner never returned on
  # this CPU (jax 0.10.2, every XLA thread asleep), while the unbatched init runs.
  init = jax.jit(ppo.init)
  runner = jax.tree.map(lambda *x: jax.numpy.stack(x), *[init(k) for k in keys])
  runner_path = os.path.join(workdir, "runner.npz")
  if os.path.exists(runner_path):
    runner = restore_runner(runner_path, runner)
    log(f"resuming {workdir} at update {int(runner.update[0])}/{ppo.num_updates}")
  done = int(runner.update[0])
  rows = [r for r in read_rows(workdir) if r["step"] <= done]
  prior_wall = rows[-1]["wall_s"] if rows else 0.0
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  steps_per_call = config.num_seeds * ppo.steps_per_update
  t_start, t_timed, steps_timed, calls = time.time(), 0.0, 0, 0
  while done < ppo.num_updates:
    n = min(config.log_every, ppo.num_updates - done)
    t0 = time.time()
    runner, m = run(runner, reward_params, n)
    m = jax.device_get(m)
    dt = time.time() - t0
    # Compiling calls are not timed: the first, and with a fixed learned reward also the
    # second (its inputs then come from the first call, a second XLA compilation here).
    if calls >= 2 and n == config.log_every:
      t_timed, steps_timed = t_timed + dt, steps_timed + n * steps_per_call
    calls += 1
    new = _rows(m, done, prior_wall + time.time() - t_start)
    done += n
    with open(os.path.join(workdir, "metrics.jsonl"), "a") as f:
      f.writelines(json.dumps(r) + "\n" for r in new)
    rows += new
    save_runner(runner_path, runner)
    ended = m["episodes"] > 0                                   # [S, U]
    ret = [f"{np.mean(r[e]):.1f}" if e.any() else "-"         # "-": no episode ended
           for r, e in zip(m["true_return"], ended)]
    sps = f"{steps_timed / t_timed:,.0f} steps/s" if t_timed else "(untimed call)"
    log(f"  update {done}/{ppo.num_updates}  true return per seed [{' '.join(ret)}]  {sps}")

  agents = runner.agent
  eval_fn = jax.jit(jax.vmap(evaluate, in_axes=(None, None, 0, None, None, None, None)),
                    static_argnums=(0, 1, 4, 5, 6))
  returns, _ = eval_fn(env, ppo.act, agents, jax.random.key(config.seed + 1), config.eval_envs,
                       config.env.episode_length, True)
  returns = np.asarray(returns)                                     # [S, eval_envs]
  summary = {"env_steps_per_seed": done * ppo.steps_per_update, "num_seeds": config.num_seeds,
             "wall_s": round(prior_wall + time.time() - t_start, 1),
             "steps_per_s": round(steps_timed / t_timed, 1) if t_timed else None,
             "eval_return_per_seed": returns.mean(1).tolist(),
             "eval_return_std_per_seed": returns.std(1).tolist(),
             "nonfinite_rewards": [int(x) for x in np.asarray(runner.nonfinite_total)]}
  if reward_learner is not None:    # the discriminators, for reward-quality metrics
    leaves = jax.tree.leaves(jax.device_get(runner.reward_state.params))
    np.savez(os.path.join(workdir, "reward_params.npz"),
             **{f"leaf_{i:05d}": np.asarray(x) for i, x in enumerate(leaves)})
  tmp = summary_path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(summary, f, indent=2)
  os.replace(tmp, summary_path)
  return summary


def load_reward_params(workdir: str, template):
  """The saved discriminator params [S, ...] of a reward-learner run, in template's tree."""
  leaves, treedef = jax.tree.flatten(template)
  with np.load(os.path.join(workdir, "reward_params.npz"), allow_pickle=False) as z:
    return jax.tree.unflatten(treedef, [z[f"leaf_{i:05d}"] for i in range(len(leaves))])
