"""experiments.rl_compare end to end on its `:smoke` config (every stage and method in
seconds-sized budgets), its resume, the report, and a mismatched reward refused."""
import json
import os
import shutil

import jax.numpy as jnp
import numpy as np
import pytest

import efjax
from efjax.envs.brax_envs import make_env
from efjax.errors import ConfigError
from efjax.reward.absorbing import uninformed_value
from efjax.reward.learned import RewardMismatchError, entry_reward, load_reward
from experiments import reference_rule_check, rl_compare
from experiments.reports import rl_compare as rl_compare_report
from experiments.configs import rl_compare as rl_compare_config
from experiments.configs.common import with_overrides


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
  root = tmp_path_factory.mktemp("rl_compare")
  workdir = str(root / "inverted_pendulum")
  config = rl_compare_config.get_config("inverted_pendulum,smoke")
  results = rl_compare.run_compare(config, workdir, log=lambda s: None)
  return config, str(root), workdir, results


def test_every_method_trains_and_is_scored(smoke):
  config, _, workdir, results = smoke
  assert tuple(results["methods"]) == tuple(config.methods)
  assert set(rl_compare_config.LEARNED) | {"true_reward", "constant_plus", "random_network"} \
      <= set(config.methods)
  for method, r in results["methods"].items():
    rl = r["rl"]
    assert len(rl["eval_return_per_seed"]) == config.rl.num_seeds == 2, method
    assert all(np.isfinite(rl["eval_return_per_seed"])) and rl["nonfinite_rewards"] == [0, 0]
    rows = [json.loads(x) for x in open(os.path.join(workdir, "rl", method, "metrics.jsonl"))]
    assert [r["step"] for r in rows] == [1, 2, 3, 4] and len(rows[0]["rl/true_return"]) == 2
    if method == "true_reward":
      assert r["reward_quality"] is None
      continue
    q = r["reward_quality"]
    # inverted_pendulum's true reward is 1 whatever the action: no grid metric, by design.
    assert q["pearson"] is None and -1 <= q["return_spearman"] <= 1 and q["nonfinite"] == 0
    # the fixed-horizon pendulum's true reward is a function of the transition: real EPIC
    if method.startswith("constant_"):    # a constant is 0 after canonicalization: no EPIC
      assert q["epic"] is None, (method, q)
    else:
      assert 0.0 <= q["epic"] <= 1.0, (method, q)
    if method in ("airl", "gail"):
      assert "reward_learner/disc_loss" in rows[0]
      assert os.path.exists(os.path.join(workdir, "rl", method, "reward_params.npz"))
    # AIRL's policy is tanh-squashed (its reward needs the env action's density); the
    # others keep the config's clipped Gaussian
    agent = json.load(open(os.path.join(workdir, "rl", method, "agent", "seed0", "agent.json")))
    assert agent["policy"]["squash"] == ("tanh" if method == "airl" else config.rl.ppo.squash)


