"""Equal tuning, then the finals, of every reward in the RL comparison (experiments/configs/rl_sweep.py).

    python -m experiments.rl_sweep --config=experiments/configs/rl_sweep.py:reacher --workdir=DIR [--record]

DIR/base: the expert, its demos, the random policy and the held-out transitions
(experiments.rl_compare's shared stages), made once. DIR/sweep/<method>/<i>: one
configuration of one method on the tuning seeds; DIR/diagnose/<method>/<i>: the
config's diagnoses (runs that explain a result, outside the tuning budget, also on the
tuning seeds; DIR/diagnoses.json); DIR/final/<method>: each method's best
configuration (and the oracle and the controls) on the final seeds. Every run is an
rl_compare workdir whose shared stages point at DIR/base, so re-running resumes and
nothing is trained twice. DIR/sweep.json (what was tried, each run's per-seed
normalized returns, the pick) and DIR/finals.json are the run's own results; --record
gathers them, with what made them, into results/raw/rl_compare/<env>.json, from which
results/rl_compare.md is built (experiments/reports/rl_compare.py, `document`).

A sweep takes many hours on a CPU. With --record each finished run is also kept in
results/raw/rl_compare/in_progress/<env>/ (Progress: runs.json, and base/, the base's
files the runs depend on), a folder a session commits as it goes (results/rl_compare.md
shows its runs): a sweep whose workdir is lost restores its base from there and reruns
only what runs.json does not hold. The base is kept, not made again, because the
expert's PPO does not repeat bit for bit on another CPU: other demos would void every
kept run.

The same command started several times on one DIR (one process per core, or per node of
a cluster whose nodes share DIR) shares the work: each run is trained by the process that
claims it first (experiments.claims, DIR/claims), the others take its row when it ends.
The runs that need no pick come first (the sweep's, the finals of the oracle and the
controls), then the finals of the swept methods on their picks, then the diagnoses
(outside the budget: they change no pick, so the finals come before them). A killed
process's runs are taken over by the next process that reaches them (on its host at
once; from another host after half an hour without its heartbeat).
"""
import json
import os
import shlex
import shutil
import sys
import time
from typing import Any, Callable, NamedTuple

import numpy as np
from absl import flags

from efjax import provenance
from efjax.train.config import without_inert_keys
from efjax.workdir import write_json
from experiments import claims, cli, rl_compare, stages
from experiments.configs import rl_sweep as sweep_config
from experiments.configs.common import with_overrides
from experiments.reports import build
from experiments.reports import rl_compare as rl_report
from experiments.reports.rl_compare import normalized

SHARED = ("expert", "demos.npz", "demos.json", "random.json", "heldout.npz", "heldout.json")


PROGRESS_FOLDER = os.path.join(build.RAW, rl_report.RAW_FOLDER, rl_report.PROGRESS_FOLDER)
# The files of DIR/base the runs depend on (the rest are its logs), kept by Progress.
BASE_FILES = ("demos.npz", "demos.json", "random.json", "heldout.npz", "heldout.json",
              "expert/summary.json", "expert/made_by.json", "expert/made_at.json",
              "expert/agent/agent.json", "expert/agent/agent.npz")


def run_key(config) -> str:
  """A sweep run's key in Progress: the hash of its config without inert keys (a default
  changed under a key the run overrides, such as demos.py's train.ema_horizon under the
  sweep's train.ema, does not discard its finished runs) and without `methods`: a run
  trains one method, whichever others its sweep compares (a sweep started with
  `--config.compare.methods=...` reuses the runs of one started without)."""
  kept = {k: v for k, v in config.to_dict().items() if k != "methods"}
  return provenance.config_hash(without_inert_keys(kept))


