"""Stages the experiment mains are made of: each writes its result under WORKDIR and is
skipped when that result exists, so re-running a main resumes it.

    summary = run_stage(path, compute)        # compute() -> JSON-able dict, cached at path

The Brax stages (expert, demos, energyflow, bc / diffusion, random, imitation,
reward_ranking, heldout) take the config of experiments/configs/quickstart.py or
rl_compare.py: `expert` (an experiments/configs/ppo.py config), `demos`,
`energyflow` (a demos.py config), and write:

    WORKDIR/expert/          PPO on the true reward (efjax.rl.driver), its agent
    WORKDIR/demos.npz        expert rollouts (DESIGN demo layout), demos.json
    WORKDIR/energyflow/      the EnergyFlow workdir (+ export/)
    WORKDIR/<name>/          another method trained on the demos (bc, diffusion)
    WORKDIR/random.json, imitation.json, reward.json, heldout.npz
"""
import json
import os
import shutil
import time

import jax
import numpy as np
from brax import envs as brax_envs

import efjax
from efjax.data import save_demos
from efjax.envs.brax_demos import to_demo_fields
from efjax.errors import ConfigError
from efjax.export import export_after_training
from efjax.policy.rollout import episode_returns, graded_noise_policy, rollout_numpy
from efjax.reward.heldout import heldout_transitions
from efjax.reward.metrics import spearman
from efjax.rl.checkpoint import load_agent
from efjax.rl.driver import train_seeds
from efjax.rl.networks import make_policy_fn
from efjax.train import train_and_evaluate
from efjax.train.metrics import read_metrics
from efjax.workdir import write_json


def cached(path: str):
  """The JSON at path, or None."""
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return None


def run_stage(path: str, compute) -> dict:
  """compute()'s result, written to path (JSON); the file's content when it exists."""
  if (result := cached(path)) is not None:
    return result
  result = compute()
  write_json(path, result)
  return result


def raw_env(config):
  """The task's unwrapped brax env of config.expert.env (rollouts batch it themselves)."""
  return brax_envs.get_environment(config.expert.env.name, backend=config.expert.env.backend)


def expert_policy(workdir: str, deterministic: bool):
  """policy(obs [N, obs_dim], key) -> actions [N, act_dim] of the saved PPO expert."""
  agent, policy_config, meta = load_agent(os.path.join(workdir, "expert", "agent"))
  act = make_policy_fn(policy_config, meta["act_dim"])
  return lambda obs, key: act(agent, obs, key, deterministic)


def expert(config, workdir: str, log) -> dict:
  """PPO on the true reward (or a copy of config.expert_dir, an experiments.ppo workdir)."""
  dst = os.path.join(workdir, "expert")
  if config.get("expert_dir") and not os.path.exists(os.path.join(dst, "summary.json")):
    meta = json.load(open(os.path.join(config.expert_dir, "agent", "agent.json")))
    if meta.get("env") != dict(config.expert.env):
      raise ConfigError(f"expert_dir {config.expert_dir} holds an agent for {meta.get('env')}, "
                        f"this config's env is {dict(config.expert.env)}")
    shutil.copytree(os.path.join(config.expert_dir, "agent"), os.path.join(dst, "agent"),
                    dirs_exist_ok=True)
    shutil.copy(os.path.join(config.expert_dir, "summary.json"), dst)
    log(f"expert: reusing {config.expert_dir}")
  return train_seeds(config.expert, dst, log)


def demos(config, workdir: str, log) -> dict:
  """Expert rollouts -> WORKDIR/demos.npz; their summary in WORKDIR/demos.json."""
  path = os.path.join(workdir, "demos.npz")
  if os.path.exists(path):
    return cached(os.path.join(workdir, "demos.json"))
  policy = expert_policy(workdir, config.demos.deterministic)
  fields = to_demo_fields(rollout_numpy(raw_env(config), policy, jax.random.key(config.seed + 10),
                                        config.demos.num_episodes,
                                        config.expert.env.episode_length))
  returns = fields.pop("episode_returns")
  save_demos(path + ".tmp.npz", **fields)
  os.replace(path + ".tmp.npz", path)
  summary = {"episodes": int(len(returns)), "steps": int(fields["episode_ends"][-1]),
             "return_mean": float(returns.mean()), "return_std": float(returns.std())}
  write_json(os.path.join(workdir, "demos.json"), summary)
  log(f"demos: {summary['episodes']} episodes, {summary['steps']} steps, expert return "
      f"{summary['return_mean']:.1f} ± {summary['return_std']:.1f} -> {path}")
  return summary


def on_demos(sub_config, workdir: str):
  """A training config (demos.py layout) pointed at WORKDIR/demos.npz."""
  sub = sub_config.copy_and_resolve_references()
  sub.data.path = os.path.join(workdir, "demos.npz")
  return sub


def energyflow(config, workdir: str, log) -> dict:
  """The EnergyFlow energy trained on the demos, and its jax-only export."""
  ef_dir = os.path.join(workdir, "energyflow")
  start = time.perf_counter()
  train_and_evaluate(on_demos(config.energyflow, workdir), ef_dir, log)
  if not os.path.exists(os.path.join(ef_dir, "export", "metadata.json")):
    export_after_training(ef_dir, log)      # jax-only policy and reward for other agents
  last = read_metrics(ef_dir)[-1]
  return {"final_loss": last["loss"], "steps": last["step"],
          "wall_s": round(time.perf_counter() - start, 1)}


