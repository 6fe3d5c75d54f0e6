"""experiments.rl_sweep at smoke size: every method tuned over the same number of
configurations on tuning seeds, the pick run on the final seeds, raw results written."""
import json
import os
import shutil

import numpy as np
import pytest

from experiments import rl_sweep
from experiments.configs import rl_sweep as sweep_config
from experiments.configs.common import with_overrides


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
  config = sweep_config.get_config("inverted_pendulum,smoke")
  config.compare.methods = ("true_reward", "gail", "constant_plus")
  config.diagnose = True
  workdir = str(tmp_path_factory.mktemp("sweep") / "ip")
  with pytest.MonkeyPatch.context() as mp:   # one cheap diagnosis: the sweep's first config
    mp.setattr(sweep_config, "diagnoses", _one_diagnosis)
    return config, workdir, rl_sweep.run_sweep(config, workdir, log=lambda *_: None,
                                               progress_dir=_progress(workdir))


def _one_diagnosis(env):
  return {"gail": [("as swept", {}),], "airl": [("not compared", {})]}


def _progress(workdir):
  return os.path.join(os.path.dirname(workdir), "progress", "inverted_pendulum")


def test_each_learned_method_gets_the_same_number_of_configurations(swept):
  config, workdir, out = swept
  sweep = json.load(open(os.path.join(workdir, "sweep.json")))["methods"]
  assert list(sweep) == ["gail"] and len(sweep["gail"]["runs"]) == config.sweep_size
  runs = sweep["gail"]["runs"]
  assert runs[0]["overrides"] != runs[1]["overrides"]
  assert all(len(r["normalized_per_seed"]) == config.tuning.num_seeds for r in runs)
  pick = sweep["gail"]["pick"]
  assert runs[pick]["mean"] == max(r["mean"] for r in runs)


def test_finals_run_the_pick_the_oracle_and_the_controls_on_the_final_seeds(swept):
  config, workdir, out = swept
  finals = json.load(open(os.path.join(workdir, "finals.json")))["methods"]
  assert list(finals) == ["true_reward", "gail", "constant_plus"]
  assert all(len(f["normalized_per_seed"]) == config.compare.rl.num_seeds for f in finals.values())
  sweep = json.load(open(os.path.join(workdir, "sweep.json")))["methods"]
  assert finals["gail"]["overrides"] == sweep["gail"]["runs"][sweep["gail"]["pick"]]["overrides"]
  # one expert for everything: the runs share the base stages
  assert os.path.islink(os.path.join(workdir, "final", "gail", "expert"))
  assert not os.path.exists(os.path.join(workdir, "final", "gail", "energyflow"))


def test_overrides_are_dotted_keys_of_the_compare_config():
  config = sweep_config.get_config("reacher").compare
  out = with_overrides(config, {"energyflow.reward.t": 0.1, "irl.disc_steps": 8})
  assert out.energyflow.reward.t == 0.1 and out.irl.disc_steps == 8
  assert config.energyflow.reward.t != 0.1                  # the original is untouched


def test_the_record_holds_sweep_finals_and_provenance_and_the_report_reads_it(swept):
  from experiments.reports import rl_compare as rl_report
  config, workdir, out = swept
  record = rl_sweep.raw_record(config, out, "python -m experiments.rl_sweep ...", 0.0)
  assert record["env"] == "inverted_pendulum"
  assert record["finals"]["gail"]["overrides"] == out["finals"]["gail"]["overrides"]
  assert record["setting"]["sweep_size"] == config.sweep_size
  assert record["fingerprint"]["code"] and record["random_return"] < record["expert_return"]
  # every PPO run says which commit made it (this checkout's: the runs are fresh)
  commit = record["fingerprint"]["code"]["commit"][:10]
  made = [r["made_at"] for sw in record["sweep"].values() for r in sw["runs"]] + \
      [f["made_at"] for f in record["finals"].values()]
  assert made and all(m.split(" + ")[0] == commit for m in made), (commit, made)
  json.dumps(record)                                        # a JSON record, nothing else
  text = rl_report.document({"inverted_pendulum.json": record})
  assert "## inverted_pendulum" in text and "### Sweep (tuning seeds)" in text
  pick = record["sweep"]["gail"]["pick"]
  assert f"**{record['sweep']['gail']['runs'][pick]['mean']:.2f}**" in text


