"""What made an artifact, or how two differ: training workdirs, exports, result files.

    python -m experiments.provenance PATH            # its fingerprint, for a person
    python -m experiments.provenance PATH_A PATH_B   # the keys where they differ

PATH: a training workdir (its fingerprint.json: the newest run's; `--history` shows every
run), an export directory (metadata.json), or a JSON result file with a "fingerprint"
(evaluation JSONs, RL summaries, raw results). A missing or damaged fingerprint is one
line on stderr and exit status 2.
"""
import os
import sys

from absl import flags

from efjax import provenance
from experiments import cli

_HISTORY = flags.DEFINE_bool("history", False, "Show every run of a workdir, oldest first.")


def _read(path: str) -> dict:
  if not os.path.exists(path):
    raise provenance.ProvenanceError(f"{path}: no such file or directory")
  fp = provenance.read_fingerprint(path)
  if fp is None:
    raise provenance.ProvenanceError(f"{path}: has no fingerprint (made before efjax recorded "
                                     "one, or not an efjax artifact)")
  return fp


def main(argv):
  paths = argv[1:]
  if len(paths) not in (1, 2):
    cli.fail("give one PATH (print its fingerprint) or two (compare them)")
  if len(paths) == 1:
    fp = _read(paths[0])
    runs = ([{k: v for k, v in fp.items() if k != "history"}] + fp.get("history", [])
            if _HISTORY.value else [provenance.newest(fp)])
    for i, run in enumerate(runs):
      if len(runs) > 1:
        print(f"-- run {i + 1} of {len(runs)}")
      print(provenance.describe(run))
    return
  a, b = (provenance.newest(_read(p)) for p in paths)
  diff = provenance.differences(a, b)
  if not diff:
    print("same code, versions, platform, data and config")
    return
  for key, va, vb in diff:
    print(f"{key}: {va!r} | {vb!r}")
  sys.exit(1)             # like diff: 1 when they differ


if __name__ == "__main__":
  cli.run(main, required=())
