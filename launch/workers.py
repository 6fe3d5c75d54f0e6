"""Run one command as N worker processes on this host, each pinned to its own cores.

    python -m launch.workers -- -m experiments.rl_sweep \
        --config=experiments/configs/rl_sweep.py:inverted_double_pendulum --workdir=DIR --record
    python -m launch.workers --num_processes=2 --log_dir=DIR/logs -- -m experiments.bandit_family ...
    python -m launch.workers --dry_run -- -m experiments.rl_sweep ...

For the drivers whose processes split one `--workdir`'s runs between them
(experiments/claims.py: `rl_sweep`, `bandit_family`, `bandit_tune`). By default one
process per usable core. Process i runs under `taskset` on the i-th block of the cores
(the first `cores % N` blocks get one more), and a process with a single core also gets
`--xla_cpu_multi_thread_eigen=false` appended to XLA_FLAGS, so XLA does not split its
matmuls into threads that would queue behind the other processes. Unpinned, every JAX
process sizes its thread pools to all the cores and the processes take the cores from each
other: benchmarks/workers.py measures the difference (BENCHMARKS.md, "Worker processes").
XLA_FLAGS already in the environment are kept; one that already sets the Eigen flag wins.
Exits with the first non-zero exit code; SIGINT and SIGTERM are passed on to every worker.
"""
import os
import shutil
import signal
import subprocess
import sys

from launch import common

SINGLE_THREAD_FLAG = "--xla_cpu_multi_thread_eigen=false"


def core_blocks(cores: list[int], num_processes: int) -> list[list[int]]:
  """`cores` split into `num_processes` contiguous blocks, the first ones one larger."""
  size, extra = divmod(len(cores), num_processes)
  blocks, start = [], 0
  for i in range(num_processes):
    end = start + size + (i < extra)
    blocks.append(cores[start:end])
    start = end
  return blocks


def xla_flags(existing: str, cores: int) -> str:
  """XLA_FLAGS for a worker on `cores` cores: `existing`, plus the single-thread flag at 1."""
  if cores > 1 or "xla_cpu_multi_thread_eigen" in existing:
    return existing
  return f"{existing} {SINGLE_THREAD_FLAG}".strip()


def commands(num_processes: int, args: list[str], cores: list[int], existing_flags: str):
  """[(env additions, argv)] for each worker: taskset on its block, XLA_FLAGS for its size."""
  plan = []
  for block in core_blocks(cores, num_processes):
    flags = xla_flags(existing_flags, len(block))
    env = {"XLA_FLAGS": flags} if flags else {}
    plan.append((env, ["taskset", "-c", ",".join(map(str, block)), sys.executable] + args))
  return plan


def run(plan, log_dir: str | None) -> int:
  """Starts every worker (output to LOG_DIR/worker-<i>.log if given); waits; first error."""
  if log_dir:
    os.makedirs(log_dir, exist_ok=True)
  outs = [open(os.path.join(log_dir, f"worker-{i}.log"), "a") if log_dir else None
          for i in range(len(plan))]
  procs = [subprocess.Popen(argv, env=dict(os.environ, **env), stdout=out,
                            stderr=subprocess.STDOUT if out else None)
           for (env, argv), out in zip(plan, outs)]

  def pass_on(signum, _frame):
    for proc in procs:
      if proc.poll() is None:
        proc.send_signal(signum)
  for signum in (signal.SIGINT, signal.SIGTERM):
    signal.signal(signum, pass_on)
  codes = [proc.wait() for proc in procs]
  for out in outs:
    if out:
      out.close()
  return next((c for c in codes if c), 0)


def main(argv=None):
  p = common.parser(__doc__, "launch.workers")
  p.add_argument("--num_processes", type=int, default=None,
                 help="workers (default: one per usable core)")
  p.add_argument("--log_dir", default=None,
                 help="each worker's output to LOG_DIR/worker-<i>.log (default: this terminal)")
  ns = p.parse_args(argv)
  args = common.python_args(p, ns)
  cores = sorted(os.sched_getaffinity(0))
  num = len(cores) if ns.num_processes is None else ns.num_processes
  if not 1 <= num <= len(cores):
    p.error(f"--num_processes must be between 1 and the {len(cores)} usable cores, got {num}")
  if shutil.which("taskset") is None:
    print("error: taskset not found (util-linux); it pins each worker to its cores",
          file=sys.stderr)
    return 1
  plan = commands(num, args, cores, os.environ.get("XLA_FLAGS", ""))
  for env, cmd in plan:
    print(common.shell_line(env, cmd), flush=True)
  return 0 if ns.dry_run else run(plan, ns.log_dir)


if __name__ == "__main__":
  sys.exit(main())
