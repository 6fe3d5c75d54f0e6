"""Export a training workdir's policy and rewards for jax-only use (see efjax/export.py).

    python -m experiments.export --workdir=DIR [--out=DIR/export] [--platforms=cpu,cuda,tpu]

Writes policy.jaxexport, reward.jaxexport, reward_soft_bellman.jaxexport and
metadata.json. The export is built in a temporary directory and renamed into place:
an existing export is replaced whole or left as it was.
"""
import json
import os
import sys

from experiments import cli
from absl import flags

from efjax.export import DEFAULT_PLATFORMS, ExportError, export_workdir

_WORKDIR = cli.shared_flag(flags.DEFINE_string, "workdir", None, "A training workdir (config.json, checkpoints).")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", None, "Export directory (default: WORKDIR/export).")
_PLATFORMS = flags.DEFINE_list("platforms", list(DEFAULT_PLATFORMS),
                               "jax.export lowering platforms.")


KNOWN_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def fail(message: str):
  """The user's input is at fault: one line on stderr, exit 2, no traceback."""
  print(f"error: {message}", file=sys.stderr)
  sys.exit(2)


def main(argv):
  del argv
  workdir = _WORKDIR.value
  unknown = sorted(set(_PLATFORMS.value) - set(KNOWN_PLATFORMS))
  if unknown:
    fail(f"--platforms: {unknown} not among {list(KNOWN_PLATFORMS)}")
  if not os.path.isfile(os.path.join(workdir, "config.json")):
    fail(f"{workdir}: no config.json (not a training workdir?)")
  try:
    out = export_workdir(workdir, _OUT.value, tuple(_PLATFORMS.value))
  except (FileNotFoundError, json.JSONDecodeError, ExportError) as e:  # no checkpoint, bad json
    fail(str(e).splitlines()[0])
  print(f"exported to {out}")


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
