"""Run a main as N local processes joined with jax.distributed (CPU tests, one host).

    python -m launch.local --num_processes=2 -- -m experiments.train \
        --config=experiments/configs/demos.py:smoke --config.data.path=demos.npz --workdir=DIR
    python -m launch.local --num_processes=2 --dry_run -- -m experiments.train ...

Each process gets EFJAX_COORDINATOR, EFJAX_NUM_PROCESSES and EFJAX_PROCESS_ID; the
main calls jax.distributed.initialize with them. Exits with the first non-zero code.
"""
import socket
import sys

from launch import common


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def commands(num_processes: int, args: list[str], port: int):
  """[(env additions, argv)] for each process."""
  coordinator = f"127.0.0.1:{port}"
  return [({"EFJAX_COORDINATOR": coordinator, "EFJAX_NUM_PROCESSES": str(num_processes),
            "EFJAX_PROCESS_ID": str(i)}, [sys.executable] + args) for i in range(num_processes)]


def main(argv=None):
  p = common.parser(__doc__, "launch.local")
  p.add_argument("--num_processes", type=int, default=2)
  ns = p.parse_args(argv)
  args = common.python_args(p, ns)
  if ns.num_processes < 1:
    p.error(f"--num_processes must be >= 1, got {ns.num_processes}")
  plan = commands(ns.num_processes, args, free_port())
  for env, cmd in plan:
    print(common.shell_line(env, cmd), flush=True)
  return 0 if ns.dry_run else common.run(plan)


if __name__ == "__main__":
  sys.exit(main())
