"""experiments.claims and rl_sweep.run_jobs: several processes share one sweep, each run
trained once, no finished row lost, a dead holder's run taken over."""
import json
import os
import subprocess
import sys
import textwrap
import time

from experiments import claims

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _other_process(folder: str, **me) -> claims.Claims:
  """Claims as another process would hold them (its identity replaced by `me`)."""
  other = claims.Claims(folder)
  other.me = {**other.me, "pid": other.me["pid"] + 1, **me}
  return other


def _dead_pid() -> int:
  child = subprocess.Popen([sys.executable, "-c", "pass"])
  child.wait()
  return child.pid


def test_a_claim_held_by_a_running_process_is_refused_then_free_after_release(tmp_path):
  mine = claims.Claims(str(tmp_path))
  with mine.held("sweep/gail/3") as got:
    assert got
    holder = mine.holder("sweep/gail/3")
    assert holder["pid"] == os.getpid() and holder["age_s"] < 60
    assert not claims.Claims(str(tmp_path)).holder("sweep/gail/4")
    # a second process on this host: this process runs, so the claim is not taken over
    other = _other_process(str(tmp_path), started="another start")
    assert not other.claim("sweep/gail/3")
    other.release("sweep/gail/3")                      # not its claim: nothing removed
    assert mine.holder("sweep/gail/3")["pid"] == os.getpid()
  assert mine.holder("sweep/gail/3") is None
  assert _other_process(str(tmp_path), started="another start").claim("sweep/gail/3")


def test_a_claim_whose_process_died_or_whose_pid_was_reused_is_taken_over(tmp_path):
  folder = str(tmp_path)
  dead = _other_process(folder, pid=_dead_pid())
  assert dead.claim("sweep/airl/0")
  assert claims.Claims(folder).claim("sweep/airl/0")
  assert claims.Claims(folder).holder("sweep/airl/0")["pid"] == os.getpid()
  # a claim naming this very pid but another start time: a pid reused after its holder died
  reused = _other_process(folder, pid=os.getpid(), started="a process long gone")
  assert reused.claim("sweep/airl/1")
  assert claims.Claims(folder).claim("sweep/airl/1")


def test_another_hosts_claim_is_taken_over_only_when_its_heartbeat_is_old(tmp_path):
  folder = str(tmp_path)
  remote = _other_process(folder, host="node-17")
  assert remote.claim("final/gail")
  mine = claims.Claims(folder, stale_after_s=600.0)
  assert not mine.claim("final/gail")                 # fresh heartbeat
  path = os.path.join(folder, "final", "gail.json")
  old = time.time() - 3600
  os.utime(path, (old, old))
  os.utime(path)                                      # its heartbeat: alive after all
  assert not mine.claim("final/gail")
  os.utime(path, (old, old))                          # ... and then silent for an hour
  assert mine.claim("final/gail")
  assert mine.holder("final/gail")["host"] == mine.me["host"]


def test_a_held_claims_heartbeat_is_renewed_while_the_block_runs(tmp_path):
  mine = claims.Claims(str(tmp_path), beat_every_s=0.05)
  with mine.held("sweep/airl/2") as got:
    assert got
    old = time.time() - 3600
    os.utime(os.path.join(str(tmp_path), "sweep", "airl", "2.json"), (old, old))
    time.sleep(0.3)
    assert mine.holder("sweep/airl/2")["age_s"] < 60
  assert mine.holder("sweep/airl/2") is None


