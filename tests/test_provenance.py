"""efjax.provenance and where fingerprints are checked: loud data drift on resume, version
drift on load, caches keyed on what made them, evaluation protocols as data."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import efjax
from efjax import protocols, provenance
from efjax.data import save_demos
from efjax.errors import ConfigError
from efjax.train import train_and_evaluate
from experiments import stages
from experiments.configs import demos as demos_config

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _demos(path, seed):
  rng = np.random.default_rng(seed)
  save_demos(path, rng.normal(size=(60, 3)).astype(np.float32),
             rng.normal(size=(60, 2)).astype(np.float32), np.array([30, 60]))
  return path


def _config(path, num_steps=20):
  c = demos_config.get_config("smoke")
  c.data.path = path
  c.train.update(num_steps=num_steps, log_every=10, checkpoint_every=10, eval_every=0)
  return c


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
  root = tmp_path_factory.mktemp("prov")
  data = _demos(str(root / "a.npz"), 0)
  workdir = str(root / "run")
  train_and_evaluate(_config(data), workdir, log=lambda *_: None)
  return root, data, workdir


def test_a_fingerprint_records_code_versions_platform_data_and_config(trained):
  root, data, workdir = trained
  fp = provenance.read_fingerprint(workdir)
  provenance.check_fingerprint(fp, workdir)
  assert fp["code"]["source_hash"] == provenance.source_hash()
  assert fp["versions"]["jax"] == __import__("jax").__version__ and fp["versions"]["python"]
  assert fp["efjax_version"].startswith(provenance.BASE_VERSION)
  assert fp["data"][0]["arrays"] == {"observations": [60, 3], "actions": [60, 2],
                                     "episode_ends": [2]}
  assert fp["config_hash"] == provenance.config_hash(_config(data))
  assert provenance.config_hash(_config(data, num_steps=21)) != fp["config_hash"]
  # every checkpoint carries the fingerprint of the run that saved it
  from efjax import checkpoint
  manager = checkpoint.make_manager(os.path.join(workdir, "checkpoints"), 3)
  assert checkpoint.saved_fingerprint(manager, 20)["data"][0]["sha256"] == fp["data"][0]["sha256"]


def test_resuming_on_another_demo_file_of_the_same_sizes_is_refused(trained, tmp_path):
  root, data, workdir = trained
  other = _demos(str(tmp_path / "b.npz"), 1)                # same shapes, other numbers
  before = sorted(os.listdir(os.path.join(workdir, "checkpoints")))
  with pytest.raises(ConfigError, match=r"was trained on data sha256 [0-9a-f]{16}, but .*b\.npz "
                                        r"has sha256 [0-9a-f]{16}.*allow_data_change"):
    train_and_evaluate(_config(other, num_steps=30), workdir, log=lambda *_: None)
  assert sorted(os.listdir(os.path.join(workdir, "checkpoints"))) == before
  config = _config(other, num_steps=30)
  config.train.allow_data_change = True
  train_and_evaluate(config, workdir, log=lambda *_: None)
  record = provenance.read_fingerprint(workdir)
  newest = provenance.newest(record)
  assert newest["data_changed_from"] == provenance.data_hashes(record)
  assert provenance.data_hashes(newest) != provenance.data_hashes(record)


def test_a_resumed_run_may_change_its_length_not_its_recipe(tmp_path):
  data = _demos(str(tmp_path / "a.npz"), 0)
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(data), workdir, log=lambda *_: None)
  train_and_evaluate(_config(data, num_steps=30), workdir, log=lambda *_: None)   # longer: fine
  config = _config(data, num_steps=40)
  config.optim.weight_decay = 0.1
  with pytest.raises(ConfigError, match="optim.weight_decay was 0.01, now 0.1"):
    train_and_evaluate(config, workdir, log=lambda *_: None)


def test_a_workdir_from_before_fingerprints_resumes_and_loads_with_a_note(tmp_path, capsys):
  data = _demos(str(tmp_path / "a.npz"), 0)
  workdir = str(tmp_path / "run")
  train_and_evaluate(_config(data), workdir, log=lambda *_: None)
  os.remove(os.path.join(workdir, provenance.FINGERPRINT_FILE))
  logs = []
  train_and_evaluate(_config(data, num_steps=30), workdir, log=logs.append)
  assert any(line.startswith("note:") and "no fingerprint.json" in line for line in logs)
  os.remove(os.path.join(workdir, provenance.FINGERPRINT_FILE))
  efjax.load(workdir)
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and err[0].startswith("note:") and "no fingerprint" in err[0]


def test_loading_warns_in_one_line_when_jax_changed_major_minor(trained, capsys):
  root, data, workdir = trained
  path = os.path.join(workdir, provenance.FINGERPRINT_FILE)
  saved = open(path).read()
  fp = json.loads(saved)
  provenance.newest(fp)["versions"]["jax"] = "0.4.30"    # the newest run's record
  open(path, "w").write(json.dumps(fp))
  try:
    efjax.load(workdir)
  finally:
    open(path, "w").write(saved)
  err = capsys.readouterr().err.strip().splitlines()
  assert len(err) == 1 and "jax 0.4.30 recorded" in err[0], err


def test_a_hand_edited_fingerprint_is_one_line_and_exit_2(trained, tmp_path):
  root, data, workdir = trained
  bad = tmp_path / "result.json"
  bad.write_text(json.dumps({"fingerprint": {"format": 1, "code": {}}}))
  for path, match in ((bad, "lacks efjax_version"), (tmp_path / "missing", "no such file")):
    proc = subprocess.run([sys.executable, "-m", "experiments.provenance", str(path)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and match in lines[0], proc.stderr
  proc = subprocess.run([sys.executable, "-m", "experiments.provenance", workdir],
                        capture_output=True, text=True, cwd=ROOT, timeout=120)
  assert proc.returncode == 0 and "sha256" in proc.stdout and "jax" in proc.stdout


def test_two_fingerprints_are_compared_key_by_key(trained):
  root, data, workdir = trained
  a = provenance.newest(provenance.read_fingerprint(workdir))
  b = json.loads(json.dumps(a))
  b["versions"]["flax"] = "9.9"
  b["data"][0]["sha256"] = "0" * 64
  keys = [k for k, _, _ in provenance.differences(a, b)]
  assert keys == ["data.sha256", "versions.flax"]
  assert provenance.differences(a, a) == []


def test_a_cached_stage_result_is_recomputed_when_what_made_it_changed(tmp_path):
  path = str(tmp_path / "r.json")
  calls = []
  compute = lambda: calls.append(1) or {"x": len(calls)}  # noqa: E731
  key = {"config_hash": "a", "inputs": {}, "source_hash": "s"}
  assert stages.run_stage(path, compute, key, log=lambda *_: None)["x"] == 1
  assert stages.run_stage(path, compute, key, log=lambda *_: None)["x"] == 1      # reused
  logs = []
  other = dict(key, source_hash="t")
  assert stages.run_stage(path, compute, other, log=logs.append)["x"] == 2      # recomputed
  assert "made by other source hash" in logs[0]
  stages.stale_policy = "report"
  try:
    logs.clear()
    assert stages.run_stage(path, compute, key, log=logs.append)["x"] == 2     # kept, reported
    assert logs[0].startswith("stale (kept, --stale=report)")
  finally:
    stages.stale_policy = "recompute"


def test_a_stage_directory_made_by_other_inputs_is_moved_aside(tmp_path):
  d = str(tmp_path / "stage")
  key = {"config_hash": "a", "inputs": {}, "source_hash": "s"}
  stages.claim_dir(d, key, log=lambda *_: None)
  open(os.path.join(d, "result"), "w").write("old")
  stages.claim_dir(d, key, log=lambda *_: None)                   # same: kept, resumes
  assert os.path.exists(os.path.join(d, "result"))
  stages.claim_dir(d, dict(key, config_hash="b"), log=lambda *_: None)
  assert not os.path.exists(os.path.join(d, "result"))
  assert open(os.path.join(d + ".stale", "result")).read() == "old"


def test_a_stage_directory_records_the_commit_that_made_it_and_keeps_it(tmp_path, monkeypatch):
  d = str(tmp_path / "stage")
  key = {"config_hash": "a", "inputs": {}, "source_hash": "s"}
  monkeypatch.setattr(provenance, "code", lambda: {"commit": "1a2b3c4d5e6f7", "dirty": False})
  stages.claim_dir(d, key, log=lambda *_: None)
  assert stages.made_at(d) == "1a2b3c4d5e"
  # kept (same key, or stale under --stale=report): the commit that made it stays
  monkeypatch.setattr(provenance, "code", lambda: {"commit": "9f9f9f9f9f9f", "dirty": True})
  stages.claim_dir(d, key, log=lambda *_: None)
  monkeypatch.setattr(stages, "stale_policy", "report")
  stages.claim_dir(d, dict(key, source_hash="t"), log=lambda *_: None)
  assert stages.made_at(d) == "1a2b3c4d5e"
  monkeypatch.setattr(stages, "stale_policy", "recompute")
  stages.claim_dir(d, dict(key, source_hash="t"), log=lambda *_: None)     # remade
  assert stages.made_at(d) == "9f9f9f9f9f + changes"
  os.remove(os.path.join(d, stages.MADE_AT))
  assert stages.made_at(d) is None                # made before stages recorded it


def test_a_workdir_config_is_never_overwritten_by_another(tmp_path):
  config = demos_config.get_config("smoke")
  stages.check_workdir_config(config, str(tmp_path))
  stages.check_workdir_config(config, str(tmp_path))              # the same: fine
  other = demos_config.get_config("smoke")
  other.train.num_steps = 7
  with pytest.raises(ConfigError, match="holds another config .train.num_steps was 200, now 7"):
    stages.check_workdir_config(other, str(tmp_path))
  assert json.load(open(tmp_path / "config.json"))["train"]["num_steps"] == 200


def test_protocols_name_the_settings_that_make_results_comparable():
  from experiments.configs import metaworld
  ev = metaworld.get_config("button-press-v3").eval.to_dict()
  assert protocols.protocol_id("metaworld/in_range", {**ev, "ood": False}) == "metaworld/in_range@1"
  assert protocols.protocol_id("metaworld/ood", {**ev, "ood": True, "ood_scale": 1.5}) == \
      "metaworld/ood@1"
  custom = protocols.protocol_id("metaworld/in_range", {**ev, "ood": False, "num_episodes": 7})
  assert custom.startswith("custom:") and custom == protocols.protocol_id(
      "metaworld/in_range", {**ev, "ood": False, "num_episodes": 7})
  assert protocols.check_protocol("metaworld/ood@1", "x") == "metaworld/ood@1"
  with pytest.raises(ConfigError, match=r"r.json: unknown evaluation protocol 'metaworld/ood@7'"):
    protocols.check_protocol("metaworld/ood@7", "r.json")


def test_a_raw_result_header_names_its_command_time_and_setting(tmp_path):
  data = tmp_path / "d.npz"
  np.savez(data, x=np.zeros((3, 2)))
  start = time.perf_counter()
  a = provenance.result_header("python x.py --record", start, {"rounds": 3}, [str(data)])
  b = provenance.result_header("python x.py --record", start, {"rounds": 5})
  assert a["command"] == "python x.py --record" and a["setting"] == {"rounds": 3}
  assert a["wall_s"] >= 0 and a["date"].endswith("UTC") and a["cpu_count"] >= 1
  provenance.check_fingerprint(a["fingerprint"], "header")
  assert a["fingerprint"]["data"][0]["arrays"] == {"x": [3, 2]}
  assert a["fingerprint"]["config_hash"] != b["fingerprint"]["config_hash"]
  json.dumps(a)      # a raw record is JSON


def test_the_source_hash_is_read_once_per_process(tmp_path, monkeypatch):
  # A long run's later stages compare against the code the process imported, not the tree
  # as someone edits it meanwhile; a new process sees the edit.
  for top in ("efjax", "experiments"):
    (tmp_path / top).mkdir()
    (tmp_path / top / "m.py").write_text("x = 1\n")
  monkeypatch.setattr(provenance, "ROOT", str(tmp_path))
  provenance.source_hash.cache_clear()
  try:
    before = provenance.source_hash()
    (tmp_path / "experiments" / "m.py").write_text("x = 2\n")
    assert provenance.source_hash() == before
    provenance.source_hash.cache_clear()           # what a new process does
    assert provenance.source_hash() != before
  finally:
    provenance.source_hash.cache_clear()


def test_every_experiment_main_imports_beside_the_others():
  """The tests (and rl_compare reusing the pipeline) import several mains into one process;
  two mains defining the same flag must share it, not fail with DuplicateFlagError."""
  import pkgutil
  import experiments
  import experiments.reports
  mains = [f"{pkg.__name__}.{m.name}" for pkg in (experiments, experiments.reports)
           for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg]
  code = "import importlib\n" + "".join(f"importlib.import_module('{m}')\n"
                                         for m in sorted(mains))
  proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
