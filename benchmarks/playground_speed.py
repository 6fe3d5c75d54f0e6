"""MuJoCo Playground's DM Control suite tasks against this project's brax tasks: env steps/s on
this machine, timed in the same rounds, and what Playground's own tuned PPO budgets would cost
here. It decides whether the fixed-horizon locomotion comparisons can move to Playground
(its DM Control tasks have fixed 1000-step episodes and no early termination).

Playground cannot share this project's environment (metaworld pins mujoco 3.3.0, Playground
needs mujoco >= 3.6), so it runs from a virtual environment of its own, beside the checkout
(chex: the one efjax dependency Playground does not bring):

    python -m venv ../venv-playground
    ../venv-playground/bin/pip install playground==0.2.0 chex==0.1.92
    ../venv-playground/bin/python benchmarks/playground_speed.py [--record]

Each case: `--num_envs` envs stepped `--steps` times in one jitted lax.scan with uniform
random actions in [-1, 1], after compilation (benchmarks/env_speed.py's timer for the brax
tasks: the wrapped, fixed-horizon env); every case timed once per round, `--rounds` rounds.
Playground runs each task through both of its MJX implementations ("jax": MJX in XLA;
"warp": NVIDIA Warp kernels, which also run on a CPU); a case that cannot run records its
error instead. --record writes results/raw/ppo/playground_speed.json and rebuilds
results/ppo.md's section from it.
"""
import argparse
import importlib.metadata
import os
import shlex
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from efjax import provenance  # noqa: E402
from env_speed import scan_timer, time_rounds, timer as brax_timer  # noqa: E402  (same folder)
from experiments.reports import build  # noqa: E402
from experiments.reports.ppo import PLAYGROUND_SPEED, playground_section  # noqa: E402

PLAYGROUND_ENVS = ("CheetahRun", "HopperHop", "WalkerWalk")
BRAX_ENVS = ("halfcheetah", "hopper", "walker2d")
IMPLS = ("jax", "warp")
PACKAGES = ("playground", "mujoco", "mujoco-mjx", "warp-lang", "brax", "jax")


def playground_timer(name: str, impl: str, num_envs: int, steps: int):
  """(once() -> env steps/s, the task's facts) for Playground task `name` on MJX `impl`."""
  from mujoco_playground import registry
  from mujoco_playground.config import dm_control_suite_params
  env = registry.load(name, config_overrides={"impl": impl})
  state = jax.jit(jax.vmap(env.reset))(jax.random.split(jax.random.key(0), num_envs))
  once = scan_timer(jax.vmap(env.step), state, env.action_size, num_envs, steps)
  config = registry.get_default_config(name)
  facts = {"episode_length": int(config.episode_length), "control_dt": float(env.dt),
           "sim_dt": float(config.sim_dt), "action_size": int(env.action_size),
           "obs_size": int(state.obs.shape[-1]),
           "tuned_ppo_steps": int(dm_control_suite_params.brax_ppo_config(name).num_timesteps)}
  return once, facts


def _version(package: str) -> str | None:
  try:
    return importlib.metadata.version(package)
  except importlib.metadata.PackageNotFoundError:
    return None


def main():
  p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  p.add_argument("--playground_envs", default=",".join(PLAYGROUND_ENVS))
  p.add_argument("--impls", default=",".join(IMPLS))
  p.add_argument("--brax_envs", default=",".join(BRAX_ENVS))
  p.add_argument("--backend", default="spring", help="brax physics backend of the brax tasks")
  p.add_argument("--num_envs", type=int, default=128)
  p.add_argument("--steps", type=int, default=100)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--record", action="store_true",
                 help=f"write the raw record to results/raw/{PLAYGROUND_SPEED} and rebuild "
                      "results/ppo.md's section from it (the published figures)")
  args = p.parse_args()
  if _version("playground") is None:
    sys.exit("playground_speed: the `playground` package is not installed here; run it from "
             "its own virtual environment (see this script's docstring)")
  start = time.perf_counter()
  cases, facts, errors = {}, {}, {}
  for name in args.brax_envs.split(","):
    key = f"brax/{name}/{args.backend}"
    cases[key] = brax_timer(name, args.backend, args.num_envs, args.steps)
    print(f"compiled {key}", flush=True)
  for name in args.playground_envs.split(","):
    for impl in args.impls.split(","):
      key = f"playground/{name}/{impl}"
      try:
        cases[key], facts[name] = playground_timer(name, impl, args.num_envs, args.steps)
      except Exception as e:           # a backend that cannot run here is a finding to record
        errors[key] = f"{type(e).__name__}: {str(e).splitlines()[0][:300]}"
        print(f"{key} cannot run: {errors[key]}", flush=True)
        continue
      print(f"compiled {key}", flush=True)
  rates = time_rounds(cases, args.rounds)
  setting = {"playground_envs": args.playground_envs.split(","), "impls": args.impls.split(","),
             "brax_envs": args.brax_envs.split(","), "backend": args.backend,
             "num_envs": args.num_envs, "steps": args.steps, "rounds": args.rounds}
  raw = {"benchmark": "playground_speed", "steps_per_s": rates, "playground_tasks": facts,
         "errors": errors, "packages": {k: _version(k) for k in PACKAGES},
         "playground_requires": [r for r in importlib.metadata.requires("playground") or ()
                                 if "extra ==" not in r],
         **provenance.result_header(shlex.join(["python", "benchmarks/playground_speed.py"]
                                               + sys.argv[1:]), start, setting)}
  if args.record:
    build.record({PLAYGROUND_SPEED: raw})
  else:
    print(playground_section(raw))


if __name__ == "__main__":
  main()