_WORKER = textwrap.dedent("""
    import json, os, sys, time
    import ml_collections
    from experiments import rl_sweep

    folder, base, workdir, go = sys.argv[1:5]

    def fake_run(config, base, run_dir, method, log):
      os.makedirs(run_dir, exist_ok=True)
      with open(os.path.join(run_dir, "trained_by"), "a") as f:
        f.write(f"{os.getpid()}\\n")
      log("training")
      time.sleep(0.4)
      return {"i": config.i}

    rl_sweep._run = fake_run
    jobs = [rl_sweep.Job(f"sweep/m/{i}", ml_collections.ConfigDict({"i": i}), "m",
                         lambda result, run_dir: {"mean": float(result["i"]),
                                                  "by": os.getpid()})
            for i in range(8)]
    progress = rl_sweep.Progress(folder, base)
    print("ready", flush=True)
    while not os.path.exists(go):
      time.sleep(0.02)
    rows = rl_sweep.run_jobs(jobs, progress, base, workdir, log=lambda line: None, poll_s=0.1)
    print(json.dumps(rows), flush=True)
""")


def test_two_processes_share_one_sweep_each_run_trained_once(tmp_path):
  """The same jobs started in two processes on one workdir and progress folder: every job
  is trained by exactly one of them, both get every row, runs.json keeps all of them."""
  from experiments import rl_sweep
  base = tmp_path / "base"
  for name in rl_sweep.BASE_FILES:                # what Progress keeps of a base
    (base / name).parent.mkdir(parents=True, exist_ok=True)
    (base / name).write_bytes(name.encode())
  base = str(base)
  folder, workdir, go = str(tmp_path / "progress"), str(tmp_path / "work"), str(tmp_path / "go")
  env = {**os.environ, "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu"}
  workers = [subprocess.Popen([sys.executable, "-c", _WORKER, folder, base, workdir, go],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
             for _ in range(2)]
  for w in workers:
    assert w.stdout.readline().strip() == "ready"
  open(go, "w").close()
  outs = []
  for w in workers:
    out, _ = w.communicate(timeout=120)
    assert w.returncode == 0
    outs.append(json.loads(out.strip().splitlines()[-1]))
  assert outs[0] == outs[1] and [r["mean"] for r in outs[0]] == list(range(8))
  trainers = [open(os.path.join(workdir, "sweep", "m", str(i), "trained_by")).read().split()
              for i in range(8)]
  assert all(len(t) == 1 for t in trainers)                   # each run trained once
  assert len({t[0] for t in trainers}) == 2                    # by both processes
  kept = json.load(open(os.path.join(folder, "runs.json")))["runs"]
  assert sorted(kept) == [f"sweep/m/{i}" for i in range(8)]     # no row lost to a race
  assert not any(name.endswith(".json") for _, _, names in
                 os.walk(os.path.join(workdir, "claims")) for name in names)


def test_the_bandit_family_leaves_a_member_another_process_holds(tmp_path, monkeypatch):
  """bandit_family.run_members beside a live process holding one member: the others are
  trained and recorded, that one is left (and named); once its holder is gone, it is
  taken."""
  from experiments import bandit_family
  from experiments.configs import bandit_family as family_config
  family = family_config.get_config("smoke")
  family.raw_dir = str(tmp_path / "raw")
  workdir = str(tmp_path / "work")
  trained = []

  def fake_member(family, setting, seed, workdir):
    trained.append(seed)
    return {"scores": {"support": {"pearson": 0.9, "preference_accuracy": 0.9, "epic": 0.1}},
            "train_wall_s": 1.0}
  monkeypatch.setattr(bandit_family, "run_member", fake_member)
  holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
  try:
    other = _other_process(os.path.join(workdir, "claims"), pid=holder.pid,
                           started=claims._start_time(holder.pid))
    assert other.claim("defaults/seed2")
    assert claims.Claims(os.path.join(workdir, "claims")).workers() == 2   # it and this one
    logs = []
    runs = [(1, "defaults"), (2, "defaults"), (3, "defaults")]
    left = bandit_family.run_members(family, runs, workdir, logs.append)
    assert trained == [1, 3] and left == [(2, "defaults")]
    family.report.markdown = str(tmp_path / "report.md")
    assert bandit_family.write_report_if_last(family, left, logs.append) is None
    assert not os.path.exists(family.report.markdown)       # the holder writes it, whole
    assert "left to the process that records the last of the 1 runs" in logs[-1]
    assert any(f"seed 2: left to the process that holds it" in line and f"pid {holder.pid}" in line
               for line in logs)
    recorded = lambda seed: os.path.exists(      # noqa: E731
        os.path.join(family.raw_dir, "held_out", "defaults", f"seed{seed}.json"))
    assert recorded(1) and not recorded(2) and recorded(3)
  finally:
    holder.kill()
    holder.wait()
  assert claims.Claims(os.path.join(workdir, "claims")).workers() == 1     # its claim is void
  logs.clear()
  assert bandit_family.run_members(family, runs, workdir, logs.append) == []
  assert trained == [1, 3, 2] and recorded(2)
  from experiments import bandit_family_report
  monkeypatch.setattr(bandit_family_report, "write_report", lambda family: "the report")
  assert bandit_family.write_report_if_last(family, [], logs.append) == "the report"
  assert logs[0].startswith("2 of 3 runs already have a record in ")   # said, not silent


def test_the_sweeps_eta_shares_the_runs_left_between_the_processes():
  from experiments.rl_sweep import _eta
  tuning, final = {"wall_s": 600.0}, {"rl": {"wall_s": 1200.0}}
  assert _eta([tuning, final, {"wall_s": None}], 10, 2) == \
      "   3/10 runs done; ETA 0.9 h (15 min a run, 2 processes)"    # 7 x 900 s / 2
  assert _eta([{"wall_s": None}], 10, 1) == "   1/10 runs done"      # no wall recorded
  assert _eta([tuning] * 10, 10, 1) == "   10/10 runs done"


def test_bandit_tune_trains_only_the_runs_it_claims(tmp_path, monkeypatch, capsys):
  """bandit_tune's studies and stages go through the same claims: a run another process
  holds is left to it, named, and not recorded here."""
  from experiments import bandit_tune
  from experiments.configs import bandit_family as family_config
  family = family_config.get_config("smoke")
  family.raw_dir = str(tmp_path / "raw")
  family.tune.studies.chunk4.seeds = (0, 1)
  trained = []

  def fake_tune(family, name, seed, workdir, log=print, extra=()):
    trained.append(seed)
    return {"scores": {"0.4": {"centered:0.4": {"support": {"pearson": 0.5}}}},
            "train_wall_s": 1.0, "samples_per_s": 1.0}
  monkeypatch.setattr(bandit_tune, "tune_one", fake_tune)
  monkeypatch.setattr(claims.Claims, "claim", lambda self, name: name != "study/chunk4/seed1")
  bandit_tune.run_study(family, "chunk4", str(tmp_path / "work"))
  assert trained == [0]
  out = capsys.readouterr().out
  assert "tuning lr1e-3_k1_none on seed 0" in out
  assert "lr1e-3_k1_none on seed 1 with data.action_horizon=4: left to the process that holds it" \
      in out
  assert os.path.exists(os.path.join(family.raw_dir, "study", "chunk4", "seed0.json"))
  assert not os.path.exists(os.path.join(family.raw_dir, "study", "chunk4", "seed1.json"))


def test_an_unpinned_process_sharing_its_host_is_told_once_about_launch_workers(
    tmp_path, monkeypatch):
  mine, lines = claims.Claims(str(tmp_path)), []
  monkeypatch.setattr(os, "cpu_count", lambda: 2)
  monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
  mine.note_unpinned(lines.append)
  assert lines == []                                   # alone on the host
  sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
  try:
    other = _other_process(str(tmp_path), pid=sleeper.pid,
                           started=claims._start_time(sleeper.pid))
    assert other.claim("sweep/gail/1")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    mine.note_unpinned(lines.append)
    assert lines == []                                 # pinned to its own core
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    mine.note_unpinned(lines.append)
    mine.note_unpinned(lines.append)
    assert len(lines) == 1, lines                      # once
    assert "2 processes share" in lines[0] and "launch.workers" in lines[0]
  finally:
    sleeper.kill()
    sleeper.wait()