def test_diagnoses_run_outside_the_budget_and_reach_the_report(swept):
  from experiments.reports import rl_compare as rl_report
  config, workdir, out = swept
  assert list(out["diagnoses"]) == ["gail"]              # airl is not compared: not run
  (row,) = out["diagnoses"]["gail"]
  assert row["label"] == "as swept" and len(row["normalized_per_seed"]) == config.tuning.num_seeds
  # a diagnosis that changes nothing reads the sweep run it repeats (the sweep's first
  # config, on the tuning seeds) instead of training it again in a folder of its own
  assert not os.path.exists(os.path.join(workdir, "diagnose", "gail", "0"))
  first = out["sweep"]["gail"]["runs"][0]
  assert row["normalized_per_seed"] == first["normalized_per_seed"]
  assert row["reward_quality"] == first["reward_quality"]
  assert set(row["policy_entropy"]) == {"first", "last"}
  paid = row["reward_paid"]           # the smoke env is fixed-horizon: PPO logs it
  assert set(paid) == {"absorbed_share", "live", "absorbed", "entering"}
  assert 0 <= paid["absorbed_share"] <= 1
  assert os.path.exists(os.path.join(workdir, "diagnoses.json"))
  record = rl_sweep.raw_record(config, out, "python -m experiments.rl_sweep ...", 0.0)
  text = rl_report.document({"inverted_pendulum.json": record})
  assert "### Diagnosis: GAIL" in text and "| as swept |" in text


def test_every_diagnosis_overrides_keys_the_compare_config_has():
  for env in ("reacher", "inverted_pendulum"):
    config = sweep_config.get_config(env)
    assert config.diagnose
    diagnoses = sweep_config.diagnoses(env)
    for method, variants in diagnoses.items():
      assert method in config.compare.methods
      for _, overrides in variants:
        for key in overrides:                          # every dotted key exists
          *path, leaf = key.split(".")
          node = config.compare
          for part in path:
            node = node[part]
          assert leaf in node, (method, key)
    # the absorbing state's diagnoses only where episodes can end early
    assert ("energyflow_centered" in diagnoses) == (env == "inverted_pendulum")


def test_the_picked_finals_run_before_the_diagnoses(swept):
  """Diagnoses change no pick, so the swept methods' finals come first after the sweep:
  runs.json keeps the rows in the order they finished."""
  _, workdir, _ = swept
  order = list(json.load(open(os.path.join(_progress(workdir), "runs.json")))["runs"])
  assert order.index("sweep/gail/1") < order.index("final/gail") < order.index("diagnose/gail/0")


