"""Run a main on a SLURM cluster: an sbatch script whose srun starts it on every node.

    python -m launch.slurm --nodes=4 --gpus_per_node=8 --time=12:00:00 --partition=gpu \
        --account=proj --venv=$PWD/.venv -- -m experiments.train \
        --config=experiments/configs/demos.py --config.data.path=/shared/demos.npz \
        --workdir=/shared/runs/demos
    python -m launch.slurm --nodes=2 --dry_run -- -m experiments.train ...   # print only

By default srun starts one process per node that drives all of that node's GPUs
(JAX_LOCAL_DEVICE_IDS lists them: jax.distributed.initialize() on SLURM would
otherwise give each process only GPU SLURM_LOCALID); --per_gpu starts one process per
GPU instead. Every process runs the same command with EFJAX_AUTO_DISTRIBUTED=1, and
jax.distributed.initialize() reads the coordinator, process count and id from SLURM's
environment. SIGTERM reaches the processes --signal_s before the time limit, so the
trainer saves and stops; submitting the same script again resumes.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

from launch import common

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def add_args(p):
  p.add_argument("--nodes", type=int, default=1)
  p.add_argument("--gpus_per_node", type=int, default=1, help="0 on a CPU-only cluster")
  p.add_argument("--per_gpu", action="store_true", help="one process per GPU, not per node")
  p.add_argument("--time", default="01:00:00", help="time limit, [D-]HH:MM:SS")
  p.add_argument("--partition", default=None)
  p.add_argument("--account", default=None)
  p.add_argument("--job_name", default="efjax")
  p.add_argument("--output", default="logs/%x-%j.out", help="log path (%%x job name, %%j id)")
  p.add_argument("--cpus_per_task", type=int, default=None)
  p.add_argument("--signal_s", type=int, default=120,
                 help="SIGTERM the processes this many seconds before the time limit (0: no)")
  p.add_argument("--sbatch", action="append", default=[], metavar="OPTION",
                 help="extra #SBATCH option, repeatable, e.g. --sbatch=--qos=high")
  p.add_argument("--venv", default=None, help="virtual environment to activate on each node")
  p.add_argument("--container", default=None,
                 help="container image for srun (pyxis/enroot: --container-image)")
  p.add_argument("--setup", action="append", default=[], metavar="LINE",
                 help="shell line run before srun, repeatable, e.g. 'module load cuda/12.4'")
  p.add_argument("--python", default="python", help="interpreter command on the nodes")
  p.add_argument("--repo", default=REPO, help="the repository on shared storage (cd here)")
  p.add_argument("--script", default=None, help="where to write the script "
                 "(default: logs/JOB_NAME.sbatch)")


def check(p, ns) -> None:
  """Argument errors argparse cannot see, as one usage error each."""
  if ns.nodes < 1:
    p.error(f"--nodes must be >= 1, got {ns.nodes}")
  if ns.gpus_per_node < 0:
    p.error(f"--gpus_per_node must be >= 0, got {ns.gpus_per_node}")
  if ns.per_gpu and ns.gpus_per_node < 1:
    p.error("--per_gpu needs --gpus_per_node >= 1")
  if not re.fullmatch(r"(\d+-)?\d+(:\d\d){0,2}", ns.time):
    p.error(f"--time must look like HH:MM:SS or D-HH:MM:SS, got {ns.time!r}")
  if ns.signal_s < 0:
    p.error(f"--signal_s must be >= 0, got {ns.signal_s}")
  if ns.venv and ns.container:
    p.error("give --venv or --container, not both")
  if not re.fullmatch(r"[\w.-]+", ns.job_name):
    p.error(f"--job_name may hold letters, digits, '.', '_' and '-', got {ns.job_name!r}")


def tasks_per_node(ns) -> int:
  return ns.gpus_per_node if ns.per_gpu else 1


def script(ns, args: list[str], launcher_command: str) -> str:
  """The sbatch script: #SBATCH header, environment, one srun of the main."""
  q = shlex.quote
  sbatch = [f"--job-name={ns.job_name}", f"--nodes={ns.nodes}",
            f"--ntasks-per-node={tasks_per_node(ns)}", f"--time={ns.time}",
            f"--output={ns.output}"]
  if ns.gpus_per_node:
    sbatch.append(f"--gres=gpu:{ns.gpus_per_node}")
  sbatch += [f"--partition={ns.partition}"] * bool(ns.partition)
  sbatch += [f"--account={ns.account}"] * bool(ns.account)
  sbatch += [f"--cpus-per-task={ns.cpus_per_task}"] * bool(ns.cpus_per_task)
  # Without B: SLURM signals every job step's processes, not the batch shell.
  sbatch += [f"--signal=TERM@{ns.signal_s}"] * bool(ns.signal_s)
  sbatch += ns.sbatch
  lines = ["#!/bin/bash"] + [f"#SBATCH {o}" for o in sbatch]
  lines += [f"# Written by: {launcher_command}", "set -eo pipefail", f"cd {q(ns.repo)}"]
  if ns.venv:
    lines.append(f"source {q(os.path.join(ns.venv, 'bin', 'activate'))}")
  lines += ns.setup
  env = dict(common.AUTO_DISTRIBUTED)
  if ns.gpus_per_node and not ns.per_gpu:
    env["JAX_LOCAL_DEVICE_IDS"] = ",".join(str(i) for i in range(ns.gpus_per_node))
  if not ns.gpus_per_node:
    env["JAX_CPU_COLLECTIVES_IMPLEMENTATION"] = "gloo"   # cross-host CPU collectives
  lines += [f"export {k}={q(v)}" for k, v in env.items()]
  # One failed process ends the step: the others would wait in a collective forever.
  srun = ["srun", "--kill-on-bad-exit=1"]
  if ns.container:
    srun += [f"--container-image={ns.container}", f"--container-mounts={ns.repo}:{ns.repo}",
             f"--container-workdir={ns.repo}"]
  lines.append(shlex.join(srun) + " " + ns.python + " " + shlex.join(args))
  return "\n".join(lines) + "\n"


def main(argv=None):
  p = common.parser(__doc__, "launch.slurm")
  add_args(p)
  ns = p.parse_args(argv)
  args = common.python_args(p, ns)
  check(p, ns)
  common.warn_if_not_shared(args)
  path = ns.script or os.path.join("logs", f"{ns.job_name}.sbatch")
  launcher = shlex.join(["python", "-m", "launch.slurm"] + (sys.argv[1:] if argv is None else argv))
  text = script(ns, args, launcher)
  print(text, end="")
  print(shlex.join(["sbatch", path]), flush=True)
  if ns.dry_run:
    return 0
  if shutil.which("sbatch") is None:
    print("error: sbatch not found on PATH: run this on a SLURM login node "
          "(--dry_run prints the script without submitting)", file=sys.stderr)
    return 1
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  log_dir = os.path.dirname(ns.output)
  if log_dir and "%" not in log_dir:     # SLURM does not create it, and then logs nothing
    os.makedirs(log_dir, exist_ok=True)
  with open(path, "w") as f:
    f.write(text)
  return subprocess.run(["sbatch", path]).returncode


if __name__ == "__main__":
  sys.exit(main())
