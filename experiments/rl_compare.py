"""PPO on each reward recovered from the same demonstrations, scored in true return.

    python -m experiments.rl_compare --config=experiments/configs/rl_compare.py:inverted_pendulum --workdir=DIR

Stages (each skipped when its outputs exist, so re-running resumes; PPO runs also
resume inside themselves): expert, demos, energyflow (experiments.pipeline's own
stage functions), bc, diffusion, random (the uniform-random policy's return, the
normalization's zero), heldout (held-out transitions for reward metrics), then
per method `DIR/rl/<method>/` (PPO over rl.num_seeds seeds, vmapped) and
`DIR/reward_quality/<method>.json`. `DIR/results.json` gathers every number;
`python -m experiments.rl_compare_report` turns the env workdirs into
results/rl_compare.md and its plots.
"""
import json
import os
import shutil
import subprocess
import sys
import time

import jax
import numpy as np
from absl import flags

from experiments import cli
from experiments import pipeline      # its stage functions, and its --config/--workdir flags

from efjax import bc
from efjax.data import DemoFileError
from efjax.envs.brax_envs import make_env
from efjax.rl import irl, seeds
from efjax.rl.learned_rewards import RewardMismatchError, load_reward
from efjax.rl.reward_eval import heldout_transitions, reward_metrics
from efjax.train import trainer
from efjax.train.trainer import ConfigError

ADVERSARIAL = ("airl", "gail")
_METHOD = flags.DEFINE_string("method", None, "Run only this method's PPO and reward metrics "
                              "(the stages before it must be done); used by the main run.")
# A method runs in a child process watched for progress: on the loaded 2-core CPU two
# runs hung for good inside XLA (every thread asleep); a stalled child is restarted and
# resumes from its last saved runner state.
STALL_S, MAX_RESTARTS = 1200, 3


def _cached(path):
  return pipeline._cached(path)


def run_expert(config, workdir, log):
  """The pipeline's expert stage, or a copy of an existing experiments.ppo workdir."""
  dst = os.path.join(workdir, "expert")
  if config.expert_dir and not os.path.exists(os.path.join(dst, "summary.json")):
    meta = json.load(open(os.path.join(config.expert_dir, "agent", "agent.json")))
    if meta.get("env") != dict(config.expert.env):
      raise ConfigError(f"expert_dir {config.expert_dir} holds an agent for {meta.get('env')}, "
                        f"this config's env is {dict(config.expert.env)}")
    shutil.copytree(os.path.join(config.expert_dir, "agent"), os.path.join(dst, "agent"),
                    dirs_exist_ok=True)
    shutil.copy(os.path.join(config.expert_dir, "summary.json"), dst)
    log(f"expert: reusing {config.expert_dir}")
  return pipeline.run_expert(config, workdir, log)


def _demo_cfg(sub, workdir):
  sub = sub.copy_and_resolve_references()
  sub.data.path = os.path.join(workdir, "demos.npz")
  return sub


def _train_once(train_fn, sub_config, workdir, name, log):
  """Trains WORKDIR/<name> on the demos unless its `done` marker exists."""
  path = os.path.join(workdir, name)
  if not os.path.exists(os.path.join(path, "done")):
    train_fn(_demo_cfg(sub_config, workdir), path, log)
    open(os.path.join(path, "done"), "w").close()
  return {"workdir": path}


def run_bc(config, workdir, log):
  return _train_once(bc.train_and_evaluate, config.bc, workdir, "bc", log)


def run_diffusion(config, workdir, log):
  return _train_once(trainer.train_and_evaluate, config.diffusion, workdir, "diffusion", log)