def test_a_lost_workdir_resumes_from_the_kept_progress(swept, tmp_path):
  """A new workdir (the old one lost) takes the base the progress folder keeps (no expert
  trained again) and every finished run from its runs.json instead of training it again."""
  config, workdir, out = swept
  kept = json.load(open(os.path.join(_progress(workdir), "runs.json")))["runs"]
  assert set(kept) == {"sweep/gail/0", "sweep/gail/1", "diagnose/gail/0", "final/true_reward",
                       "final/gail", "final/constant_plus"}
  logs, again = [], str(tmp_path / "ip")
  with pytest.MonkeyPatch.context() as mp:
    mp.setattr(sweep_config, "diagnoses", _one_diagnosis)
    out2 = rl_sweep.run_sweep(config, again, log=logs.append,
                              progress_dir=_progress(workdir))
  assert sum("base restored from" in line for line in logs) == 1
  new_base, old_base = os.path.join(again, "base"), os.path.join(workdir, "base")
  for name in rl_sweep.BASE_FILES:                # the same bytes, the expert not retrained
    assert open(os.path.join(new_base, name), "rb").read() == \
        open(os.path.join(old_base, name), "rb").read(), name
  assert not os.path.exists(os.path.join(new_base, "expert", "metrics.jsonl"))
  assert out2["finals"] == out["finals"] and out2["sweep"] == out["sweep"]
  assert out2["diagnoses"] == out["diagnoses"]
  assert not any(os.path.exists(os.path.join(again, d)) for d in ("sweep", "diagnose", "final"))
  assert sum("kept from" in line for line in logs) == len(kept)
  # another config for a run (its tuning seeds) is not taken from the file
  progress = rl_sweep.Progress(_progress(workdir), os.path.join(again, "base"))
  tuning = with_overrides(config.compare, {"rl.seed": config.tuning.seed,
                                           "rl.num_seeds": config.tuning.num_seeds})
  first = sweep_config.sweeps()["gail"][0]
  assert progress.get("sweep/gail/0", with_overrides(tuning, first)) is not None
  assert progress.get("sweep/gail/0", with_overrides(tuning, {**first, "rl.seed": 7})) is None


def _fake_base(folder, demos: bytes) -> str:
  """A base folder holding every file Progress keeps (demos.npz with these bytes)."""
  for name in rl_sweep.BASE_FILES:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(demos if name == "demos.npz" else name.encode())
  return str(folder)


def test_progress_keys_ignore_a_default_the_run_overrides(tmp_path):
  """A changed default under a key the run sets (train.ema_horizon under train.ema,
  optim.warmup_fraction under optim.warmup_steps) keeps the row; a changed live key
  does not."""
  base = _fake_base(tmp_path / "base", b"demos")
  path = str(tmp_path / "progress")
  config = with_overrides(sweep_config.get_config("inverted_pendulum,smoke").compare,
                          {"energyflow.train.ema": 0.999, "energyflow.optim.warmup_steps": 100})
  rl_sweep.Progress(path, str(base)).put("sweep/x/0", config, {"mean": 1.0})
  progress = rl_sweep.Progress(path, str(base))
  inert = with_overrides(config, {"energyflow.train.ema_horizon": 0.123,
                                  "energyflow.optim.warmup_fraction": 0.3})
  assert progress.get("sweep/x/0", inert) == {"mean": 1.0}
  # the methods the sweep compares are not the run's: a sweep of fewer methods reuses it
  assert progress.get("sweep/x/0", with_overrides(config, {"methods": ("gail",)})) == \
      {"mean": 1.0}
  assert progress.get("sweep/x/0", with_overrides(config, {"energyflow.train.ema": 0.99})) is None
  live = with_overrides(config, {"energyflow.train.ema": None,
                                 "energyflow.train.ema_horizon": 0.123})
  assert progress.get("sweep/x/0", live) is None     # ema unset: the horizon decides


def test_progress_made_on_other_demos_is_not_reused(tmp_path):
  base = tmp_path / "base"
  _fake_base(base, b"one set of demos")
  path = str(tmp_path / "progress")
  config = sweep_config.get_config("inverted_pendulum,smoke").compare
  rl_sweep.Progress(path, str(base)).put("final/zero", config, {"mean": 1.0})
  assert rl_sweep.Progress(path, str(base)).get("final/zero", config) == {"mean": 1.0}
  kept_demos = os.path.join(path, "base", "demos.npz")
  assert open(kept_demos, "rb").read() == b"one set of demos"
  (base / "demos.npz").write_bytes(b"demos made again, different")
  logs = []
  progress = rl_sweep.Progress(path, str(base), logs.append)
  assert progress.get("final/zero", config) is None
  assert "not reused" in logs[0]
  assert open(kept_demos, "rb").read() == b"one set of demos"     # kept until a new row
  progress.put("final/one", config, {"mean": 0.5})
  assert open(kept_demos, "rb").read() == b"demos made again, different"
  assert set(json.load(open(os.path.join(path, "runs.json")))["runs"]) == {"final/one"}


