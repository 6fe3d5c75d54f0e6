"""The RL reward comparison's reports: results/rl_compare.md from committed raw records, and
a look at experiments.rl_compare workdirs while they run.

results/rl_compare.md (`document`, built by `python -m experiments.reports.build`) reads
results/raw/rl_compare/<env>.json, which `python -m experiments.rl_sweep ... --record`
writes: each learned reward's sweep on tuning seeds, the picks' finals on fresh seeds
beside the oracle and the controls, rliable IQM and probability of improvement.

    python -m experiments.reports.rl_compare --root=DIR --out=OUT \
        [--baseline_root=DIR2,DIR3]

writes OUT/rl_compare.md and its plots from the workdirs under DIR as they stand.

Every env workdir under ROOT that has finished methods contributes (finished
methods only; the others are listed as pending). Scores: the deterministic eval
return of each seed's final policy, normalized as (R - R_random) / (R_expert -
R_random), with R_expert the mean return of the demonstrations (the stochastic
expert) and R_random that of uniform random actions; IQM with 95% stratified
bootstrap CIs by rliable. With --baseline_root (roots of env workdirs, or of copies
of their rl/energyflow_* and reward_quality/ folders and config.json, from runs with
other EnergyFlow reward settings) the EnergyFlow rows of all runs are set side by side;
WORKDIR/reference_rule.json (experiments.reference_rule_check) adds the centering
error of each reference rule.
"""
import contextlib
import json
import os
import warnings

import numpy as np
from absl import flags
from experiments import cli
from experiments.configs.rl_compare import TERMINATING

_ROOT = flags.DEFINE_string("root", None, "Directory of env workdirs (experiments.rl_compare's).")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", None, "Where rl_compare.md and PNGs go (not "
                       "results/: its rl_compare.md is built from raw records).")
_BASELINE = flags.DEFINE_list("baseline_root", None, "Roots of env workdirs of earlier runs "
                              "whose EnergyFlow rows are compared with ROOT's.")
ENERGYFLOW = ("energyflow_centered", "energyflow_soft_bellman")

ENV_ORDER = ("inverted_pendulum", "inverted_double_pendulum", "reacher", "hopper", "walker2d")
LABELS = {"true_reward": "true reward (oracle)", "energyflow_centered": "EnergyFlow centered",
          "energyflow_soft_bellman": "EnergyFlow soft-Bellman", "airl": "AIRL", "gail": "GAIL",
          "bc_log_prob": "BC log-prob", "diffusion_elbo": "diffusion ELBO (non-cons.)",
          "constant_plus": "constant +1 (control)", "constant_minus": "constant -1 (control)",
          "zero": "zero (control)", "random_network": "random network (control)"}


def _load(path):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def _rows(path):
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def normalized(returns, random: float, expert: float) -> np.ndarray:
  """(R - R_random) / (R_expert - R_random): 0 is the random policy, 1 the expert."""
  return (np.asarray(returns, float) - random) / (expert - random)


def collect(workdir: str) -> dict | None:
  config = _load(os.path.join(workdir, "config.json"))
  demos, random = _load(os.path.join(workdir, "demos.json")), _load(os.path.join(workdir, "random.json"))
  if config is None or demos is None or random is None:
    return None
  lo, hi = random["return_mean"], demos["return_mean"]
  norm = lambda r: normalized(r, lo, hi)  # noqa: E731
  env = {"name": config["env_name"], "config": config, "expert": hi, "random": lo,
         "expert_eval": (_load(os.path.join(workdir, "expert", "summary.json")) or {}).get(
             "eval_return_mean"), "methods": {}, "pending": []}
  for method in config["methods"]:
    d = os.path.join(workdir, "rl", method)
    summary = _load(os.path.join(d, "summary.json"))
    if summary is None:
      env["pending"].append(method)
      continue
    rows = _rows(os.path.join(d, "metrics.jsonl"))
    summary["steps_per_s"] = call_rate(rows, config["rl"]["num_seeds"])
    steps = np.array([r["env_steps"] for r in rows])
    ret = np.array([[np.nan if v is None else v for v in r["rl/true_return"]] for r in rows])
    env["methods"][method] = {
        "summary": summary, "scores": norm(summary["eval_return_per_seed"]),
        "curve_steps": steps, "curve": norm(ret),       # [U, S] training return, normalized
        "quality": _load(os.path.join(workdir, "reward_quality", f"{method}.json"))}
  return env


def reward_rule(config: dict) -> str:
  """E.g. '128x128, 16 sampled refs' or '64x64, 2-node Gauss-Hermite refs': the EnergyFlow
  net and reference rule of a workdir's config.json."""
  net = "x".join(str(h) for h in config["energyflow"]["model"]["mlp"]["hidden"])
  r = config["energyflow"]["reward"]
  if r.get("reference", "sampled") == "sampled":
    return f"{net}, {r['num_reference']} sampled refs"
  return f"{net}, {r['num_reference']}-node Gauss-Hermite refs"


def baseline_rows(env: dict, workdirs: list[str]) -> list[str]:
  """Markdown rows of the EnergyFlow methods of each of WORKDIRS (other runs on env's
  workdir, with other reward settings) and of env's own, normalized alike."""
  norm = lambda r: normalized(r, env["random"], env["expert"])  # noqa: E731
  lines = []
  for workdir in workdirs:
    config = _load(os.path.join(workdir, "config.json"))
    if config is None:
      continue
    for m in ENERGYFLOW:
      summary = _load(os.path.join(workdir, "rl", m, "summary.json"))
      if summary is None:
        continue
      raw = np.asarray(summary["eval_return_per_seed"])
      rate = call_rate(_rows(os.path.join(workdir, "rl", m, "metrics.jsonl")),
                       config["rl"]["num_seeds"])
      quality = _load(os.path.join(workdir, "reward_quality", f"{m}.json")) or {}
      commit = ((summary.get("fingerprint") or {}).get("code") or {}).get("commit")
      lines.append(f"| {LABELS[m]} | {reward_rule(config)} | {(commit or '—')[:7]} | "
                   f"{norm(raw).mean():.2f} | "
                   f"{raw.mean():.1f} ± {raw.std():.1f} | {_fmt(quality.get('epic'))} | "
                   f"{summary['wall_s']:.0f} | {_fmt(rate, 0)} |")
  return lines


def reference_rule_rows(workdir: str) -> list[str]:
  check = _load(os.path.join(workdir, "reference_rule.json"))
  if check is None:
    return []
  return [f"| {r['reference']} | {r['num_reference']} | {r['points']} | {r['rms_error']:.4f} | "
          f"{100 * r['relative_error']:.2f} % |" for r in check["rules"]]


