"""BENCHMARKS.md's core section (experiments/reports/benchmarks.py): ratios over
interleaved rounds and goals that need the worst round within 10 %. (tests/test_reports.py
rebuilds the published section from results/raw/benchmarks/ byte for byte.)"""
import pytest

from experiments.reports import benchmarks as core


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


def test_busy_is_what_other_processes_took_during_the_rounds_where_measured():
  rec = fake_record()
  rec["load"][0]["loadavg"] = [1.97, 2.2, 2.6]     # a job stopped just before the run
  assert "busy" not in core.markdown_report(rec)
  rec["load"][2]["other_cores"] = 0.6              # one round shared the machine
  assert "The machine was busy" in core.markdown_report(rec)
  for row in rec["load"]:                          # older records: no per-round measure
    row.pop("other_cores", None)
  assert "The machine was busy" in core.markdown_report(rec)


def test_goals_per_cpu_model_take_one_column_per_model_named_by_its_record():
  intel, amd = fake_record(), fake_record(train_ratios=(1.2, 1.1, 1.3))
  amd["machine"] = dict(amd["machine"], cpu="AMD EPYC")
  intel["machine"] = dict(intel["machine"], cpu="Intel(R) Xeon(R) Processor")
  assert core.cpu_file(intel) == "intel-r-xeon-r-processor.json"
  assert core.cpu_file(amd) == "amd-epyc.json"
  text = core.by_cpu_section({core.cpu_file(r): r for r in (intel, amd)})
  assert "| workload | goal | AMD EPYC (2026-12-01, git abc) | Intel(R) Xeon(R) Processor" in text
  assert "| train step, f32 | >= 1.5x | 1.20x [1.10-1.30]: not met | " \
         "1.50x [1.40-1.60]: **met** |" in text
  assert "| 20-step sampling, batch 1, f32 | >= 10x | 9.52x [9.09-10.00]: not met |" in text
  assert "| energy, f32 | >= 1.5x | - | - |" in text                 # not in these records
  assert "AMD EPYC: XLA 200, torch 300" in text


def test_train_step_ceiling_is_torch_time_over_the_step_flops_at_the_matmul_peak():
  rec = fake_record()           # torch 100 samples/s at batch 256: 2,560 ms per step
  # 60 GFLOP at 200 GFLOP/s (f32) = 300 ms; at 900 GFLOP/s (bf16) = 66.7 ms
  assert core.train_ceilings(rec, "float32") == pytest.approx([2560 / 300] * 3)
  assert core.train_ceilings(rec, "bfloat16") == pytest.approx([2560 / (60e3 / 900)] * 3)
  text = core.by_cpu_section({core.cpu_file(rec): rec})
  assert "Test CPU: f32 8.53x [8.53-8.53] (>= 1.5x needs the step at 18% of that peak), " \
         "bf16 38.40x [38.40-38.40] (>= 2x needs the step at 5% of that peak)" in text
  del rec["measurements"][1]["step_gflop"]    # round 0 of f32 without a FLOP count
  assert len(core.train_ceilings(rec, "float32")) == 2


def test_variants_report_gives_each_change_its_speedup_over_rounds():
  rec = dict(date="2026-12-01", machine=dict(cpu="Test CPU", cores=2),
             git=dict(commit="abc", dirty=False), command="python benchmarks/variants.py --record",
             settings=dict(rounds=3, warmup=1, repeats=3), load=[dict(loadavg=[1.0, 1, 1])],
             changes=[dict(change="conv_xla", what="XLA's convolution", dtype="float32",
                           workloads={"train": dict(
                               figure="samples_per_s", batch=256, speedup=[1.2, 1.1, 1.3],
                               speedup_cpu=[1.2, 1.2, 1.2],
                               figures={"before": [100.0] * 3, "after": [120.0] * 3})})])
  text = core.variants_report(rec)
  assert ("| **conv_xla** (float32) | train step (samples/s, batch 256) | 100 | 120 | "
          "1.20x [1.10-1.30] | 1.20x [1.20-1.20] |") in text
  assert "- **conv_xla**: XLA's convolution." in text and "busy" not in text


def test_readme_speed_bullet_quotes_the_medians_and_spreads_over_rounds():
  training = {"results": [{"workload": "train_and_evaluate", "ratio_to_bare_step": 1.174}]}
  text = core.readme_bullet(fake_record(), training)
  assert "on a 2-core Test CPU, 3 interleaved rounds" in text
  assert "a float32 train step 1.50x [1.40-1.60] (bf16 2.50x [2.50-2.50])" in text
  assert "batch-1 sampling 9.52x [9.09-10.00] faster" in text      # 200/21 median, 200/22 min
  assert "energy evaluation - (bf16 -)" in text                    # not measured in this record
  assert "runs at 1.17x the bare step" in text