def test_a_base_is_restored_only_into_a_workdir_that_lost_it(tmp_path):
  kept = _fake_base(tmp_path / "progress" / "base", b"kept demos")
  folder = os.path.dirname(kept)
  lost = tmp_path / "lost"
  logs = []
  rl_sweep.restore_base(folder, str(lost), logs.append)
  assert (lost / "demos.npz").read_bytes() == b"kept demos" and "base restored" in logs[0]
  assert all((lost / name).exists() for name in rl_sweep.BASE_FILES)
  own = _fake_base(tmp_path / "own", b"its own demos")
  rl_sweep.restore_base(folder, own, logs.append)           # a base of its own stays
  assert (tmp_path / "own" / "demos.npz").read_bytes() == b"its own demos" and len(logs) == 1
  rl_sweep.restore_base(None, str(tmp_path / "other"), logs.append)   # nothing kept
  assert not (tmp_path / "other").exists()


def test_the_report_lists_a_running_sweeps_kept_runs(swept):
  """results/rl_compare.md shows the progress folder's runs on their own, beside or
  without recorded envs, and reads nothing else of the folder (its base's JSON files)."""
  from experiments.reports import rl_compare as rl_report
  config, workdir, out = swept
  kept = json.load(open(os.path.join(_progress(workdir), "runs.json")))
  assert kept["sweep_size"] == config.sweep_size
  folder = f"{rl_report.PROGRESS_FOLDER}/inverted_pendulum"
  files = {f"{folder}/runs.json": kept,
           f"{folder}/base/demos.json": json.load(open(os.path.join(workdir, "base",
                                                                    "demos.json")))}
  alone = rl_report.document(files)
  assert "No env has a recorded comparison yet." in alone
  record = rl_sweep.raw_record(config, out, "python -m experiments.rl_sweep ...", 0.0)
  text = rl_report.document({"inverted_pendulum.json": record, **files})
  for doc in (alone, text):
    section = doc[doc.index("## Sweeps still running"):]
    assert "### inverted_pendulum" in section
    assert f"GAIL {config.sweep_size} of {config.sweep_size}; diagnoses and finals finished: 4" \
        in section
    for i, run in enumerate(out["sweep"]["gail"]["runs"]):
      cells = ", ".join(f"{x:.2f}" for x in run["normalized_per_seed"])
      assert f"| GAIL | {i + 1} | " in section and f"| {cells} | {run['mean']:.2f} |" in section
    finals = section[section.index("Finals finished so far"):]
    for method, final in out["finals"].items():     # each final's own row, on its seeds
      cells = ", ".join(f"{x:.2f}" for x in final["normalized_per_seed"])
      assert f"| {rl_report.LABELS[method]} | " in finals
      assert f"| {cells} | {np.mean(final['normalized_per_seed']):.2f} |" in finals
  assert text.count("\n## inverted_pendulum") == 1   # the record's section, not the progress


def test_a_progress_folder_another_process_recorded_is_not_made_again(tmp_path):
  """Two processes share a sweep: the first to finish records it and removes the progress
  folder; the other, putting the same last row a moment later, does not make it again
  (it would read as a sweep still running)."""
  base = _fake_base(tmp_path / "base", b"demos")
  path = str(tmp_path / "progress")
  config = sweep_config.get_config("inverted_pendulum,smoke").compare
  logs = []
  progress = rl_sweep.Progress(path, base, logs.append)
  progress.put("sweep/x/0", config, {"mean": 1.0})
  shutil.rmtree(path)
  assert progress.put("final/x", config, {"mean": 0.5}) == {"mean": 0.5}
  assert not os.path.exists(path) and "recorded and removed" in logs[-1]
