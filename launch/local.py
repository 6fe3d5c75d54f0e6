"""Run a main as N local processes joined with jax.distributed (CPU tests, one host).

    python -m launch.local --num_processes=2 -- -m experiments.train \
        --config=experiments/configs/demos.py:smoke --config.data.path=demos.npz --workdir=DIR
    python -m launch.local --num_processes=2 --dry_run -- -m experiments.train ...

Each process gets EFJAX_COORDINATOR, EFJAX_NUM_PROCESSES and EFJAX_PROCESS_ID; the
main calls jax.distributed.initialize with them. Exits with the first non-zero code.
"""
import argparse
import os
import shlex
import socket
import subprocess
import sys


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def commands(num_processes: int, args: list[str], port: int):
  """[(env additions, argv)] for each process."""
  coordinator = f"127.0.0.1:{port}"
  return [({"EFJAX_COORDINATOR": coordinator, "EFJAX_NUM_PROCESSES": str(num_processes),
            "EFJAX_PROCESS_ID": str(i)}, [sys.executable] + args) for i in range(num_processes)]


def main():
  p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--num_processes", type=int, default=2)
  p.add_argument("--dry_run", action="store_true", help="print the commands, run nothing")
  p.add_argument("args", nargs=argparse.REMAINDER, help="after --: the python arguments")
  ns = p.parse_args()
  args = ns.args[1:] if ns.args[:1] == ["--"] else ns.args
  if not args:
    p.error("give the command after --, e.g. -- -m experiments.train --config=...")
  plan = commands(ns.num_processes, args, free_port())
  for env, argv in plan:
    print(" ".join(f"{k}={v}" for k, v in env.items()) + " " + shlex.join(argv))
  if ns.dry_run:
    return 0
  procs = [subprocess.Popen(argv, env=dict(os.environ, **env)) for env, argv in plan]
  codes = [proc.wait() for proc in procs]
  return next((c for c in codes if c), 0)


if __name__ == "__main__":
  sys.exit(main())
