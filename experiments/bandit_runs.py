"""What the bandit-family mains share: member files, provenance, raw JSON records.

Raw records (one JSON file per member and setting or candidate) carry what made them:
the command, the config, the git commit and the versions of jax and flax.
"""
import json
import os
import subprocess
import sys

from efjax.envs.bandit import family_member
from efjax.envs.bandit_files import DEMOS_FILE, GRID_FILE, load_grid, write_member
from experiments.claims import file_lock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


WORKDIR_FIELD = "{workdir}"


def place_outputs(family, workdir: str | None) -> None:
  """Fills `{workdir}` in the config's raw_dir and report paths (the smoke variant keeps
  its records and report under the workdir, away from the committed results); exits
  with one line when they need a workdir and none was given."""
  paths = {"raw_dir": family.raw_dir, "report.markdown": family.report.markdown,
           "report.plot": family.report.plot}
  if workdir is None and any(WORKDIR_FIELD in p for p in paths.values()):
    sys.exit(f"error: this config keeps its raw records and report under the workdir "
             f"(raw_dir={family.raw_dir!r}): pass --workdir=DIR")
  if workdir is not None:
    family.raw_dir = family.raw_dir.replace(WORKDIR_FIELD, workdir)
    family.report.markdown = family.report.markdown.replace(WORKDIR_FIELD, workdir)
    family.report.plot = family.report.plot.replace(WORKDIR_FIELD, workdir)


def reading_overrides(reading: str) -> dict:
  """'centered:0.1' or 'multi_noise:0.1,0.2,0.3' -> reward overrides (one reference
  action: the centering constant cancels in every bandit metric)."""
  kind, _, levels = reading.partition(":")
  values = tuple(float(x) for x in levels.split(","))
  if kind == "centered" and len(values) == 1:
    return dict(kind="centered", t=values[0], num_reference=1, reference="sampled")
  if kind == "multi_noise":
    return dict(kind="multi_noise", multi_noise_t=values, num_reference=1, reference="sampled")
  raise ValueError(f"reading {reading!r} is not 'centered:t' or 'multi_noise:t1,t2,...'")


def member_files(seed: int, directory: str, member_cfg) -> tuple[str, dict, object]:
  """(demos path, evaluation grid, task) of a family member, written once into directory
  (under a lock: processes sharing a workdir may ask for one member at once)."""
  task = family_member(seed)
  demos, grid = os.path.join(directory, DEMOS_FILE), os.path.join(directory, GRID_FILE)
  with file_lock(directory.rstrip(os.sep) + ".lock"):
    if not (os.path.exists(demos) and os.path.exists(grid)):
      write_member(task, directory, member_cfg.num_demos, member_cfg.episode_length,
                   member_cfg.num_states, member_cfg.num_actions,
                   member_cfg.get("action_horizon", 1))
  return demos, load_grid(grid), task


def provenance(command) -> dict:
  """Command, git commit (and whether the tree had changes), versions of jax and flax, and
  the CPU model (samples/s compare only between runs on the same one)."""
  import flax
  import jax

  from efjax.provenance import machine

  def git(*args):
    try:
      return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
      return None
  status = git("status", "--porcelain", "--untracked-files=no")
  return {"command": command if isinstance(command, str) else " ".join(command),
          "git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(status),
          "jax": jax.__version__, "flax": flax.__version__, "python": sys.version.split()[0],
          "cpu": machine()["cpu"]}


def write_json(path: str, record: dict) -> None:
  """Written whole or not at all (temporary file, then rename)."""
  os.makedirs(os.path.dirname(path), exist_ok=True)
  tmp = path + ".tmp"
  with open(tmp, "w") as f:
    json.dump(record, f, indent=1, sort_keys=True)
  os.replace(tmp, path)


def read_records(directory: str) -> list[dict]:
  """Every *.json under directory (recursively), sorted by path."""
  out = []
  for root, _, files in sorted(os.walk(directory)):
    for name in sorted(files):
      if name.endswith(".json"):
        with open(os.path.join(root, name)) as f:
          out.append(json.load(f))
  return out
