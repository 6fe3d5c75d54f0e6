"""A trained workdir's policy evaluated on a manipulation suite: Meta-World or robomimic.

    summary = evaluate_metaworld(config, workdir)    # -> WORKDIR/eval_<task>[_ood].json
    summary = evaluate_robomimic(config, workdir)    # -> WORKDIR/eval_<task>.json

Both load the workdir's model (efjax.load: an EnergyFlow or a BC policy, each with
.sample(obs, key)), check its sizes against the task, run the episodes with the
lockstep engine (efjax.policy.lockstep) and write the success rate with its Wilson
interval and what made it. experiments/evaluate.py is their command line.
"""
import dataclasses
import datetime
import json
import os
import sys
import time

import jax
import numpy as np

import efjax
from efjax import protocols, provenance, workdir as workdir_files
from efjax.errors import WorkdirError
from efjax.policy.lockstep import run_lockstep, summarize


def load_policy(config, workdir: str):
  """(model, policy) of a Meta-World workdir, its sizes checked against config.env.task."""
  from efjax.envs.metaworld_envs import TaskError, check_dims
  task = config.env.task
  return _load_policy(config, workdir, lambda obs_dim, act_dim, where: check_dims(
      task, obs_dim, act_dim, where), TaskError)


def _load_policy(config, workdir: str, check_dims, error):
  """(model, policy): policy(obs [B, Ho, obs_dim], key) -> np [B, Ha, act_dim], jitted once.

  `check_dims(obs_dim, act_dim, where)` raises for sizes the env cannot take; `error`
  is the exception class for the user's input (a missing or mismatched workdir).
  """
  task = config.env.task
  if os.path.exists(os.path.join(workdir, workdir_files.DATASET_FILE)):
    spec = workdir_files.read_dataset(workdir)   # refuse a wrong-sized model before loading it
    check_dims(spec["obs_dim"], spec["act_dim"], f"{workdir}: trained on {spec['path']}")
  # Any model with .sample(obs, key) and a params field evaluates: EnergyFlow or BC.
  try:
    model = efjax.load(workdir)
  except WorkdirError as e:
    raise error(str(e)) from None
  trained_on = model.config.get("env", {}).get("task")
  if trained_on is not None and trained_on != task:
    raise error(f"{workdir}: trained on {trained_on}, asked to evaluate on {task}")
  check_dims(model.obs_dim, model.act_dim, f"{workdir} (its demo file)")
  if not 1 <= config.eval.action_steps <= model.config.data.action_horizon:
    raise error(f"config eval.action_steps={config.eval.action_steps} must be in "
                f"[1, data.action_horizon={model.config.data.action_horizon}]")
  # Parameters are an argument, not constants baked into the compiled sampler.
  sample = jax.jit(lambda params, obs, key: dataclasses.replace(model, params=params)
                   .sample(obs, key))
  return model, lambda obs, key: np.asarray(sample(model.params, obs, key))


def write_gifs(results, directory: str, fps: int) -> list[str]:
  """One GIF per recorded episode; [] without imageio."""
  try:
    import imageio
  except ImportError:
    print("warning: --video needs imageio (pip install imageio); no GIFs written",
          file=sys.stderr)
    return []
  os.makedirs(directory, exist_ok=True)
  paths = []
  for r in results:
    if r.frames:
      path = os.path.join(directory, f"seed{r.seed}_{'success' if r.success else 'failure'}.gif")
      imageio.mimsave(path, r.frames, duration=1000 / fps, loop=0)
      paths.append(path)
  return paths


def evaluate_metaworld(config, workdir: str, episodes: int | None = None,
                       video: bool | None = None, make_env_fn=None, command: str | None = None,
                       log=print) -> dict:
  """Evaluates the model of a training `workdir` on config.env.task (config.eval);
  writes and returns WORKDIR/eval_<task>[_ood].json. `make_env_fn` replaces the env
  factory (tests); `command` is recorded with the result.
  """
  from efjax.envs.metaworld_envs import TaskError, expert_solvable_seeds, make_env
  e, ev = config.env, config.eval
  episodes = ev.num_episodes if episodes is None else episodes
  video = ev.video if video is None else video
  if episodes < 1 or ev.num_envs < 1:
    raise TaskError(f"episodes ({episodes}) and config eval.num_envs ({ev.num_envs}) "
                    "must be positive")
  model, policy = load_policy(config, workdir)
  ood_scale = e.ood_scale if e.ood else 1.0
  render = dict(render_mode="rgb_array", size=ev.video_size) if video else {}
  make_env_fn = make_env_fn or (lambda: make_env(e.task, e.max_path_length, ood_scale, **render))
  seeds, seed_filter = [ev.seed + i for i in range(episodes)], {}
  if e.ood and ev.ood_expert_solvable:
    seeds, seed_filter = expert_solvable_seeds(config, episodes, ood_scale)
    log(f"OOD starts the scripted expert solves: {episodes} of the first "
        f"{seed_filter['ood_seeds_tried']} seeds")
  record = seeds[:ev.video_episodes] if video else []
  log(f"{e.task}{' (OOD)' if e.ood else ''}: {episodes} episodes on {ev.num_envs} envs, "
      f"chunks of {model.config.data.action_horizon}, executing {ev.action_steps}")
  name = f"eval_{e.task}{'_ood' if e.ood else ''}"
  return _run_and_write(
      name, make_env_fn, policy, model, config, workdir, seeds, episodes, record, video,
      dict(task=e.task, ood=bool(e.ood), ood_scale=ood_scale, **seed_filter), command, log,
      "metaworld/ood" if e.ood else "metaworld/in_range")


