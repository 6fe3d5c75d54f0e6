"""What pinning worker processes to their own cores does (launch/workers.py): the total
throughput of one command run as several processes at once, unpinned and pinned, in rounds.

    python benchmarks/workers.py [--rounds=3] [--record]

A sweep run as several processes on one workdir (experiments/claims.py) is N copies of one
command. Unpinned, every JAX process sizes XLA's thread pools to all the cores, so N
processes run N times that many threads on the cores. Pinned (`launch.workers`), process i
runs on its own block of cores, and on a single core with XLA's Eigen threads off.

Workloads, each as N = the usable cores processes, every process in its own workdir:
  ppo    `experiments.ppo` on inverted_double_pendulum (experiments/configs/ppo.py's
         settings, 2 seeds side by side, --ppo_steps env steps); rate: env steps/s
  train  `experiments.train`, the MLP energy (demos.py's defaults) on a bandit family
         member's demo file (efjax/envs/bandit_files.py, 8 context and 4 action
         dimensions), --train_steps steps of 256; rate: samples/s
Each process's rate is its run's own figure in metrics.jsonl (after the compiling call);
a placement's rate is the sum over its processes. In every round each workload runs
alone (one process, default threads: the reference for one process with every core),
then unpinned and pinned (in turn first). The report: each placement's rate, median
[min-max] over rounds, and pinned / unpinned taken within each round. --record writes
results/raw/benchmarks/workers.json and rebuilds BENCHMARKS.md's section from it.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
RAW_NAME = "benchmarks/workers.json"     # under results/raw/
PLACEMENTS = ("alone", "unpinned", "pinned")


def workload_args(name: str, args, workdir: str, demos: str) -> list[str]:
  """The python arguments of one process of a workload, writing into `workdir`."""
  if name == "ppo":
    return ["-m", "experiments.ppo",
            "--config=experiments/configs/ppo.py:inverted_double_pendulum",
            "--config.num_seeds=2", f"--config.ppo.total_steps={args.ppo_steps}",
            f"--workdir={workdir}"]
  return ["-m", "experiments.train", "--config=experiments/configs/demos.py",
          f"--config.data.path={demos}", "--config.data.obs_horizon=1",
          "--config.data.action_horizon=1", "--config.model.backbone=mlp",
          f"--config.train.num_steps={args.train_steps}", f"--workdir={workdir}"]


def last_rate(workdir: str, key: str) -> float:
  """The last non-null `key` in WORKDIR/metrics.jsonl."""
  rates = [r[key] for r in map(json.loads, open(os.path.join(workdir, "metrics.jsonl")))
           if r.get(key)]
  if not rates:
    raise RuntimeError(f"{workdir}/metrics.jsonl logged no {key}: run more steps")
  return float(rates[-1])


def run_placement(placement: str, name: str, args, scratch: str, demos: str,
                  num: int) -> list[float]:
  """Runs the workload under one placement; each process's rate."""
  from launch import workers
  workdirs = [os.path.join(scratch, f"{name}-{placement}-{i}") for i in range(num)]
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  if placement == "pinned":
    plan = workers.commands(num, [], sorted(os.sched_getaffinity(0)), "")
    plan = [(e, argv + workload_args(name, args, w, demos)) for (e, argv), w in zip(plan, workdirs)]
  else:
    plan = [({}, [sys.executable] + workload_args(name, args, w, demos))
            for w in workdirs[:1 if placement == "alone" else num]]
  procs = [subprocess.Popen(argv, env=dict(env, **e), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True) for e, argv in plan]
  for proc, (_, argv) in zip(procs, plan):
    _, err = proc.communicate()
    if proc.returncode:
      raise RuntimeError(f"{shlex.join(argv)} failed:\n{err[-2000:]}")
  key = "steps_per_s" if name == "ppo" else "samples_per_s"
  return [last_rate(w, key) for w in workdirs[:len(plan)]]


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--workloads", default="ppo,train")
  p.add_argument("--ppo_steps", type=int, default=1_000_000)
  p.add_argument("--train_steps", type=int, default=3000)
  p.add_argument("--record", action="store_true")
  args = p.parse_args(argv)
  names = args.workloads.split(",")
  if args.rounds < 1 or not set(names) <= {"ppo", "train"}:
    p.error("--rounds must be >= 1 and --workloads a list of ppo, train")
  num = len(os.sched_getaffinity(0))
  if num < 2:
    p.error("needs at least 2 usable cores: one worker per core")
  from efjax import provenance
  from efjax.envs import bandit, bandit_files
  from experiments.reports import build
  start = time.perf_counter()
  rounds = []
  with tempfile.TemporaryDirectory() as scratch:
    demos, _ = bandit_files.write_member(bandit.family_member(3, obs_dim=8, act_dim=4),
                                         os.path.join(scratch, "member"))
    for r in range(args.rounds):
      result = {}
      for name in names:
        order = ("alone", "unpinned", "pinned") if r % 2 == 0 else ("alone", "pinned", "unpinned")
        result[name] = {}
        for placement in order:
          with tempfile.TemporaryDirectory(dir=scratch) as work:
            rates = run_placement(placement, name, args, work, demos, num)
          result[name][placement] = rates
          print(f"round {r + 1}/{args.rounds} {name} {placement:8s}: {sum(rates):,.0f} "
                f"({' + '.join(f'{x:,.0f}' for x in rates)})", flush=True)
      rounds.append(result)
  if args.record:
    command = shlex.join(["python", "benchmarks/workers.py"] + (argv or sys.argv[1:]))
    build.record({RAW_NAME: {"processes": num, "rounds": rounds, **provenance.result_header(
        command, start, vars(args))}})


if __name__ == "__main__":
  main()
