"""Reports: the committed documents are what the committed raw results make (byte for
byte), and the report arithmetic agrees with hand-computed values on tiny fixtures."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from efjax.policy.stats import wilson_interval
from experiments.reports import build, documents, metaworld
from experiments.reports import rl_compare as rl_report

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_every_document_matches_its_committed_raw_results():
  """What `python -m experiments.reports.build --check` checks in CI."""
  for doc, text in build.build_documents().items():
    with open(os.path.join(ROOT, doc)) as f:
      assert f.read() == text, f"{doc} differs from what results/raw makes: run " \
                               "python -m experiments.reports.build"


def test_build_check_fails_in_one_line_for_a_missing_raw_file(tmp_path, monkeypatch):
  monkeypatch.setattr(build, "RAW", str(tmp_path))
  with pytest.raises(build.DataError, match=r"metaworld/table.json: missing"):
    build.build_documents()


def test_wilson_interval_by_hand():
  # 8 of 10, z = 1.96: centre (0.8 + 0.19208) / 1.38416, half-width 1.96 / 1.38416 *
  # sqrt(0.016 + 0.009604) = 0.22668 (computed by hand from the formula).
  low, high = wilson_interval(8, 10)
  assert low == pytest.approx(0.49016, abs=1e-4) and high == pytest.approx(0.94332, abs=1e-4)
  assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0
  assert wilson_interval(0, 0) == (0.0, 1.0)


def _table(rows):
  return {"config": {"tasks": ["t-v3"], "methods": ["energyflow", "bc"],
                     "seeds": {"energyflow": 3, "bc": 1}, "eval_episodes": 10, "variant": "cpu"},
          "rows": rows, "demos": {}, "command": "cmd", "date": "2026-01-01"}


def _row(method, seed, k, ko):
  return {"task": "t-v3", "method": method, "seed": seed, "eval": {"successes": k, "failures": 10 - k,
                                                                    "errored": 0},
          "eval_ood": {"successes": ko, "failures": 10 - ko, "errored": 0, "ood_scale": 1.5},
          "steps": 1, "batch_size": 1, "params": 1, "model": "m", "train_wall_s": 1.0,
          "samples_per_s": 1.0, "final_loss": 0.1, "commands": {}}


def test_metaworld_rates_are_mean_and_sample_std_over_seeds():
  table = _table({"a": _row("energyflow", 0, 9, 5), "b": _row("energyflow", 1, 8, 6),
                  "c": _row("energyflow", 2, 10, 7), "d": _row("bc", 0, 3, 1)})
  text = metaworld.readme_table(table)
  # in range 90, 80, 100: mean 90, sample std 10; OOD 50, 60, 70: 60 ± 10; bc one seed
  assert "| t (nan) | 90.0 ± 10.0 / 60.0 ± 10.0 | 30 / 10 |" in text
  section = metaworld.success_section(table)
  assert "| t-v3 | bc | 0 | 3/10 [11, 60] | 1/10 [2, 40] |" in section   # Wilson, by hand


def test_rl_normalization_and_iqm_by_hand():
  scores = {"m": np.arange(8, dtype=float)[:, None]}          # 8 runs, 1 task
  iqm, lo, hi = rl_report.iqm_ci(scores)["m"]
  assert iqm == pytest.approx(3.5)                              # mean of 2, 3, 4, 5
  assert lo <= iqm <= hi
  assert rl_report.normalized([50.0, 150.0], random=50.0, expert=250.0).tolist() == [0.0, 0.5]


def test_a_generated_section_is_replaced_and_prose_kept():
  text = "intro\n" + documents.section("x", "old") + "outro\n"
  out = documents.replace_section(text, "x", "new\nlines")
  assert out == "intro\n" + documents.section("x", "new\nlines") + "outro\n"
  with pytest.raises(documents.DocumentError, match="0 generated sections named 'y'"):
    documents.replace_section(text, "y", "z", "doc.md")


def test_build_check_cli_passes_on_the_committed_documents():
  proc = subprocess.run([sys.executable, "-m", "experiments.reports.build", "--check"],
                        capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stderr
  assert "match their raw results" in proc.stdout
