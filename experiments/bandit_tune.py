"""Tuning on the bandit family's tuning seeds: candidates x EMA horizons x reward readings.

    python -m experiments.bandit_tune --config=experiments/configs/bandit_family.py \
        --workdir=/work/bandit_runs/tune [--only=CANDIDATE,...]
    python -m experiments.bandit_tune --config=experiments/configs/bandit_family.py \
        --workdir=/work/bandit_runs/tune --study=demos80k

For each stage of `tune.stages`, each of its tuning seeds and candidates
(`tune.candidates`: demos.py plus `user_flags` plus the candidate's keys), trains once keeping one EMA per `tune.ema_horizons` (a fraction
of the run, efjax/train/ema_set.py) and scores every EMA's reward at every
`tune.readings` against the member's true Q. One JSON per (candidate, seed) under
RAW_DIR/tuning/<candidate>/seed<k>.json; finished ones are skipped, so the command
resumes. Only tuning seeds are accepted.

--study=NAME[,NAME...] runs studies of `tune.studies` instead: each its candidate on its
seeds with its member settings (for example more demos) and its own `flags` (for example
the backbone) changed, one JSON per seed under RAW_DIR/study/<name>/seed<k>.json, to be
paired with the stage run of the same candidate and seed or with the run of the study it
names in `paired_with`. Several studies run seed by seed (every study on a seed, then the
next), so a run cut short still compares them.

The same command started more than once on one WORKDIR (a process per core) splits the
runs: each is trained by the process that claims it (experiments.claims).
"""
import copy
import os
import shutil
import sys
import time

from absl import flags
from ml_collections import config_flags

from efjax.reward.bandit_scores import score_models
from efjax.envs.bandit import HELD_OUT_START
from efjax.train.config import steps_per_call
from efjax.train.ema_set import train_with_ema_set
from experiments import bandit_runs, claims, cli
from experiments.configs import demos as demos_config

PROGRESS_LINES = 24        # progress lines (step, loss, samples/s, ETA) per tuning run
_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None,
                          "experiments/configs/bandit_family.py[:smoke]")
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "Member files go here.")
_ONLY = cli.shared_flag(flags.DEFINE_list, "only", None,
                        "Run only these candidates (default: all).")
_STUDY = cli.shared_flag(flags.DEFINE_list, "study", None,
                         "Run these controlled studies of tune.studies instead of the stages.")


def overrides(family, name: str, extra=()) -> tuple:
  """The `key=value` overrides of demos.py a run of candidate `name` trains with: the
  family's user flags, the candidate's keys, then `extra` (a study's flags; the later value
  of a key wins)."""
  return tuple(family.user_flags) + tuple(family.tune.candidates[name]) + tuple(extra)


def candidate_config(family, name: str, demos_path: str, extra=()):
  config = demos_config.get_config()
  cli.apply_overrides(config, overrides(family, name, extra))
  config.data.path = demos_path
  return config


def _resume_dir(workdir: str, name: str, seed: int, extra=()) -> str:
  """Where a run of candidate `name` (plus `extra` overrides) on `seed` saves itself, so a
  run cut short (a session's end) goes on from there; removed once its record is written."""
  flags = "_".join(extra).replace("=", "-").replace("/", "-")
  return os.path.join(workdir, "resume", f"{name}_seed{seed}" + (f"_{flags}" if flags else ""))


