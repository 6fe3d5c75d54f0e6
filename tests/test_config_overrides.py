"""experiments.cli.apply_overrides: `key=value` strings typed as `--config.key=value` is."""
import pytest

from experiments import bandit_tune, cli
from experiments.configs import bandit_family, demos


def test_values_take_their_fields_declared_type_placeholders_included():
  config = demos.get_config()
  assert config.optim.warmup_steps is None        # a placeholder(int) until set
  cli.apply_overrides(config, ("optim.warmup_steps=2400", "train.learning_rate=3e-3",
                               "model.mlp.hidden=(64, 64)", "model.spectral_norm=False",
                               "model.backbone=mlp"))
  assert config.optim.warmup_steps == 2400 and isinstance(config.optim.warmup_steps, int)
  assert config.train.learning_rate == 3e-3
  assert tuple(config.model.mlp.hidden) == (64, 64)
  assert config.model.spectral_norm is False and config.model.backbone == "mlp"


@pytest.mark.parametrize("item, error, match", [
    ("train.num_stepz=3", KeyError, "no key 'train.num_stepz'"),
    ("train.num_steps", ValueError, "is not key=value"),
    ("optim.warmup_steps=many", ValueError, "'many' is not a valid int"),
    ("model.spectral_norm=yes", ValueError, "'yes' is not a valid bool"),
    ("train.num_steps=1.5", ValueError, "'1.5' is not a valid int"),
])
def test_a_bad_override_names_itself(item, error, match):
  with pytest.raises(error, match=match):
    cli.apply_overrides(demos.get_config(), (item,))


def test_every_tuning_candidate_builds_on_the_current_defaults():
  # Candidates are key=value strings written against demos.py: a default that changes type
  # (a value turned placeholder) must not leave a candidate that no longer applies.
  family = bandit_family.get_config()
  for name in family.tune.candidates:
    config = bandit_tune.candidate_config(family, name, "demos.npz")
    assert config.data.path == "demos.npz"


@pytest.mark.parametrize("variant", ["", "smoke"])
def test_every_study_names_a_candidate_member_keys_flags_and_cells_that_exist(variant):
  family = bandit_family.get_config(variant)
  for name, study in family.tune.studies.items():
    assert study.candidate in family.tune.candidates, name
    assert set(study.member) <= set(family.member), name
    config = bandit_tune.candidate_config(family, study.candidate, "demos.npz",
                                          study.get("flags", ()))
    assert config.data.action_horizon == study.member.get("action_horizon", 1), name
    if "paired_with" in study:
      assert study.paired_with in family.tune.studies and study.paired_with != name, name
    if "cell" in study:
      assert study.cell.reading in family.tune.readings, name
      assert float(study.cell.ema_horizon) in family.tune.ema_horizons, name


def test_an_unknown_study_is_one_line_and_nothing_runs(tmp_path, capsys):
  family = bandit_family.get_config()
  with pytest.raises(SystemExit) as exit_info:
    bandit_tune.run_study(family, "demos1M", str(tmp_path))
  assert exit_info.value.code == 2
  valid = sorted(family.tune.studies)
  assert "demos80k" in valid
  assert f"unknown study 'demos1M'; valid: {valid}\n" in capsys.readouterr().err
  assert not list(tmp_path.iterdir())


def test_demos_defaults_are_the_last_finished_tuning_stage_pick():
  # What demos.py ships is what the tuning rule picked on the committed tuning records
  # (results/bandit_family.md): the candidate's trained keys, the EMA horizon and the reading.
  from efjax.train.config import optim_config
  from experiments import bandit_family_report as report
  family = bandit_family.get_config()
  pick = report.last_pick(family, report.split(report.read_files(family.raw_dir))[1])
  shipped = demos.get_config()
  cli.apply_overrides(shipped, family.user_flags)
  picked = bandit_tune.candidate_config(family, pick["candidate"], "demos.npz")
  for section, key in (("train", "learning_rate"), ("train", "num_levels"),
                       ("model", "preconditioning"), ("model", "mlp"), ("model", "activation"),
                       ("model", "spectral_norm"), ("seed", None)):
    got = shipped[section] if key is None else shipped[section][key]
    want = picked[section] if key is None else picked[section][key]
    assert got == want, (section, key)
  for key in ("warmup_steps", "weight_decay", "learning_rate"):
    assert optim_config(shipped)[key] == optim_config(picked)[key], key
  assert shipped.train.ema is None and shipped.train.ema_horizon == float(pick["ema_horizon"])
  kind, _, level = pick["reading"].partition(":")
  assert (shipped.reward.kind, shipped.reward.t) == (kind, float(level))
