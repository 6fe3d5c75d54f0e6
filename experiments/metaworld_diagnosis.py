"""Diagnoses behind results/metaworld.md: why metaworld.py's `cpu` variant z-scores
observations and preconditions the energy, and how closely each method of the table fits
the assembly demos it fails or solves.

    python -m experiments.metaworld_diagnosis --workdir=/tmp/mw_diag [--record]

On the demos of drawer-open-v3 (the scripted expert's 100 episodes, WORKDIR/demos), three
EnergyFlow models of the `cpu` variant, seed 0, `num_steps` (10k) steps of 256 each, in
WORKDIR/<name>:

  raw_plain    raw observations, no preconditioning (the `cpu` variant before the change)
  zscore       z-scored observations, no preconditioning
  zscore_edm   z-scored observations and EDM preconditioning (the `cpu` variant as it is)

Each is scored by how far its sampled chunks land from the demonstrated actions (the
median and mean |sampled - demo| per action dimension over the executed steps of 512 demo
windows: `action_error`) and by its success over 20 in-range episodes.

Then, on the demos of assembly-v3, the seed-0 model of each method of the Meta-World table
(experiments/configs/metaworld_table.py: EnergyFlow, the non-conservative score network and
Gaussian BC at the `cpu` budget), in WORKDIR/assembly-v3/<method>, scored by the same action
error (BC by its mean).

Every model is what one `python -m experiments.train ...` (or train_bc) command makes
(recorded as `command`); a finished workdir is read, not trained again. With --record the
results go to results/raw/metaworld/diagnosis.json and results/metaworld.md's two tables
are rebuilt from it.
"""
import os
import shlex
import time

import numpy as np
from absl import app, flags

from efjax import provenance
from experiments import cli
from experiments.reports import build
from experiments.reports.metaworld import DIAGNOSIS

TASK = "drawer-open-v3"
ASSEMBLY_TASK = "assembly-v3"
NUM_STEPS = 10_000
EPISODES = 20
WINDOWS = 512
# (name, --config.* settings of metaworld.py:<task>,cpu besides the data path and budget)
MODELS = (("raw_plain", {"data.obs_normalizer": "identity", "model.preconditioning": "none"}),
          ("zscore", {"data.obs_normalizer": "zscore", "model.preconditioning": "none"}),
          ("zscore_edm", {}))

_WORKDIR = cli.workdir_flag("Demos and the models' workdirs go here.")
_RECORD = cli.shared_flag(flags.DEFINE_bool, "record", False,
                          "Write results/raw/metaworld/diagnosis.json and "
                          "rebuild results/metaworld.md's table.")


def action_error(workdir: str, demos_path: str, windows: int = WINDOWS, seed: int = 0) -> dict:
  """How far a model's sampled chunks land from the demos: for `windows` demo windows drawn
  with `seed`, |sampled - demo| over the chunk's executed steps (config.eval.action_steps).

  Returns {'median': [A], 'mean': [A]} per action dimension, and 'demo_mean_abs': [A], the
  demos' own mean |a| for scale.
  """
  import jax
  import efjax
  from efjax import bc, workdir as workdir_files
  from efjax.data import load_demos, window_indices
  demos = load_demos(demos_path)
  is_bc = workdir_files.method_of(workdir_files.read_config(workdir)) == bc.METHOD
  model = bc.load(workdir) if is_bc else efjax.load(workdir)
  obs_idx, act_idx = window_indices(demos.episode_ends, model.config.data.obs_horizon,
                                    model.config.data.action_horizon)
  pick = np.random.default_rng(seed).choice(len(obs_idx), min(windows, len(obs_idx)),
                                            replace=False)
  steps = model.config.eval.action_steps
  sampled = np.asarray(jax.jit(model.sample)(demos.observations[obs_idx[pick]],
                                             jax.random.key(seed)))
  err = np.abs(sampled - demos.actions[act_idx[pick]])[:, :steps]
  return {"median": np.median(err, (0, 1)).round(4).tolist(),
          "mean": err.mean((0, 1)).round(4).tolist(),
          "demo_mean_abs": np.abs(demos.actions).mean(0).round(4).tolist()}


def train_command(name: str, settings: dict) -> str:
  return shlex.join(["python", "-m", "experiments.train",
                     f"--config=experiments/configs/metaworld.py:{TASK},cpu",
                     "--config.data.path=WORKDIR/demos/demos.npz",
                     f"--config.train.num_steps={NUM_STEPS}", "--config.train.eval_every=0",
                     f"--config.train.checkpoint_every={NUM_STEPS}",
                     *(f"--config.{k}={v}" for k, v in settings.items()),
                     f"--workdir=WORKDIR/{name}"])


