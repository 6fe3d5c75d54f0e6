"""benchmarks/run_all.py: one quick run of the real benchmarks into a temp file, the
module registry, and the history of earlier runs (never the real BENCHMARKS.md)."""
import importlib.util
import os
import re

import jax
import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")
_spec = importlib.util.spec_from_file_location("run_all", os.path.join(ROOT, "benchmarks",
                                                                       "run_all.py"))
run_all = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_all)

FAKE = '''
import os
TITLE = "Fake benchmark"
def run(args):
  assert args.quick and args.repeats is None
  return "| workload | x |\\n|---|---|\\n| fake | " + os.environ["FAKE_FIGURE"] + " |\\n"
'''


@pytest.fixture
def modules(tmp_path, monkeypatch):
  """A benchmarks directory holding `fake` (works), `broken` (raises), `norun` (no run)."""
  d = tmp_path / "benchmarks"
  d.mkdir()
  (d / "fake.py").write_text(FAKE)
  (d / "broken.py").write_text("TITLE = 'Broken'\ndef run(args):\n  raise RuntimeError('boom')\n")
  (d / "norun.py").write_text("TITLE = 'No run'\n")
  monkeypatch.setenv("FAKE_FIGURE", "1.0")
  return str(d)


def test_quick_run_of_the_real_benchmarks_keeps_every_earlier_figure(tmp_path):
  real = open(os.path.join(ROOT, "BENCHMARKS.md")).read()
  out = tmp_path / "BENCHMARKS.md"
  out.write_text(real)
  assert run_all.main(["--quick", "--only=core,training", f"--out={out}"]) == 0
  text = out.read_text()
  head, _, earlier = text.partition(run_all.EARLIER)
  assert head.startswith("# Benchmarks\n\n**--quick")
  assert f"Command: `python benchmarks/run_all.py --quick --only=core,training --out={out}`" in head
  assert re.search(r"^Machine: .+, \d+ cores usable of \d+, [\d.]+ GiB RAM", head, re.M)
  assert f"jax {jax.__version__}, jaxlib" in head and re.search(r"^Date: \d{4}-\d\d-\d\d ", head, re.M)
  core = head.split("## The core")[1].split("## The training pipeline")[0]
  assert re.search(r"^\| energy, batch 64 \(samples/s\) \| - \| [\d,.]+ \| - \|", core, re.M)
  assert re.search(r"^\| train step \(samples/s, batch 8\) \| - \| [\d,.]+ \| - \|", core, re.M)
  assert "GENERATED" not in core        # --quick figures are not published: no raw record
  training = head.split("## The training pipeline")[1]
  assert re.search(r"`steps_per_call=10` \| [\d,]+ \| \d+\.\d\dx \|", training)
  # Every line of the file before run_all is still there: each figure and text line as it
  # was, headings nested two deeper (the latest run's) or as they were (older history).
  # The file's own note and the "Earlier runs" marker and heading are written anew; the
  # markers of experiments.reports.build's sections are dropped from archived runs (their
  # text is kept), and sections rebuilt from results/raw/ that this run does not measure
  # (the scaling model; here also PPO) stay above, as they were.
  measured = {t for t in re.findall(r"(?m)^## (.+)$", head)
              if t.startswith(("The core", "The training pipeline"))}
  rebuilt, _ = run_all.rebuilt_sections(real, measured)
  assert rebuilt and all(section in head for section in rebuilt)
  rebuilt_lines = {line for section in rebuilt for line in section.splitlines()}
  kept = set(earlier.splitlines())
  for line in real.splitlines()[1:]:
    if (line.startswith(run_all.WRITTEN_BY) or line in (run_all.EARLIER, "## Earlier runs")
        or run_all.GENERATED_MARKER.match(line + "\n") or line in rebuilt_lines):
      continue
    assert line in kept or (line.startswith("#") and "##" + line in kept), line
  assert open(os.path.join(ROOT, "BENCHMARKS.md")).read() == real


