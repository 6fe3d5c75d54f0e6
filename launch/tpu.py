"""Run a main on every host of a Cloud TPU VM (a pod slice) with one gcloud ssh.

    python -m launch.tpu --name=my-v5e-32 --zone=us-west4-a --setup -- -m experiments.train \
        --config=experiments/configs/demos.py --config.data.path=/mnt/shared/demos.npz \
        --workdir=/mnt/shared/runs/demos
    python -m launch.tpu --name=my-v5e-32 --zone=us-west4-a --dry_run -- -m experiments.train ...

`gcloud compute tpus tpu-vm ssh --worker=all` runs the same command on every host;
EFJAX_AUTO_DISTRIBUTED=1 makes the main call jax.distributed.initialize(), which finds
the other hosts from the TPU metadata. The repository must already be at --repo_dir on
every worker (git clone or `gcloud compute tpus tpu-vm scp --recurse --worker=all`).
--setup first installs requirements.txt and the TPU jaxlib (same jax version) there.
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
  p.add_argument("--name", required=True, help="the TPU VM (pod slice) name")
  p.add_argument("--zone", required=True)
  p.add_argument("--project", default=None)
  p.add_argument("--repo_dir", default="efjax",
                 help="the repository on every worker (relative: to the ssh user's home)")
  p.add_argument("--python", default="python3", help="interpreter command on the workers")
  p.add_argument("--setup", action="store_true",
                 help="first install requirements.txt and jax[tpu] on every worker")
  p.add_argument("--setup_command", default=None,
                 help="run this shell line on every worker (from its home directory) "
                 "instead of the default install, e.g. a git clone")


def jax_version(requirements: str = os.path.join(REPO, "requirements.txt")) -> str:
  """The jax version pinned in requirements.txt: the TPU build must be the same one."""
  for line in open(requirements):
    m = re.match(r"jax(\[[\w,]+\])?==([\w.]+)", line.strip())
    if m:
      return m.group(2)
  raise ValueError(f"{requirements} pins no jax version")


def ssh(ns, remote: str) -> list[str]:
  """gcloud argv running the shell line `remote` on every worker (from the home directory)."""
  argv = ["gcloud", "compute", "tpus", "tpu-vm", "ssh", ns.name, f"--zone={ns.zone}"]
  argv += [f"--project={ns.project}"] * bool(ns.project)
  return argv + ["--worker=all", f"--command={remote}"]


def commands(ns, args: list[str]) -> list[list[str]]:
  """[setup argv (with --setup)], then the training argv: run one after the other."""
  plan, cd = [], f"cd {shlex.quote(ns.repo_dir)}"
  if ns.setup or ns.setup_command:
    # Double quotes: the line travels inside gcloud's single-quoted --command.
    install = ns.setup_command or (
        f"{cd} && {ns.python} -m pip install -r requirements.txt && "
        f'{ns.python} -m pip install "jax[tpu]=={jax_version()}"')
    plan.append(ssh(ns, install))
  env = " ".join(f"{k}={v}" for k, v in common.AUTO_DISTRIBUTED.items())
  plan.append(ssh(ns, f"{cd} && {env} {ns.python} {shlex.join(args)}"))
  return plan


def main(argv=None):
  p = common.parser(__doc__, "launch.tpu")
  add_args(p)
  ns = p.parse_args(argv)
  args = common.python_args(p, ns)
  for flag in ("name", "zone"):
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*", getattr(ns, flag)):
      p.error(f"--{flag} must be lower-case letters, digits and '-', got {getattr(ns, flag)!r}")
  common.warn_if_not_shared(args)
  plan = commands(ns, args)
  for argv_ in plan:
    print(shlex.join(argv_), flush=True)
  if ns.dry_run:
    return 0
  if shutil.which("gcloud") is None:
    print("error: gcloud not found on PATH: install the Google Cloud CLI "
          "(--dry_run prints the commands without running them)", file=sys.stderr)
    return 1
  for argv_ in plan:     # setup must finish on every worker before training starts
    code = subprocess.run(argv_).returncode
    if code:
      return code
  return 0


if __name__ == "__main__":
  sys.exit(main())