def run_random(config, workdir, log):
  """True return of uniform random actions (the 0 of the normalized score)."""
  path = os.path.join(workdir, "random.json")
  if (cached := _cached(path)) is not None:
    return cached
  env = pipeline._raw_env(config)
  act_dim = env.action_size
  policy = lambda obs, key: jax.random.uniform(key, (obs.shape[0], act_dim), minval=-1.0, maxval=1.0)  # noqa: E731
  from efjax.envs.brax_demos import rollout
  arrays = rollout(env, policy, jax.random.key(config.seed + 50), config.rl.eval_envs,
                   config.expert.env.episode_length)
  returns = (arrays["rewards"] * arrays["valid"]).sum(1)
  out = {"return_mean": float(returns.mean()), "return_std": float(returns.std())}
  pipeline._write_json(path, out)
  log(f"random policy: true return {out['return_mean']:.1f}")
  return out


def _heldout(config, workdir):
  path = os.path.join(workdir, "heldout.npz")
  if not os.path.exists(path):
    r = config.reward_eval
    data = heldout_transitions(pipeline._raw_env(config),
                               pipeline._expert_policy(workdir, deterministic=False),
                               jax.random.key(r.seed), tuple(r.noise_levels),
                               r.episodes_per_level, config.expert.env.episode_length,
                               r.num_candidates, r.stride)
    np.savez(path + ".tmp.npz", **data)
    os.replace(path + ".tmp.npz", path)
  with np.load(path, allow_pickle=False) as z:
    return {k: z[k] for k in z.files}


def _expert_transitions(workdir):
  with np.load(os.path.join(workdir, "demos.npz"), allow_pickle=False) as z:
    return irl.expert_transitions(z["observations"], z["actions"], z["episode_ends"])


def _rl_config(config):
  c = config.rl.copy_and_resolve_references()
  return c


def _reward_source(config, workdir, method, env):
  """kwargs of seeds.train_seeds for a method, and the reward-quality function maker."""
  if method == "true_reward":
    return {}, None
  if method in ADVERSARIAL:
    expert = _expert_transitions(workdir)
    make = irl.make_airl(config.irl, expert, config.irl.gamma) if method == "airl" else \
        irl.make_gail(config.irl, expert)
    return {"reward_learner": make}, None
  sub = {"bc_log_prob": "bc", "diffusion_elbo": "diffusion"}.get(method, "energyflow")
  # The EnergyFlow rewards are read with this config's reward settings (reference rule).
  fn, params = load_reward(method, os.path.join(workdir, sub), env, config.energyflow.reward)
  return {"reward_fn": fn, "reward_params": params}, (fn, params)


def run_method(config, workdir, method, log):
  env = make_env(**config.rl.env)
  kwargs, fixed = _reward_source(config, workdir, method, env)
  rl_dir = os.path.join(workdir, "rl", method)
  log(f"== {method}: PPO, {config.rl.num_seeds} seeds x {config.rl.ppo.total_steps:,} steps")
  summary = seeds.train_seeds(_rl_config(config), rl_dir, log, **kwargs)
  quality_path = os.path.join(workdir, "reward_quality", f"{method}.json")
  quality = _cached(quality_path)
  if quality is None and method != "true_reward":
    data = _heldout(config, workdir)
    if fixed is not None:
      fn, params = fixed
      jfn = jax.jit(fn)
      quality = reward_metrics(lambda o, a, n: jfn(params, o, a, n), data)
    else:    # the discriminator of every seed, metrics averaged over seeds
      reward = irl.recovered_reward(method, config.irl, _expert_transitions(workdir),
                                    config.irl.gamma)
      template = kwargs["reward_learner"].init(jax.random.key(0)).params
      stacked = seeds.load_reward_params(rl_dir, jax.tree.map(
          lambda x: np.zeros((config.rl.num_seeds,) + x.shape, x.dtype), template))
      per_seed = []
      for s in range(config.rl.num_seeds):
        p = jax.tree.map(lambda x: x[s], stacked)
        jfn = jax.jit(reward)
        per_seed.append(reward_metrics(lambda o, a, n: jfn(p, o, a, n), data))
      quality = {k: (None if any(q[k] is None for q in per_seed)
                     else float(np.mean([q[k] for q in per_seed]))) for k in per_seed[0]}
    os.makedirs(os.path.dirname(quality_path), exist_ok=True)
    pipeline._write_json(quality_path, quality)
    log(f"   reward quality: {quality}")
  log(f"   {method}: eval true return per seed "
      f"{np.round(summary['eval_return_per_seed'], 1).tolist()}, {summary['steps_per_s']} steps/s")
  return {"rl": summary, "reward_quality": quality}


