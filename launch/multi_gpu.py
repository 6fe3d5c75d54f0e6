"""Run a main on one host with all its GPUs, in one process.

    python -m launch.multi_gpu -- -m experiments.train \
        --config=experiments/configs/demos.py --config.data.path=demos.npz --workdir=DIR
    python -m launch.multi_gpu --gpus=0,1,2,3 --dry_run -- -m experiments.train ...

JAX drives every local GPU from a single process (single controller): the main's
device mesh spans jax.devices() and the batch is split over them, so nothing is set
per GPU and no jax.distributed is needed. --gpus restricts the process to some GPUs
with CUDA_VISIBLE_DEVICES. train.batch_size is global: it must divide by the GPU count.
"""
import sys

from launch import common


def gpu_list(p, text: str) -> str:
  """'0,1,3' checked: distinct non-negative integers."""
  ids = text.split(",")
  if not all(i.isdigit() for i in ids) or len(set(ids)) != len(ids):
    p.error(f"--gpus must be distinct GPU indices like 0,1,2,3, got {text!r}")
  return ",".join(ids)


def command(args: list[str], gpus: str | None):
  """(env additions, argv) of the one process."""
  return ({"CUDA_VISIBLE_DEVICES": gpus} if gpus else {}), [sys.executable] + args


def main(argv=None):
  p = common.parser(__doc__, "launch.multi_gpu")
  p.add_argument("--gpus", default=None, help="GPU indices to use, e.g. 0,1 (default: all)")
  ns = p.parse_args(argv)
  args = common.python_args(p, ns)
  gpus = gpu_list(p, ns.gpus) if ns.gpus is not None else None
  env, cmd = command(args, gpus)
  print(common.shell_line(env, cmd), flush=True)
  return 0 if ns.dry_run else common.run([(env, cmd)])


if __name__ == "__main__":
  sys.exit(main())