class Progress:
  """The finished runs of one sweep, kept in a folder: runs.json ({name: row}, name as
  'sweep/airl/3') and base/ (BASE_FILES of the base they were trained on).

  A row is reused only for the same run config (`run_key`: sha256 of its JSON without the
  keys its other keys make inert) trained on the same base (sha256 of the base's
  demos.npz): a base made again that differs discards every row, saying so, and is kept in
  base/'s place with the first new row. folder None keeps nothing (the sweep then resumes
  from its workdir alone).
  """

  def __init__(self, folder: str | None, base: str, log=print, sweep_size: int | None = None):
    self.folder, self.rows, self._base_dir, self.sweep_size = folder, {}, base, sweep_size
    self.base = provenance.file_record(os.path.join(base, "demos.npz"))["sha256"]
    self._log, self._made = log, bool(folder) and os.path.isdir(folder)
    kept, self.rows = self._kept()
    if kept and kept.get("base") == self.base:
      log(f"   {len(self.rows)} finished runs kept in {self._runs_path()}")
    elif kept:
      log(f"   {self._runs_path()} was made on other demos (sha256 "
          f"{kept.get('base', '?')[:12]}, these {self.base[:12]}): its runs are not reused")

  def _runs_path(self) -> str:
    return os.path.join(self.folder, "runs.json")

  def _kept(self) -> tuple[dict | None, dict]:
    """runs.json as it stands (None: there is none) and its rows if made on this base."""
    kept = stages.cached(self._runs_path()) if self.folder else None
    return kept, (kept["runs"] if kept and kept.get("base") == self.base else {})

  def _read(self) -> None:
    """Adds the rows other processes of the sweep kept since."""
    self.rows = {**self._kept()[1], **self.rows}

  def get(self, name: str, config) -> dict | None:
    self._read()
    row = self.rows.get(name)
    return row["row"] if row and row["config"] == run_key(config) else None

  def put(self, name: str, config, row: dict) -> dict:
    """Keeps a finished run: runs.json gains its row, beside the rows other processes
    wrote (read, changed and written under a lock); the first row on a base keeps it.
    A folder that was there and is gone was gathered into the sweep's record by another
    process that finished it: it is not made again."""
    if self.folder and self._made and not os.path.isdir(self.folder):
      self._log(f"   {name}: not kept, {self.folder} was recorded and removed")
      return row
    if self.folder:
      self._made = True
      with claims.file_lock(os.path.join(self.folder, "runs.json.lock")):
        kept_demos = os.path.join(self.folder, "base", "demos.npz")
        if not (os.path.exists(kept_demos)
                and provenance.file_record(kept_demos)["sha256"] == self.base):
          shutil.rmtree(os.path.join(self.folder, "base"), ignore_errors=True)
          copy_base(self._base_dir, os.path.join(self.folder, "base"))
        self.rows = {**self.rows, **self._kept()[1], name: {"config": run_key(config), "row": row}}
        write_json(self._runs_path(), {"base": self.base, "sweep_size": self.sweep_size,
                                       "runs": self.rows})
    return row


def copy_base(src: str, dst: str) -> None:
  """Copies BASE_FILES from the base src to dst."""
  for name in BASE_FILES:
    os.makedirs(os.path.dirname(os.path.join(dst, name)), exist_ok=True)
    shutil.copy2(os.path.join(src, name), os.path.join(dst, name))


def restore_base(folder: str | None, base: str, log=print) -> None:
  """A lost workdir's base, from the one its Progress folder keeps (nothing when the base
  exists or none is kept)."""
  kept = os.path.join(folder, "base") if folder else None
  if (kept is None or os.path.exists(os.path.join(base, "demos.npz"))
      or not all(os.path.exists(os.path.join(kept, n)) for n in BASE_FILES)):
    return
  copy_base(kept, base)
  log(f"   base restored from {kept} (the expert, its demos, the random policy's return and "
      "the held-out transitions the kept runs were trained and scored on)")


def _link_shared(base: str, workdir: str) -> None:
  os.makedirs(workdir, exist_ok=True)
  for name in SHARED:
    src, dst = os.path.join(base, name), os.path.join(workdir, name)
    if os.path.exists(src) and not os.path.lexists(dst):
      os.symlink(os.path.abspath(src), dst)


def _run(config, base: str, workdir: str, method: str, log) -> dict:
  """One method of an rl_compare config in workdir, the shared stages from base."""
  _link_shared(base, workdir)
  config = with_overrides(config, {"methods": (method,)})
  stages.check_workdir_config(config, workdir)
  for _, fn in rl_compare.stages_for((method,)):
    fn(config, workdir, log)
  return rl_compare.run_method(config, workdir, method, log)


def _score(result: dict, base_results: dict) -> list[float]:
  return normalized(result["rl"]["eval_return_per_seed"], base_results["random"]["return_mean"],
                    base_results["demos"]["return_mean"]).tolist()


def _entropy_path(rl_dir: str) -> dict:
  """The PPO policy's Gaussian entropy (of u, before the squash) at the first and the last
  logged update, mean over seeds: {'first', 'last'}."""
  rows = [json.loads(line) for line in open(os.path.join(rl_dir, "metrics.jsonl"))]
  rows = [r for r in rows if "ppo/entropy" in r]
  return {"first": float(np.mean(rows[0]["ppo/entropy"])),
          "last": float(np.mean(rows[-1]["ppo/entropy"]))}


