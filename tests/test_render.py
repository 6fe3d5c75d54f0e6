"""benchmarks/render.py and core.py's report: ratios over interleaved rounds, goals, and
BENCHMARKS.md sections regenerated from raw JSON without losing earlier figures."""
import importlib.util
import json
import os

import pytest

ROOT = os.path.join(os.path.dirname(__file__), "..")


def _load(name):
  spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                os.path.join(ROOT, "benchmarks", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


core, render = _load("core"), _load("render")


def fake_record(date="2026-12-01T00:00:00+00:00", train_ratios=(1.6, 1.5, 1.4)):
  """Three rounds: torch's train step 100 samples/s, efjax f32 100 * ratio, bf16 2.5x."""
  ms = []
  for r, ratio in enumerate(train_ratios):
    ms += [dict(framework="torch", workload="train_step", samples_per_s=100.0, round=r),
           dict(framework="jax", dtype="float32", workload="train_step", batch=256,
                samples_per_s=100.0 * ratio, achieved_gflops=150.0, step_gflop=60.0,
                compile_s=1.0, round=r),
           dict(framework="jax", dtype="bfloat16", workload="train_step", batch=256,
                samples_per_s=250.0, achieved_gflops=300.0, step_gflop=60.0, compile_s=1.0,
                round=r),
           dict(framework="torch", workload="sample_latency", ms=200.0, round=r),
           dict(framework="jax", dtype="float32", workload="sample_latency", ms=20.0 + r,
                round=r),
           dict(framework="jax", dtype="bfloat16", workload="sample_latency", ms=15.0, round=r),
           dict(framework="torch", workload="matmul_peak", gflops=300.0, round=r),
           dict(framework="jax", dtype="float32", workload="matmul_peak", gflops=200.0, round=r),
           dict(framework="jax", dtype="bfloat16", workload="matmul_peak", gflops=900.0,
                round=r)]
  return dict(benchmark="core", command="python benchmarks/core.py --compare_torch", date=date,
              machine=dict(cpu="Test CPU", cores=2, simd=["avx2"]), versions=dict(jax="0"),
              git=dict(commit="abc", dirty=False), params=4812032,
              settings=dict(rounds=3, warmup=1, repeats=1, torch=True, torch_compile=False,
                            quick=False, dtypes=["float32", "bfloat16"]),
              load=[dict(loadavg=[0.5, 0.5, 0.5])] + [dict(round=r, loadavg=[2.0, 1, 1],
                                                           other_cores=0.05) for r in range(3)],
              measurements=ms, once=[])


def test_ratios_are_per_round_and_goals_need_the_worst_round_within_10_percent():
  rec = fake_record()
  assert core.ratios(rec, "train", "float32") == pytest.approx([1.6, 1.5, 1.4])
  assert core.ratios(rec, "sample_b1", "float32") == pytest.approx([10.0, 200 / 21, 200 / 22])
  assert core.summary(core.ratios(rec, "train", "float32")) == pytest.approx((1.5, 1.4, 1.6))
  assert core.goal_status((1.5, 1.4, 1.6), 1.5) == "**met**"
  assert core.goal_status((1.5, 1.3, 1.6), 1.5) == "not met"      # worst round 13 % below
  assert core.goal_status((1.49, 1.45, 1.6), 1.5) == "not met"
  text = core.markdown_report(rec)
  assert "| train step (samples/s, batch 256) | 100 | 150 | 1.50x [1.40-1.60] | 250 | " \
         "2.50x [2.50-2.50] | f32 >= 1.5x: **met**; bf16 >= 2x: **met** |" in text
  assert "f32 >= 10x: not met" in text            # median 9.52x
  assert "75% [75%-75%] of XLA's float32 matmul peak" in text
  assert "busy" not in text


def test_render_replaces_the_section_and_keeps_earlier_figures(tmp_path):
  results = tmp_path / "results"
  results.mkdir()
  (results / "core.json").write_text(json.dumps(fake_record()))
  before = ("# Benchmarks\n\nintro\n\n## " + core.TITLE + "\n\nold figure 7.7\n\n## Other\n\n"
            "other 1.0\n\n" + render.EARLIER + "\n\n## Earlier runs\n\n### Run of x\n\nold 0.1\n")
  once = render.render(before, ["core"], str(results))
  head, _, earlier = once.partition(render.EARLIER)
  assert "1.50x [1.40-1.60]" in head and "old figure 7.7" not in head and "other 1.0" in head
  assert "old figure 7.7" in earlier and earlier.index("old figure 7.7") < earlier.index("old 0.1")
  assert render.render(once, ["core"], str(results)) == once        # idempotent
  # A new measurement: the previous generated text moves to Earlier runs, newest first.
  (results / "core.json").write_text(json.dumps(fake_record("2026-12-02T00:00:00+00:00",
                                                            (2.0, 2.0, 2.0))))
  twice = render.render(once, ["core"], str(results))
  head, _, earlier = twice.partition(render.EARLIER)
  assert "2.00x [2.00-2.00]" in head and "1.50x" not in head
  assert earlier.index("1.50x [1.40-1.60]") < earlier.index("old figure 7.7")
  assert "measured 2026-12-01T00:00:00+00:00" in earlier
