"""What the launchers share: the command after `--`, how it is printed, how it is run.

Every launcher takes the python arguments of a main after `--` (`-- -m experiments.train
--config=... --workdir=...`), prints the exact commands it will run (`--dry_run` stops
there) and exits with the first non-zero exit code. Launchers import no JAX: they only
start processes, so `--dry_run` is instant on a login node.
"""
import argparse
import os
import shlex
import subprocess
import sys

# What a multi-host main reads to call jax.distributed.initialize() with no arguments,
# which finds its peers from SLURM's or the TPU pod's environment (experiments/train.py).
AUTO_DISTRIBUTED = {"EFJAX_AUTO_DISTRIBUTED": "1"}


def parser(doc: str, module: str) -> argparse.ArgumentParser:
  """An argument parser for `python -m module` with --dry_run and the arguments after `--`."""
  p = argparse.ArgumentParser(prog=f"python -m {module}", description=doc,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  p.add_argument("args", nargs=argparse.REMAINDER, help="after --: the python arguments")
  return p


def python_args(p: argparse.ArgumentParser, ns: argparse.Namespace) -> list[str]:
  """The python arguments after `--`; a missing command or a named interpreter is an error."""
  args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
  if not args:
    p.error("give the command after --, e.g. -- -m experiments.train --config=...")
  name = os.path.basename(args[0])
  if name.startswith("python") and not name.endswith(".py"):
    # The launcher picks the interpreter; `python python -m ...` would fail far away.
    p.error(f"give the python arguments after --, not the interpreter {args[0]!r}: "
            "-- -m experiments.train ...")
  return args


def shell_line(env: dict, argv: list[str]) -> str:
  """`K=V ... argv` as a shell would run it (shlex-quoted)."""
  return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items()) + (" " if env else "") + \
      shlex.join(argv)


def flag_value(args: list[str], name: str):
  """The value of --name=V or --name V in `args` (the last one), else None."""
  value = None
  for i, a in enumerate(args):
    if a.startswith(f"--{name}="):
      value = a.split("=", 1)[1]
    elif a == f"--{name}" and i + 1 < len(args):
      value = args[i + 1]
  return value


def warn_if_not_shared(args: list[str]) -> None:
  """Warns (stderr) when the workdir cannot be the same directory on every host."""
  workdir = flag_value(args, "workdir")
  if workdir is None:
    return
  if workdir.startswith("gs://"):
    print(f"warning: --workdir={workdir}: efjax writes config.json and metrics.jsonl with "
          "open(), so a gs:// workdir does not work yet; mount the bucket (gcsfuse) and pass "
          "the mount path", file=sys.stderr)
  elif workdir == "/tmp" or workdir.startswith("/tmp/"):
    print(f"warning: --workdir={workdir} is usually local to each host; every host must "
          "see the same checkpoints (shared storage)", file=sys.stderr)


def run(plan: list[tuple[dict, list[str]]]) -> int:
  """Starts every (env additions, argv) at once; waits; the first non-zero exit code."""
  procs = [subprocess.Popen(argv, env=dict(os.environ, **env)) for env, argv in plan]
  codes = [proc.wait() for proc in procs]
  return next((c for c in codes if c), 0)