def tune_one(family, name: str, seed: int, workdir: str, log=print, extra=()) -> dict:
  """Trains candidate `name` (plus `extra` overrides) on tuning member `seed` and scores
  it: the raw record."""
  if seed >= HELD_OUT_START:
    raise ValueError(f"seed {seed} is a held-out member; tuning uses seeds < {HELD_OUT_START}")
  demos, grid, task = bandit_runs.member_files(seed, os.path.join(workdir, "members",
                                                                  f"seed{seed}"), family.member)
  config = candidate_config(family, name, demos, extra)
  made_by = bandit_runs.provenance(sys.argv)          # the code as the run starts
  horizons = tuple(family.tune.ema_horizons)
  decays = [1.0 - 1.0 / max(1.0, h * config.train.num_steps) for h in horizons]
  start = time.perf_counter()
  total, per_call = config.train.num_steps, steps_per_call(config.train)
  every = max(per_call, total // PROGRESS_LINES)
  first = []                                     # (time, step) of the first compiled call

  def progress(step, loss):
    now = time.perf_counter()
    if not first:
      first.append((now, step))
    elif step % every < per_call or step == total:
      rate = (step - first[0][1]) / (now - first[0][0])
      log(f"  {name} seed {seed}: step {step}/{total} loss {loss:.4f} "
          f"{rate * config.train.batch_size:,.0f} samples/s ETA {(total - step) / rate:,.0f}s")
  trained = train_with_ema_set(config, decays, progress, resume_dir=_resume_dir(
      workdir, name, seed, extra))
  train_s = time.perf_counter() - start
  readings = {r: bandit_runs.reading_overrides(r) for r in family.tune.readings}
  scores = score_models({f"{h:g}": trained["models"][d] for h, d in zip(horizons, decays)},
                        grid, readings)
  return {"member": task.summary(), "num_demos": family.member.num_demos, "candidate": name,
          "overrides": list(overrides(family, name, extra)),
          "ema_horizons": list(horizons), "ema_decays": decays, "scores": scores,
          "samples_per_s": trained["samples_per_s"], "train_wall_s": train_s,
          "resumed_from_step": trained["resumed_from_step"],
          "score_wall_s": time.perf_counter() - start - train_s,
          "config": config.to_dict(), **made_by}


def _run_and_record(family, name: str, seed: int, workdir: str, path: str, flags=(),
                    **fields) -> None:
  """Trains, scores and records one run unless it is recorded, or another process sharing
  workdir holds it (experiments.claims: the same command started more than once splits
  the runs)."""
  owners = claims.Claims(os.path.join(workdir, "claims"))
  claim = os.path.relpath(path, family.raw_dir)[:-len(".json")]
  what = f"{name} on seed {seed}" + (f" with {', '.join(flags)}" if flags else "")
  with owners.to_run(claim, lambda: os.path.exists(path), what, cli.progress) as mine:
    if not mine:
      return
    print(f"tuning {what}", flush=True)
    record = {**tune_one(family, name, seed, workdir, log=cli.progress, extra=flags), **fields}
    bandit_runs.write_json(path, record)
  shutil.rmtree(_resume_dir(workdir, name, seed, flags), ignore_errors=True)
  top = max((s["support"]["pearson"], h, r) for h, per in record["scores"].items()
            for r, s in per.items())
  print(f"  done in {record['train_wall_s']:.0f}s, {record['samples_per_s']:.0f} samples/s; "
        f"best support Pearson {top[0]:.3f} (ema {top[1]}, {top[2]}); {path}", flush=True)


def run_study(family, names, workdir: str) -> None:
  """Runs studies `names` (one name or several) of family.tune.studies, seed by seed;
  finished runs are skipped."""
  names = [names] if isinstance(names, str) else list(names)
  studies = family.tune.get("studies") or {}
  unknown = [n for n in names if n not in studies]
  if unknown:
    cli.fail(f"unknown study {unknown[0]!r}; valid: {sorted(studies)}")
  runs = [(seed, name) for name in names for seed in studies[name].seeds]
  order = list(dict.fromkeys(seed for seed, _ in runs))
  for seed, name in sorted(runs, key=lambda r: (order.index(r[0]), names.index(r[1]))):
    study = studies[name]
    path = os.path.join(family.raw_dir, "study", name, f"seed{seed}.json")
    if os.path.exists(path):
      continue
    varied = copy.deepcopy(family)
    varied.member.update(dict(study.member))
    # members with the same member settings share their files
    member_dir = "members_" + "_".join(f"{k}{v}" for k, v in sorted(study.member.items()))
    _run_and_record(varied, study.candidate, seed, os.path.join(workdir, member_dir), path,
                    flags=tuple(study.get("flags", ())), study=name,
                    study_member=dict(study.member),
                    study_flags=list(study.get("flags", ())))


def main(argv):
  del argv
  cli.quiet_library_logs()
  family, workdir = _CONFIG.value, _WORKDIR.value
  bandit_runs.place_outputs(family, workdir)
  if _STUDY.value:
    if _ONLY.value:
      cli.fail("--only picks stage candidates; a study runs its own candidate: drop --only")
    run_study(family, _STUDY.value, workdir)
    return
  names = _ONLY.value or list(family.tune.candidates)
  unknown = [n for n in names if n not in family.tune.candidates]
  if unknown:
    cli.fail(f"unknown candidates {unknown}; valid: {sorted(family.tune.candidates)}")
  runs = [(seed, name) for stage in family.tune.stages for seed in stage["seeds"]
          for name in stage["candidates"] if name in names]     # seed rounds within a stage
  for seed, name in dict.fromkeys(runs):
    path = os.path.join(family.raw_dir, "tuning", name, f"seed{seed}.json")
    if not os.path.exists(path):
      _run_and_record(family, name, seed, workdir, path)


if __name__ == "__main__":
  cli.run(main)