def _last_progress(workdir: str, method: str) -> float:
  paths = [os.path.join(workdir, "rl", method, f) for f in ("metrics.jsonl", "summary.json")]
  paths.append(os.path.join(workdir, "reward_quality", f"{method}.json"))
  return max([os.path.getmtime(p) for p in paths if os.path.exists(p)], default=0.0)


def run_method_in_child(config, workdir: str, method: str, log) -> dict:
  """run_method in `python -m experiments.rl_compare --method=...`, restarted if it stalls."""
  done = lambda: _cached(os.path.join(workdir, "reward_quality", f"{method}.json")) or (  # noqa: E731
      method == "true_reward" and os.path.exists(os.path.join(workdir, "rl", method,
                                                              "summary.json")))
  cmd = [sys.executable, "-m", "experiments.rl_compare", f"--workdir={workdir}",
         f"--method={method}"] + [a for a in sys.argv[1:] if not a.startswith(("--workdir",
                                                                              "--method"))]
  for attempt in range(MAX_RESTARTS + 1):
    if done():
      break
    child, started = subprocess.Popen(cmd), time.time()
    while child.poll() is None:
      time.sleep(10)
      if time.time() - max(started, _last_progress(workdir, method)) > STALL_S:
        log(f"   {method}: no progress for {STALL_S}s, restarting (attempt {attempt + 1})")
        child.kill()
        child.wait()
    if child.returncode not in (0, None, -9):
      raise RuntimeError(f"{method}: child exited with {child.returncode}")
  return {"rl": _cached(os.path.join(workdir, "rl", method, "summary.json")),
          "reward_quality": _cached(os.path.join(workdir, "reward_quality", f"{method}.json"))}


def run_compare(config, workdir: str, log=print, isolate: bool = False) -> dict:
  """Every stage, then every method (isolate: each in a watched child process of this
  command line, as main does; in-process otherwise)."""
  os.makedirs(workdir, exist_ok=True)
  with open(os.path.join(workdir, "config.json"), "w") as f:
    f.write(config.to_json_best_effort(indent=2))
  results, start = {"env": config.env_name}, time.perf_counter()
  for stage, fn in (("expert", run_expert), ("demos", pipeline.run_demos),
                    ("energyflow", pipeline.run_energyflow), ("bc", run_bc),
                    ("diffusion", run_diffusion), ("random", run_random)):
    log(f"== stage {stage}  (elapsed {time.perf_counter() - start:.0f}s)")
    results[stage] = fn(config, workdir, log)
  results["methods"] = {}
  for method in config.methods:
    results["methods"][method] = (run_method_in_child if isolate else run_method)(
        config, workdir, method, log)
    pipeline._write_json(os.path.join(workdir, "results.json"), results)
  results["wall_s"] = round(time.perf_counter() - start, 1)
  pipeline._write_json(os.path.join(workdir, "results.json"), results)
  log(f"done: {os.path.join(workdir, 'results.json')}")
  return results


def main(argv):
  del argv
  cli.quiet_library_logs()
  log = lambda s: print(s, flush=True)  # noqa: E731
  try:
    if _METHOD.value:
      run_method(pipeline._CONFIG.value, pipeline._WORKDIR.value, _METHOD.value, log)
    else:
      run_compare(pipeline._CONFIG.value, pipeline._WORKDIR.value, log, isolate=True)
  except (DemoFileError, ConfigError, RewardMismatchError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
  cli.run(main)
