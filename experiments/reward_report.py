"""A short report on a trained model's reward, for data where no true Q is known.

    python -m experiments.reward_report --workdir=W [--demos=held_out.npz] [--out=DIR]

Reads the model of W (efjax.load) and demo windows (the file W was trained on, or
--demos: a demo npz, e.g. demos held out from training) and writes into --out
(default W): reward_report.md, reward_report.json and three PNG plots, from the
functions of efjax/reward/diagnostics.py: preference of demo actions over perturbed ones
as the perturbation grows, the reward along lines from demo to random actions, the
agreement of the reward read at several noise levels t, and how much the reference rule
moves the centering term; and, for a run that held out episodes (`data.val_fraction`),
whether its held-out DSM loss rose late in training (efjax.train.metrics.validation_curve:
the run overfits its demos). Bad input (no workdir, an unreadable npz, sizes that do not
match the model) is one line on stderr and exit status 2.
"""
import json
import os
import sys

import ml_collections
import numpy as np
from absl import flags

from experiments import cli

_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "A training workdir.")
_DEMOS = cli.shared_flag(flags.DEFINE_string, "demos", None,
                         "Demo npz to read the reward on (default: the training file).")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", None, "Where the report goes (default: workdir).")
_WINDOWS = flags.DEFINE_integer("windows", 1024, "Demo windows to use (at most).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the window choice and the random actions.")

REPORT, RESULTS = "reward_report.md", "reward_report.json"
PLOTS = ("reward_perturbation.png", "reward_lines.png", "reward_noise_levels.png")


def load_inputs(workdir: str, demos_path: str | None, max_windows: int, seed: int):
  """(model, obs, actions, demos path); FileNotFoundError / DemoFileError / DiagnosticsError.

  The demos and their sizes are checked before the model is loaded (a bad file fails fast).
  """
  import efjax
  from efjax.data import load_demos, load_training_demos
  from efjax.reward.diagnostics import DiagnosticsError, demo_windows
  from efjax.workdir import DATASET_FILE
  if not os.path.isdir(workdir):
    raise FileNotFoundError(f"{workdir}: no such directory")
  try:
    config = ml_collections.ConfigDict(json.load(open(os.path.join(workdir, "config.json"))))
    sizes = json.load(open(os.path.join(workdir, DATASET_FILE)))
  except (OSError, ValueError):
    raise FileNotFoundError(f"{workdir}: no readable config.json and {DATASET_FILE} "
                            "(not a training workdir?)") from None
  if demos_path is None:
    demos_path = config.data.path
    demos = load_training_demos(config.data, config.get("env", {}).get("task"))
  else:
    demos = load_demos(demos_path)
  for name, dim, key in (("observations", demos.observations.shape[1], "obs_dim"),
                         ("actions", demos.actions.shape[1], "act_dim")):
    if dim != sizes[key]:
      raise DiagnosticsError(f"the demos' {name} have {dim} dimensions, the model was trained "
                             f"on {sizes[key]}")
  model = efjax.load(workdir)
  obs, actions = demo_windows(demos, model, max_windows, seed)
  return model, obs, actions, demos_path


def _plots(out: str, result: dict) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt

  pp = result["perturbation_preference"]
  fig, ax = plt.subplots(figsize=(5, 3.5))
  ax.semilogx([p["scale"] for p in pp], [p["accuracy"] for p in pp], "o-")
  ax.axhline(0.5, color="gray", ls="--", lw=1, label="chance")
  ax.set_xlabel("perturbation (x demo action std)")
  ax.set_ylabel("P(reward(demo) > reward(perturbed))")
  ax.set_ylim(0, 1.02)
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(out, PLOTS[0]), dpi=100)
  plt.close(fig)

  lines = result["lines"]
  fig, ax = plt.subplots(figsize=(5, 3.5))
  ax.plot(lines["lambdas"], lines["median"], label="median")
  ax.fill_between(lines["lambdas"], lines["q10"], lines["q90"], alpha=0.3, label="10-90%")
  ax.axhline(0.0, color="gray", lw=1)
  ax.set_xlabel("lambda (0: demo action, 1: random action)")
  ax.set_ylabel("reward - reward at the demo action")
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(out, PLOTS[1]), dpi=100)
  plt.close(fig)

  nl = result["noise_levels"]
  fig, ax = plt.subplots(figsize=(4.5, 4))
  im = ax.imshow(np.array(nl["pearson"]), vmin=-1, vmax=1, cmap="RdBu")
  labels = [f"{t:g}" for t in nl["levels"]]
  ax.set_xticks(range(len(labels)), labels)
  ax.set_yticks(range(len(labels)), labels)
  ax.set_xlabel("t")
  ax.set_ylabel("t")
  fig.colorbar(im, label="per-state-centered Pearson")
  fig.tight_layout()
  fig.savefig(os.path.join(out, PLOTS[2]), dpi=100)
  plt.close(fig)


