"""Reports: the committed documents are what the committed raw results make (byte for
byte), and the report arithmetic agrees with hand-computed values on tiny fixtures."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from efjax.errors import DataError
from efjax.policy.stats import wilson_interval
from experiments.reports import bandit, build, documents, metaworld
from experiments.reports import ppo as ppo_report
from experiments.reports import rl_compare as rl_report

ROOT = os.path.join(os.path.dirname(__file__), "..")


def test_build_check_fails_in_one_line_for_a_missing_raw_file(tmp_path, monkeypatch):
  monkeypatch.setattr(build, "RAW", str(tmp_path))
  with pytest.raises(build.DataError, match=r"bandit_family: missing \(the raw results"):
    build.build_documents()
  with pytest.raises(build.DataError, match=r"metaworld/table.json: missing \(a raw result"):
    build.build_documents({"metaworld/table.json"})
  (tmp_path / "bandit").mkdir()
  (tmp_path / "bandit" / "sweep.json").write_text('{"runs": ')
  with pytest.raises(build.DataError, match=r"bandit/sweep.json: not valid JSON"):
    build.build_documents({"bandit/sweep.json"})


def test_a_whole_document_reads_only_the_raw_files_git_tracks(tmp_path, monkeypatch):
  """New raw files (a run still going) count once committed; the build names them."""
  monkeypatch.setattr(build, "RAW", str(tmp_path))
  (tmp_path / "fam" / "held_out").mkdir(parents=True)
  (tmp_path / "fam" / "held_out" / "seed1.json").write_text('{"a": 1}')
  (tmp_path / "fam" / "held_out" / "seed2.json").write_text('{"a": 2}')
  (tmp_path / "fam" / "held_out" / "seed3.json.tmp").write_text('{"a": ')
  assert build.read_raw_folder("fam") == {"held_out/seed1.json": {"a": 1},
                                          "held_out/seed2.json": {"a": 2}}   # no git: all
  monkeypatch.setattr(build, "_tracked", lambda folder: ["held_out/seed1.json"])
  assert build.read_raw_folder("fam") == {"held_out/seed1.json": {"a": 1}}
  assert build.untracked("fam") == ["held_out/seed2.json"]
  (tmp_path / "fam" / "held_out" / "seed1.json").write_text("{")
  with pytest.raises(build.DataError, match=r"fam/held_out/seed1.json: not valid JSON"):
    build.read_raw_folder("fam")


def test_bandit_family_report_command_writes_what_the_build_makes(tmp_path, monkeypatch):
  """`experiments.bandit_family --report` and the build share one writer."""
  from experiments import bandit_family_report
  from experiments.configs import bandit_family
  monkeypatch.chdir(ROOT)                        # the config's raw_dir is relative to it
  family = bandit_family.get_config()
  family.report.markdown = str(tmp_path / "bandit_family.md")
  family.report.plot = str(tmp_path / "bandit_family.png")
  bandit_family_report.write_report(family)
  built = build.build_documents({"bandit_family"})["results/bandit_family.md"]
  # equal unless a run's raw files are there but not committed yet
  assert (tmp_path / "bandit_family.md").read_text() == built or build.untracked("bandit_family")
  assert (tmp_path / "bandit_family.png").exists()


def test_the_reading_ceiling_section_pairs_each_member_with_the_defaults_run(monkeypatch):
  """Each member's ceiling (the largest draw count; the change from the smaller one) beside
  the shipped candidate's run at the defaults' cell, from a stage or a baseline study (a
  study that changed something is not the defaults' run), and the medians, by hand."""
  from experiments import bandit_family_report as report
  from experiments.configs import bandit_family
  family = bandit_family.get_config("smoke")
  family.tune.studies = dict(base=dict(candidate="c", member={}, seeds=(2,)),
                             other=dict(candidate="c", member={}, flags=("x=1",), seeds=(3,)))
  pick = dict(candidate="c", ema_horizon="0.4", reading="centered:0.5")
  monkeypatch.setattr(report, "last_pick", lambda family, records: pick)

  def member(seed):
    return dict(seed=seed, obs_dim=1, act_dim=1, num_modes=2, temperature=0.5)

  def run(seed, pearson, **extra):
    return dict(member=member(seed), candidate="c", **extra,
                scores={"0.4": {"centered:0.5": {"support": {"pearson": pearson}}}})

  def ceiling(seed, at_5, at_6):
    return dict(member=member(seed), readings={
        "centered:0.5": {"sigma": 0.32, "scores": {"10": {"pearson": at_5 - 0.02},
                                                   "40": {"pearson": at_5}}},
        "centered:0.6": {"sigma": 0.63, "scores": {"10": {"pearson": at_6},
                                                   "40": {"pearson": at_6}}}})
  lines = report.ceiling_lines(
      family, [ceiling(1, 0.9, 0.8), ceiling(2, 0.95, 0.7), ceiling(3, 0.99, 0.6)],
      [run(1, 0.7)], [run(2, 0.85, study="base"), run(3, 0.5, study="other")])
  rows = {line.split(" | ")[0]: line for line in lines if line.startswith("| ")}
  assert rows["| 1"].endswith("| 0.900 | 0.800 | 0.700 | +0.200 | 0.020 |")
  assert rows["| 2"].endswith("| 0.950 | 0.700 | 0.850 | +0.100 | 0.020 |")
  assert rows["| 3"].endswith("| 0.990 | 0.600 | — | — | 0.020 |")    # changed: not paired
  assert rows["| median"].endswith("| 0.950 | 0.700 | 0.775 | +0.150 | |")


def test_the_committed_bandit_family_raw_files_are_tracked_ones():
  tracked = build._tracked("bandit_family")
  if tracked is None:
    pytest.skip("not a git tree")
  assert tracked and all(not os.path.isabs(p) and p.endswith(".json") for p in tracked)


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


def _collection(task, run, successful, tried, length, scale=1.5):
  return {"task": task, "run": run, "command": f"python -m experiments.collect_demos {task} {run}",
          "summary": {"episodes_successful": successful, "episodes_tried": tried,
                      "mean_length_kept": length, "wall_s": 2.0, "env_steps_per_s": 1234.5,
                      "settings": {"env": {"ood_scale": scale}}}}


def test_metaworld_demos_section_reads_each_collection():
  raw = {"date": "2026-01-01 00:00 UTC", "command": "python -m experiments.metaworld_demos",
         "wall_s": 10.0, "collections": [
             _collection("t-v3", "demos", 99, 100, 70.25), _collection("t-v3", "in_range", 10, 10, 70),
             _collection("t-v3", "ood", 7, 10, 107.7),
             _collection("t-v3", "ood_20_scale1.25", 19, 20, 100, 1.25),
             _collection("t-v3", "ood_20_scale1.5", 12, 20, 100, 1.5)]}
  text = metaworld.demos_section(raw)
  assert "| t-v3 | 99/100 | 70.2 | 2.0 | 1,234 | 10/10 | 7/10 | 107.7 |" in text
  assert "| task | scale 1.25 | scale 1.5 |" in text and "| t-v3 | 19/20 | 12/20 |" in text
  assert "python -m experiments.collect_demos <task> demos" in text


def _fingerprint():
  return {"code": {"commit": "abcdef123", "dirty": False}, "platform": {"cpu": "CPU X",
                                                                         "backend": "cpu"}}


def _ef_raw():
  return {"command": "python benchmarks/ppo.py", "date": "2026-01-01 00:00 UTC", "wall_s": 10.0,
          "cpu_count": 2, "load_average_at_end": [1.0, 1.0, 1.0],
          "setting": {"num_envs": 4, "unroll_length": 2, "updates": 1, "rounds": 3},
          "labels": {"ef": "EF reward", "other": "other reward"},
          "goal": {"case": "ef", "ratio": 0.85}, "paper_case": "other",
          "envs": [{"env": "e1", "backend": "spring", "steps_per_s": {
              "true": [100.0, 200.0, 400.0], "ef": [90.0, 150.0, 420.0],
              "other": [50.0, 100.0, 100.0]}}],
          "fingerprint": _fingerprint()}


def test_ppo_medians_spreads_and_round_by_round_ratios_by_hand():
  assert ppo_report.spread([4.0, 1.0, 3.0, 2.0]) == (2.5, 1.0, 4.0)      # even count
  text = ppo_report.energyflow_section(_ef_raw())
  # steps/s: median 150 of 90, 150, 420; ratios per round 0.9, 0.75, 1.05
  assert "| e1 (spring) | **EF reward** | 150 [90-420] | 0.90 [0.75-1.05] |" in text
  assert "| e1 (spring) | true reward | 200 [100-400] | 1.00 |" in text
  # other: 0.5, 0.5, 0.25 -> median 0.50 [0.25-0.50]
  assert "| e1 (spring) | other reward | 100 [50-100] | 0.50 [0.25-0.50] |" in text
  assert "is met on 1 of 1 envs**: e1 0.90 [0.75-1.05]." in text
  raw = _ef_raw()
  raw["envs"][0]["steps_per_s"]["ef"] = [80.0, 160.0, 320.0]             # 0.80 every round
  assert "is NOT met on 0 of 1 envs" in ppo_report.energyflow_section(raw)
  with pytest.raises(ValueError, match="not timed together"):
    ppo_report.ratios([1.0, 2.0], [1.0])


def test_ppo_brax_table_and_readme_bullet_by_hand():
  brax = {"command": "c", "date": "d", "wall_s": 1.0, "cpu_count": 2,
          "load_average_at_end": None, "fingerprint": _fingerprint(),
          "setting": {"env": "e1", "backend": "spring", "num_envs": 4, "unroll_length": 2,
                      "updates": 1, "rounds": 3, "num_minibatches": 2, "update_epochs": 1},
          "steps_per_s": {"brax_ppo": [100.0, 120.0, 110.0], "efjax_true": [121.0, 99.0, 132.0],
                          "efjax_learned": [110.0, 90.0, 99.0]}}
  text = ppo_report.brax_section(brax)
  assert "| efjax PPO, true reward | 121 [99-132] | 1.10 vs brax (goal >= 1.0) |" in text
  # learned / true per round: 110/121 = 0.909, 90/99 = 0.909, 99/132 = 0.75
  assert "| efjax PPO, MLP reward (3x256) | 99 [90-110] | 0.91 [0.75-0.91] vs efjax" in text
  bullet = ppo_report.readme_bullet(brax, _ef_raw())
  assert "our PPO runs 1.10x brax's PPO" in bullet
  assert "0.90 [0.75-1.05]x on e1" in bullet and "128x128 net, 0.50-0.50x." in bullet


def test_playground_table_hours_and_errors_by_hand():
  raw = {"command": "c", "date": "d", "wall_s": 1.0, "cpu_count": 2,
         "load_average_at_end": None, "fingerprint": _fingerprint(),
         "setting": {"num_envs": 4, "steps": 2, "rounds": 3, "backend": "spring"},
         "steps_per_s": {"brax/hopper/spring": [900.0, 1000.0, 1100.0],
                         "playground/HopperHop/jax": [2000.0, 1000.0, 4000.0]},
         "playground_tasks": {"HopperHop": {"episode_length": 1000, "control_dt": 0.02,
                                            "tuned_ppo_steps": 72_000_000}},
         "errors": {"playground/HopperHop/warp": "RuntimeError: no kernel"},
         "packages": {"playground": "0.2.0", "warp-lang": None},
         "playground_requires": ["mujoco>=3.6.0"]}
  text = ppo_report.playground_section(raw)
  assert "| hopper (brax) | spring | 1000 | — | 1,000 [900-1,100] | — | — |" in text
  # 72M steps at the median 2,000 steps/s: 36,000 s = 10.0 h
  assert "| HopperHop (playground) | MJX jax | 1000 | 0.02 | 2,000 [1,000-4,000] | 72M | 10.0 |" \
      in text
  assert "| HopperHop (playground) | MJX warp | — | — | cannot run: RuntimeError: no kernel |" \
      in text
  assert "playground 0.2.0." in text and "warp-lang" not in text.split("\n")[0]
  assert "`mujoco>=3.6.0`" in text


def test_bandit_readme_bullet_quotes_the_main_job():
  m = lambda p, a, e: {"pearson": p, "spearman": 0.0, "preference_accuracy": a, "epic": e}  # noqa: E731
  raw = {"results": {"centered": m(0.9444, 0.986, 0.1681), "multi_noise": m(0, 0, 0),
                     "centered_t_sweep": {"0.001": m(0.774, 0.989, 0.336)}},
         "wall_s": 71.04, "command": "python -m experiments.bandit", "config": {"reward": {"t": 0.4}},
         "fingerprint": _fingerprint()}
  text = bandit.readme_bullet(raw)
  assert "71 s on CPU X, commit abcdef1" in text
  assert "(t = 0.4) reaches Pearson / preference accuracy / EPIC 0.944 / 0.986 / 0.168" in text
  assert "(t = 0.001) 0.774 / 0.989 / 0.336" in text


def test_bandit_sweep_cells_are_means_over_seeds():
  m = lambda p, a: {"pearson": p, "preference_accuracy": a}  # noqa: E731
  raw = {"command": "c", "budget": "b", "seeds": [0, 1], "t_sweep": [0.4],
         "runs": {"1e-3": [{"centered_t_sweep": {"0.4": m(0.8, 0.9)}},
                           {"centered_t_sweep": {"0.4": m(0.9, 1.0)}}]}}
  assert "| 1e-3 | 0.850 / 0.950 |" in bandit.sweep(raw)


def test_rl_normalization_and_iqm_by_hand():
  scores = {"m": np.arange(8, dtype=float)[:, None]}          # 8 runs, 1 task
  iqm, lo, hi = rl_report.iqm_ci(scores)["m"]
  assert iqm == pytest.approx(3.5)                              # mean of 2, 3, 4, 5
  assert lo <= iqm <= hi
  assert rl_report.normalized([50.0, 150.0], random=50.0, expert=250.0).tolist() == [0.0, 0.5]


def test_iqm_and_probability_of_improvement_are_rliables():
  """The report's counted forms give rliable's numbers, ties and unequal run counts
  included (the bootstrap resamples repeat runs, so ties are common)."""
  from rliable import metrics
  rng = np.random.default_rng(0)
  for runs_x, runs_y, tasks in ((5, 5, 1), (7, 3, 2), (4, 9, 3)):
    x = rng.integers(0, 4, size=(runs_x, tasks)).astype(float)       # many ties
    y = rng.normal(1.5, 1.0, size=(runs_y, tasks)).round(1)
    assert rl_report.probability_of_improvement(x, y) == pytest.approx(
        metrics.probability_of_improvement(x, y), abs=1e-12)
    assert rl_report.probability_of_improvement(x, x) == pytest.approx(0.5)
    for scores in (x, y, rng.normal(size=(runs_x, tasks))):
      assert rl_report.interquartile_mean(scores) == pytest.approx(
          metrics.aggregate_iqm(scores), abs=1e-12)


def test_a_generated_section_is_replaced_and_prose_kept():
  text = "intro\n" + documents.section("x", "old") + "outro\n"
  out = documents.replace_section(text, "x", "new\nlines")
  assert out == "intro\n" + documents.section("x", "new\nlines") + "outro\n"
  with pytest.raises(documents.DocumentError, match="0 generated sections named 'y'"):
    documents.replace_section(text, "y", "z", "doc.md")


def test_build_check_cli_passes_on_the_committed_documents():
  """Every generated document and section equals what its committed raw results make (the
  CLI CI users run; it names each document that differs)."""
  proc = subprocess.run([sys.executable, "-m", "experiments.reports.build", "--check"],
                        capture_output=True, text=True, cwd=ROOT, timeout=300)
  assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
  assert "match their raw results" in proc.stdout


def _error(mean):
  return {"median": [m / 2 for m in mean], "mean": mean, "demo_mean_abs": [0.1, 0.5, 0.4, 1.0]}


def test_metaworld_diagnosis_fit_and_speed_sections_by_hand():
  raw = {"date": "2026-01-01 00:00 UTC", "command": "python -m experiments.metaworld_diagnosis",
         "setting": {"task": "t-v3", "num_steps": 10000, "episodes": 20, "windows": 512},
         "models": [{"name": "raw_plain", "command": "train raw", "eval": {
             "successes": 3, "failures": 17, "errored": 0},
             "action_error": _error([0.1, 0.2, 0.3, 0.4])}],
         "assembly_fit": [{"method": "bc", "command": "train bc", "steps": 50000,
                           "action_error": _error([0.013, 0.029, 0.043, 0.05])}]}
  text = metaworld.diagnosis_section(raw)
  assert "| raw observations, plain energy (the old `cpu`) | 0.050, 0.100, 0.150, 0.200 | " \
         "0.100, 0.200, 0.300, 0.400 | 3/20 |" in text
  assert "the demos' mean |a|: 0.10, 0.50, 0.40, 1.00" in text
  assert "| Gaussian BC | 0.013, 0.029, 0.043, 0.050 |" in metaworld.fit_section(raw)
  speed = {"date": "d", "command": "python benchmarks/metaworld_speed.py", "cpu_count": 2,
           "load_average_at_end": [1.5, 1, 1], "fingerprint": {"platform": {"cpu": "CPU X"}},
           "setting": {"num_envs": 10, "steps": 300, "rounds": 3, "train_steps": 300},
           "stepping": {"list": [300.0, 100.0, 200.0], "async": [50.0, 60.0, 70.0]},
           "render": {"seconds_per_frame": None, "error": "no GL", "mujoco_gl": None},
           "training": [{"model": "m", "samples_per_s": 1234.4, "final_loss": 0.25}]}
  text = metaworld.speed_section(speed)
  assert "| a plain list (the harness) | 200 [100-300] |" in text
  assert "Rendering failed on this machine (no GL)." in text
  assert "| m | 1,234 | 0.250 |" in text and "load average 1.5" in text


def test_rl_budget_table_normalized_means_and_the_goal_by_hand():
  check = {"env": "hopper", "backend": "spring", "expert_steps": 5e6, "expert_return": 1000.0,
           "random_return": 0.0, "rl_steps": 5e6, "wall_s": 600.0, "command": "python -m x",
           "methods": {"true_reward": {"normalized_per_seed": [0.9, 0.7]},
                       "constant_plus": {"normalized_per_seed": [0.2, 0.4]}}}
  header = {"setting": {"goal": 0.8, "rl.num_seeds": 2},
            "command": "python -m experiments.rl_budget",
            "date": "2026-01-01 00:00 UTC", "wall_s": 1.0, "cpu_count": 2,
            "load_average_at_end": [1, 1, 1], "fingerprint": _fingerprint()}
  walker = dict(check, env="walker2d", episode_length=200,
                methods={"true_reward": {"normalized_per_seed": [0.5, 0.7]}})
  files = {"walker2d.json": {"checks": [walker], **header},
           "hopper.json": {"checks": [check], **header}}
  text = ppo_report.budget_section(files)
  assert "| hopper (spring, 1000) | 5M, 1000.0 | 0.0 | 5M | 0.80 (0.90, 0.70) | 0.30 (0.20, 0.40) " \
         "| — | — | — | yes | 10 min |" in text
  assert text.index("| hopper (spring") < text.index("| walker2d (spring, 200)")
  assert "| walker2d (spring, 200) |" in text and "| 0.60 (0.50, 0.70) |" in text and "**no**" in text
  assert text.count("- hopper: `python -m experiments.rl_budget`") == 1   # each record's own
  other = dict(files["walker2d.json"], setting={"goal": 0.9, "rl.num_seeds": 2})
  with pytest.raises(DataError, match="differ in goal or seeds"):
    ppo_report.budget_section({**files, "walker2d.json": other})


def _rl_record(env, scores, sweep_means=(0.1, 0.5)):
  """A raw record of experiments.rl_sweep with given normalized final scores (expert 100,
  random 0, so raw returns are 100 x the scores)."""
  finals = {m: {"overrides": {"energyflow.reward.t": 0.4} if m.startswith("energyflow") else {},
                "eval_return_per_seed": [100.0 * x for x in v], "normalized_per_seed": list(v),
                "wall_s": 10.0, "steps_per_s": 1000.0, "reward_quality": {}}
            for m, v in scores.items()}
  sweep = {m: {"runs": [{"overrides": {"irl.disc_steps": i}, "mean": x,
                         "normalized_per_seed": [x]} for i, x in enumerate(sweep_means)],
               "pick": int(np.argmax(sweep_means))}
           for m in scores if m in rl_report.LEARNED}
  return {"env": env, "expert_return": 100.0, "expert_eval_return": 101.0,
          "random_return": 0.0, "sweep": sweep, "finals": finals, "command": "cmd",
          "wall_s": 3600.0, "date": "2026-12-01 00:00 UTC",
          "fingerprint": {"code": {"commit": "abcdef1234567"}},
          "setting": {"backend": "spring", "fixed_horizon": True, "expert_steps": 10,
                      "rl_steps": 5, "sweep_size": len(sweep_means),
                      "tuning": {"seed": 1000, "num_seeds": 1},
                      "final_seeds": {"seed": 100, "num_seeds": 3}}}


def test_rl_compare_document_by_hand():
  ef, airl = [1.0, 2.0, 3.0], [0.0, 0.5, 2.5]
  scores = {"true_reward": [0.9, 0.8, 0.85], "energyflow_centered": ef, "airl": airl,
            "gail": [-1.0, -2.0, -3.0], "constant_plus": [0.1, 0.2, 0.3], "zero": [0.0, 0.0, 0.4]}
  text = rl_report.document({"reacher.json": _rl_record("reacher", scores)})
  lines = text.splitlines()
  poi = text[text.index("| baseline | P(improvement)"):].splitlines()
  row = lambda label: next(l for l in poi if l.startswith(f"| {label} |"))  # noqa: E731
  # P(EF > AIRL): of the 9 pairs EF wins 2 + 2 + 3 = 7 -> 0.78; with 3 runs the interval
  # holds 0.5. P(EF > GAIL) = 1 on every resample: the claim holds.
  assert row("AIRL").split("|")[2].strip().startswith("0.78") and "undecided" in row("AIRL")
  assert "1.00 [1.00, 1.00]" in row("GAIL") and "holds" in row("GAIL")
  # beats every control: P(method > control) with its interval, as the claims are tested.
  # EF is above every control run (P = 1); GAIL below every one (P = 0); AIRL's mean (1.0)
  # is far above constant +1's (0.2), but P(AIRL > it) = 6/9 with 3 runs each: undecided.
  finals = [l for l in lines if l.startswith("| EnergyFlow centered | t=0.4")]
  assert finals and "| yes (P = 1.00 [1.00, 1.00] vs" in finals[0]
  assert "| no (P = 0.00" in next(l for l in lines if l.startswith("| GAIL | config as is"))
  assert "| undecided (P = 0.67 [0.00, 1.00] vs constant +1" in next(l for l in lines if l.startswith("| AIRL | config"))
  assert "0.85 (holds; goal 0.8)" in text           # the oracle's mean normalized return
  assert "| AIRL | 0.10 | **0.50** |" in text        # the sweep, its pick in bold
  # raw mean +- population std of 100 x the scores
  assert "| 200.0 ± 81.6 |" in finals[0]
  assert "## Aggregate" not in text                 # one env: nothing to aggregate


def test_rl_compare_readme_claims_by_hand():
  ef, airl = [1.0, 2.0, 3.0], [0.0, 0.5, 2.5]
  scores = {"energyflow_centered": ef, "airl": airl, "gail": [-1.0, -2.0, -3.0],
            "constant_plus": [0.1, 0.2, 0.3]}
  text = rl_report.readme_claims({"reacher.json": _rl_record("reacher", scores)})
  assert text.startswith("- PPO on rewards learned") and "reacher: EnergyFlow centered" in text
  assert "beats every control" in text and "does not beat" not in text
  assert "vs AIRL undecided (P = 0.78" in text and "vs GAIL holds (P = 1.00 [1.00, 1.00])" in text
  losing = dict(scores, constant_plus=[5.0, 5.0, 5.0])
  assert "does not beat every control" in rl_report.readme_claims(
      {"reacher.json": _rl_record("reacher", losing)})
  close = dict(scores, constant_plus=[0.5, 1.5, 2.5])    # P(EF > it) = 6/9, 3 runs each
  assert "undecided against the controls (weakest: P = 0.67" in rl_report.readme_claims(
      {"reacher.json": _rl_record("reacher", close)})
  assert "no env has a recorded" in rl_report.readme_claims({})
  assert "in its finals yet" in rl_report.readme_claims(
      {"reacher.json": _rl_record("reacher", {"airl": airl})})


def test_rl_compare_intervals_do_not_depend_on_numpy_global_state():
  """The README and results/rl_compare.md quote the same intervals: the bootstrap is seeded
  whatever numpy's global generator holds (arch draws from it too)."""
  rec = _rl_record("reacher", {"energyflow_centered": [1.0, 1.01, 0.99, 1.02, 1.0],
                               "airl": [1.0, 1.02, 1.01, 0.98, 1.01]})
  out = []
  for seed in (0, 1):
    np.random.seed(seed)
    out.append(rl_report.env_statistics(rec)[1:])
  assert out[0] == out[1]


def test_a_baseline_its_diagnosis_beat_is_not_settled():
  scores = {"energyflow_centered": [1.0, 2.0, 3.0], "airl": [-1.0, -2.0, -3.0],
            "gail": [-1.0, -2.0, -3.0]}
  rec = _rl_record("reacher", scores)                        # sweep picks' mean: 0.5
  rec["diagnoses"] = {
      "airl": [{"label": "a better policy", "overrides": {}, "mean": 0.9,
                "normalized_per_seed": [0.9], "eval_return_per_seed": [90.0]}],
      "gail": [{"label": "no better", "overrides": {}, "mean": 0.52,
                "normalized_per_seed": [0.52], "eval_return_per_seed": [52.0]}]}
  assert rl_report.undertuned(rec) == {"airl": ("a better policy", 0.9, 0.5)}
  text = rl_report.document({"reacher.json": rec})
  airl = next(l for l in text.splitlines() if l.startswith("| AIRL | 1.00"))
  assert "not settled (holds as tuned, but its diagnosis 'a better policy' scored 0.90 " \
         "against the pick's 0.50)" in airl
  assert "| GAIL | 1.00 [1.00, 1.00] | holds |" in text       # within 0.05: still holds
  assert "vs AIRL not settled" in rl_report.readme_claims({"reacher.json": rec})
  # EnergyFlow's own diagnosis beating its pick unsettles every verdict on that env
  rec["diagnoses"]["energyflow_centered"] = [
      {"label": "absorbed steps pay 0", "overrides": {}, "mean": 0.8,
       "normalized_per_seed": [0.8], "eval_return_per_seed": [80.0],
       "reward_paid": {"absorbed_share": 0.25, "live": 1.5, "absorbed": None}}]
  text = rl_report.document({"reacher.json": rec})
  assert "| 0.25; 1.50 / —; — |" in text                      # where the reward paid
  assert "| a better policy | config as is | 0.90 | 0.90 | 90.0 | — → — | — | — |" in text
  gail = next(l for l in text.splitlines() if l.startswith("| GAIL | 1.00 [1.00, 1.00]"))
  assert "not settled (holds as tuned, but EnergyFlow centered's own diagnosis 'absorbed " \
         "steps pay 0' scored 0.80 against the pick's 0.50)" in gail
  claims = rl_report.readme_claims({"reacher.json": rec})
  assert "not settled against any baseline: its own diagnosis 'absorbed steps pay 0' scored " \
         "0.80 against its pick's 0.50; as tuned, vs AIRL not settled" in claims
  assert "vs GAIL holds (P = 1.00" in claims


def test_reward_quality_is_ranked_against_the_sweeps_returns():
  """Spearman's rho over every sweep configuration: a measure that orders them as their
  returns do reads +1, a distance that grows with return reads -1 once negated, a measure
  carried by fewer than 4 configurations is left out."""
  means = (0.1, 0.9, 0.5, 0.3)
  rec = _rl_record("reacher", {"true_reward": [1.0], "energyflow_centered": [0.9],
                               "airl": [0.5]}, sweep_means=means)
  for sw in rec["sweep"].values():
    for r in sw["runs"]:
      r["reward_quality"] = {"return_spearman": r["mean"] ** 2, "epic": r["mean"],
                             "pearson": None, "preference_accuracy": 0.5}
  rec["sweep"]["airl"]["runs"][0]["reward_quality"]["pearson"] = 0.3
  pred = rl_report.quality_prediction(rec)
  assert pred["return_spearman"][0] == pytest.approx(1.0) and pred["return_spearman"][3] == 8
  assert pred["epic"][0] == pytest.approx(-1.0)       # negated distance, rising with return
  assert pred["pearson"] is None                       # one configuration carries it
  assert pred["preference_accuracy"] is None           # the same everywhere: no ranking
  text = rl_report.document({"reacher.json": rec})
  row = next(l for l in text.splitlines() if l.startswith("| reacher | 8 (6) |"))
  assert "+1.00 [+1.00, +1.00] (n 8)" in row and "-1.00 [-1.00, -1.00] (n 8)" in row
  assert rl_report.quality_prediction(rec) == pred      # seeded bootstrap


def test_rl_compare_document_aggregates_two_envs():
  scores = {"true_reward": [1.0, 1.0], "energyflow_centered": [0.6, 0.7],
            "airl": [0.1, 0.2], "constant_plus": [0.0, 0.0]}
  files = {"reacher.json": _rl_record("reacher", scores),
           "hopper.json": _rl_record("hopper", scores)}
  text = rl_report.document(files)
  assert text.index("## reacher") < text.index("## hopper")      # the comparison's env order
  agg = text[text.index("## Aggregate over reacher, hopper"):]
  assert "| EnergyFlow centered | 0.65 [" in agg and "| AIRL | 1.00 [1.00, 1.00] | holds |" in agg
  assert rl_report.document(files) == text                       # seeded bootstrap


def test_rl_compare_readme_claims_end_with_the_documents_aggregate():
  reacher = {"true_reward": [1.0, 1.0], "energyflow_centered": [0.6, 0.7],
             "airl": [0.1, 0.2], "constant_plus": [0.0, 0.0]}
  hopper = dict(reacher, energyflow_centered=[0.1, 0.2])
  files = {"reacher.json": _rl_record("reacher", reacher),
           "hopper.json": _rl_record("hopper", hopper)}
  claims = rl_report.readme_claims(files)
  agg = claims[claims.index("Aggregated over reacher, hopper"):]
  # IQM of {0.6, 0.7, 0.1, 0.2}: the middle two; P(EF > AIRL): 1 on reacher, 2/4 on hopper
  assert "EnergyFlow centered IQM normalized return 0.40 [" in agg
  assert "vs AIRL" in agg and "(P = 0.75 [" in agg
  table = rl_report.document(files)
  row = next(l for l in table.splitlines() if l.startswith("| AIRL | 0.75 ["))
  assert row.split("|")[2].strip() in agg                       # the same interval as the table
  single = rl_report.readme_claims({"reacher.json": _rl_record("reacher", reacher)})
  assert "Aggregated" not in single                              # one env: nothing to aggregate


def test_ppo_runs_are_grouped_by_the_commit_that_made_them():
  rec = _rl_record("reacher", {"true_reward": [1.0], "energyflow_centered": [0.9],
                               "airl": [0.5]})
  assert rl_report.run_commits_text(rec) is None          # a record made before runs said
  for m, sw in rec["sweep"].items():
    for r in sw["runs"]:
      r["made_at"] = "aaaaaaaaaa"
  rec["sweep"]["energyflow_centered"]["runs"][1]["made_at"] = "bbbbbbbbbb"
  rec["finals"]["true_reward"]["made_at"] = "aaaaaaaaaa"
  rec["finals"]["energyflow_centered"]["made_at"] = "bbbbbbbbbb"
  rec["finals"]["airl"]["made_at"] = None
  assert rl_report.run_commits_text(rec) == (
      "aaaaaaaaaa: 4 runs; bbbbbbbbbb: 2 runs (EnergyFlow centered sweep 2, EnergyFlow "
      "centered final); not recorded: 1 run (AIRL final)")
  assert "PPO runs by the commit that made them" in rl_report.document({"reacher.json": rec})


def test_a_record_before_the_absorbing_rule_gets_its_own_section_and_no_claim():
  now = {"true_reward": [1.0, 1.0], "energyflow_centered": [0.9, 1.0], "airl": [1.0, 1.0],
         "constant_plus": [0.0, 0.0], "energyflow_soft_bellman": [0.0, 0.1]}
  then = dict(now, energyflow_centered=[0.0, 0.2])
  rec = _rl_record("inverted_pendulum", now)
  rec["finals"]["energyflow_centered"]["absorbing_reward"] = -2.25
  rec["finals"]["energyflow_soft_bellman"]["absorbing_reward"] = -4.5
  rec["setting"]["absorbing"] = "uninformed"
  rec["setting"]["soft_bellman_entry"] = "demos_mean_value"
  files = {"inverted_pendulum.json": rec,
           f"{rl_report.READ_FOLDER}/inverted_pendulum.json": _rl_record("inverted_pendulum",
                                                                          then)}
  text = rl_report.document(files)
  assert text.count("## inverted_pendulum (") == 1 and "## Aggregate" not in text
  section = text[text.index("## What the absorbing-state rule changed (inverted_pendulum)"):]
  assert "| EnergyFlow centered | 0.10 [0.00, 0.20] | 0.95 [0.90, 1.00] |" in section
  assert "| AIRL | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] |" in section
  finals = text[:text.index("### Sweep")]
  # what absorbed steps paid: set by a fixed reward, learned by the adversarial, the env's 0
  assert "| -2.25 (set) |" in finals and "| learned |" in finals and "| 0 (true reward) |" in finals
  assert "| -4.5 (set; the step into it reads V as the demos' mean) |" in finals
  claims = rl_report.readme_claims(files)
  assert claims.count("inverted_pendulum:") == 1 and "IQM normalized return 0.95" in claims


def test_bandit_family_held_out_rows_are_per_round_and_setting_with_the_recipe_run():
  from experiments import bandit_family_report as fam
  rounds = ({"name": "round 1", "seeds": (10, 11), "settings": ("defaults", "paper")},
            {"name": "round 2", "seeds": (12,), "settings": ("defaults",)})

  def rec(seed, setting, lr, pearson):
    config = {"train": {"learning_rate": lr, "ema": None, "ema_horizon": 0.01, "num_levels": 1},
              "model": {"preconditioning": "edm"}, "reward": {"kind": "centered", "t": 0.5}}
    sc = {"pearson": pearson, "preference_accuracy": 0.9, "epic": 0.1}
    return {"member": {"seed": seed}, "setting": setting, "config": config,
            "scores": {"support": sc, "box": sc}, "train_wall_s": 1.0, "score_wall_s": 1.0,
            "samples_per_s": 10.0}
  table = fam.held_out_table([rec(12, "defaults", 3e-3, 0.95), rec(10, "defaults", 1e-3, 0.9),
                              rec(11, "defaults", 1e-3, 0.8), rec(10, "paper", 1e-4, 0.5)],
                             rounds)
  assert list(table) == ["defaults, round 1", "paper, round 1", "defaults, round 2"]
  assert table["defaults, round 1"]["pearson"]["median"] == pytest.approx(0.85)
  assert table["defaults, round 2"]["recipe"].startswith("lr 0.003, EMA horizon 0.01, edm")
  assert table["defaults, round 2"]["goal"]["pearson_median"]            # 0.95 >= 0.93
  assert not table["defaults, round 1"]["goal"]["pearson_median"]
  # a third round with round 2's recipe is pooled with it; round 1's other recipe is not
  rounds += ({"name": "round 3", "seeds": (13, 14), "settings": ("defaults",)},)
  table = fam.held_out_table([rec(12, "defaults", 3e-3, 0.95), rec(10, "defaults", 1e-3, 0.9),
                              rec(13, "defaults", 3e-3, 0.85), rec(14, "defaults", 3e-3, 0.75)],
                             rounds)
  assert list(table) == ["defaults, round 1", "defaults, round 2", "defaults, round 3",
                         "defaults, round 2 + round 3 (pooled)"]
  pooled = table["defaults, round 2 + round 3 (pooled)"]
  assert [r["member"]["seed"] for r in pooled["members"]] == [12, 13, 14]
  assert pooled["round"]["seeds"] == (12, 13, 14) and pooled["round"]["pooled"]
  assert pooled["pearson"]["median"] == pytest.approx(0.85)


def test_bandit_members_are_grouped_by_modes_and_warmth():
  from experiments import bandit_family_report as fam

  def rec(modes, temperature, pearson):
    sc = {"pearson": pearson, "preference_accuracy": 0.9}
    return {"member": {"num_modes": modes, "temperature": temperature}, "scores": {"support": sc}}
  members = [rec(1, 0.1, 0.99), rec(3, 1.5, 0.95), rec(4, 0.2, 0.6), rec(5, 0.34, 0.8),
             rec(5, 0.35, 0.9)]
  lines = fam._group_rows({"defaults": {"members": members}}, "members", fam._modes_and_warmth,
                          fam.MODE_GROUPS)
  assert lines[2:] == ["| 1-3 modes | 2, 0.970 / 0.900 |",
                       "| 4-5 modes, temperature < 0.35 | 2, 0.700 / 0.900 |",
                       "| 4-5 modes, temperature >= 0.35 | 1, 0.900 / 0.900 |"]


def test_bandit_choose_takes_the_best_of_the_equally_fast_candidates_near_the_best():
  from experiments import bandit_family_report as fam
  cell = lambda p: {"pearson": p, "p10": p, "preference_accuracy": p}  # noqa: E731
  r = "centered:0.5"
  tuning = {"cells": {("slow", "0.01", r): cell(0.90), ("b", "0.01", r): cell(0.89),
                      ("b", "0.4", r): cell(0.70), ("c", "0.01", r): cell(0.885),
                      ("far", "0.01", r): cell(0.5),
                      ("c", "0.01", "multi_noise:0.4,0.5"): cell(0.99)},
            "samples_per_s": {"slow": 1000.0, "b": 9000.0, "c": 10000.0, "far": 50000.0},
            "cpus": {c: ["one CPU"] for c in ("slow", "b", "c", "far")}}
  pick = fam.choose(tuning)
  # the multi_noise cell is not a default's reading (efjax.load reads the centered reward);
  # within 0.02 of 0.90: slow, b, c ('far' is not); b and c are within 0.8 x the fastest
  # of those (10000); of their cells b's 0.89 is the best
  assert (pick["candidate"], pick["ema_horizon"], pick["best_pearson"]) == ("b", "0.01", 0.90)
  assert pick["reading"] == r and pick["speed_compared"]
  # timed on two CPU models (or one not recorded), samples/s say nothing: the best cell wins
  for other in (["another CPU"], [None]):
    pick = fam.choose({**tuning, "cpus": {**tuning["cpus"], "slow": other}})
    assert (pick["candidate"], pick["speed_compared"]) == ("slow", False)


def test_bandit_choose_rule_p10_weighs_the_weakest_members_within_the_median_band():
  from experiments import bandit_family_report as fam
  r = "centered:0.5"
  cell = lambda median, p10: {"pearson": median, "p10": p10, "preference_accuracy": 0.9}  # noqa: E731
  cells = {("a", "0.1", r): cell(0.95, 0.80), ("b", "0.1", r): cell(0.94, 0.86),
           ("b", "0.4", r): cell(0.945, 0.855), ("c", "0.1", r): cell(0.90, 0.95)}
  tuning = {"cells": cells, "samples_per_s": {c: 1.0 for c in "abc"},
            "cpus": {c: ["one CPU"] for c in "abc"}}
  assert fam.choose(tuning)["candidate"] == "a"                  # the median alone
  # p10: c (0.95) is outside the 0.02 median band; of a and b, b's 0.86 is the best 10th
  # percentile, and b at 0.4 (0.855, within 0.01 of it) has the better median
  pick = fam.choose(tuning, "p10")
  assert (pick["candidate"], pick["ema_horizon"]) == ("b", "0.4")
  with pytest.raises(ValueError, match="not one of"):
    fam.choose(tuning, "mean")


def test_rl_budget_command_is_one_a_shell_runs_as_recorded():
  import ast
  import shlex
  from experiments import rl_budget
  args = shlex.split(rl_budget.command("hopper"))
  methods = next(a for a in args if a.startswith("--config.methods="))
  assert ast.literal_eval(methods.split("=", 1)[1]) == rl_budget.METHODS
  assert "'\"'\"'" not in rl_budget.command("hopper")       # no shlex quote-escaping


def test_rl_budget_records_each_env_alone_with_its_own_command():
  import time
  from experiments import rl_budget
  check = {"env": "inverted_pendulum", "wall_s": 12.5, "methods": {}}
  record = rl_budget._record(check, time.perf_counter())
  assert record["checks"] == [check] and record["wall_s"] == 12.5
  assert "--envs=inverted_pendulum --record" in record["command"]
  assert record["setting"]["envs"] == ["inverted_pendulum"]


def test_bandit_goal_on_a_round_cut_short_is_decided_only_when_the_rest_cannot_change_it():
  from experiments import bandit_family_report as fam
  members = lambda ps: [{"scores": {"support": {"pearson": p, "preference_accuracy": p}}}  # noqa: E731
                        for p in ps]
  # 7 of 12 scored far below 0.93: even five perfect members leave the median below it
  assert fam._verdict(members([0.5] * 7), "pearson_median", 5) == "NOT met"
  # 2 of 12: the median can go either way
  assert fam._verdict(members([0.84, 0.92]), "pearson_median", 10) == "open"
  # 11 of 12 all perfect: one member at the worst cannot pull the median down
  assert fam._verdict(members([1.0] * 11), "preference_median", 1) == "met"
  assert fam._verdict(members([0.95] * 12), "pearson_p10", 0) == "met"


def test_bandit_goal_interval_is_a_seeded_bootstrap_over_members():
  from experiments import bandit_family_report as fam
  members = lambda ps: [{"scores": {"support": {"pearson": p, "preference_accuracy": p}}}  # noqa: E731
                        for p in ps]
  same = fam._goal_statistic(members([0.9] * 12), "pearson_median")
  assert np.allclose(same, 0.9)                      # nothing to resample: no width
  scores = np.linspace(0.7, 1.0, 12)
  value, low, high = fam._goal_statistic(members(scores), "pearson_p10")
  assert value == pytest.approx(np.quantile(scores, 0.1))
  assert scores.min() <= low < value < high <= scores.max()
  assert fam._goal_statistic(members(scores), "pearson_p10") == (value, low, high)
  assert fam._goal_statistic(members(scores), "pearson_p10", seed=1) != (value, low, high)


def test_bandit_study_pairs_each_run_with_the_stage_run_of_its_candidate_and_seed():
  from experiments import bandit_family_report as fam

  def rec(seed, candidate, at_pick, best, study=None):
    per = {"centered:0.5": {"support": {"pearson": at_pick}},
           "centered:0.1": {"support": {"pearson": best}},
           "multi_noise:0.4,0.5": {"support": {"pearson": 0.999}}}   # not a default's kind
    r = {"member": {"seed": seed, "act_dim": 2, "num_modes": 4, "temperature": 0.3},
         "candidate": candidate, "scores": {"0.1": per}}
    return {**r, "study": study} if study else r
  tuning = [rec(1, "c", 0.80, 0.85), rec(2, "c", 0.90, 0.91), rec(1, "other", 0.1, 0.1)]
  runs = [rec(1, "c", 0.92, 0.93, study="more"), rec(3, "c", 0.5, 0.5, study="more")]
  study = {"candidate": "c", "seeds": (1, 2, 3), "member": {"num_demos": 80}}
  pick = {"ema_horizon": "0.1", "reading": "centered:0.5"}
  table = fam.study_table("more", study, runs, tuning, pick)
  # seed 1 paired with candidate c's stage run (not 'other'); seed 2 has no study run yet and
  # seed 3 no stage run: neither is a row
  assert [r["member"]["seed"] for r in table["rows"]] == [1]
  row = table["rows"][0]
  assert (row["base"], row["study"], row["base_best"], row["study_best"]) == (0.80, 0.92, 0.85,
                                                                               0.93)
  assert table["median"]["change"] == pytest.approx(0.12)
  assert (row["base_spread"], row["study_spread"]) == (pytest.approx(0.05), pytest.approx(0.01))
  assert (table["done"], table["runs"]) == (2, 3)
