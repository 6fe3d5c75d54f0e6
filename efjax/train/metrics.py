"""One metrics writer for every driver: WORKDIR/metrics.jsonl plus TensorBoard.

    writer = MetricsWriter(workdir)
    writer.write({"step": 500, "loss": 0.61, "eval_loss": 0.58})   # one JSON line
    writer.close()

The JSON line keeps the record's own keys (the training contract: step, loss,
grad_norm, learning_rate, skipped_steps, samples_per_s; RL: rl/true_return, ...).
TensorBoard gets every number under a namespaced tag: a key with a '/' as it is,
`eval_<x>` as eval/<x>, any other as train/<x>; a list (one value per seed) as its
mean over the finite values. `enabled=False` (a process other than 0) writes nothing.
"""
import json
import math
import os

import numpy as np


def tensorboard_tag(key: str) -> str:
  if "/" in key:
    return key
  if key.startswith("eval_"):
    return "eval/" + key.removeprefix("eval_")
  return "train/" + key


def _scalar(value):
  """A number for TensorBoard (None for text, None, or no finite value)."""
  if isinstance(value, bool) or value is None or isinstance(value, str):
    return None
  if isinstance(value, (list, tuple)):
    finite = [v for v in value if isinstance(v, (int, float)) and math.isfinite(v)]
    return float(np.mean(finite)) if finite else None
  return float(value) if math.isfinite(value) else None


class MetricsWriter:
  def __init__(self, workdir: str, enabled: bool = True, tensorboard: bool = True):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self.enabled = enabled
    self._tb = None
    if enabled and tensorboard:
      try:
        from tensorboardX import SummaryWriter
        self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))
      except ImportError:
        pass

  def write(self, record: dict, step_key: str = "step") -> None:
    """Appends one JSON line; TensorBoard scalars at record[step_key]."""
    if not self.enabled:
      return
    with open(self.path, "a") as f:
      f.write(json.dumps(record) + "\n")
    if self._tb is not None:
      for key, value in record.items():
        scalar = _scalar(value) if key != step_key else None
        if scalar is not None:
          self._tb.add_scalar(tensorboard_tag(key), scalar, record[step_key])
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def read_metrics(workdir: str) -> list[dict]:
  """Every record of WORKDIR/metrics.jsonl ([] when there is none)."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def truncate_metrics(workdir: str, last_step: int, step_key: str = "step") -> list[dict]:
  """Drops the records after `last_step` (written after the state a run resumes from);
  returns the records kept."""
  rows = [r for r in read_metrics(workdir) if r[step_key] <= last_step]
  with open(os.path.join(workdir, "metrics.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
  return rows


# A rise of the held-out loss above its minimum that `validation_curve` calls overfitting:
# the evaluation batch is fixed (efjax.train.validation), so its loss moves with the
# parameters only, and a rise this size is not noise.
OVERFIT_RISE = 0.005


def validation_curve(workdir: str) -> dict | None:
  """The EMA model's DSM loss on held-out episodes over a run, from WORKDIR/metrics.jsonl.

  Returns {'steps', 'eval_loss' (lists), 'best_step', 'best', 'last_step', 'last',
  'rise' (last / best - 1), 'overfits' (rise > OVERFIT_RISE)}, or None when the run held
  out no episodes (`data.val_fraction` 0: its eval_loss, if any, is on training
  episodes) or wrote no metrics.
  """
  held_out = [r for r in read_metrics(workdir)
              if r.get("eval_split") == "val" and "eval_loss" in r]
  steps = [int(r["step"]) for r in held_out]
  losses = [float(r["eval_loss"]) for r in held_out]
  if not steps:
    return None
  best = int(np.argmin(losses))
  rise = losses[-1] / losses[best] - 1.0
  return {"steps": steps, "eval_loss": losses, "best_step": steps[best], "best": losses[best],
          "last_step": steps[-1], "last": losses[-1], "rise": rise,
          "overfits": bool(rise > OVERFIT_RISE)}