def _run_and_write(name, make_env_fn, policy, model, config, workdir, seeds, episodes, record,
                   video, identity: dict, command, log, protocol: str) -> dict:
  """Runs the episodes, writes WORKDIR/<name>.json (and GIFs) and returns the summary.

  `identity`: what the result is of (task, ...), written first after the counts;
  `protocol`: the efjax.protocols suite it follows (its id and settings are recorded).
  """
  ev = config.eval
  start = time.perf_counter()
  results = run_lockstep(make_env_fn, policy, seeds, ev.num_envs, model.config.data.obs_horizon,
                     ev.action_steps, jax.random.key(ev.sampler_seed), record, log)
  summary = summarize(results)
  checkpoints = os.path.join(workdir, "checkpoints")
  steps = [int(d) for d in os.listdir(checkpoints) if d.isdigit()] if os.path.isdir(
      checkpoints) else []
  summary.update(
      **identity,
      workdir=os.path.abspath(workdir),
      newest_checkpoint=max(steps, default=None), wall_s=round(time.perf_counter() - start, 1),
      date=datetime.datetime.now().isoformat(timespec="seconds"),
      command=command,
      settings={"env": config.env.to_dict(), "eval": {**ev.to_dict(), "num_episodes": episodes},
                "sampler": model.config.sampler.to_dict(),
                "obs_horizon": model.config.data.obs_horizon,
                "action_horizon": model.config.data.action_horizon})
  settings = {**ev.to_dict(), **config.env.to_dict(), "num_episodes": episodes}
  summary["protocol"] = protocols.protocol_id(protocol, settings)
  summary["protocol_settings"] = {k: settings.get(k) for k in
                                  protocols.PROTOCOLS[protocol][1]["settings"]}
  trained = provenance.read_fingerprint(workdir)
  summary["fingerprint"] = provenance.fingerprint(config)
  summary["trained_with"] = None if trained is None else provenance.newest(trained)
  if video:
    summary["videos"] = write_gifs(results, os.path.join(workdir, name + "_videos"),
                                   ev.video_fps)
  with open(os.path.join(workdir, name + ".json"), "w") as f:
    json.dump(summary, f, indent=2)
  rate = summary["success_rate"]
  log(f"{name}: success {'n/a' if rate is None else f'{rate:.1%}'} "
      f"({summary['successes']}/{summary['successes'] + summary['failures']}), 95% CI "
      f"[{summary['ci95'][0]:.1%}, {summary['ci95'][1]:.1%}], {summary['errored']} errored, "
      f"{summary['wall_s']} s")
  return summary


def evaluate_robomimic(config, workdir: str, episodes: int | None = None,
                       video: bool | None = None, make_env_fn=None, command: str | None = None,
                       log=print) -> dict:
  """Evaluates the model of a training `workdir` on robomimic task config.env.task in
  robosuite; writes and returns WORKDIR/eval_<task>.json.

  The env is rebuilt from the env_args of the HDF5 file the model was trained on (its
  config's data.path; this config's when that file is gone), observations put together
  from the model's data.obs_keys (efjax/envs/robomimic_envs.py). Episodes run for at
  most eval.max_steps steps and end at the first success. `make_env_fn` replaces the
  env factory (tests); `command` is recorded with the result.
  """
  from efjax.data.robomimic import read_env_meta
  from efjax.envs.robomimic_envs import RobomimicError, import_robosuite, make_env
  e, ev = config.env, config.eval
  episodes = ev.num_episodes if episodes is None else episodes
  video = ev.get("video", False) if video is None else video
  if video:
    raise RobomimicError("--video: robomimic envs are built without an offscreen renderer "
                         "(no videos for robomimic)")
  if episodes < 1 or ev.num_envs < 1:
    raise RobomimicError(f"episodes ({episodes}) and config eval.num_envs ({ev.num_envs}) "
                         "must be positive")
  if make_env_fn is None:
    import_robosuite()                 # before minutes of loading: the install line
  obs_dim, act_dim = config.data.obs_dim, config.data.act_dim

  def check_dims(model_obs, model_act, where):
    if (model_obs, model_act) != (obs_dim, act_dim):
      raise RobomimicError(f"{where}: obs_dim={model_obs}, act_dim={model_act}, but robomimic "
                           f"task '{e.task}' has obs_dim={obs_dim}, act_dim={act_dim} "
                           f"(keys {', '.join(config.data.obs_keys)}): another task's model?")

  model, policy = _load_policy(config, workdir, check_dims, RobomimicError)
  obs_keys = list(model.config.data.get("obs_keys") or config.data.obs_keys)
  if make_env_fn is None:
    path = model.config.data.path
    path = path if os.path.exists(path) else config.data.path
    meta = read_env_meta(path, e.task)
    make_env_fn = lambda: make_env(meta, obs_keys, ev.max_steps)    # noqa: E731
  seeds = [ev.seed + i for i in range(episodes)]
  log(f"robomimic {e.task}: {episodes} episodes on {ev.num_envs} envs, at most "
      f"{ev.max_steps} steps, chunks of {model.config.data.action_horizon}, executing "
      f"{ev.action_steps}")
  return _run_and_write(f"eval_{e.task}", make_env_fn, policy, model, config, workdir, seeds,
                        episodes, [], False,
                        dict(task=e.task, suite="robomimic",
                             paper_success_rate=config.get("paper_success_rate")), command, log,
                        "robomimic")