def fit_study(root: str, log=print) -> list[dict]:
  """The table's seed-0 models of ASSEMBLY_TASK, trained (or read) and scored."""
  from efjax.envs.metaworld_envs import collect_demos
  from efjax.train import trainer
  from experiments import metaworld_table
  from experiments.configs import metaworld, metaworld_table as table_configs
  table = table_configs.get_config()
  demos_dir = os.path.join(root, ASSEMBLY_TASK, "demos")
  collect_demos(metaworld.get_config(f"{ASSEMBLY_TASK},{table.variant}"), demos_dir,
                log=lambda s: None)
  demos_path = os.path.join(demos_dir, "demos.npz")
  out = []
  for method in table.methods:
    log(f"{ASSEMBLY_TASK} {method}")
    config, flags_ = metaworld_table.model_config(table, ASSEMBLY_TASK, method, 0, demos_path)
    workdir = os.path.join(root, ASSEMBLY_TASK, method)
    trainer.train_and_evaluate(config, workdir, log=lambda s: None,
                               method="bc" if method == "bc" else None)
    flags_ = [f.replace(demos_path, f"WORKDIR/{ASSEMBLY_TASK}/demos/demos.npz") for f in flags_]
    command = shlex.join(["python", "-m", f"experiments.{metaworld_table.METHOD_MAIN[method]}",
                          f"--config=experiments/configs/metaworld.py:{ASSEMBLY_TASK},"
                          f"{table.variant}", *(f"--config.{f}" for f in flags_),
                          f"--workdir=WORKDIR/{ASSEMBLY_TASK}/{method}"])
    out.append({"method": method, "command": command, "steps": config.train.num_steps,
                "action_error": action_error(workdir, demos_path)})
    log(f"{method}: mean abs error {out[-1]['action_error']['mean']}")
  return out


def run_all(root: str, log=print) -> list[dict]:
  """Demos, then each model trained (or read), scored and evaluated."""
  from efjax.envs.metaworld_envs import collect_demos
  from efjax.policy.suites import evaluate_metaworld
  from efjax.train import trainer
  from experiments.configs import metaworld
  from experiments.configs.common import with_overrides
  demos_dir = os.path.join(root, "demos")
  collect_demos(metaworld.get_config(f"{TASK},cpu"), demos_dir, log=lambda s: None)
  demos_path = os.path.join(demos_dir, "demos.npz")
  out = []
  for name, settings in MODELS:
    log(f"{name}: {settings or 'the cpu variant as it is'}")
    config = with_overrides(metaworld.get_config(f"{TASK},cpu"), {
        "data.path": demos_path, "train.num_steps": NUM_STEPS, "train.eval_every": 0,
        "train.checkpoint_every": NUM_STEPS, **settings})
    workdir = os.path.join(root, name)
    start = time.perf_counter()
    trainer.train_and_evaluate(config, workdir, log=lambda s: None)
    train_s = time.perf_counter() - start
    evaluation = evaluate_metaworld(config, workdir, EPISODES, video=False, log=lambda s: None)
    out.append({"name": name, "settings": settings, "command": train_command(name, settings),
                "train_s_this_call": round(train_s, 1),
                "action_error": action_error(workdir, demos_path),
                "eval": {k: evaluation[k] for k in ("successes", "failures", "errored")}})
    log(f"{name}: mean abs error {out[-1]['action_error']['mean']}, success "
        f"{evaluation['successes']}/{evaluation['successes'] + evaluation['failures']}")
  return out


def main(argv):
  del argv
  cli.quiet_library_logs()
  start = time.perf_counter()
  results = run_all(_WORKDIR.value, cli.progress)
  fit = fit_study(_WORKDIR.value, cli.progress)
  if _RECORD.value:
    header = provenance.result_header(
        "python -m experiments.metaworld_diagnosis --workdir=WORKDIR --record", start,
        {"task": TASK, "num_steps": NUM_STEPS, "episodes": EPISODES, "windows": WINDOWS,
         "models": [list(m) for m in MODELS]})
    build.record({DIAGNOSIS: {"models": results, "assembly_fit": fit, **header}})


if __name__ == "__main__":
  flags.mark_flag_as_required("workdir")
  app.run(cli.user_errors_as_one_line(main), flags_parser=cli.parse_flags_or_exit)