def test_fixed_rewards_set_what_absorbed_steps_pay_and_the_adversarial_learn_it(smoke):
  config, _, workdir, results = smoke
  methods = results["methods"]
  for method in ("true_reward", "airl", "gail"):
    assert methods[method]["absorbing_reward"] is None, method
  assert methods["constant_plus"]["absorbing_reward"] == 1.0
  for method in ("energyflow_centered", "energyflow_soft_bellman", "bc_log_prob",
                 "diffusion_elbo", "random_network"):
    value = methods[method]["absorbing_reward"]
    assert np.isfinite(value), method
    # PPO paid exactly that on every absorbed step it logged
    rows = [json.loads(x) for x in open(os.path.join(workdir, "rl", method, "metrics.jsonl"))]
    paid = [v for r in rows for v, share in zip(r["rl/reward_absorbed"], r["rl/absorbed_share"])
            if share > 0]
    assert paid and np.allclose(paid, value, atol=1e-5), (method, value, paid[:3])
  # the same reward read the plain way: the EnergyFlow centered value is its own mean
  with np.load(os.path.join(workdir, "demos.npz")) as z:
    obs = z["observations"]
  env = make_env(**config.rl.env)
  fn, params = load_reward("energyflow_centered", os.path.join(workdir, "energyflow"), env,
                           config.energyflow.reward)
  assert np.isclose(uninformed_value(fn, params, obs, 1, seed=config.seed),
                    methods["energyflow_centered"]["absorbing_reward"])
  # soft-Bellman's step into the absorbing state reads V there as the absorbed value did
  # (the demos' mean V): Q alone, offset by the value minus the uniform actions' mean Q,
  # whatever the next state; the other kinds have none
  value = methods["energyflow_soft_bellman"]["absorbing_reward"]
  entry = entry_reward("energyflow_soft_bellman", os.path.join(workdir, "energyflow"), env,
                       value, obs, config.seed, config.energyflow.reward)
  q, _ = load_reward("energyflow_soft_q", os.path.join(workdir, "energyflow"), env,
                     config.energyflow.reward)
  mean_q = uninformed_value(q, params, obs, 1, seed=config.seed)
  o, a = jnp.asarray(obs[:64]), jnp.asarray(np.linspace(-1, 1, 64)[:, None], jnp.float32)
  np.testing.assert_allclose(entry(params, o, a, o[::-1]), q(params, o, a, o) + value - mean_q,
                             rtol=1e-5, atol=1e-4)
  assert entry_reward("energyflow_centered", os.path.join(workdir, "energyflow"), env, value,
                      obs, config.seed, config.energyflow.reward) is None
  rows = [json.loads(x) for x in open(os.path.join(workdir, "rl", "energyflow_soft_bellman",
                                                    "metrics.jsonl"))]
  assert any(v is not None for r in rows for v in r["rl/reward_entering"])
  # 'read' or an explicit rl.ppo.absorbing_reward turns the rule off; a bad rule is refused
  for overrides in ({"absorbing": "read"}, {"rl.ppo.absorbing_reward": 0.0}):
    assert not rl_compare.sets_absorbing(with_overrides(config, overrides), "bc_log_prob")
  reacher = rl_compare_config.get_config("reacher,smoke")
  assert not rl_compare.sets_absorbing(reacher, "bc_log_prob")     # reacher never ends early
  with pytest.raises(ConfigError, match="absorbing must be one of"):
    rl_compare.sets_absorbing(with_overrides(config, {"absorbing": "learn"}), "zero")


def test_rerun_resumes_without_retraining(smoke):
  config, _, workdir, _ = smoke
  path = os.path.join(workdir, "rl", "airl", "metrics.jsonl")
  before = os.path.getmtime(path)
  again = rl_compare.run_compare(config, workdir, log=lambda s: None)
  assert os.path.getmtime(path) == before
  assert again["methods"]["gail"]["rl"]["eval_return_per_seed"] == \
      json.load(open(os.path.join(workdir, "rl", "gail", "summary.json")))["eval_return_per_seed"]


def test_report_has_every_method_and_plots(smoke, tmp_path):
  _, root, _, _ = smoke
  path = rl_compare_report.write_report(root, str(tmp_path))
  text = open(path).read()
  config, _, _, _ = smoke
  for method in config.methods:
    assert rl_compare_report.LABELS[method] in text
  # rl_compare's runs are fixed-horizon: the report says so and not the survival-bias caveat
  assert "**Fixed horizon (inverted_pendulum).**" in text
  assert "Terminating episodes" not in text
  assert (tmp_path / "rl_compare_inverted_pendulum.png").exists()
  assert (tmp_path / "rl_compare_inverted_pendulum_iqm.png").exists()