def episode_paragraph(envs: list[dict]) -> list[str]:
  """How episodes end in these runs, read from each env's config: fixed-horizon runs
  remove the survival bias that terminating ones carry."""
  fixed = [e["name"] for e in envs if e["config"]["rl"]["env"].get("fixed_horizon")]
  ending = [e["name"] for e in envs if e["name"] not in fixed]
  out = []
  if fixed:
    out.append(f"**Fixed horizon ({', '.join(fixed)}).** Every method's PPO runs on the "
               "fixed-horizon env (`rl.env.fixed_horizon`): an episode never ends early; a "
               "fall moves it to an absorbing state, repeated to the time limit, where the "
               "true reward is 0, the adversarial rewards pay what they learned from the "
               "policy's absorbed steps, and every other reward its own mean over uniform "
               "actions at the demonstrations' states (`absorbing`, efjax.reward.absorbing; "
               "'read': the state read as any other). So no reward's sign or offset decides "
               "how long an episode lasts. The expert and its demonstrations come from the "
               "env as Brax defines it.")
  if ending:
    out.append(f"**Terminating episodes ({', '.join(ending)}): the sign of a reward decides "
               "how long an episode lasts.** A learned reward that is negative on average "
               "pays the agent to end the episode at once, and one that is positive pays it to "
               "go on, whatever the reward says about the actions (the survival bias of "
               "Kostrikov et al. 2019); GAIL's -log(1 - D) is always positive and a "
               "diffusion ELBO reward always negative. There the table measures reward "
               "quality and reward sign together.")
  return out


def reference_paragraph(root: str, envs: list[dict]) -> list[str]:
  """The reference rule of the EnergyFlow rewards, with the ratio of the paper's 16
  sampled references' centering error to the 2-node Gauss-Hermite rule's where
  experiments.reference_rule_check measured both."""
  ratios = []
  for env in envs:
    check = _load(os.path.join(root, env["name"], "reference_rule.json")) or {}
    err = {(r["reference"], r["num_reference"]): r["rms_error"] for r in check.get("rules", ())}
    if err.get(("gauss_hermite", 2)) and ("sampled", 16) in err:
      ratios.append(err[("sampled", 16)] / err[("gauss_hermite", 2)])
  text = ("**Reward net and reference rule.** Both EnergyFlow rewards need an expectation over "
          "a ~ N(0, I) at each state (the centering term, the soft value), read at reference "
          "actions (`reward.reference`). The paper uses 16 fixed samples; their error is a "
          "function of the state, so it acts as a spurious state reward. The runs here read "
          "the rule of each workdir's config (the `energyflow.reward` settings); the "
          "2-node Gauss-Hermite rule (2^act_dim points, exact for cubic energies) costs "
          "1 + 2^act_dim energy rows per transition instead of 17.")
  if ratios:
    text += (f" Measured on {len(ratios)} of these envs' energies, the 16 sampled "
             f"references' centering error is {min(ratios):.0f}-{max(ratios):.0f}x the "
             "Gauss-Hermite rule's (tables below).")
  return [text + " The env steps/s column sets each reward's PPO speed beside the true "
          "reward's."]


def call_rate(rows: list[dict], num_seeds: int) -> float | None:
  """Median env steps/s (all seeds) over the logged calls after the first two (which
  compile), from the wall_s each call's rows carry."""
  ends = [(r["env_steps"], r["wall_s"]) for i, r in enumerate(rows)
          if i + 1 == len(rows) or rows[i + 1]["wall_s"] != r["wall_s"]]
  rates = [(s1 - s0) * num_seeds / (w1 - w0) for (s0, w0), (s1, w1) in zip(ends, ends[1:])
           if w1 > w0]
  return float(np.median(rates[1:])) if len(rates) > 1 else None


BOOTSTRAP_REPS = 2000


@contextlib.contextmanager
def _seeded_bootstrap(seed: int):
  """rliable hands its RandomState to arch, which warns that the argument will change; the
  seed is what makes a rebuilt report identical, so that warning is silenced here only.
  Some of arch 7.2's draws also come from numpy's global generator (the same call gave
  different intervals within one process), so it is seeded here and restored after."""
  state = np.random.get_state()
  np.random.seed(seed)
  try:
    with warnings.catch_warnings():
      warnings.filterwarnings("ignore", message="random_state is deprecated",
                              category=FutureWarning)
      yield
  finally:
    np.random.set_state(state)


def interquartile_mean(scores: np.ndarray) -> float:
  """rliable's metrics.aggregate_iqm (scipy's trim_mean of every run and task, 25 % cut
  at each end), with numpy's partition and no per-call dispatch: the bootstrap calls it
  BOOTSTRAP_REPS times per method (tests/test_reports.py checks it against rliable's)."""
  flat = np.ravel(scores)
  low = int(0.25 * flat.size)
  return float(np.mean(np.partition(flat, (low, flat.size - low - 1))[low:flat.size - low]))


def iqm_ci(scores: dict, seed: int = 0) -> dict:
  """{method: [runs, tasks]} -> {method: (iqm, lo, hi)}: rliable's IQM with its 95%
  stratified-bootstrap interval (seeded, so a rebuilt report is the same)."""
  from rliable import library as rly
  with _seeded_bootstrap(seed):
    point, ci = rly.get_interval_estimates(
        scores, lambda x: np.array([interquartile_mean(x)]), reps=BOOTSTRAP_REPS,
        random_state=np.random.RandomState(seed))
  return {m: (float(point[m][0]), float(ci[m][0, 0]), float(ci[m][1, 0])) for m in scores}


def probability_of_improvement(scores_x: np.ndarray, scores_y: np.ndarray) -> float:
  """rliable's metrics.probability_of_improvement, counted instead of ranked: per task
  the Mann-Whitney U of X over Y, (#pairs x > y + #ties / 2) / (runs_x runs_y), averaged
  over tasks. The same number (tests/test_reports.py checks it against rliable's) at a
  fraction of scipy's per-call cost, which the bootstrap pays BOOTSTRAP_REPS times.
  scores_x: [runs_x, tasks], scores_y: [runs_y, tasks]."""
  x, y = scores_x[:, None, :], scores_y[None, :, :]
  u = (x > y).sum(axis=(0, 1)) + 0.5 * (x == y).sum(axis=(0, 1))
  return float(np.mean(u / (scores_x.shape[0] * scores_y.shape[0])))


def improvement_ci(pairs: dict, seed: int = 0) -> dict:
  """{name: (scores_x [runs, tasks], scores_y [runs, tasks])} -> {name: (P, lo, hi)}:
  rliable's probability that X beats Y on a task (Mann-Whitney, averaged over tasks) with
  its 95% stratified-bootstrap interval."""
  from rliable import library as rly
  with _seeded_bootstrap(seed):
    point, ci = rly.get_interval_estimates(
        {k: list(v) for k, v in pairs.items()}, probability_of_improvement,
        reps=BOOTSTRAP_REPS, random_state=np.random.RandomState(seed))
  return {k: (float(np.squeeze(point[k])), float(np.squeeze(ci[k])[0]),
              float(np.squeeze(ci[k])[1])) for k in pairs}


def _fmt(x, digits=2):
  return "—" if x is None else f"{x:.{digits}f}"