def train_once(sub_config, workdir: str, name: str, log, method: str | None = None) -> dict:
  """WORKDIR/<name> trained on the demos (config.method, or `method`) unless its `done`
  marker exists."""
  path = os.path.join(workdir, name)
  if not os.path.exists(os.path.join(path, "done")):
    train_and_evaluate(on_demos(sub_config, workdir), path, log, method=method)
    open(os.path.join(path, "done"), "w").close()
  return {"workdir": path}


def random_policy(config, workdir: str, log) -> dict:
  """True return of uniform random actions (the 0 of a normalized score)."""
  def compute():
    env = raw_env(config)
    policy = lambda obs, key: jax.random.uniform(  # noqa: E731
        key, (obs.shape[0], env.action_size), minval=-1.0, maxval=1.0)
    returns = episode_returns(rollout_numpy(env, policy, jax.random.key(config.seed + 50),
                                            config.rl.eval_envs, config.expert.env.episode_length))
    log(f"random policy: true return {returns.mean():.1f}")
    return {"return_mean": float(returns.mean()), "return_std": float(returns.std())}
  return run_stage(os.path.join(workdir, "random.json"), compute)


def imitation(config, workdir: str, log) -> dict:
  """The EnergyFlow diffusion policy's true return in the env."""
  def compute():
    model = efjax.load(os.path.join(workdir, "energyflow"))
    policy = lambda obs, key: model.sample(obs, key)[:, 0]  # noqa: E731  chunk of 1 -> [N, act_dim]
    returns = episode_returns(rollout_numpy(raw_env(config), policy,
                                            jax.random.key(config.seed + 20),
                                            config.imitation.num_episodes,
                                            config.expert.env.episode_length))
    summary = {"return_mean": float(returns.mean()), "return_std": float(returns.std()),
               "episodes": int(len(returns))}
    log(f"imitation: the diffusion policy's true return {summary['return_mean']:.1f} ± "
        f"{summary['return_std']:.1f} over {summary['episodes']} episodes")
    return summary
  return run_stage(os.path.join(workdir, "imitation.json"), compute)


def reward_ranking(config, workdir: str, log) -> dict:
  """Reward quality without a known Q: does the learned reward rank behaviour as the task does?

  Rollouts of the expert whose action is replaced, with probability p, by a uniform
  random one (p over config.reward.noise_levels) give episodes of graded quality; the
  learned return (sum of the centered energy over the episode) is compared with the
  true return by Spearman correlation. At the expert's own states, the preference
  accuracy is how often the expert's action gets a higher reward than a random one.
  """
  def compute():
    model = efjax.load(os.path.join(workdir, "energyflow"))
    reward = jax.jit(model.reward_fn())
    act_dim, episodes = model.act_dim, config.reward.episodes_per_level
    levels = np.repeat(np.asarray(config.reward.noise_levels, np.float32), episodes)   # [N]
    policy = graded_noise_policy(expert_policy(workdir, deterministic=False), levels, act_dim)
    arrays = rollout_numpy(raw_env(config), policy, jax.random.key(config.seed + 30),
                           len(levels), config.expert.env.episode_length)
    obs, valid = arrays["observations"], arrays["valid"]
    flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
    r = np.asarray(reward(model.params, flat(obs), flat(arrays["actions"]),
                          flat(arrays["next_observations"]))).reshape(valid.shape)
    true_returns = episode_returns(arrays)
    learned_returns = (r * valid).sum(axis=1)
    expert_steps = flat(valid & (levels == 0.0)[:, None])       # states the expert reached
    states = flat(obs)[expert_steps]
    random = jax.random.uniform(jax.random.key(config.seed + 40), (states.shape[0], act_dim),
                                minval=-1.0, maxval=1.0)
    r_random = np.asarray(reward(model.params, states, random, states))
    pref = float(np.mean(r.reshape(-1)[expert_steps] > r_random)) if len(states) else None
    rho = float(spearman(true_returns, learned_returns))
    log(f"reward: Spearman(learned return, true return) {rho:.3f} over {len(levels)} "
        f"episodes; expert action preferred to a random one at {pref:.1%} of expert states")
    return {"return_spearman": rho, "expert_vs_random_preference": pref,
            "episodes": {"noise_level": levels.tolist(), "true_return": true_returns.tolist(),
                         "learned_return": learned_returns.tolist()}}
  return run_stage(os.path.join(workdir, "reward.json"), compute)


def heldout(config, workdir: str) -> dict:
  """Held-out transitions of graded quality with candidate-action grids (WORKDIR/heldout.npz)."""
  path = os.path.join(workdir, "heldout.npz")
  if not os.path.exists(path):
    r = config.reward_eval
    data = heldout_transitions(raw_env(config), expert_policy(workdir, deterministic=False),
                               jax.random.key(r.seed), tuple(r.noise_levels),
                               r.episodes_per_level, config.expert.env.episode_length,
                               r.num_candidates, r.stride)
    np.savez(path + ".tmp.npz", **data)
    os.replace(path + ".tmp.npz", path)
  with np.load(path, allow_pickle=False) as z:
    return {k: z[k] for k in z.files}


def run_stages(stages, config, workdir: str, log, results: dict | None = None) -> dict:
  """Runs (or resumes) [(name, fn(config, workdir, log))] in order; {name: result}, filled
  in `results` (when given) as each stage ends, so a later stage can read the earlier."""
  results, start = ({} if results is None else results), time.perf_counter()
  for i, (name, fn) in enumerate(stages):
    log(f"== stage {i + 1}/{len(stages)}: {name}  (elapsed {time.perf_counter() - start:.0f}s)")
    t0 = time.perf_counter()
    results[name] = fn(config, workdir, log)
    log(f"   {name} done in {time.perf_counter() - t0:.0f}s")
  return results
