"""The held-out bandit family through the user's CLI, and the report from the raw JSON.

    python -m experiments.bandit_family --config=experiments/configs/bandit_family.py \
        --workdir=/work/bandit_runs/family [--rounds=2] [--settings=defaults] [--report]
    python -m experiments.bandit_family --config=experiments/configs/bandit_family.py --report

For each held-out round (`held_out_rounds`: fresh held-out seeds and the settings scored on
them; --rounds picks some by number), each of its seeds and settings (`settings`: name ->
the --config a user passes):
writes the member's demo file and evaluation grid (WORKDIR/members/seed<k>), trains with

    python -m experiments.train --config=<setting> --workdir=WORKDIR/<setting>/seed<k> \
        --config.data.path=<demos.npz> --config.<user_flags>...

in a subprocess (the exact command a user types; interrupted runs resume), reads the
reward with `efjax.load(W).reward(obs, actions)` on the grid and writes RAW_DIR/held_out/
<setting>/seed<k>.json (scores, wall time, samples/s, command, config, git commit,
versions). Finished members are skipped. Runs go in seed rounds (every setting on a
seed, then the next seed), so a run cut short still compares the settings. The same
command started more than once on one WORKDIR (a process per core) splits the members:
each is trained by the process that claims it (experiments.claims, WORKDIR/claims).

--report (alone, or after the runs) rewrites config.report.markdown and its PNG from the
raw JSON under RAW_DIR only (experiments/bandit_family_report.py); of processes sharing a
workdir, the one that finishes last writes it.
"""
import json
import os
import subprocess
import sys
import time

from absl import flags
from ml_collections import config_flags

from experiments import bandit_runs, claims, cli

_CONFIG = cli.shared_flag(config_flags.DEFINE_config_file, "config", None,
                          "experiments/configs/bandit_family.py[:smoke]")
_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None,
                           "Member files and training workdirs go here.")
_SETTINGS = flags.DEFINE_list("settings", [], "Run only these settings (default: all).")
_ROUNDS = flags.DEFINE_list("rounds", [], "Run only these held-out rounds, numbered from 1 "
                            "(default: all).")
_REPORT = cli.shared_flag(flags.DEFINE_bool, "report", False,
                          "Write the report from the raw JSON (after the runs, if --workdir).")


def train_command(family, setting: str, workdir: str, demos_path: str) -> list[str]:
  """The user's command line for one member."""
  return ([sys.executable, "-m", "experiments.train", f"--config={family.settings[setting]}",
           f"--workdir={workdir}", f"--config.data.path={demos_path}"]
          + [f"--config.{flag}" for flag in family.user_flags])


