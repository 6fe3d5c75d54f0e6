"""The EnergyFlow story end to end: expert, demonstrations, energy, policy, reward, RL.

    python -m experiments.pipeline --config=experiments/configs/quickstart.py --workdir=DIR

Each stage keeps its outputs under DIR and is skipped when they exist, so
re-running the command after an interruption resumes (the PPO and EnergyFlow
stages also resume inside themselves). The final report is DIR/report.md with
PNG plots beside it; DIR/results.json holds every number in it.
"""
import json
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
from brax import envs as brax_envs
from absl import flags
from ml_collections import config_flags

from experiments import cli

import efjax
from efjax.data import DemoFileError, save_demos
from efjax.envs.brax_demos import rollout, to_demo_fields
from efjax.export import export_after_training
from efjax.rl import loop as rl_loop
from efjax.rl.checkpoint import load_agent
from efjax.rl.networks import make_policy_fn
from efjax.train.trainer import ConfigError
from efjax.train import trainer
from experiments import pipeline_report

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None, "Pipeline config file.",
                                          lock_config=True)
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Every stage writes under this directory.")

STAGES = ("expert", "demos", "energyflow", "imitation", "reward", "reward_rl", "report")


def _cached(path: str):
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return None


def _write_json(path: str, value) -> None:
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(value, f, indent=2)
  os.replace(tmp, path)        # a stage's result appears whole or not at all


def _raw_env(config):
  """The task's unwrapped brax env (rollout() batches it and cuts episodes itself)."""
  return brax_envs.get_environment(config.expert.env.name, backend=config.expert.env.backend)


def _expert_policy(workdir: str, deterministic: bool):
  """policy(obs [N, obs_dim], key) -> actions [N, act_dim] of the saved PPO expert."""
  agent, policy_config, meta = load_agent(os.path.join(workdir, "expert", "agent"))
  act = make_policy_fn(policy_config, meta["act_dim"])
  return lambda obs, key: act(agent, obs, key, deterministic)


def run_expert(config, workdir, log):
  summary = _cached(os.path.join(workdir, "expert", "summary.json"))
  return summary or rl_loop.train_and_evaluate(config.expert, os.path.join(workdir, "expert"), log)


def run_demos(config, workdir, log):
  path = os.path.join(workdir, "demos.npz")
  if os.path.exists(path):
    return _cached(os.path.join(workdir, "demos.json"))
  env_cfg, env = config.expert.env, _raw_env(config)
  policy = _expert_policy(workdir, config.demos.deterministic)
  fields = to_demo_fields(rollout(env, policy, jax.random.key(config.seed + 10),
                                  config.demos.num_episodes, env_cfg.episode_length))
  returns = fields.pop("episode_returns")
  save_demos(path + ".tmp.npz", **fields)
  os.replace(path + ".tmp.npz", path)
  summary = {"episodes": int(len(returns)), "steps": int(fields["episode_ends"][-1]),
             "return_mean": float(returns.mean()), "return_std": float(returns.std())}
  _write_json(os.path.join(workdir, "demos.json"), summary)
  log(f"demos: {summary['episodes']} episodes, {summary['steps']} steps, expert return "
      f"{summary['return_mean']:.1f} ± {summary['return_std']:.1f} -> {path}")
  return summary


def run_energyflow(config, workdir, log):
  ef = config.energyflow.copy_and_resolve_references()
  ef.data.path = os.path.join(workdir, "demos.npz")
  ef_dir = os.path.join(workdir, "energyflow")
  start = time.perf_counter()
  trainer.train_and_evaluate(ef, ef_dir, log)
  if not os.path.exists(os.path.join(ef_dir, "export", "metadata.json")):
    export_after_training(ef_dir, log)      # jax-only policy and reward for other agents
  records = [json.loads(line) for line in open(os.path.join(ef_dir, "metrics.jsonl"))]
  return {"final_loss": records[-1]["loss"], "steps": records[-1]["step"],
          "wall_s": round(time.perf_counter() - start, 1)}


def _load_model(workdir):
  return efjax.load(os.path.join(workdir, "energyflow"))


def run_imitation(config, workdir, log):
  path = os.path.join(workdir, "imitation.json")
  if (cached := _cached(path)) is not None:
    return cached
  model = _load_model(workdir)
  env_cfg, env = config.expert.env, _raw_env(config)
  policy = lambda obs, key: model.sample(obs, key)[:, 0]  # noqa: E731  chunk of 1 -> [N, act_dim]
  arrays = rollout(env, policy, jax.random.key(config.seed + 20), config.imitation.num_episodes,
                   env_cfg.episode_length)
  returns = (arrays["rewards"] * arrays["valid"]).sum(axis=1)
  summary = {"return_mean": float(returns.mean()), "return_std": float(returns.std()),
             "episodes": int(len(returns))}
  _write_json(path, summary)
  log(f"imitation: the diffusion policy's true return {summary['return_mean']:.1f} ± "
      f"{summary['return_std']:.1f} over {summary['episodes']} episodes")
  return summary


