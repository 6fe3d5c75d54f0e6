"""Stages the experiment mains are made of: each writes its result under WORKDIR and is
skipped when that result exists, so re-running a main resumes it.

    summary = run_stage(path, compute, key, log)   # compute() -> JSON-able dict, cached at path
    claim_dir(path, key, log)                      # a stage that writes a directory

A cached result is reused only when it was made by the same `key` (made_by(): the hash of
the config sections the stage reads, the sha256 of its input files, and the hash of the
efjax and experiments sources). Otherwise it is recomputed (a stale directory is moved
aside to PATH.stale), or with `stale_policy = "report"` (the mains' --stale=report) kept
and reported as stale.

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
from efjax import provenance
from efjax.data import save_demos
from efjax.envs.brax_demos import to_demo_fields
from efjax.envs.brax_envs import make_raw_env
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


STALE_POLICIES = ("recompute", "report")
stale_policy = "recompute"      # the mains set it from --stale
MADE_BY = "made_by.json"
# Beside MADE_BY, written when a directory stage starts afresh and never compared: the git
# commit that made it, so a record that keeps older stages (--stale=report) can say which
# code made each one (experiments.rl_sweep).
MADE_AT = "made_at.json"


def cached(path: str):
  """The JSON at path, or None."""
  if os.path.exists(path):
    with open(path) as f:
      return json.load(f)
  return None


def made_by(config, sections=(), inputs=()) -> dict:
  """What a stage's result depends on: the config sections it reads (dotted names,
  hashed), its input files (sha256) and the code (efjax.provenance.source_hash)."""
  part = {name: _section(config, name) for name in sections}
  return {"config_hash": provenance.config_hash(part),
          "inputs": {os.path.basename(p): provenance.file_record(p)["sha256"] for p in inputs},
          "source_hash": provenance.source_hash()}


def _section(config, dotted: str):
  """config's value at a dotted name; None where the config has no such key (the quickstart
  has no expert_dir, for example)."""
  value = config
  for part in dotted.split("."):
    if part not in value:
      return None
    value = value[part]
  return value.to_dict() if hasattr(value, "to_dict") else value


def _stale(what: str, old, key: dict, log) -> bool:
  """True when `old` (a made_by record, or None) is not `key` and must be recomputed."""
  if old == key:
    return False
  why = ("made before results recorded what made them" if old is None else
         "made by other " + ", ".join(k.replace("_", " ") for k in key if old.get(k) != key[k]))
  if stale_policy == "report":
    log(f"stale (kept, --stale=report): {what} was {why}")
    return False
  log(f"recomputing {what}: it was {why}")
  return True


def run_stage(path: str, compute, key: dict, log=print) -> dict:
  """compute()'s result, written to path (JSON) with the key that made it; the file's
  content when it was made by the same key."""
  result = cached(path)
  if result is not None and not _stale(path, result.get("made_by"), key, log):
    return result
  result = {**compute(), "made_by": key}
  write_json(path, result)
  return result


def claim_dir(path: str, key: dict, log=print) -> None:
  """Makes path the directory of a stage made by `key`: one made by the same key is kept
  (its run resumes), another is moved aside to PATH.stale (or kept under 'report')."""
  if os.path.isdir(path) and os.listdir(path):
    if not _stale(path, cached(os.path.join(path, MADE_BY)), key, log):
      if not os.path.exists(os.path.join(path, MADE_BY)):
        write_json(os.path.join(path, MADE_BY), key)
      return
    shutil.rmtree(path + ".stale", ignore_errors=True)
    os.rename(path, path + ".stale")
  os.makedirs(path, exist_ok=True)
  write_json(os.path.join(path, MADE_BY), key)
  write_json(os.path.join(path, MADE_AT), provenance.code())


def made_at(path: str) -> str | None:
  """The commit that made a directory stage ('1a2b3c4d5e', '+ changes' when its tree had
  uncommitted ones), or None for one made before stages recorded it."""
  code = cached(os.path.join(path, MADE_AT))
  if not code or not code.get("commit"):
    return None
  return code["commit"][:10] + (" + changes" if code.get("dirty") else "")


def raw_env(config):
  """The task's unwrapped brax env of config.expert.env (rollouts batch it themselves)."""
  return brax_envs.get_environment(config.expert.env.name, backend=config.expert.env.backend)


def comparison_env(config):
  """The unwrapped env of config.rl.env, where rl_compare scores every reward (its
  fixed-horizon version of the expert's task)."""
  return make_raw_env(**config.rl.env)


def _agent(workdir: str) -> str:
  return os.path.join(workdir, "expert", "agent", "agent.npz")


def _demos(workdir: str) -> str:
  return os.path.join(workdir, "demos.npz")


def expert_policy(workdir: str, deterministic: bool):
  """policy(obs [N, obs_dim], key) -> actions [N, act_dim] of the saved PPO expert."""
  agent, policy_config, meta = load_agent(os.path.join(workdir, "expert", "agent"))
  act = make_policy_fn(policy_config, meta["act_dim"])
  return lambda obs, key: act(agent, obs, key, deterministic)