def _samples_per_s(workdir: str):
  """The last logged samples/s of a run (metrics.jsonl), None if never measured."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return None
  rates = [json.loads(line).get("samples_per_s") for line in open(path) if line.strip()]
  rates = [r for r in rates if r]
  return rates[-1] if rates else None


def run_member(family, setting: str, seed: int, workdir: str) -> dict:
  """Trains one held-out member through the CLI and scores it: the raw record."""
  import efjax
  from efjax.reward.bandit_scores import score_model

  demos, grid, task = bandit_runs.member_files(
      seed, os.path.join(workdir, "members", f"seed{seed}"), family.member)
  run_dir = os.path.join(workdir, setting, f"seed{seed}")
  os.makedirs(run_dir, exist_ok=True)
  command = train_command(family, setting, run_dir, demos)
  made_by = bandit_runs.provenance(sys.argv)          # the code as the run starts
  start = time.perf_counter()
  with open(os.path.join(run_dir, "train.log"), "a") as out:
    proc = subprocess.run(command, cwd=bandit_runs.ROOT, stdout=out, stderr=subprocess.STDOUT)
  train_s = time.perf_counter() - start
  if proc.returncode:
    raise RuntimeError(f"training failed (exit {proc.returncode}); see {run_dir}/train.log")
  model = efjax.load(run_dir)
  scores = score_model(model, grid)["default"]
  shown = ["python", *command[1:]]
  return {"member": task.summary(), "setting": setting, "scores": scores,
          "reward": {"kind": model.config.reward.kind, "t": model.config.reward.t},
          "train_wall_s": train_s, "samples_per_s": _samples_per_s(run_dir),
          "score_wall_s": time.perf_counter() - start - train_s,
          "config": model.config.to_dict(), "train_command": " ".join(shown),
          **made_by}


def _record_path(family, setting: str, seed: int) -> str:
  return os.path.join(family.raw_dir, "held_out", setting, f"seed{seed}.json")


def run_members(family, runs: list[tuple[int, str]], workdir: str, log=print) -> list:
  """Trains, scores and records each (seed, setting) of runs that has no raw record yet;
  one that another process sharing workdir holds is left to it. Returns the runs that
  still have no record at the end (those others were running)."""
  owners = claims.Claims(os.path.join(workdir, "claims"))
  recorded = [(seed, setting) for seed, setting in runs
              if os.path.exists(_record_path(family, setting, seed))]
  if recorded:
    log(f"{len(recorded)} of {len(runs)} runs already have a record in "
        f"{os.path.join(family.raw_dir, 'held_out')}: skipped (remove one to run it again)")
  for seed, setting in runs:
    path = _record_path(family, setting, seed)
    name = f"{setting}/seed{seed}"
    if os.path.exists(path):
      continue
    with owners.to_run(name, lambda: os.path.exists(path),
                       f"{setting} on held-out seed {seed}", log) as mine:
      if not mine:
        continue
      log(f"{setting} on held-out seed {seed}")
      record = run_member(family, setting, seed, workdir)
      bandit_runs.write_json(path, record)
    s = record["scores"]["support"]
    log(f"  Pearson {s['pearson']:.3f}  preference {s['preference_accuracy']:.3f}  "
        f"EPIC {s['epic']:.3f}  ({record['train_wall_s']:.0f}s)  {path}")
  return [(seed, setting) for seed, setting in runs
          if not os.path.exists(_record_path(family, setting, seed))]


def write_report_if_last(family, left: list, log=print) -> str | None:
  """Writes the report (returns its path) unless runs are `left` to other processes
  sharing the workdir: they all finish here, and the last one writes the whole report."""
  if left:
    log(f"report: left to the process that records the last of the {len(left)} runs "
        "others still hold")
    return None
  from experiments.bandit_family_report import write_report
  path = write_report(family)
  log(f"report: {path}")
  return path


def main(argv):
  del argv
  cli.quiet_library_logs()
  family, workdir = _CONFIG.value, _WORKDIR.value
  if workdir is None and not _REPORT.value:
    print("error: pass --workdir=DIR to run the members, or --report", file=sys.stderr)
    sys.exit(2)
  bandit_runs.place_outputs(family, workdir)
  settings = _SETTINGS.value or list(family.settings)
  unknown = [s for s in settings if s not in family.settings]
  if unknown:
    print(f"error: unknown settings {unknown}; valid: {sorted(family.settings)}",
          file=sys.stderr)
    sys.exit(2)
  rounds = list(family.held_out_rounds)
  valid = [str(i) for i in range(1, len(rounds) + 1)]
  if any(r not in valid for r in _ROUNDS.value):
    print(f"error: unknown rounds {_ROUNDS.value}; valid: {valid}", file=sys.stderr)
    sys.exit(2)
  runs = [(seed, setting) for i, r in enumerate(rounds, 1)
          if not _ROUNDS.value or str(i) in _ROUNDS.value
          for seed in r["seeds"] for setting in r["settings"] if setting in settings]
  left = run_members(family, runs, workdir, log=cli.progress) if workdir is not None else []
  if _REPORT.value:
    write_report_if_last(family, left, log=cli.progress)


if __name__ == "__main__":
  cli.run(main, required=("config",))
