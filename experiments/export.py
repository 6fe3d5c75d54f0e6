"""Export a training workdir's policy and rewards for jax-only use (see efjax/export.py).

    python -m experiments.export --workdir=DIR [--out=DIR/export] [--platforms=cpu,cuda,tpu]

Writes policy.jaxexport, reward.jaxexport, reward_soft_bellman.jaxexport and
metadata.json. The export is built in a temporary directory and renamed into place:
an existing export is replaced whole or left as it was.
"""
from absl import flags

from experiments import cli

from efjax.export import DEFAULT_PLATFORMS, export_workdir

_WORKDIR = cli.workdir_flag("A training workdir (config.json, checkpoints).")
_OUT = cli.shared_flag(flags.DEFINE_string, "out", None, "Export directory (default: WORKDIR/export).")
_PLATFORMS = flags.DEFINE_list("platforms", list(DEFAULT_PLATFORMS),
                               "jax.export lowering platforms.")


KNOWN_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")


def main(argv):
  del argv
  unknown = sorted(set(_PLATFORMS.value) - set(KNOWN_PLATFORMS))
  if unknown:
    cli.fail(f"--platforms: {unknown} not among {list(KNOWN_PLATFORMS)}")
  out = export_workdir(_WORKDIR.value, _OUT.value, tuple(_PLATFORMS.value))
  print(f"exported to {out}")


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
