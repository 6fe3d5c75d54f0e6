"""PPO on each reward recovered from the same demonstrations, scored in true return.

    python -m experiments.rl_compare --config=experiments/configs/rl_compare.py:inverted_pendulum --workdir=DIR

Stages (experiments/stages.py; each skipped when its outputs exist, so re-running
resumes; PPO runs also resume inside themselves): expert, demos, energyflow, bc,
diffusion, random (the uniform-random policy's return, the normalization's zero),
then per method `DIR/rl/<method>/` (PPO over rl.num_seeds seeds, vmapped) and
`DIR/reward_quality/<method>.json` (on held-out transitions, DIR/heldout.npz).
`DIR/results.json` gathers every number; `python -m experiments.reports.rl_compare`
turns the env workdirs into results/rl_compare.md and its plots.
"""
import os
import subprocess
import sys
import time

import jax
import numpy as np
from absl import flags

from efjax.envs.brax_envs import make_env
from efjax.errors import ConfigError
from efjax.envs.brax_rewards import TRUE_REWARDS, true_reward
from efjax.reward.controls import CONTROLS, control_reward
from efjax.reward import adversarial
from efjax.reward.absorbing import uninformed_value
from efjax.reward.heldout import reward_metrics
from efjax.reward.learned import entry_reward, load_reward
from efjax.rl.driver import load_reward_params, train_seeds
from efjax.workdir import write_json
from experiments import cli, stages
from experiments.configs.common import with_overrides
from experiments.configs.rl_compare import TERMINATING

_CONFIG = cli.config_flag("experiments/configs/rl_compare.py:<env>")
_WORKDIR = cli.workdir_flag("Every stage writes here.")
_METHOD = flags.DEFINE_string("method", None, "Run only this method's PPO and reward metrics "
                              "(the stages before it must be done); used by the main run.")
# A method runs in a child process watched for progress: on the loaded 2-core CPU two
# runs hung for good inside XLA (every thread asleep); a stalled child is restarted and
# resumes from its last saved runner state.
STALL_S, MAX_RESTARTS = 1200, 3
ADVERSARIAL = ("airl", "gail")
# Reward checkpoints of the likelihood baselines: (workdir name, training method).
TRAINED = {"bc_log_prob": "bc", "diffusion_elbo": "diffusion"}
ABSORBING_RULES = ("uninformed", "read")
ABSORBING = "absorbing.json"   # in DIR/rl/<method>/: what its absorbed steps pay (or null)

STAGES = (("expert", stages.expert), ("demos", stages.demos),
          ("energyflow", stages.energyflow),
          ("bc", lambda c, w, log: stages.train_once(c, "bc", w, "bc", log, method="bc")),
          ("diffusion", lambda c, w, log: stages.train_once(c, "diffusion", w, "diffusion", log)),
          ("random", stages.random_policy))
MODEL_STAGES = ("energyflow", "bc", "diffusion")   # each trained only for a method that reads it


def needed(method: str, stage: str) -> bool:
  """Whether a method's reward reads the model a stage trains."""
  return {"energyflow": method.startswith("energyflow_"), "bc": method == "bc_log_prob",
          "diffusion": method == "diffusion_elbo"}[stage]


def stages_for(methods) -> tuple:
  """STAGES without the models no method in `methods` reads (the oracle and the controls
  need only the expert, its demos and the random policy)."""
  return tuple((name, fn) for name, fn in STAGES
               if name not in MODEL_STAGES or any(needed(m, name) for m in methods))


def _demo_observations(workdir) -> np.ndarray:
  with np.load(os.path.join(workdir, "demos.npz"), allow_pickle=False) as z:
    return z["observations"]


def _expert_transitions(workdir):
  with np.load(os.path.join(workdir, "demos.npz"), allow_pickle=False) as z:
    return adversarial.expert_transitions(z["observations"], z["actions"], z["episode_ends"])


def reward_source(config, workdir, method, env):
  """(kwargs of train_seeds for a method, the fixed reward (fn, params) or None)."""
  if method == "true_reward":
    return {}, None
  if method in CONTROLS:
    fn, params = control_reward(method, env.observation_size, env.action_size, config.seed)
    return {"reward_fn": fn, "reward_params": params}, (fn, params)
  if method in ADVERSARIAL:
    expert = _expert_transitions(workdir)
    learner = (adversarial.make_airl(config.irl, expert, config.irl.gamma) if method == "airl"
               else adversarial.make_gail(config.irl, expert))
    return {"reward_learner": learner}, None
  fn, params = load_reward(method, _trained_dir(workdir, method), env, _reading(config, method))
  return {"reward_fn": fn, "reward_params": params}, (fn, params)


def _trained_dir(workdir: str, method: str) -> str:
  return os.path.join(workdir, TRAINED.get(method, "energyflow"))