def test_huge_pages_section_by_hand():
  def side(step_s, faults, huge):
    return {"step_s": step_s, "minor_faults_per_call": faults, "huge_pages": huge}
  raw = {"date": "d", "command": "python benchmarks/huge_pages.py", "fingerprint": {},
         "rounds": [{"off": side(0.5, 9e4, False), "on": side(0.4, 400, True)},
                    {"off": side(0.45, 9e4, False), "on": side(0.5, 500, True)}]}
  text = core.huge_pages_section(raw)
  # per-round speedups 1.25 and 0.90: median 1.075
  assert "takes 475 ms [450-500] with 90,000 minor page faults" in text
  assert "450 ms [400-500] with 450 with them: 1.07x [0.90-1.25] faster." in text
  raw["rounds"][0]["on"]["huge_pages"] = False
  assert "did not take effect in every round" in core.huge_pages_section(raw)


def test_workers_section_sums_the_processes_and_takes_each_ratio_within_its_round():
  rounds = [{"ppo": {"alone": [50.0], "unpinned": [40.0, 40.0], "pinned": [60.0, 60.0]}},
            {"ppo": {"alone": [54.0], "unpinned": [50.0, 50.0], "pinned": [55.0, 55.0]}}]
  raw = {"date": "d", "command": "python benchmarks/workers.py", "fingerprint": {},
         "processes": 2, "rounds": rounds}
  text = core.workers_section(raw)
  # totals 80 / 120 and 100 / 110: ratios 1.5 and 1.1, median 1.3 (not 115 / 90 = 1.28)
  assert "| 52 [50-54] | 90 [80-100] | 115 [110-120] | 1.30x [1.10-1.50] |" in text
  assert "samples/s" not in text        # no train rows when the record has none


def test_profile_classes_the_ops_of_a_real_optimized_hlo():
  """benchmarks/profile_step.py classes each op of XLA's optimized HLO: the dot's FLOPs
  from its shapes, the im2col-like gather as data movement, the mean as a reduction."""
  import os
  import sys

  import jax
  import jax.numpy as jnp
  sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                  "benchmarks"))
  import profile_step

  def f(x, w):                                    # x [8, 16], w [32, 16]
    y = jnp.concatenate([x, x[:, ::-1]], axis=1) @ w
    return jnp.tanh(y) - jnp.mean(y, axis=1, keepdims=True)
  text = jax.jit(f).lower(jnp.ones((8, 16)), jnp.ones((32, 16))).compile().as_text()
  ops = profile_step.parse_hlo(text)
  top_level = [o for o in ops.values() if o["computation"].startswith("main")]
  by_class = {}
  for o in top_level:
    by_class.setdefault(o["cls"], []).append(o)
  assert sum(o["flops"] for o in by_class["matmul"]) == 2 * 8 * 16 * 32
  assert by_class.get("reduction"), "the mean's reduce was not classed as a reduction"
  assert not any(o["flops"] for c, os_ in by_class.items() if c != "matmul" for o in os_)
  assert "dot_general" in " ".join(o["source"] for o in by_class["matmul"])
  kind = profile_step.source_kind
  net = "jit(train_step)/jvp(jvp(EnergyNet.from_features))/backbone/FiLMResBlock_7/ConvBlock_1/"
  assert kind(net + "GroupNorm_0/sub") == "GroupNorm"
  assert kind(net + "jit(softplus)/log1p").startswith("activation")
  assert kind(net + "Conv1D_0/concatenate").startswith("convolution plumbing")
  assert kind("jit(train_step)/adam/mul").startswith("outside the network")
  assert kind("") == profile_step.UNNAMED