def test_earlier_runs_keep_a_generated_section_without_its_markers():
  from experiments.reports import documents
  previous = ("# Benchmarks\n\nDate: 2026-01-01 00:00 UTC\n\n## PPO\n\n"
              + documents.section("ppo/brax", "| a | 1 |") + "\n" + run_all.EARLIER
              + "\n\n## Earlier runs\n\nolder\n")
  text = run_all.earlier_runs(previous)
  assert "| a | 1 |" in text and "GENERATED" not in text
  assert text.index("### Run of 2026-01-01 00:00 UTC") < text.index("older")


def test_registry_runs_listed_modules_and_skips_missing_ones(modules, tmp_path, capsys):
  out = tmp_path / "b.md"
  assert run_all.main(["--quick", f"--out={out}", "--only=fake,missing,norun"], modules) == 0
  text = out.read_text()
  assert "## Fake benchmark\n\n| workload | x |\n|---|---|\n| fake | 1.0 |\n" in text
  assert "No run" not in text and run_all.EARLIER not in text      # no earlier file
  err = capsys.readouterr().err
  assert "skipping benchmarks/missing.py: no such file" in err
  assert "skipping benchmarks/norun.py: it defines no run(args)" in err


def test_a_failing_module_leaves_the_file_and_writes_partial(modules, tmp_path):
  out = tmp_path / "b.md"
  out.write_text("# Benchmarks\n\nold figure 123.4\n")
  assert run_all.main(["--quick", f"--out={out}", "--only=fake,broken"], modules) == 1
  assert out.read_text() == "# Benchmarks\n\nold figure 123.4\n"
  partial = (tmp_path / "b.md.partial").read_text()
  assert "| fake | 1.0 |" in partial and "RuntimeError: boom" in partial
  assert "old figure 123.4" in partial


def test_earlier_runs_nest_newest_first_and_lose_nothing(modules, tmp_path, monkeypatch):
  out = tmp_path / "b.md"
  out.write_text("# Benchmarks\n\n## By hand\n\nhand figure 9.9\n\n```\n# a comment\n```\n")
  for figure in ("1.0", "2.0", "3.0"):
    monkeypatch.setenv("FAKE_FIGURE", figure)
    assert run_all.main(["--quick", f"--out={out}", "--only=fake"], modules) == 0
  text = out.read_text()
  head, _, earlier = text.partition(run_all.EARLIER)
  assert "| fake | 3.0 |" in head and "Run of" not in head
  assert text.count("## Earlier runs") == 1 and text.count(run_all.EARLIER) == 1
  positions = [earlier.index(s) for s in ("| fake | 2.0 |", "| fake | 1.0 |", "hand figure 9.9")]
  assert positions == sorted(positions)
  assert len(re.findall(r"^### Run of \d{4}-\d\d-\d\d \d\d:\d\d UTC$", earlier, re.M)) == 2
  assert "#### Fake benchmark" in earlier and "#### By hand" in earlier
  assert "\n# a comment\n" in earlier                  # code blocks are not headings
  assert "Written by" not in earlier


def test_a_section_rebuilt_from_raw_results_stays_above_earlier_runs(modules, tmp_path,
                                                                    monkeypatch):
  section = ("## Scaling\n\nprose 4.2\n\n<!-- BEGIN GENERATED scaling/table: python -m "
             "experiments.reports.build -->\n| a | 1 |\n<!-- END GENERATED scaling/table -->")
  out = tmp_path / "b.md"
  out.write_text(f"# Benchmarks\n\n## By hand\n\nhand figure 9.9\n\n{section}\n")
  for figure in ("1.0", "2.0"):
    monkeypatch.setenv("FAKE_FIGURE", figure)
    assert run_all.main(["--quick", f"--out={out}", "--only=fake"], modules) == 0
  text = out.read_text()
  head, _, earlier = text.partition(run_all.EARLIER)
  assert text.count("BEGIN GENERATED scaling/table") == 1
  assert head.index("| fake | 2.0 |") < head.index(section + "\n")
  assert "hand figure 9.9" in earlier and "| fake | 1.0 |" in earlier
  assert "Scaling" not in earlier


def test_quick_without_out_is_refused(capsys):
  with pytest.raises(SystemExit) as e:
    run_all.main(["--quick"])
  assert e.value.code == 2 and "give --out" in capsys.readouterr().err