def expert(config, workdir: str, log) -> dict:
  """PPO on the true reward (or a copy of config.expert_dir, an experiments.ppo workdir)."""
  dst = os.path.join(workdir, "expert")
  claim_dir(dst, made_by(config, ("expert", "expert_dir")), log)
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
  path = _demos(workdir)
  key = made_by(config, ("seed", "demos", "expert.env"), (_agent(workdir),))

  def compute():
    policy = expert_policy(workdir, config.demos.deterministic)
    fields = to_demo_fields(rollout_numpy(raw_env(config), policy,
                                          jax.random.key(config.seed + 10),
                                          config.demos.num_episodes,
                                          config.expert.env.episode_length))
    returns = fields.pop("episode_returns")
    save_demos(path + ".tmp.npz", **fields)
    os.replace(path + ".tmp.npz", path)
    summary = {"episodes": int(len(returns)), "steps": int(fields["episode_ends"][-1]),
               "return_mean": float(returns.mean()), "return_std": float(returns.std()),
               "sha256": provenance.file_record(path)["sha256"]}
    log(f"demos: {summary['episodes']} episodes, {summary['steps']} steps, expert return "
        f"{summary['return_mean']:.1f} ± {summary['return_std']:.1f} -> {path}")
    return summary

  summary = run_stage(os.path.join(workdir, "demos.json"), compute, key, log)
  if not os.path.exists(path) or provenance.file_record(path)["sha256"] != summary.get("sha256"):
    os.remove(os.path.join(workdir, "demos.json"))    # the file is gone or changed: remake
    return demos(config, workdir, log)
  return summary


def on_demos(sub_config, workdir: str):
  """A training config (demos.py layout) pointed at WORKDIR/demos.npz."""
  sub = sub_config.copy_and_resolve_references()
  sub.data.path = _demos(workdir)
  return sub


def energyflow(config, workdir: str, log) -> dict:
  """The EnergyFlow energy trained on the demos, and its jax-only export."""
  ef_dir = os.path.join(workdir, "energyflow")
  claim_dir(ef_dir, made_by(config, ("energyflow",), (_demos(workdir),)), log)
  start = time.perf_counter()
  train_and_evaluate(on_demos(config.energyflow, workdir), ef_dir, log)
  if not os.path.exists(os.path.join(ef_dir, "export", "metadata.json")):
    export_after_training(ef_dir, log)      # jax-only policy and reward for other agents
  last = read_metrics(ef_dir)[-1]
  return {"final_loss": last["loss"], "steps": last["step"],
          "wall_s": round(time.perf_counter() - start, 1)}


def train_once(config, section: str, workdir: str, name: str, log,
               method: str | None = None) -> dict:
  """WORKDIR/<name> trained on the demos with config[section] (its method, or `method`)
  unless its `done` marker exists."""
  path = os.path.join(workdir, name)
  claim_dir(path, made_by(config, (section,), (_demos(workdir),)), log)
  if not os.path.exists(os.path.join(path, "done")):
    train_and_evaluate(on_demos(config[section], workdir), path, log, method=method)
    open(os.path.join(path, "done"), "w").close()
  return {"workdir": path}


def random_policy(config, workdir: str, log) -> dict:
  """True return of uniform random actions (the 0 of a normalized score)."""
  def compute():
    env = comparison_env(config)
    policy = lambda obs, key: jax.random.uniform(  # noqa: E731
        key, (obs.shape[0], env.action_size), minval=-1.0, maxval=1.0)
    returns = episode_returns(rollout_numpy(env, policy, jax.random.key(config.seed + 50),
                                            config.rl.eval_envs, config.rl.env.episode_length))
    log(f"random policy: true return {returns.mean():.1f}")
    return {"return_mean": float(returns.mean()), "return_std": float(returns.std())}
  return run_stage(os.path.join(workdir, "random.json"), compute,
                   made_by(config, ("seed", "rl.env", "rl.eval_envs")), log)


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
  return run_stage(os.path.join(workdir, "imitation.json"), compute,
                   made_by(config, ("seed", "imitation", "energyflow", "expert.env"),
                           (_demos(workdir),)), log)


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
  return run_stage(os.path.join(workdir, "reward.json"), compute,
                   made_by(config, ("seed", "reward", "energyflow", "expert.env"),
                           (_demos(workdir), _agent(workdir))), log)


def heldout(config, workdir: str, log=print) -> dict:
  """Held-out transitions of graded quality with candidate-action grids (WORKDIR/heldout.npz)."""
  path = os.path.join(workdir, "heldout.npz")
  key = made_by(config, ("reward_eval", "rl.env"), (_agent(workdir),))
  stamp = os.path.join(workdir, "heldout.json")
  if not os.path.exists(path) or _stale(path, (cached(stamp) or {}).get("made_by"), key, log):
    r = config.reward_eval
    data = heldout_transitions(comparison_env(config),
                               expert_policy(workdir, deterministic=False),
                               jax.random.key(r.seed), tuple(r.noise_levels),
                               r.episodes_per_level, config.rl.env.episode_length,
                               r.num_candidates, r.stride)
    np.savez(path + ".tmp.npz", **data)
    os.replace(path + ".tmp.npz", path)
    write_json(stamp, {"made_by": key})
  with np.load(path, allow_pickle=False) as z:
    return {k: z[k] for k in z.files}


def check_workdir_config(config, workdir: str) -> None:
  """Writes WORKDIR/config.json, or refuses (ConfigError naming the first differing key)
  when it holds another config: a workdir's results belong to one config."""
  path = os.path.join(workdir, "config.json")
  new = json.loads(config.to_json_best_effort())
  old = cached(path)
  if old is not None and old != new:
    fo, fn = provenance.flatten(old), provenance.flatten(new)
    key = sorted(k for k in set(fo) | set(fn) if fo.get(k) != fn.get(k))[0]
    raise ConfigError(f"{path} holds another config ({key} was {fo.get(key)!r}, now "
                      f"{fn.get(key)!r}): use a new workdir, or rerun with the same config")
  os.makedirs(workdir, exist_ok=True)
  write_json(path, new)


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
