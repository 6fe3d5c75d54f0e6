"""Env steps/s of Brax tasks on this machine, per physics backend: which locomotion tasks a
reward comparison can afford on a CPU.

    python benchmarks/env_speed.py [--envs=halfcheetah,hopper] [--record]

Each (env, backend): 128 envs of the batched, fixed-horizon env (efjax.envs.brax_envs
.make_env) stepped 100 times in one jitted lax.scan with uniform random actions, after
compilation; every case timed once per round, `--rounds` rounds, median and min-max.
--record writes results/raw/ppo/env_speed.json and rebuilds results/ppo.md's table.
"""
import argparse
import os
import shlex
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from efjax import provenance  # noqa: E402
from efjax.envs.brax_envs import make_env  # noqa: E402
from experiments.reports import build  # noqa: E402
from experiments.reports.ppo import ENV_SPEED, env_speed_section, rate_cell  # noqa: E402

ENVS = ("inverted_pendulum", "inverted_double_pendulum", "reacher", "halfcheetah", "hopper",
        "walker2d", "ant")
BACKENDS = ("spring", "positional", "generalized")


def scan_timer(step, state, action_size: int, num_envs: int, steps: int):
  """once() -> env steps/s: `steps` calls of the batched `step(state, actions)` in one jitted
  lax.scan, uniform random actions in [-1, 1], compiled before the first timed call."""
  @jax.jit
  def run(state, key):
    def body(state, k):
      return step(state, jax.random.uniform(k, (num_envs, action_size), minval=-1,
                                            maxval=1)), None
    state, _ = jax.lax.scan(body, state, jax.random.split(key, steps))
    return state

  jax.block_until_ready(run(state, jax.random.key(1)))

  def once() -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(run(state, jax.random.key(2)).obs)
    return num_envs * steps / (time.perf_counter() - t0)
  return once


def timer(name: str, backend: str, num_envs: int, steps: int):
  """once() for brax task `name` on `backend`: the batched, fixed-horizon env of make_env."""
  env = make_env(name, backend, episode_length=1000, fixed_horizon=True)
  state = env.reset(jax.random.split(jax.random.key(0), num_envs))
  return scan_timer(env.step, state, env.action_size, num_envs, steps)


def time_rounds(cases: dict, rounds: int) -> dict:
  """{case: [env steps/s per round]}: every case's once() timed once per round."""
  rates = {k: [] for k in cases}
  for _ in range(rounds):
    for k, once in cases.items():
      rates[k].append(once())
  return rates


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--envs", default=",".join(ENVS))
  p.add_argument("--backends", default=",".join(BACKENDS))
  p.add_argument("--num_envs", type=int, default=128)
  p.add_argument("--steps", type=int, default=100)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to results/raw/{ENV_SPEED} and rebuild "
                      "results/ppo.md's table from it (the published figures)")
  args = p.parse_args()
  start = time.perf_counter()
  cases = {}
  for name in args.envs.split(","):
    for backend in args.backends.split(","):
      cases[f"{name}/{backend}"] = timer(name, backend, args.num_envs, args.steps)
      print(f"compiled {name}/{backend}", flush=True)
  rates = time_rounds(cases, args.rounds)
  for k, v in rates.items():
    print(f"{k:40s} {rate_cell(v)} steps/s", flush=True)
  setting = {"envs": args.envs.split(","), "backends": args.backends.split(","),
             "num_envs": args.num_envs, "steps": args.steps, "rounds": args.rounds}
  raw = {"benchmark": "env_speed", "steps_per_s": rates, **provenance.result_header(
      shlex.join(["python", "benchmarks/env_speed.py"] + sys.argv[1:]), start, setting)}
  if args.record:
    build.record({ENV_SPEED: raw})
  else:
    print(env_speed_section(raw))


if __name__ == "__main__":
  main()