def _where_reward_pays(rl_dir: str) -> dict | None:
  """At the last logged update, mean over seeds: the share of absorbed steps and the
  optimized reward per live step, per absorbed step and per step into the absorbing state
  ({'absorbed_share', 'live', 'absorbed', 'entering'}; None for runs logged before PPO
  recorded them, or a value None where there was none or it was not logged)."""
  rows = [json.loads(line) for line in open(os.path.join(rl_dir, "metrics.jsonl"))]
  rows = [r for r in rows if "rl/absorbed_share" in r]
  if not rows:
    return None
  mean = lambda v: (None if any(x is None for x in v) else float(np.mean(v)))  # noqa: E731
  last = rows[-1]
  return {"absorbed_share": mean(last["rl/absorbed_share"]), "live": mean(last["rl/reward_live"]),
          "absorbed": mean(last["rl/reward_absorbed"]),
          "entering": mean(last.get("rl/reward_entering", [None]))}


def _made_at(run_dir: str, method: str) -> str | None:
  """The commit that made a run's PPO (experiments.stages.made_at)."""
  return stages.made_at(os.path.join(run_dir, "rl", method))


class Job(NamedTuple):
  """One run of a sweep: its name ('sweep/airl/3', also its folder in the workdir), its
  rl_compare config, the method it trains, row(result, run_dir), its row, what it tries,
  in words (for the log), and the folder it trains in (None: its name; a diagnosis that
  changes nothing reads the sweep run it repeats)."""
  name: str
  config: Any
  method: str
  row: Callable[[dict, str], dict]
  about: str = ""
  folder: str | None = None


def _eta(done: list[dict], total: int, workers: int) -> str:
  """A progress line: how many of total runs are done and, from the mean PPO wall time the
  done rows recorded (a resumed run's earlier parts included), the time left when
  `workers` processes share the runs left (rough: methods differ in cost)."""
  line = f"   {len(done)}/{total} runs done"
  walls = [w for w in (r.get("wall_s") or (r.get("rl") or {}).get("wall_s") for r in done) if w]
  if walls and len(done) < total:
    left = (total - len(done)) * float(np.mean(walls)) / workers
    line += (f"; ETA {left / 3600:.1f} h ({np.mean(walls) / 60:.0f} min a run, "
             f"{workers} process{'es' if workers > 1 else ''})")
  return line


def run_jobs(jobs: list[Job], progress: Progress, base: str, workdir: str, log,
             poll_s: float = 30.0) -> list[dict]:
  """The rows of jobs, in their order. Several processes may run this on one workdir (the
  same command started more than once, on one host or on several sharing the workdir):
  each runs the jobs whose claim it gets (experiments.claims, in WORKDIR/claims), takes
  the others' rows from progress (or from their finished run folders, which resume at
  once) and waits, polling every poll_s seconds, for the jobs other processes hold."""
  owners = claims.Claims(os.path.join(workdir, "claims"))
  rows, waited = {}, None
  while len(rows) < len(jobs):
    elsewhere = []
    for job in jobs:
      if job.name in rows:
        continue
      kept = progress.get(job.name, job.config)
      if kept is not None:
        log(f"   {job.name}: kept from {progress.folder}")
        rows[job.name] = kept
        continue
      folder = job.folder or job.name               # claimed: two jobs may share one
      with owners.held(folder) as mine:
        if not mine:
          elsewhere.append(job.name)
          continue
        log(f"== {job.name}: {job.about}")
        owners.note_unpinned(log)
        run_dir = os.path.join(workdir, folder)
        result = _run(job.config, base, run_dir, job.method, log)
        rows[job.name] = progress.put(job.name, job.config, job.row(result, run_dir))
      log(_eta(list(rows.values()), len(jobs), owners.workers()))
    if elsewhere:
      if elsewhere != waited:
        folders = {job.name: job.folder or job.name for job in jobs}
        log("   waiting for runs other processes hold: " + ", ".join(
            f"{name} ({owners.holder_text(folders[name])})" for name in elsewhere))
        waited = elsewhere
      time.sleep(poll_s)
  return [rows[job.name] for job in jobs]


