"""The Meta-World table runner on its smoke config: rows, report, plot, skip on re-run."""
import json
import os
import subprocess
import sys

import pytest

from experiments import metaworld_table as mt
from experiments.configs import metaworld_table as table_config

ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("table")
  c = table_config.get_config("smoke")
  (workdir / "metaworld.md").write_text(
      "# Meta-World\n\n## Demonstrations\n\nkept text\n\n## Success rates\n\n"
      "<!-- BEGIN GENERATED metaworld/success_rates: python -m experiments.reports.build -->\n"
      "old numbers\n<!-- END GENERATED metaworld/success_rates -->\n\n## Later\n\nmore\n")
  c.report.update(markdown=str(workdir / "metaworld.md"), plot=str(workdir / "plot.png"),
                  raw=str(workdir / "raw" / "table.json"))
  logs = []
  mt.run_table(c, str(workdir), log=logs.append, command="smoke")
  return c, workdir, logs


def test_every_model_gets_a_row_with_in_range_and_ood_results(smoke):
  c, workdir, _ = smoke
  table = json.load(open(workdir / "table.json"))
  assert sorted(table["rows"]) == ["button-press-v3/bc/seed0", "button-press-v3/energyflow/seed0",
                                   "button-press-v3/nonconservative/seed0"]
  for key, row in table["rows"].items():
    assert row["steps"] == 40 and row["params"] > 0 and row["train_wall_s"] > 0
    for name in ("eval", "eval_ood"):
      e = row[name]
      assert e["successes"] + e["failures"] + e["errored"] == 2
      assert 0 <= e["success_rate"] <= 1 and e["ci95"][0] <= e["success_rate"] <= e["ci95"][1]
    assert os.path.isdir(os.path.join(row["workdir"], "checkpoints"))
    assert row["workdir"].endswith(key.split("/", 1)[1])
  cfg = json.load(open(workdir / "button-press-v3/nonconservative/seed0/config.json"))
  assert cfg["model"]["parameterization"] == "score" and "method" not in cfg
  assert json.load(open(workdir / "button-press-v3/bc/seed0/config.json"))["method"] == "bc"
  bc_row = table["rows"]["button-press-v3/bc/seed0"]
  assert bc_row["commands"]["train"].startswith("python -m experiments.train_bc ")
  assert "--config.env.ood=True" in bc_row["commands"]["eval_ood"]
  assert "--config.model.parameterization=score" in \
      table["rows"]["button-press-v3/nonconservative/seed0"]["commands"]["train"]


def test_report_replaces_only_its_section_and_draws_the_plot(smoke):
  _, workdir, _ = smoke
  text = (workdir / "metaworld.md").read_text()
  assert "kept text" in text and "## Later\n\nmore" in text and "old numbers" not in text
  assert text.count("## Success rates") == 1
  assert "| button-press-v3 | 100 |" in text and "(n=1)" in text
  assert "python -m experiments.train_bc" in text and "python -m experiments.collect_demos" in text
  assert (workdir / "plot.png").read_bytes()[:4] == b"\x89PNG"
  raw = json.load(open(workdir / "raw" / "table.json"))     # what the report is rebuilt from
  from experiments.reports import metaworld as report
  assert report.success_section(raw) in text


def test_rerun_skips_finished_models_and_report_cli_works(smoke):
  c, workdir, _ = smoke
  logs = []
  mt.run_table(c, str(workdir), log=logs.append, command="smoke")
  assert sum("finished earlier, skipped" in line for line in logs) == 3
  assert not any(line.startswith("===") for line in logs)
  (workdir / "plot.png").unlink()
  proc = subprocess.run([sys.executable, "-m", "experiments.metaworld_table", "--report",
                         f"--workdir={workdir}"], capture_output=True, text=True, cwd=ROOT,
                        timeout=120)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert "(3 models)" in proc.stdout and (workdir / "plot.png").exists()


def test_bad_override_is_one_line(tmp_path):
  c = table_config.get_config("smoke")
  c.overrides = ("train.num_stepz=3",)
  with pytest.raises(mt.TableError, match="no key 'train.num_stepz'"):
    mt.model_config(c, "button-press-v3", "bc", 0, "x.npz")


def test_seed_rounds_cover_every_model_once_seed_zero_of_every_task_first():
  c = table_config.get_config()
  rounds = mt.seed_rounds(c)
  flat = [(task, m, k) for task, models in rounds for m, k in models]
  assert len(flat) == len(set(flat)) == len(c.tasks) * sum(c.seeds.values())
  first = rounds[:len(c.tasks)]
  assert [task for task, _ in first] == list(c.tasks)
  assert all(models == [("energyflow", 0), ("nonconservative", 0), ("bc", 0)]
             for _, models in first)
  assert all(k == 2 for _, models in rounds[-len(c.tasks):] for _, k in models)


def test_a_model_stopped_early_records_no_row_and_ends_the_run(tmp_path, monkeypatch):
  """SIGTERM makes the trainer save and return early: that model is not evaluated or
  recorded as finished (a rerun resumes it)."""
  import types
  from efjax.train import trainer
  c = table_config.get_config("smoke")
  c.report.update(markdown=str(tmp_path / "m.md"), plot=str(tmp_path / "p.png"),
                  raw=str(tmp_path / "raw.json"))
  monkeypatch.setattr(trainer, "train_and_evaluate",
                      lambda config, workdir, log=print, **_: types.SimpleNamespace(step=3))
  with pytest.raises(mt.TableInterrupted, match="stopped at step 3 of 40"):
    mt.run_table(c, str(tmp_path / "table"), log=lambda *_: None, command="smoke")
  assert mt.load_table(str(tmp_path / "table"))["rows"] == {}