def _reading(config, method: str):
  """The EnergyFlow rewards are read with this config's reward settings (reference rule),
  the ELBO at config.elbo's noise levels."""
  return {"diffusion_elbo": config.get("elbo"), "bc_log_prob": None}.get(
      method, config.energyflow.reward)


def _epic_args(config) -> dict:
  """reward_metrics' true_fn and gamma for EPIC, on tasks whose true reward is a function of
  the transition (efjax.envs.brax_rewards; the pendulum's only when fixed-horizon)."""
  name = config.rl.env.name
  exact = name in TRUE_REWARDS and (name != "inverted_pendulum"
                                    or config.rl.env.get("fixed_horizon", False))
  return {"true_fn": true_reward(name) if exact else None, "gamma": config.rl.ppo.gamma}


def _adversarial_quality(config, workdir, method, learner, data) -> dict:
  """Reward metrics of every seed's final discriminator, averaged over the seeds."""
  reward = jax.jit(adversarial.recovered_reward(method, config.irl, _expert_transitions(workdir),
                                                config.irl.gamma))
  template = learner.init(jax.random.key(0)).params
  stacked = load_reward_params(os.path.join(workdir, "rl", method), jax.tree.map(
      lambda x: np.zeros((config.rl.num_seeds,) + x.shape, x.dtype), template))
  per_seed = []
  for s in range(config.rl.num_seeds):
    p = jax.tree.map(lambda x: x[s], stacked)
    per_seed.append(reward_metrics(lambda o, a, n: reward(p, o, a, n), data,
                                   **_epic_args(config)))
  return {k: (None if any(q[k] is None for q in per_seed)
              else float(np.mean([q[k] for q in per_seed]))) for k in per_seed[0]}


def method_rl_config(config, method: str):
  """config.rl, with AIRL's policy squash (irl.airl_squash) for AIRL: its reward holds
  log pi of the env action, which only a squash with a density keeps bounded
  (efjax.reward.adversarial's docstring)."""
  if method != "airl" or config.irl.airl_squash == config.rl.ppo.squash:
    return config.rl
  return with_overrides(config.rl, {"ppo.squash": config.irl.airl_squash})


def sets_absorbing(config, method: str) -> bool:
  """Whether a method's PPO sets what absorbed steps pay (config.absorbing 'uninformed'):
  on a fixed-horizon task that can end early, for a fixed reward (learned from the demos
  or a control) and unless rl.ppo.absorbing_reward sets a number. The adversarial rewards
  learn it (their discriminator sees the policy's absorbed steps); the true reward pays
  the env's 0."""
  rule = config.get("absorbing", "read")
  if rule not in ABSORBING_RULES:
    raise ConfigError(f"absorbing must be one of {ABSORBING_RULES}, got {rule!r}")
  return (rule == "uninformed" and method != "true_reward"
          and method not in ADVERSARIAL and config.rl.env.get("fixed_horizon", False)
          and config.rl.env.name in TERMINATING and config.rl.ppo.absorbing_reward is None)


def absorbing_value(config, workdir: str, method: str, fixed, env) -> float | None:
  """What every absorbed step of the method's reward pays (efjax.reward.absorbing
  .uninformed_value at the demos' states), or None where the reward reads the absorbing
  state as it is (sets_absorbing false)."""
  if not sets_absorbing(config, method):
    return None
  fn, params = fixed
  return uninformed_value(fn, params, _demo_observations(workdir), env.action_size,
                          seed=config.seed)


def method_key(config, workdir: str, method: str) -> dict:
  """What a method's PPO runs and reward metrics depend on (experiments.stages.made_by)."""
  sections = {"true_reward": (), "airl": ("irl",), "gail": ("irl",), "bc_log_prob": ("bc",),
              "diffusion_elbo": ("diffusion", "elbo"), **dict.fromkeys(CONTROLS, ("seed",))}.get(
                  method, ("energyflow",))
  return stages.made_by(config, ("rl", "absorbing") + sections,
                        (os.path.join(workdir, "demos.npz"),))


def quality_key(config, workdir: str, method: str) -> dict:
  return {**method_key(config, workdir, method),
          "heldout": stages.made_by(config, ("reward_eval", "rl.env"))}