def markdown(result: dict, workdir: str, demos_path: str) -> str:
  r, nl, ref = result["reward"], result["noise_levels"], result["reference_rule"]
  lines = [f"# Reward report: {workdir}", "",
           f"Reward `{r['kind']}` at t = {r['t']:g} (reference `{r['reference']}` x "
           f"{r['num_reference']}), read on {result['num_windows']} windows of `{demos_path}`.",
           "No true reward is known here: these are consistency checks, not accuracy.", "",
           "## Demo actions over perturbed ones", "",
           "| perturbation (x action std) | demo preferred | median reward gap |", "|---|---|---|"]
  lines += [f"| {p['scale']:g} | {p['accuracy']:.3f} | {p['median_gap']:.4g} |"
            for p in result["perturbation_preference"]]
  lines += ["", f"![perturbation]({PLOTS[0]})", "", "## Along lines from demo to random actions",
            "", f"The demo end is rewarded above the random end on "
            f"{result['lines']['demo_above_random']:.1%} of the lines.", "",
            f"![lines]({PLOTS[1]})", "", "## Agreement across noise levels", "",
            "Per-state-centered Pearson correlation between the rewards read at each pair of "
            f"levels t, on the same demo, perturbed and random actions (the model reads its "
            f"reward at t = {nl['configured_t']:g}):", "", "| t | " + " | ".join(f"{t:g}" for t in nl["levels"]) + " |",
            "|---" * (len(nl["levels"]) + 1) + "|"]
  for t, row in zip(nl["levels"], nl["pearson"]):
    lines.append(f"| {t:g} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
  lines += ["", f"![noise levels]({PLOTS[2]})", "", "## Reference rule", ""]
  if ref["relative_shift"] is None:
    lines.append(f"Not measured: {ref['note']}.")
  else:
    lines.append(f"Between {ref['num_sampled']} sampled reference actions and the "
                 f"{ref['gauss_hermite_points']}-point Gauss-Hermite rule, the centering term "
                 f"moves by {ref['rms_shift']:.4g} (rms over states, its mean removed): "
                 f"{ref['relative_shift']:.1%} of the energy's spread over actions "
                 f"({ref['energy_spread']:.4g}). A state-dependent shift acts as a spurious "
                 "state reward; above a few percent, prefer the Gauss-Hermite rule "
                 "(`--config.reward.reference=gauss_hermite --config.reward.num_reference=2`).")
  learned = result["learned_term"]
  lines += ["", "## The network's part of the energy", ""]
  if learned["ratio"] is None:
    lines.append(f"Not measured: {learned['note']}.")
  else:
    lines.append(f"With the EDM preconditioning the energy is a fixed Gaussian prior plus the "
                 f"network's learned term; at t = {learned['t']:g} the learned term varies over "
                 f"the same actions {learned['ratio']:.3g} times as much as the prior (mean over "
                 "states of their standard deviations).")
    if learned["flat"]:
      lines += ["", "**The learned term is flat in the action**: the reward is the prior's "
                "quadratic alone and says nothing about the demos (the noise levels above then "
                "agree perfectly). Training collapsed; retrain with a lower learning rate, e.g. "
                "`--config.train.learning_rate=1e-3`."]
  lines += ["", "## Held-out DSM loss over training", ""] + validation_lines(
      result.get("validation"))
  return "\n".join(lines) + "\n"


def validation_lines(curve: dict | None) -> list[str]:
  """The report's lines on efjax.train.metrics.validation_curve's result."""
  if curve is None:
    return ["Not measured: the run held out no episodes. Train with "
            "`--config.data.val_fraction=0.1` (and `train.eval_every` set) to see whether it "
            "overfits its demos."]
  lines = [f"The EMA model's DSM loss on the held-out episodes: lowest {curve['best']:.4f} at "
           f"step {curve['best_step']}, {curve['last']:.4f} at step {curve['last_step']} "
           f"({curve['rise']:+.2%})."]
  if curve["overfits"]:
    lines += ["", f"**The held-out loss rose after step {curve['best_step']}** while training "
              "went on: the network has begun to fit its training demos rather than the "
              "expert's distribution. More demos, or a run of about "
              f"`--config.train.num_steps={curve['best_step']}`, may read a better "
              "reward."]
  return lines


def main(argv):
  del argv
  cli.quiet_library_logs()
  from efjax.data import DemoFileError
  from efjax.reward.diagnostics import DiagnosticsError, diagnose
  workdir, out = _WORKDIR.value, _OUT.value or _WORKDIR.value
  try:
    model, obs, actions, demos_path = load_inputs(workdir, _DEMOS.value, _WINDOWS.value,
                                                  _SEED.value)
  except (FileNotFoundError, DemoFileError, DiagnosticsError) as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(2)
  from efjax.train.metrics import validation_curve
  result = diagnose(model, obs, actions, _SEED.value)
  result["validation"] = validation_curve(workdir)
  os.makedirs(out, exist_ok=True)
  with open(os.path.join(out, RESULTS), "w") as f:
    json.dump(result, f, indent=1)
  _plots(out, result)
  with open(os.path.join(out, REPORT), "w") as f:
    f.write(markdown(result, workdir, demos_path))
  if result["learned_term"]["flat"]:
    print(f"warning: the network's learned term is flat in the action (spread "
          f"{result['learned_term']['ratio']:.2g} x the prior's): the reward is the "
          "preconditioning's prior alone; retrain with a lower train.learning_rate",
          file=sys.stderr)
  if result["validation"] is not None and result["validation"]["overfits"]:
    print(f"warning: the held-out DSM loss rose {result['validation']['rise']:+.2%} after "
          f"step {result['validation']['best_step']}: the run overfits its demos",
          file=sys.stderr)
  print(os.path.join(out, REPORT))


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