def test_reference_rules_are_checked_and_compared_in_the_report(smoke, tmp_path):
  _, root, workdir, _ = smoke
  check = reference_rule_check.check(workdir, num_states=40)
  assert [(r["reference"], r["points"]) for r in check["rules"]] == [
      ("sampled", 16), ("sampled", 4), ("gauss_hermite", 2), ("gauss_hermite", 3)]
  assert all(np.isfinite(r["rms_error"]) and r["rms_error"] >= 0 for r in check["rules"])
  json.dump(check, open(os.path.join(workdir, "reference_rule.json"), "w"))
  # An earlier run read the same energy with 16 sampled references.
  base = tmp_path / "base" / "inverted_pendulum"
  for m in ("energyflow_centered", "energyflow_soft_bellman"):
    shutil.copytree(os.path.join(workdir, "rl", m), base / "rl" / m)
  config = json.load(open(os.path.join(workdir, "config.json")))
  config["energyflow"]["reward"].update(reference="sampled", num_reference=16)
  json.dump(config, open(base / "config.json", "w"))
  text = open(rl_compare_report.write_report(root, str(tmp_path / "out"),
                                             (str(tmp_path / "base"),))).read()
  assert "| gauss_hermite | 3 | 3 |" in text
  assert "| EnergyFlow centered | 64x64, 16 sampled refs |" in text
  err = {(r["reference"], r["num_reference"]): r["rms_error"] for r in check["rules"]}
  ratio = err[("sampled", 16)] / err[("gauss_hermite", 2)]
  assert f"centering error is {ratio:.0f}-{ratio:.0f}x the Gauss-Hermite rule's" in text
  assert "| EnergyFlow soft-Bellman | 64x64, 2-node Gauss-Hermite refs |" in text
  os.remove(os.path.join(workdir, "reference_rule.json"))


def test_rl_compare_reads_the_energy_with_its_own_reward_settings(smoke):
  config, _, workdir, _ = smoke
  env = make_env("inverted_pendulum", "spring", 50)
  assert config.energyflow.reward.reference == "gauss_hermite"
  obs = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
  act = np.random.default_rng(1).uniform(-1, 1, size=(8, 1)).astype(np.float32)
  sampled = config.energyflow.reward.to_dict() | {"reference": "sampled", "num_reference": 16}
  out = {}
  for name, cfg in (("gh", config.energyflow.reward), ("sampled", sampled)):
    fn, params = load_reward("energyflow_centered", os.path.join(workdir, "energyflow"), env, cfg)
    out[name] = np.asarray(fn(params, obs, act, obs))
  model = efjax.load(os.path.join(workdir, "energyflow"))
  model.config.reward.update(reference="sampled", num_reference=16)
  np.testing.assert_allclose(out["sampled"], model.reward(obs, act), atol=1e-4)
  assert np.max(np.abs(out["gh"] - out["sampled"])) > 1e-4      # another centering term


def test_reward_checkpoint_for_another_env_is_refused(smoke):
  _, _, workdir, _ = smoke
  reacher = make_env("reacher", "spring", 50)
  with pytest.raises(RewardMismatchError, match="obs_dim=4, act_dim=1, but the environment"):
    load_reward("energyflow_centered", os.path.join(workdir, "energyflow"), reacher)
  with pytest.raises(RewardMismatchError, match="obs_dim=4"):
    load_reward("bc_log_prob", os.path.join(workdir, "bc"), reacher)


def test_the_oracle_and_controls_train_no_reward_model():
  assert [n for n, _ in rl_compare.stages_for(("true_reward", "constant_plus", "zero"))] == [
      "expert", "demos", "random"]
  assert [n for n, _ in rl_compare.stages_for(("airl", "bc_log_prob"))] == [
      "expert", "demos", "bc", "random"]
  assert len(rl_compare.stages_for(rl_compare_config.METHODS)) == len(rl_compare.STAGES)


def test_airl_alone_gets_its_policy_squash():
  config = rl_compare_config.get_config("reacher")
  assert config.rl.ppo.squash == "clip" and config.irl.airl_squash == "tanh"
  assert rl_compare.method_rl_config(config, "airl").ppo.squash == "tanh"
  for method in ("gail", "energyflow_centered", "true_reward"):
    assert rl_compare.method_rl_config(config, method) is config.rl
  config.irl.airl_squash = "clip"
  assert rl_compare.method_rl_config(config, "airl") is config.rl