def plot_curves(env: dict, path: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  fig, ax = plt.subplots(figsize=(7, 4.5))
  for method, m in env["methods"].items():
    curve = m["curve"]
    # Smooth over 10 updates (episodes finish only every ~1000 steps per env).
    k = min(10, len(curve))
    kernel = np.ones(k) / k
    smooth = np.stack([np.convolve(np.nan_to_num(c, nan=np.nanmean(c) if np.isfinite(c).any()
                                                 else 0.0), kernel, "valid") for c in curve.T])
    x = m["curve_steps"][k - 1:]
    mean = smooth.mean(0)
    ax.plot(x, mean, label=LABELS.get(method, method), lw=1.3)
    ax.fill_between(x, smooth.min(0), smooth.max(0), alpha=0.15)
  ax.axhline(1.0, color="k", ls="--", lw=0.8)
  ax.set_xlabel("env steps per seed")
  ax.set_ylabel("normalized true return (training episodes)")
  ax.set_title(f"{env['name']}: PPO on each learned reward (mean, min-max over seeds)")
  ax.grid(alpha=0.3)
  ax.legend(fontsize=7)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_iqm(stats: dict, path: str, title: str) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  methods = list(stats)
  fig, ax = plt.subplots(figsize=(7, 0.5 * len(methods) + 1.2))
  for i, m in enumerate(methods):
    iqm, lo, hi = stats[m]
    ax.errorbar(iqm, i, xerr=[[iqm - lo], [hi - iqm]], fmt="o", capsize=4)
  ax.set_yticks(range(len(methods)), [LABELS.get(m, m) for m in methods])
  ax.axvline(1.0, color="k", ls="--", lw=0.8)
  ax.set_xlabel("IQM normalized true return (95% bootstrap CI)")
  ax.set_title(title)
  ax.grid(alpha=0.3, axis="x")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def write_report(root: str, out: str, baseline_roots=()) -> str:
  os.makedirs(out, exist_ok=True)   # the plots are written before the markdown
  envs = [e for name in ENV_ORDER if (e := collect(os.path.join(root, name))) is not None]
  lines = ["# PPO on rewards recovered from demonstrations: EnergyFlow vs AIRL, GAIL, likelihood",
           "",
           f"Generated by `python -m experiments.reports.rl_compare --root={root} "
           f"--out={out}" + (f" --baseline_root={','.join(baseline_roots)}"
                              if baseline_roots else "")
           + "` from the workdirs of",
           "`python -m experiments.rl_compare --config=experiments/configs/rl_compare.py:<env> "
           f"--workdir={root}/<env>` (settings: that config's docstring and each "
           "workdir's config.json). Shared 2-core CPU, other jobs running beside: wall times "
           "and steps/s carry their load.", "",
           "Score = deterministic eval return of each seed's final policy (16 episodes), "
           "normalized as (R - R_random) / (R_expert - R_random); R_expert = mean return of "
           "the 64 demonstration episodes (stochastic expert), R_random = uniform random "
           "actions. IQM and 95% stratified-bootstrap CIs by rliable (2000 reps).", "",
           *episode_paragraph(envs), "",
           "**Why soft-Bellman trails centered.** Denoising score matching fits only "
           "grad_a E, so the energy is identified up to a per-state constant f(s). The "
           "centered reward subtracts the same state's reference energies, which cancels "
           "f(s). The soft-Bellman reward, Q(s, a) - gamma V(s'), keeps "
           "f(s) - gamma f(s'). That is potential shaping with an arbitrary potential, "
           "and on the action grids it can outweigh the action's own term.", "",
           *reference_paragraph(root, envs), ""]
  all_scores = {}
  for env in envs:
    name, cfg = env["name"], env["config"]
    lines += [f"## {name} ({cfg['rl']['env']['backend']})", "",
              f"Expert (demos) return {env['expert']:.1f}, deterministic expert "
              f"{_fmt(env['expert_eval'], 1)}, random {env['random']:.1f}. PPO per method: "
              f"{cfg['rl']['num_seeds']} seeds x {cfg['rl']['ppo']['total_steps']:,} env steps "
              f"(the expert had {cfg['expert']['ppo']['total_steps']:,}).", ""]
    if env["methods"]:
      stats = iqm_ci({m: v["scores"][:, None] for m, v in env["methods"].items()})
      lines += ["| method | IQM norm. return [95% CI] | mean raw eval return ± std over seeds "
                "| wall s | env steps/s | offset-free Pearson | Spearman | pref. acc. | EPIC "
                "| return Spearman |", "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
      for m, v in env["methods"].items():
        raw = np.asarray(v["summary"]["eval_return_per_seed"])
        q = v["quality"] or {}
        iqm, lo, hi = stats[m]
        lines.append(f"| {LABELS.get(m, m)} | {iqm:.2f} [{lo:.2f}, {hi:.2f}] | "
                     f"{raw.mean():.1f} ± {raw.std():.1f} | {v['summary']['wall_s']:.0f} | "
                     f"{_fmt(v['summary']['steps_per_s'], 0)} | {_fmt(q.get('pearson'))} | "
                     f"{_fmt(q.get('spearman'))} | {_fmt(q.get('preference_accuracy'))} | "
                     f"{_fmt(q.get('epic'))} | {_fmt(q.get('return_spearman'))} |")
        all_scores.setdefault(m, {})[name] = v["scores"]
      curve_png = f"rl_compare_{name}.png"
      plot_curves(env, os.path.join(out, curve_png))
      plot_iqm(stats, os.path.join(out, f"rl_compare_{name}_iqm.png"), name)
      lines += ["", f"![{curve_png}]({curve_png}) ![iqm](rl_compare_{name}_iqm.png)", ""]
    if env["pending"]:
      lines += [f"Pending (not finished when this report was written): "
                f"{', '.join(env['pending'])}.", ""]
    rule_rows = reference_rule_rows(os.path.join(root, name))
    if rule_rows:
      check = _load(os.path.join(root, name, "reference_rule.json"))
      lines += [f"Centering error of each reference rule on this env's energy "
                f"({check['states']} held-out states; `python -m "
                f"experiments.reference_rule_check --workdir={root}/{name}`; "
                f"the energy's mean spread over actions is {check['energy_spread']:.3f}):", "",
                "| reward.reference | num_reference | points | rms error of the centering "
                "term | relative to the spread |", "|---|---:|---:|---:|---:|", *rule_rows, ""]
    dirs = [os.path.join(b, name) for b in baseline_roots] + [os.path.join(root, name)]
    if baseline_roots and (rows := baseline_rows(env, dirs)):
      lines += ["EnergyFlow rewards of each reward net and reference rule (earlier runs: "
                f"{', '.join(d for d in dirs[:-1])}; wall times and steps/s carry the load "
                "of whatever ran beside each run):", "",
                "| method | reward net, references | commit | mean norm. return | mean raw "
                "eval return ± std | EPIC | wall s | env steps/s |",
                "|---|---|---|---:|---|---:|---:|---:|", *rows, ""]
  complete = [m for m, per in all_scores.items() if len(per) == len(envs) and len(envs) > 1]
  if complete:
    n = min(len(next(iter(all_scores[m].values()))) for m in complete)
    stats = iqm_ci({m: np.stack([all_scores[m][e["name"]][:n] for e in envs], 1)
                    for m in complete})
    lines += ["## Aggregate over envs", "",
              "| method | IQM norm. return [95% CI] |", "|---|---|"]
    lines += [f"| {LABELS.get(m, m)} | {s[0]:.2f} [{s[1]:.2f}, {s[2]:.2f}] |"
              for m, s in stats.items()]
    plot_iqm(stats, os.path.join(out, "rl_compare_aggregate_iqm.png"),
             f"all envs ({', '.join(e['name'] for e in envs)})")
    lines += ["", "![aggregate](rl_compare_aggregate_iqm.png)", ""]
  lines += [
      "Reward-quality columns: the learned reward against the env's true reward on "
      "held-out transitions (expert episodes with actions replaced by uniform random ones "
      "with probability 0, 0.25, 0.5, 0.75, 1; seed distinct from the demos). At every "
      "10th state 8 actions (the one taken + 7 random) are tried from the same simulator "
      "state: offset-free Pearson/Spearman, preference accuracy and EPIC (gamma 0, the "
      "per-state-centered Pearson distance; lower is better) over those [S, 8] grids "
      "(efjax.reward.metrics); '—' where the true reward does not vary with the action "
      "(inverted_pendulum pays 1 per step). Return Spearman: learned vs true return of the "
      "20 held-out episodes. AIRL: f = g(s) + gamma h(s') - h(s) (without the -log pi term), "
      "GAIL: -log(1 - D); both averaged over the seeds' final discriminators.", ""]
  path = os.path.join(out, "rl_compare.md")
  with open(path, "w") as f:
    f.write("\n".join(lines))
  return path


# ---- results/rl_compare.md from the committed raw records (experiments.rl_sweep --record)

RAW_FOLDER = "rl_compare"           # results/raw/rl_compare/<env>.json
# results/raw/rl_compare/<READ_FOLDER>/<env>.json: a record made before the absorbing-state
# rule (every reward read the frozen absorbing state as any other), kept to show what the
# rule changed; the tables, aggregate and claims read only the top-level records.
READ_FOLDER = "absorbing_read"
# results/raw/rl_compare/<PROGRESS_FOLDER>/<env>/runs.json: the finished runs of a sweep not
# recorded yet (experiments.rl_sweep.Progress, committed as they come; removed once the
# env's record is written), shown on their own: nothing is aggregated from them.
PROGRESS_FOLDER = "in_progress"
DOCUMENT = "results/rl_compare.md"
LEARNED = ("energyflow_centered", "energyflow_soft_bellman", "airl", "gail", "bc_log_prob",
           "diffusion_elbo")
CONTROLS = ("constant_plus", "constant_minus", "zero", "random_network")
CLAIM = "energyflow_centered"       # the paper's reward, set against every other learned one
BUDGET_GOAL = 0.8                   # the oracle's mean normalized return for a usable budget


def _overrides_text(overrides: dict) -> str:
  return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in overrides.items()) or "config as is"


def _verdict(p: tuple) -> str:
  """'holds' when the 95% interval of P(EnergyFlow > baseline) lies above 0.5, 'fails' when
  below, 'undecided' when it holds 0.5."""
  _, lo, hi = p
  return "holds" if lo > 0.5 else "fails" if hi < 0.5 else "undecided"


def undertuned(rec: dict) -> dict:
  """{method: (best diagnosis label, its mean, the sweep pick's mean)} for each method whose
  diagnosis runs (same tuning seeds) beat its sweep's pick by more than 0.05 normalized:
  its tuning space missed what the diagnosis found, so no claim against it is settled."""
  out = {}
  for m, rows in (rec.get("diagnoses") or {}).items():
    sweep = rec["sweep"].get(m)
    if not rows or sweep is None:
      continue
    best = max(rows, key=lambda r: r["mean"])
    pick = sweep["runs"][sweep["pick"]]["mean"]
    if best["mean"] > pick + 0.05:
      out[m] = (best["label"], best["mean"], pick)
  return out


def _claim(p: tuple, method: str, flagged: dict) -> str:
  """_verdict, or 'not settled' where a diagnosis showed a side under-tuned: the baseline's
  own, or EnergyFlow centered's (its tuning space then missed what the diagnosis found)."""
  for side in (CLAIM, method):
    if side in flagged:
      label, best, pick = flagged[side]
      whose = "its" if side == method else f"{LABELS[CLAIM]}'s own"
      return (f"not settled ({_verdict(p)} as tuned, but {whose} diagnosis '{label}' scored "
              f"{best:.2f} against the pick's {pick:.2f})")
  return _verdict(p)


def env_statistics(rec: dict) -> tuple[dict, dict, dict]:
  """One env's final scores {method: normalized per seed [runs]}, their IQMs {method: (iqm,
  lo, hi)} and P(EnergyFlow centered > baseline) {baseline: (P, lo, hi)} (empty without
  EnergyFlow centered): computed here only, so every document quotes the same intervals."""
  scores = {m: np.asarray(f["normalized_per_seed"], float) for m, f in rec["finals"].items()}
  stats = iqm_ci({m: v[:, None] for m, v in scores.items()})
  others = [m for m in LEARNED if m != CLAIM and m in scores]
  poi = (improvement_ci({m: (scores[CLAIM][:, None], scores[m][:, None]) for m in others})
         if CLAIM in scores and others else {})
  return scores, stats, poi


def control_verdict(scores: dict, method: str) -> tuple[str, str, tuple] | None:
  """Whether a method beats every control, tested as the claims are: P(method > control)
  with its 95% interval (improvement_ci) against each control; 'yes' when every interval
  lies above 0.5, 'no' when one lies below, 'undecided' otherwise. Returns (verdict, the
  weakest control, its (P, lo, hi)), None without a control."""
  controls = [c for c in CONTROLS if c in scores]
  if not controls:
    return None
  poi = improvement_ci({c: (scores[method][:, None], scores[c][:, None]) for c in controls})
  weakest = min(controls, key=lambda c: poi[c])
  verdict = ("yes" if all(poi[c][1] > 0.5 for c in controls)
             else "no" if any(poi[c][2] < 0.5 for c in controls) else "undecided")
  return verdict, weakest, poi[weakest]


def _control_text(verdict) -> str:
  if verdict is None:
    return "—"
  v, control, (p, lo, hi) = verdict
  return f"{v} (P = {p:.2f} [{lo:.2f}, {hi:.2f}] vs {LABELS.get(control, control)})"


def _absorbing_text(rec: dict, method: str) -> str:
  """What a final run's absorbed steps paid: '—' on a task that never ends early, the true
  reward's 0, 'learned' (the adversarial rewards under the 'uninformed' rule), the value
  a fixed reward set, or 'read' (the frozen state read as any other)."""
  s = rec["setting"]
  if not s["fixed_horizon"] or rec["env"] not in TERMINATING:
    return "—"
  value = rec["finals"][method].get("absorbing_reward")
  if method == "true_reward":
    return "0 (true reward)"
  if value is not None and method == "energyflow_soft_bellman" and s.get("soft_bellman_entry"):
    return f"{value:.3g} (set; the step into it reads V as the demos' mean)"
  if value is not None:
    return f"{value:.3g} (set)"
  if method in ("airl", "gail") and s.get("absorbing") == "uninformed":
    return "learned"
  return "read"


def _env_sections(rec: dict) -> tuple[list[str], dict]:
  """One env's markdown and its final scores {method: normalized per seed}."""
  s = rec["setting"]
  finals = rec["finals"]
  scores, stats, poi = env_statistics(rec)
  oracle = scores.get("true_reward")
  budget = ("—" if oracle is None else
            f"{oracle.mean():.2f} ({'holds' if oracle.mean() >= BUDGET_GOAL else 'does not hold'}"
            f"; goal {BUDGET_GOAL})")
  # Records made before the setting named it ran brax's own 1000-step episodes.
  episode = s.get("episode_length", 1000)
  lines = [f"## {rec['env']} ({s['backend']}, "
           f"{'fixed horizon' if s['fixed_horizon'] else 'terminating'}, "
           f"{episode}-step episodes)", "",
           f"Expert (demos) return {rec['expert_return']:.1f}, deterministic expert "
           f"{_fmt(rec.get('expert_eval_return'), 1)}, random {rec['random_return']:.1f}; the "
           f"expert trained {s['expert_steps']:,} env steps, each method's PPO "
           f"{s['rl_steps']:,} per seed. Oracle (true reward) mean normalized return: "
           f"{budget}. Sweep: {s['sweep_size']} configurations per learned method on "
           f"{s['tuning']['num_seeds']} tuning seeds from {s['tuning']['seed']}; finals: the "
           f"pick on {s['final_seeds']['num_seeds']} seeds from {s['final_seeds']['seed']}. "
           f"Command: `{rec['command']}`; wall {rec['wall_s'] / 3600:.1f} h.", "",
           "### Finals", "",
           "| method | configuration (the sweep's pick) | IQM norm. return [95% CI] | mean "
           "raw eval return ± std | normalized per seed | beats every control (weakest "
           "P(method > control) [95% CI]) | "
           "absorbed step pays | "
           "offset-free Pearson / EPIC / return Spearman (held-out) | wall s | env steps/s |",
           "|---|---|---|---|---|---|---|---|---:|---:|"]
  for m, f in finals.items():
    raw = np.asarray(f["eval_return_per_seed"], float)
    q = f.get("reward_quality") or {}
    iqm, lo, hi = stats[m]
    beats = _control_text(None if m in CONTROLS else control_verdict(scores, m))
    pick = _overrides_text(f["overrides"]) if m in LEARNED else "—"
    lines.append(f"| {LABELS.get(m, m)} | {pick} | {iqm:.2f} [{lo:.2f}, {hi:.2f}] | "
                 f"{raw.mean():.1f} ± {raw.std():.1f} | "
                 + ", ".join(f"{x:.2f}" for x in scores[m]) + f" | {beats} | "
                 f"{_absorbing_text(rec, m)} | "
                 f"{_fmt(q.get('pearson'))} / {_fmt(q.get('epic'))} / "
                 f"{_fmt(q.get('return_spearman'))} | "
                 f"{f['wall_s']:.0f} | {_fmt(f.get('steps_per_s'), 0)} |")
  if poi:
    lines += ["", f"P({LABELS[CLAIM]} > baseline): the probability that a final run of "
              "EnergyFlow's reward ends above one of the baseline's (rliable, 95% CI); the "
              "claim holds when the interval lies above 0.5, and is not settled against a "
              "baseline whose own diagnosis runs beat its sweep's pick by more than 0.05, nor "
              "against any where EnergyFlow centered's did.", "",
              "| baseline | P(improvement) [95% CI] | claim |", "|---|---|---|"]
    flagged = undertuned(rec)
    lines += [f"| {LABELS.get(m, m)} | {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}] | "
              f"{_claim(p, m, flagged)} |" for m, p in poi.items()]
  lines += ["", "### Sweep (tuning seeds)", "",
            "Mean normalized return of each configuration; **bold**: the pick (best mean).", "",
            "| method | " + " | ".join(f"config {i + 1}" for i in range(s["sweep_size"]))
            + " |", "|---" * (s["sweep_size"] + 1) + "|"]
  for m, sw in rec["sweep"].items():
    cells = [(f"**{r['mean']:.2f}**" if i == sw["pick"] else f"{r['mean']:.2f}")
             for i, r in enumerate(sw["runs"])]
    lines.append(f"| {LABELS.get(m, m)} | " + " | ".join(cells) + " |")
  lines += ["", "| method | configurations tried (in order) |", "|---|---|"]
  for m, sw in rec["sweep"].items():
    lines.append(f"| {LABELS.get(m, m)} | "
                 + "; ".join(f"{i + 1}: {_overrides_text(r['overrides'])}"
                             for i, r in enumerate(sw["runs"])) + " |")
  return lines + [""] + diagnosis_lines(rec.get("diagnoses") or {}), scores


def diagnosis_lines(diagnoses: dict) -> list[str]:
  """### Diagnoses: runs outside the tuning budget (experiments/configs/rl_sweep.py,
  `diagnoses`) that explain a method's result, on the tuning seeds, at its first sweep
  configuration with the variant's overrides."""
  lines = []
  for m, rows in diagnoses.items():
    lines += [f"### Diagnosis: {LABELS.get(m, m)} (tuning seeds, outside the budget)", "",
              "Each run is the method's first sweep configuration with the variant's "
              "overrides. Entropy: the PPO policy's Gaussian entropy (of the action before "
              "its squash), mean over seeds, at the first and last update.", "",
              "| variant | overrides | normalized per seed | mean | raw eval return per seed | "
              "policy entropy first → last | EPIC (held-out) | absorbed share; reward per "
              "live / absorbed step; per step into the absorbing state (last update) |",
              "|---|---|---|---:|---|---|---|---|"]
    for r in rows:
      e = r.get("policy_entropy") or {}
      paid = r.get("reward_paid")          # runs logged before PPO recorded it: none
      paid = ("—" if paid is None else f"{_fmt(paid['absorbed_share'])}; "
              f"{_fmt(paid['live'])} / {_fmt(paid['absorbed'])}; {_fmt(paid.get('entering'))}")
      lines.append(f"| {r['label']} | {_overrides_text(r['overrides'])} | "
                   + ", ".join(f"{x:.2f}" for x in r["normalized_per_seed"])
                   + f" | {r['mean']:.2f} | "
                   + ", ".join(f"{x:.1f}" for x in r["eval_return_per_seed"])
                   + f" | {_fmt(e.get('first'))} → {_fmt(e.get('last'))} | "
                   f"{_fmt((r.get('reward_quality') or {}).get('epic'))} | {paid} |")
    lines.append("")
  return lines


def _sorted_records(files: dict, folder: str = "") -> list[dict]:
  """The records of {path: record} directly in `folder` ('' the top level), in ENV_ORDER."""
  chosen = [r for n, r in files.items() if os.path.dirname(n) == folder]
  return sorted(chosen, key=lambda r: (ENV_ORDER.index(r["env"]) if r["env"] in ENV_ORDER
                                       else 99, r["env"]))


def absorbing_rule_lines(records: list[dict], before: list[dict]) -> list[str]:
  """Per env with a record made before the absorbing-state rule: each method's final IQM
  with absorbed steps read as any other state beside the same under the rule (each record's
  own sweep picked its configuration)."""
  now = {r["env"]: r for r in records}
  out = []
  for old in before:
    if old["env"] not in now:
      continue
    _, then_stats, _ = env_statistics(old)
    _, now_stats, _ = env_statistics(now[old["env"]])
    rows = [m for m in now_stats if m in then_stats]
    out += [f"## What the absorbing-state rule changed ({old['env']})", "",
            f"The same sweep and finals run twice: absorbed steps read as any other state "
            f"(`results/raw/{RAW_FOLDER}/{READ_FOLDER}/{old['env']}.json`, "
            f"{old['date']}) and under the rule (the tables above). IQM normalized return "
            "[95% CI] of the finals; each run's own sweep picked its configuration.", "",
            "| method | absorbed state read as any other | absorbing rule |", "|---|---|---|"]
    out += [f"| {LABELS.get(m, m)} | {_interval(then_stats[m])} | {_interval(now_stats[m])} |"
            for m in rows]
    out.append("")
  return out


# Held-out reward-quality measures set against the return PPO reaches on the reward:
# (key in a run's reward_quality, label, sign that makes "higher predicts more return").
QUALITY_MEASURES = (("return_spearman", "return Spearman", 1.0),
                    ("preference_accuracy", "preference accuracy", 1.0),
                    ("pearson", "offset-free Pearson", 1.0),
                    ("epic", "EPIC distance (negated)", -1.0))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
  """Spearman's rank correlation (average ranks for ties); nan when either is constant."""
  from scipy.stats import rankdata
  rx, ry = rankdata(x), rankdata(y)
  if np.ptp(rx) == 0 or np.ptp(ry) == 0:
    return float("nan")
  return float(np.corrcoef(rx, ry)[0, 1])


def quality_prediction(rec: dict, seed: int = 0) -> dict:
  """How well each held-out reward-quality measure ranks the sweep's configurations by the
  return PPO reached on them (every learned method's configurations together, one point
  each: its measure against its mean normalized return on the tuning seeds):
  {key: (rho, lo, hi, n)}, Spearman's rho with a 95% percentile bootstrap over
  configurations (seeded), or None where fewer than 4 configurations carry the measure or
  it (or the return) is the same for all of them."""
  runs = [r for sw in rec["sweep"].values() for r in sw["runs"]]
  rng = np.random.default_rng(seed)
  out = {}
  for key, _, sign in QUALITY_MEASURES:
    pairs = [(sign * (r.get("reward_quality") or {})[key], r["mean"]) for r in runs
             if (r.get("reward_quality") or {}).get(key) is not None]
    x, y = np.asarray(pairs, float).reshape(-1, 2).T
    rho = _spearman(x, y) if len(pairs) >= 4 else float("nan")
    if np.isnan(rho):
      out[key] = None
      continue
    draws = rng.integers(0, len(x), size=(BOOTSTRAP_REPS, len(x)))
    boot = np.array([_spearman(x[i], y[i]) for i in draws])
    lo, hi = np.nanpercentile(boot, [2.5, 97.5])
    out[key] = (rho, float(lo), float(hi), len(x))
  return out


def quality_prediction_lines(records: list[dict]) -> list[str]:
  """The section that asks whether held-out reward quality predicts PPO's return."""
  lines = ["## Does held-out reward quality predict PPO's return?", "",
           "Over each env's sweep (every learned method's configurations together, on the "
           "tuning seeds): Spearman's rho between a configuration's reward-quality measure on "
           "held-out transitions and the mean normalized return PPO reached on that reward, "
           "with a 95% bootstrap interval over configurations (n: configurations carrying the "
           "measure). EPIC is a distance, so it enters negated: for every column, a positive "
           "rho means the measure ranks rewards the way PPO's return does. 'below 0.8': "
           "configurations whose mean normalized return stayed under 0.8 (with none, the "
           "return barely varies and rho says little). '—': fewer than 4 configurations "
           "carry the measure, or it is the same for all (the per-state measures are "
           "undefined where the true reward is the same for every action of a state, as on "
           "inverted_pendulum).", ""]
  return lines + quality_prediction_table(records) + [""]


def quality_prediction_table(records: list[dict]) -> list[str]:
  """quality_prediction of each record (its sweep), one row per env."""
  lines = ["| env | configurations (below 0.8) | "
           + " | ".join(label for _, label, _ in QUALITY_MEASURES) + " |",
           "|---" * (len(QUALITY_MEASURES) + 2) + "|"]
  for rec in records:
    means = [r["mean"] for sw in rec["sweep"].values() for r in sw["runs"]]
    pred = quality_prediction(rec)
    cells = ["—" if pred[k] is None else
             f"{pred[k][0]:+.2f} [{pred[k][1]:+.2f}, {pred[k][2]:+.2f}] (n {pred[k][3]})"
             for k, _, _ in QUALITY_MEASURES]
    lines.append(f"| {rec['env']} | {len(means)} ({sum(m < BUDGET_GOAL for m in means)}) | "
                 + " | ".join(cells) + " |")
  return lines


def progress_lines(files: dict) -> list[str]:
  """The section on sweeps still running: per env, each finished run of the progress file
  (experiments.rl_sweep.Progress) with its tuning-seed scores and held-out reward quality,
  and the quality-vs-return ranks over the sweep runs so far."""
  found = {n.split("/")[1]: r for n, r in files.items()
           if n.startswith(PROGRESS_FOLDER + "/") and n.endswith("/runs.json")}
  if not found:
    return []
  lines = ["## Sweeps still running", "",
           f"Finished runs of sweeps whose record is not written yet (`results/raw/{RAW_FOLDER}/"
           f"{PROGRESS_FOLDER}/<env>/runs.json`, kept as they finish): on the tuning seeds, "
           "not the finals; no claim, pick or aggregate is made from them. Columns as in the "
           "finals; quality on the held-out transitions.", ""]
  for env in sorted(found, key=lambda e: (ENV_ORDER.index(e) if e in ENV_ORDER else 99, e)):
    runs = found[env]["runs"]
    sweep = {}
    for name, kept in runs.items():          # 'sweep/<method>/<i>', 'diagnose/...', 'final/<m>'
      if name.startswith("sweep/"):
        _, method, i = name.split("/")
        sweep.setdefault(method, {})[int(i)] = kept["row"]
    size = found[env].get("sweep_size")
    done = ", ".join(f"{LABELS.get(m, m)} {len(rows)}" + (f" of {size}" if size else "")
                     for m, rows in sweep.items())
    others = len(runs) - sum(len(rows) for rows in sweep.values())
    lines += [f"### {env}", "", f"Sweep configurations finished: {done or 'none'}"
              + (f"; diagnoses and finals finished: {others}" if others else "") + ".", "",
              "| method | config | configuration | normalized per seed | mean | preference "
              "accuracy | offset-free Pearson | return Spearman | wall s |",
              "|---|---:|---|---|---:|---:|---:|---:|---:|"]
    for m, rows in sweep.items():
      for i, r in sorted(rows.items()):
        q = r.get("reward_quality") or {}
        lines.append(f"| {LABELS.get(m, m)} | {i + 1} | {_overrides_text(r['overrides'])} | "
                     + ", ".join(f"{x:.2f}" for x in r["normalized_per_seed"])
                     + f" | {r['mean']:.2f} | {_fmt(q.get('preference_accuracy'))} | "
                     f"{_fmt(q.get('pearson'))} | {_fmt(q.get('return_spearman'))} | "
                     f"{r['wall_s']:.0f} |")
    lines += finals_so_far_lines(runs)
    so_far = {"env": f"{env} (so far)",
              "sweep": {m: {"runs": [rows[i] for i in sorted(rows)]} for m, rows in sweep.items()}}
    lines += ["", "Spearman's rho of each held-out quality measure against the mean normalized "
              "return over these runs, with a 95% bootstrap interval (n: runs carrying the "
              "measure; EPIC negated):", ""] + quality_prediction_table([so_far]) + [""]
  return lines


def finals_so_far_lines(runs: dict) -> list[str]:
  """The finals a running sweep has finished (its 'final/<method>' rows), per seed on the
  fresh seeds; no aggregate or claim: those wait for the record."""
  finals = {name.split("/")[1]: kept["row"] for name, kept in runs.items()
            if name.startswith("final/")}
  if not finals:
    return []
  order = list(LABELS)
  lines = ["", "Finals finished so far, on the fresh seeds (the IQM, the comparisons and the "
           "claims wait for every final):", "",
           "| method | configuration (the sweep's pick) | normalized per seed | mean | "
           "preference accuracy | offset-free Pearson | return Spearman | wall s |",
           "|---|---|---|---:|---:|---:|---:|---:|"]
  for m in sorted(finals, key=lambda m: (order.index(m) if m in order else len(order), m)):
    r, q = finals[m], finals[m].get("reward_quality") or {}
    scores = r["normalized_per_seed"]
    swept = any(name.startswith(f"sweep/{m}/") for name in runs)
    lines.append(f"| {LABELS.get(m, m)} | {_overrides_text(r['overrides']) if swept else '—'} | "
                 + ", ".join(f"{x:.2f}" for x in scores)
                 + f" | {np.mean(scores):.2f} | {_fmt(q.get('preference_accuracy'))} | "
                 f"{_fmt(q.get('pearson'))} | {_fmt(q.get('return_spearman'))} | "
                 f"{r['rl']['wall_s']:.0f} |")
  return lines


def _interval(stat) -> str:
  return f"{stat[0]:.2f} [{stat[1]:.2f}, {stat[2]:.2f}]"


def aggregate(records: list[dict], per_env: dict) -> tuple[dict, dict, dict] | None:
  """Over every recorded env ({env: {method: normalized final scores}}, from _env_sections),
  for the methods every env ran: (IQM [95% CI] per method, P(CLAIM > baseline) averaged
  over envs [95% CI] per learned baseline ({} without CLAIM), the under-tuned flags of
  every record), each seed count cut to the smallest; None with fewer than two envs."""
  names = list(per_env)
  common = [m for m in LEARNED + ("true_reward",) + CONTROLS
            if all(m in per_env[e] for e in names)]
  if len(names) < 2 or not common:
    return None
  n = min(len(per_env[e][m]) for e in names for m in common)
  agg = {m: np.stack([per_env[e][m][:n] for e in names], 1) for m in common}
  others = [m for m in LEARNED if m != CLAIM and m in agg]
  poi = (improvement_ci({m: (agg[CLAIM], agg[m]) for m in others})
         if CLAIM in agg and others else {})
  flagged = {m: f for rec in records for m, f in undertuned(rec).items()}
  return iqm_ci(agg), poi, flagged


def document(files: dict) -> str:
  """results/rl_compare.md from {'<env>.json': experiments.rl_sweep's raw record} (and
  READ_FOLDER's records, in their own section)."""
  records = _sorted_records(files)
  lines = ["# PPO on rewards recovered from demonstrations: EnergyFlow vs AIRL, GAIL, likelihood",
           "", f"Generated by `python -m experiments.reports.build` from the raw records in "
           f"`results/raw/{RAW_FOLDER}/` (one per env, written by `python -m experiments.rl_sweep "
           "--config=experiments/configs/rl_sweep.py:<env> --workdir=WORKDIR --record`); do "
           "not edit by hand.", "",
           "Protocol: every learned reward gets the same tuning budget (the same number of "
           "configurations over its own key settings, experiments/configs/rl_sweep.py), picked "
           "by mean normalized return on tuning seeds the finals never use; the finals run "
           "each pick, the oracle (true reward) and the controls (constant +1, constant -1, "
           "zero, a fixed random network) on fresh seeds. On a task whose episodes can end "
           "early the comparison runs a fixed horizon: a fall leads to an absorbing state "
           "repeated to the time limit, whose reward each method learns or sets, as in "
           "Discriminator-Actor-Critic (Kostrikov et al. 2019): AIRL's and GAIL's "
           "discriminators learn it from the policy's absorbed steps; every other reward "
           "(learned from the demonstrations, which never reach the state, or a control) "
           "pays on every absorbed step its own mean over uniform actions at the "
           "demonstrations' states (efjax.reward.absorbing), the finals' 'absorbed step "
           "pays' column; records made before this rule ('read') read the frozen state as "
           "any other, and a diagnosis may set a number (`rl.ppo.absorbing_reward`). "
           "EnergyFlow soft-Bellman, the one reward that reads a value at the next state "
           "(r = Q(s, a) - gamma V(s')), reads it on the step into the absorbing state as "
           "the demonstrations' mean soft value, the V its absorbed steps' value reads, "
           "where its cell says so (earlier records: the network's V at the terminal "
           "state). "
           "Every PPO policy is a clipped "
           "Gaussian but AIRL's, which is tanh-squashed: AIRL's reward holds -log pi of the "
           "action the env receives, bounded only for a density over the action box (the "
           "AIRL diagnosis below shows the clipped one). Score: deterministic eval return of "
           "each seed's final policy, normalized as (R - R_random) / (R_expert - R_random), "
           "R_expert the mean return of the demonstrations. A learned reward that does not "
           "beat every control says nothing about that task; it beats one when P(its run "
           "ends above the control's) has a 95% interval above 0.5 (the test the claims "
           "use). Reward quality on held-out "
           "transitions (expert episodes with graded action noise; at every 10th state 8 "
           "actions tried from the same simulator state): the per-state offset-free Pearson "
           "correlation with the true reward; EPIC (Gleave et al. 2020: both rewards "
           "canonicalized over visited states and uniform actions, then the Pearson distance; "
           "0 is the true reward up to shaping and scale, '—' for a reward constant up to "
           "shaping); and the Spearman correlation of learned and true episode returns.", ""]
  if not records:
    return "\n".join(lines + ["No env has a recorded comparison yet.", ""]
                     + progress_lines(files)) + "\n"
  per_env = {}
  for rec in records:
    env_lines, per_env[rec["env"]] = _env_sections(rec)
    lines += env_lines
  summary = aggregate(records, per_env)
  if summary is not None:
    stats, poi, flagged = summary
    lines += [f"## Aggregate over {', '.join(per_env)}", "",
              "| method | IQM norm. return [95% CI] |", "|---|---|"]
    lines += [f"| {LABELS.get(m, m)} | {v[0]:.2f} [{v[1]:.2f}, {v[2]:.2f}] |"
              for m, v in stats.items()]
    if poi:
      lines += ["", "| baseline | P(EnergyFlow centered > baseline), mean over envs [95% CI] "
                "| claim |", "|---|---|---|"]
      lines += [f"| {LABELS.get(m, m)} | {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}] | "
                f"{_claim(p, m, flagged)} |" for m, p in poi.items()]
    lines.append("")
  lines += quality_prediction_lines(records)
  lines += progress_lines(files)
  before = _sorted_records(files, READ_FOLDER)
  lines += absorbing_rule_lines(records, before)
  commits = sorted({((r["fingerprint"].get("code") or {}).get("commit") or "?")[:10]
                    for r in records + before})
  lines += ["## Provenance", "", f"- git commits: {', '.join(commits)}",
            "- " + "; ".join(f"{r['env']}: {r['date']}" for r in records)
            + "".join(f"; {r['env']} (absorbed state read): {r['date']}" for r in before)]
  lines += [f"- {r['env']}: PPO runs by the commit that made them (a record keeps runs of "
            f"earlier code with --stale=report): {text}"
            for r in records if (text := run_commits_text(r))]
  return "\n".join(lines) + "\n"


def run_commits_text(rec: dict) -> str | None:
  """'1a2b3c4d5e: 52 runs; 6f7a8b9c0d: 8 runs (EnergyFlow soft-Bellman sweep 1-6, ...)':
  the record's sweep, diagnosis and final PPO runs grouped by the commit that made them
  (experiments.stages.made_at; 'not recorded' for runs made before it was); the smaller
  groups name their runs. None for a record made before runs carried it."""
  runs = ([(f"{LABELS.get(m, m)} sweep {i + 1}", r) for m, sw in rec["sweep"].items()
           for i, r in enumerate(sw["runs"])]
          + [(f"{LABELS.get(m, m)} diagnosis {i + 1}", r)
             for m, rows in (rec.get("diagnoses") or {}).items() for i, r in enumerate(rows)]
          + [(f"{LABELS.get(m, m)} final", f) for m, f in rec["finals"].items()])
  if not any("made_at" in r for _, r in runs):
    return None
  groups = {}
  for name, r in runs:
    groups.setdefault(r.get("made_at") or "not recorded", []).append(name)
  largest = max(len(names) for names in groups.values())
  return "; ".join(f"{commit}: {len(names)} run{'s' if len(names) != 1 else ''}"
                   + (f" ({', '.join(names)})" if len(names) < largest else "")
                   for commit, names in sorted(groups.items(), key=lambda g: -len(g[1])))


def readme_claims(files: dict) -> str:
  """README's bullet on the paper's second claim, from the same raw records as DOCUMENT:
  per env, EnergyFlow centered's IQM, whether it beats every control, and the verdict
  against each learned baseline (P(improvement) with its 95% interval); then the same over
  every env together (DOCUMENT's aggregate section)."""
  head = ("- PPO on rewards learned from expert demos, with equal tuning for every method "
          f"([{DOCUMENT}]({DOCUMENT}), generated from `results/raw/{RAW_FOLDER}/`): ")
  records = _sorted_records(files)
  if not records:
    return head + "no env has a recorded comparison yet."
  parts, per_env = [], {}
  for rec in records:
    scores, stats, poi = env_statistics(rec)
    per_env[rec["env"]] = scores
    if CLAIM not in scores:
      continue
    iqm, lo, hi = stats[CLAIM]
    verdict = control_verdict(scores, CLAIM)
    beats = "" if verdict is None else ", " + {
        "yes": "beats every control", "no": "does not beat every control",
        "undecided": "undecided against the controls"}[verdict[0]] + (
        f" (weakest: P = {verdict[2][0]:.2f} [{verdict[2][1]:.2f}, {verdict[2][2]:.2f}] vs "
        f"{LABELS.get(verdict[1], verdict[1])})")
    flagged = undertuned(rec)
    unsettled = ""
    if CLAIM in flagged:      # said once: it unsettles every verdict on this env
      label, best, pick = flagged.pop(CLAIM)
      unsettled = (f"not settled against any baseline: its own diagnosis '{label}' scored "
                   f"{best:.2f} against its pick's {pick:.2f}; as tuned, ")
    verdicts = unsettled + "; ".join(
        f"vs {LABELS.get(m, m)} {_claim(p, m, flagged)} (P = {p[0]:.2f} "
        f"[{p[1]:.2f}, {p[2]:.2f}])" for m, p in poi.items())
    parts.append(f"{rec['env']}: {LABELS[CLAIM]} IQM normalized return {iqm:.2f} "
                 f"[{lo:.2f}, {hi:.2f}]{beats}; {verdicts}")
  if not parts:
    return head + f"no recorded env has {LABELS[CLAIM]} in its finals yet."
  summary = aggregate(records, per_env)
  if summary is not None and CLAIM in summary[0]:
    stats, poi, flagged = summary
    iqm, lo, hi = stats[CLAIM]
    verdicts = "; ".join(f"vs {LABELS.get(m, m)} {_claim(p, m, flagged)} (P = {p[0]:.2f} "
                         f"[{p[1]:.2f}, {p[2]:.2f}])" for m, p in poi.items())
    parts.append(f"Aggregated over {', '.join(per_env)} (P averaged over envs): "
                 f"{LABELS[CLAIM]} IQM normalized return {iqm:.2f} [{lo:.2f}, {hi:.2f}]"
                 + (f"; {verdicts}" if verdicts else ""))
  return head + ". ".join(parts) + "."


def write_document(folder: str = RAW_FOLDER) -> str:
  """Writes DOCUMENT from every raw record on disk under results/raw/<folder> (a run's new
  record included; the build reads only committed ones); returns its path."""
  from experiments.reports import build
  root = os.path.join(build.ROOT, build.RAW, folder)
  files = {os.path.relpath(os.path.join(d, n), root): build.read_raw(
      os.path.relpath(os.path.join(d, n), os.path.join(build.ROOT, build.RAW)))
      for d, _, names in os.walk(root) for n in sorted(names) if n.endswith(".json")}
  path = os.path.join(build.ROOT, DOCUMENT)
  with open(path, "w") as f:
    f.write(document(files))
  return path


def main(argv):
  del argv
  print(write_report(_ROOT.value, _OUT.value, tuple(_BASELINE.value or ())))


if __name__ == "__main__":
  cli.run(main, required=("root", "out"))