def _ranks(x):
  return np.argsort(np.argsort(x)).astype(np.float64)


def run_reward(config, workdir, log):
  """Reward quality without a known Q: does the learned reward rank behaviour as the task does?

  Rollouts of the expert whose action is replaced, with probability p, by a uniform
  random one (p over config.reward.noise_levels) give episodes of graded quality; the
  learned return (sum of the centered energy over the episode) is compared with the
  true return by Spearman correlation. At the expert's own states, the preference
  accuracy is how often the expert's action gets a higher reward than a random one.
  """
  path = os.path.join(workdir, "reward.json")
  if (cached := _cached(path)) is not None:
    return cached
  model = _load_model(workdir)
  reward = jax.jit(model.reward_fn())
  env_cfg, env = config.expert.env, _raw_env(config)
  expert = _expert_policy(workdir, deterministic=False)
  act_dim, episodes = model.act_dim, config.reward.episodes_per_level
  levels = np.repeat(np.asarray(config.reward.noise_levels, np.float32), episodes)   # [N]

  def policy(obs, key):       # every level in one batch of envs: one compiled rollout
    k_expert, k_mix, k_random = jax.random.split(key, 3)
    random = jax.random.uniform(k_random, (obs.shape[0], act_dim), minval=-1.0, maxval=1.0)
    use_random = jax.random.uniform(k_mix, (obs.shape[0],)) < levels
    return jnp.where(use_random[:, None], random, expert(obs, k_expert))

  arrays = rollout(env, policy, jax.random.key(config.seed + 30), len(levels),
                   env_cfg.episode_length)
  obs, actions, valid = arrays["observations"], arrays["actions"], arrays["valid"]
  flat = lambda x: x.reshape((-1,) + x.shape[2:])  # noqa: E731
  r = np.asarray(reward(model.params, flat(obs), flat(actions), flat(obs))).reshape(valid.shape)
  true_returns = (arrays["rewards"] * valid).sum(axis=1)
  learned_returns = (r * valid).sum(axis=1)
  expert_steps = flat(valid & (levels == 0.0)[:, None])       # states the expert reached
  states = flat(obs)[expert_steps]
  random = jax.random.uniform(jax.random.key(config.seed + 40), (states.shape[0], act_dim),
                              minval=-1.0, maxval=1.0)
  r_random = np.asarray(reward(model.params, states, random, states))
  pref = float(np.mean(r.reshape(-1)[expert_steps] > r_random)) if len(states) else None
  spearman = float(np.corrcoef(_ranks(true_returns), _ranks(learned_returns))[0, 1])
  summary = {"return_spearman": spearman, "expert_vs_random_preference": pref,
             "episodes": {"noise_level": levels.tolist(), "true_return": true_returns.tolist(),
                          "learned_return": learned_returns.tolist()}}
  _write_json(path, summary)
  log(f"reward: Spearman(learned return, true return) {spearman:.3f} over {len(levels)} "
      f"episodes; expert action preferred to a random one at {pref:.1%} of expert states")
  return summary


def run_reward_rl(config, workdir, log):
  summary = _cached(os.path.join(workdir, "reward_rl", "summary.json"))
  if summary is not None:
    return summary
  model = _load_model(workdir)
  return rl_loop.train_and_evaluate(config.reward_rl, os.path.join(workdir, "reward_rl"), log,
                                    reward_fn=model.reward_fn(), reward_params=model.params)


RUNNERS = {"expert": run_expert, "demos": run_demos, "energyflow": run_energyflow,
           "imitation": run_imitation, "reward": run_reward, "reward_rl": run_reward_rl,
           "report": lambda config, workdir, log: None}


def run_pipeline(config, workdir: str, log=print) -> dict:
  """Runs (or resumes) every stage; returns {stage: summary} and writes the report."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  results, start = {}, time.perf_counter()
  for i, stage in enumerate(STAGES):
    log(f"== stage {i + 1}/{len(STAGES)}: {stage}  (elapsed {time.perf_counter() - start:.0f}s)")
    t0 = time.perf_counter()
    results[stage] = RUNNERS[stage](config, workdir, log)
    log(f"   {stage} done in {time.perf_counter() - t0:.0f}s")
  results.pop("report")
  results["wall_s"] = round(time.perf_counter() - start, 1)
  _write_json(os.path.join(workdir, "results.json"), results)
  report = pipeline_report.write_report(config, workdir, results)
  log(f"report: {report}")
  return results


def main(argv):
  del argv
  cli.quiet_library_logs()
  try:
    run_pipeline(_CONFIG.value, _WORKDIR.value, log=lambda s: print(s, flush=True))
  except (DemoFileError, ConfigError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