def test_profile_section_says_what_is_left_between_the_step_and_the_peak():
  prof = dict(dtype="float32", batch=256, step_s=0.4, step_gflop=60.0, matmul_peak_gflops=300.0,
              profiled_s=0.5, events=100,
              classes={"matmul": dict(seconds=0.3, flops=60e9, ops=10),
                       "elementwise": dict(seconds=0.15, flops=0.0, ops=50),
                       "reduction": dict(seconds=0.05, flops=0.0, ops=20)},
              not_matmul_by_source={"GroupNorm": 0.12, "activation (softplus)": 0.08},
              top=[dict(name="dot.1", seconds=0.01, cls="matmul", flops=1e9, shape="f32[8,8]",
                        source="jit(step)/dot_general")],
              top_not_matmul=[dict(name="fusion.2", seconds=0.005, cls="elementwise", flops=0.0,
                                   shape="f32[8]", source="")])
  raw = dict(command="python benchmarks/profile_step.py --record", date="2026-12-02",
             machine=dict(cpu="Test CPU", cores=2), git=dict(commit="abc", dirty=False),
             settings=dict(calls=3, top=1, dtypes=["float32"]),
             load=[dict(loadavg=[1.0, 1, 1]), dict(loadavg=[1.5, 1, 1])], profiles=[prof])
  text = core.profile_section(raw)
  assert "150 GFLOP/s = 50% of the 300 GFLOP/s float32 matmul peak" in text
  assert "| matmul | 10 | 300.0 | 60% | 60.00 | 200 | 67% |" in text
  assert "| elementwise | 50 | 150.0 | 30% | 0.00 | - | - |" in text
  # the matmuls at the peak: 60 GFLOP / 300 GFLOP/s = 200 ms; the rest 200 ms of 500
  assert "would take 200 ms at the peak against 300 ms now" in text
  assert "every other op 200 ms (40% of the summed time)" in text
  assert "| GroupNorm | 120.0 | 24% |\n| activation (softplus) | 80.0 | 16% |" in text
  assert "| dot.1 | matmul | 1 | 10.00 | 100 | `f32[8,8]` | `jit(step)/dot_general` |" in text
  assert "| fusion.2 | elementwise | 1 | 5.00 | - | `f32[8]` | - |" in text
  assert "### train step, float32" in text and "read bandwidth" not in text
  # batch-1 sampling: 4,194,304 bf16 parameters (8 MB) read twice per ODE step at 16 GB/s:
  # 16 MiB / 16 GiB/s = 0.98 ms per step, 20 ms per call of 20 steps
  sample = dict(prof, workload="sample_b1", dtype="bfloat16", batch=1, ode_steps=20,
                step_s=0.05, step_gflop=1.5, params=4 * 2**20, gflop_source="matmul ops",
                top=[dict(prof["top"][0], runs=20)])
  text = core.profile_section(dict(raw, profiles=[prof, sample], read_bandwidth_gbps=16.0))
  assert "### batch-1 sampling, bfloat16" in text
  assert ("Batch-1 sampling bfloat16, 20 PF-ODE steps in one call: 50.0 ms per call (wall), "
          "2.50 ms per ODE step; its matmuls do 1.50 GFLOP per call, 30 GFLOP/s") in text
  assert ("(4,194,304 parameters, 8.0 MB in the matmuls' bfloat16 inputs) are read twice per "
          "ODE step") in text
  assert "16.0 GB/s read bandwidth measured here that alone takes 0.98 ms per step, 20 ms" in text
  assert "| dot.1 | matmul | 20 | 10.00 |" in text
  assert text.rstrip().endswith("(rebuild: `python -m experiments.reports.build`).")


def test_bf16_accuracy_gaps_are_relative_to_the_f32_run_at_each_read_step():
  import importlib.util
  import os
  spec = importlib.util.spec_from_file_location(
      "bf16_accuracy", os.path.join(os.path.dirname(__file__), "..", "benchmarks",
                                    "bf16_accuracy.py"))
  bench = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(bench)
  arms = {"f32": dict(eval_loss_f32=[1.0, 0.5], samples_per_s=100.0),
          "bf16": dict(eval_loss_f32=[1.1, 0.45], eval_loss_own=[1.2, 0.5], samples_per_s=150.0),
          "f32_seed1": dict(eval_loss_f32=[0.9, 0.55], samples_per_s=None)}
  raw = dict(task="t", steps=[10, 20], arms=arms, command="c", date="d",
             setting=dict(steps=20, batch=4, eval_batch=8))
  raw["summary"] = bench.summary(raw)
  assert raw["summary"]["bf16"] == pytest.approx({"last": -0.1, "mean_abs": 0.1})
  assert raw["summary"]["bf16, read in bf16"] == pytest.approx({"last": 0.0, "mean_abs": 0.1})
  assert raw["summary"]["f32_seed1"] == pytest.approx({"last": 0.1, "mean_abs": 0.1})
  text = core.bf16_accuracy_section(raw)
  assert "| 20 | 0.5000 | 0.4500 | 0.5000 | 0.5500 | -10.0 % | +10.0 % |" in text
  assert "f32 100, bf16 150" in text and "f32_seed1" not in text.split("samples/s")[-1]