def run_sweep(config, workdir: str, log=print, progress_dir: str | None = None,
              poll_s: float = 30.0) -> dict:
  """The sweep, the diagnoses and the finals (module doc); progress_dir: the Progress
  folder (None: the workdir alone). Started more than once on one workdir, the processes
  share the runs (`run_jobs`): first every run that needs no pick, then the finals of the
  swept methods and the diagnoses."""
  cmp = config.compare
  stages.check_workdir_config(config, workdir)
  base = os.path.join(workdir, "base")
  os.makedirs(base, exist_ok=True)
  with claims.file_lock(os.path.join(workdir, "base.lock")):   # one process makes the base
    restore_base(progress_dir, base, log)
    stages.check_workdir_config(cmp, base)
    base_results = {name: fn(cmp, base, log) for name, fn in rl_compare.STAGES
                    if name in ("expert", "demos", "random")}
    stages.heldout(cmp, base, log)
  progress = Progress(progress_dir, base, log, config.sweep_size)
  tuning = with_overrides(cmp, {"rl.seed": config.tuning.seed,
                                "rl.num_seeds": config.tuning.num_seeds})

  def tuning_row(method, **extra):
    def row(result, run_dir):
      scores = _score(result, base_results)
      return {**extra, "normalized_per_seed": scores, "mean": float(np.mean(scores)),
              "made_at": _made_at(run_dir, method),
              "eval_return_per_seed": result["rl"]["eval_return_per_seed"],
              "wall_s": result["rl"]["wall_s"], **_diagnosed(extra, run_dir, method),
              "absorbing_reward": result["absorbing_reward"],
              "reward_quality": result["reward_quality"]}
    return row

  swept = {method: points[:config.sweep_size] for method, points in sweep_config.sweeps().items()
           if method in cmp.methods}
  diagnosed = {method: variants for method, variants in
               (sweep_config.diagnoses(cmp.env_name).items() if config.diagnose else ())
               if method in cmp.methods}
  picks = {}                                     # method -> its pick's overrides

  def final_row(method):
    def row(result, run_dir):
      rl = {k: result["rl"].get(k) for k in ("eval_return_per_seed", "wall_s", "steps_per_s")}
      return {"overrides": picks.get(method, {}), "rl": rl, "made_at": _made_at(run_dir, method),
              "absorbing_reward": result["absorbing_reward"],
              "normalized_per_seed": _score(result, base_results),
              "reward_quality": result["reward_quality"]}
    return row

  def final(method):
    return Job(f"final/{method}", with_overrides(cmp, picks.get(method, {})), method,
               final_row(method), str(picks.get(method, {})))

  # First the runs that need no pick: the sweep's and the finals of the oracle and the
  # controls (a process with no sweep run left to claim takes those rather than wait);
  # then, on the picks, the swept methods' finals and after them the diagnoses (outside
  # the budget, they change no pick), so that the finals land first.
  jobs = [Job(f"sweep/{method}/{i}", with_overrides(tuning, overrides), method,
              tuning_row(method, overrides=overrides), str(overrides))
          for method, points in swept.items() for i, overrides in enumerate(points)]
  unswept = [method for method in cmp.methods if method not in swept]
  jobs += [final(method) for method in unswept]
  log(f"== sweep: {len(jobs)} runs ({', '.join(f'{m} {len(p)}' for m, p in swept.items())}; "
      f"finals of {', '.join(unswept)})")
  rows = dict(zip((job.name for job in jobs), run_jobs(jobs, progress, base, workdir, log, poll_s)))
  sweep = {}
  for method, points in swept.items():
    runs = [rows[f"sweep/{method}/{i}"] for i in range(len(points))]
    best = int(np.argmax([r["mean"] for r in runs]))
    sweep[method] = {"runs": runs, "pick": best}
    picks[method] = runs[best]["overrides"]
  write_json(os.path.join(workdir, "sweep.json"), {"tuning": config.tuning.to_dict(),
                                                   "methods": sweep})
  first = {method: sweep_config.sweeps()[method][0] for method in diagnosed}
  diagnose_jobs = [
      Job(f"diagnose/{method}/{i}", with_overrides(tuning, {**first[method], **overrides}),
          method, tuning_row(method, label=label, overrides=overrides), label,
          folder=None if overrides else f"sweep/{method}/0")
      for method, variants in diagnosed.items() for i, (label, overrides) in enumerate(variants)]
  log(f"== finals on the picks: {', '.join(f'{m} {picks[m]}' for m in swept)}; then "
      f"diagnoses {len(diagnose_jobs)}")
  second = [final(method) for method in swept] + diagnose_jobs
  rows.update(zip((job.name for job in second),
                  run_jobs(second, progress, base, workdir, log, poll_s)))
  diagnoses = {method: [rows[f"diagnose/{method}/{i}"] for i in range(len(variants))]
               for method, variants in diagnosed.items()}
  if diagnoses:
    write_json(os.path.join(workdir, "diagnoses.json"), diagnoses)
  finals = {method: rows[f"final/{method}"] for method in cmp.methods}
  write_json(os.path.join(workdir, "finals.json"),
             {"env": cmp.env_name, "expert_return": base_results["demos"]["return_mean"],
              "random_return": base_results["random"]["return_mean"], "methods": finals})
  return {"sweep": sweep, "diagnoses": diagnoses, "finals": finals,
          "expert_return": base_results["demos"]["return_mean"],
          "random_return": base_results["random"]["return_mean"],
          "expert_eval_return": base_results["expert"].get("eval_return_mean"),
          "expert_wall_s": base_results["expert"].get("wall_s")}