def run_method(config, workdir, method, log):
  env = make_env(**config.rl.env)
  rl_dir = os.path.join(workdir, "rl", method)
  key = method_key(config, workdir, method)
  stages.claim_dir(rl_dir, key, log)
  kwargs, fixed = reward_source(config, workdir, method, env)
  rl_config = method_rl_config(config, method)
  absorbing = stages.run_stage(
      os.path.join(rl_dir, ABSORBING), lambda: {"absorbing_reward": absorbing_value(
          config, workdir, method, fixed, env)}, key, log)["absorbing_reward"]
  if absorbing is not None:
    log(f"   {method}: every absorbed step pays {absorbing:.4g} (the reward's mean over "
        "uniform actions at the demos' states)")
    rl_config = with_overrides(rl_config, {"ppo.absorbing_reward": absorbing})
    entry = entry_reward(method, _trained_dir(workdir, method), env, absorbing,
                         _demo_observations(workdir), config.seed, _reading(config, method))
    if entry is not None:
      log(f"   {method}: the step into the absorbing state reads V there as the demos' "
          "mean soft value, the V its absorbed steps' value read")
      kwargs["entry_reward_fn"] = entry
  log(f"== {method}: PPO, {config.rl.num_seeds} seeds x {config.rl.ppo.total_steps:,} steps")
  summary = train_seeds(rl_config, rl_dir, log, **kwargs)

  def quality():
    data = stages.heldout(config, workdir, log)
    if fixed is None:
      return _adversarial_quality(config, workdir, method, kwargs["reward_learner"], data)
    fn, params = fixed
    jfn = jax.jit(fn)
    return reward_metrics(lambda o, a, n: jfn(params, o, a, n), data, **_epic_args(config))

  result = None
  if method != "true_reward":
    os.makedirs(os.path.join(workdir, "reward_quality"), exist_ok=True)
    result = stages.run_stage(os.path.join(workdir, "reward_quality", f"{method}.json"), quality,
                              quality_key(config, workdir, method), log)
    log(f"   reward quality: {result}")
  log(f"   {method}: eval true return per seed "
      f"{np.round(summary['eval_return_per_seed'], 1).tolist()}, {summary['steps_per_s']} steps/s")
  return {"rl": summary, "reward_quality": result, "absorbing_reward": absorbing}


def _outputs(workdir: str, method: str) -> list[str]:
  return [os.path.join(workdir, "rl", method, "metrics.jsonl"),
          os.path.join(workdir, "rl", method, "summary.json"),
          os.path.join(workdir, "reward_quality", f"{method}.json")]


def run_method_in_child(config, workdir: str, method: str, log) -> dict:
  """run_method in `python -m experiments.rl_compare --method=...`, restarted if it stalls."""
  rl_summary, quality = _outputs(workdir, method)[1:]
  made = os.path.join(workdir, "rl", method, stages.MADE_BY)
  done = lambda: ((stages.cached(quality) or {}).get("made_by") == quality_key(  # noqa: E731
      config, workdir, method) or (method == "true_reward" and os.path.exists(rl_summary)
                                   and stages.cached(made) == method_key(config, workdir, method)))
  cmd = [sys.executable, "-m", "experiments.rl_compare", f"--workdir={workdir}",
         f"--method={method}"] + [a for a in sys.argv[1:] if not a.startswith(("--workdir",
                                                                              "--method"))]
  for attempt in range(MAX_RESTARTS + 1):
    if done():
      break
    child, started = subprocess.Popen(cmd), time.time()
    while child.poll() is None:
      time.sleep(10)
      progress = max([os.path.getmtime(p) for p in _outputs(workdir, method)
                      if os.path.exists(p)], default=0.0)
      if time.time() - max(started, progress) > STALL_S:
        log(f"   {method}: no progress for {STALL_S}s, restarting (attempt {attempt + 1})")
        child.kill()
        child.wait()
    if child.returncode not in (0, None, -9):
      raise RuntimeError(f"{method}: child exited with {child.returncode}")
  absorbing = stages.cached(os.path.join(workdir, "rl", method, ABSORBING)) or {}
  return {"rl": stages.cached(rl_summary), "reward_quality": stages.cached(quality),
          "absorbing_reward": absorbing.get("absorbing_reward")}


def run_compare(config, workdir: str, log=print, isolate: bool = False) -> dict:
  """Every stage, then every method (isolate: each in a watched child process of this
  command line, as main does; in-process otherwise)."""
  stages.check_workdir_config(config, workdir)
  start = time.perf_counter()
  results = {"env": config.env_name,
             **stages.run_stages(stages_for(config.methods), config, workdir, log),
             "methods": {}}
  for method in config.methods:
    results["methods"][method] = (run_method_in_child if isolate else run_method)(
        config, workdir, method, log)
    write_json(os.path.join(workdir, "results.json"), results)
  results["wall_s"] = round(time.perf_counter() - start, 1)
  write_json(os.path.join(workdir, "results.json"), results)
  log(f"done: {os.path.join(workdir, 'results.json')}")
  return results


_STALE = cli.stale_flag()


def main(argv):
  del argv
  cli.quiet_library_logs()
  stages.stale_policy = _STALE.value
  log = cli.progress
  if _METHOD.value:
    run_method(_CONFIG.value, _WORKDIR.value, _METHOD.value, log)
  else:
    run_compare(_CONFIG.value, _WORKDIR.value, log, isolate=True)


if __name__ == "__main__":
  cli.run(main)