def _diagnosed(extra: dict, run_dir: str, method: str) -> dict:
  """A diagnosis row's extra readings (those with a label): the policy's entropy path and
  where the reward pays."""
  if "label" not in extra:
    return {}
  rl_dir = os.path.join(run_dir, "rl", method)
  return {"policy_entropy": _entropy_path(rl_dir), "reward_paid": _where_reward_pays(rl_dir)}


def raw_record(config, out: dict, command: str, start: float) -> dict:
  """results/raw/rl_compare/<env>.json: what was tried on the tuning seeds, each method's
  pick and its finals on fresh seeds, the expert and random returns the scores are
  normalized by, and what made them (command, code, versions)."""
  cmp = config.compare
  finals = {m: {"overrides": f["overrides"],
                "eval_return_per_seed": f["rl"]["eval_return_per_seed"],
                "normalized_per_seed": f["normalized_per_seed"], "wall_s": f["rl"]["wall_s"],
                "steps_per_s": f["rl"].get("steps_per_s"),
                "absorbing_reward": f.get("absorbing_reward"),
                "made_at": f.get("made_at"),
                "reward_quality": f["reward_quality"]}
            for m, f in out["finals"].items()}
  setting = {"env": cmp.env_name, "backend": cmp.rl.env.backend,
             "fixed_horizon": bool(cmp.rl.env.get("fixed_horizon", False)),
             "episode_length": cmp.rl.env.episode_length,
             "rl_steps": cmp.rl.ppo.total_steps, "expert_steps": cmp.expert.ppo.total_steps,
             "final_seeds": {"seed": cmp.rl.seed, "num_seeds": cmp.rl.num_seeds},
             "tuning": config.tuning.to_dict(), "sweep_size": config.sweep_size,
             "absorbing": cmp.get("absorbing", "read"),
             # where the rule sets soft-Bellman's absorbed value, the step into the
             # absorbing state reads V there as the demos' mean (efjax.reward.absorbing)
             "soft_bellman_entry": ("demos_mean_value" if cmp.get("absorbing") == "uninformed"
                                    else None),
             "methods": list(cmp.methods)}
  header = provenance.result_header(command, start, setting)
  diagnoses = out.get("diagnoses", {})
  header["wall_s"] = round((out["expert_wall_s"] or 0.0)
                           + sum(r["wall_s"] for s in out["sweep"].values() for r in s["runs"])
                           + sum(r["wall_s"] for rows in diagnoses.values() for r in rows)
                           + sum(f["wall_s"] for f in finals.values()), 1)
  return {"env": cmp.env_name, "expert_return": out["expert_return"],
          "expert_eval_return": out["expert_eval_return"], "random_return": out["random_return"],
          "sweep": out["sweep"], "diagnoses": diagnoses, "finals": finals, **header}


_CONFIG = cli.config_flag()
_WORKDIR = cli.workdir_flag()
_STALE = cli.stale_flag()
_RECORD = cli.shared_flag(flags.DEFINE_bool, "record", False,
                          "Keep each finished run and the base in "
                          "results/raw/rl_compare/in_progress/<env>/ (resumed from there), "
                          "then write results/raw/rl_compare/<env>.json "
                          "and rebuild results/rl_compare.md from the raw records.")


def main(argv):
  del argv
  cli.quiet_library_logs()
  stages.stale_policy = _STALE.value
  start = time.perf_counter()
  env = _CONFIG.value.compare.env_name
  progress = os.path.join(build.ROOT, PROGRESS_FOLDER, env) if _RECORD.value else None
  out = run_sweep(_CONFIG.value, _WORKDIR.value, log=cli.progress, progress_dir=progress)
  if _RECORD.value:
    given = [a for a in sys.argv[1:] if a.startswith(("--config.", "--stale"))]
    command = shlex.join(["python", "-m", "experiments.rl_sweep",
                          f"--config=experiments/configs/rl_sweep.py:{env}", *given,
                          "--workdir=WORKDIR", "--record"])
    build.record({f"{rl_report.RAW_FOLDER}/{env}.json":
                  raw_record(_CONFIG.value, out, command, start)})
    shutil.rmtree(progress, ignore_errors=True)   # the record holds every row it kept
    print(f"report: {rl_report.write_document(rl_report.RAW_FOLDER)}")


if __name__ == "__main__":
  cli.run(main)
