"""Meta-World speed figures of results/metaworld.md: how the evaluation harness steps its
envs, what a video frame costs, and the training speed of the `cpu` variant's energy.

    python benchmarks/metaworld_speed.py [--rounds=3] [--record]

- stepping: `num_envs` envs of assembly-v3 stepped in lockstep with uniform random
  actions for `steps` steps, three ways (a plain list, as efjax/policy/lockstep.py does;
  gymnasium's SyncVectorEnv; AsyncVectorEnv, a process per env), interleaved in rounds;
  env steps/s (construction and reset excluded).
- render: seconds per 128 x 128 rgb_array frame (MuJoCo's renderer as MUJOCO_GL selects;
  None with the error when this machine cannot render).
- training: on 100 scripted-expert episodes of button-press-v3, `train_steps` steps of
  256 of the `cpu` variant's MLP energy and of the smallest UNet energy
  (`model.unet.down_dims=(32, 64, 128)`), each in a fresh workdir: samples/s and the
  DSM loss at the last step (experiments.train's metrics).
--record writes results/raw/metaworld/speed.json and rebuilds results/metaworld.md's section.
"""
import argparse
import os
import shlex
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from efjax import provenance  # noqa: E402
from experiments.reports import build  # noqa: E402
from experiments.reports.metaworld import SPEED  # noqa: E402

STEP_TASK, TRAIN_TASK = "assembly-v3", "button-press-v3"
SMALL_UNET = {"model.backbone": "unet", "model.unet.down_dims": (32, 64, 128)}


def _step_list(envs, steps, rng):
  for _ in range(steps):
    for env in envs:
      env.step(rng.uniform(-1, 1, 4).astype(np.float32))


def stepping_rate(kind: str, num_envs: int, steps: int, seed: int) -> float:
  """Env steps/s of `num_envs` envs stepped `steps` times, the envs held as `kind`."""
  import gymnasium
  from efjax.envs.metaworld_envs import make_env
  rng = np.random.default_rng(seed)
  if kind == "list":
    envs = [make_env(STEP_TASK) for _ in range(num_envs)]
    for i, env in enumerate(envs):
      env.reset(seed=seed + i)
    start = time.perf_counter()
    _step_list(envs, steps, rng)
    elapsed = time.perf_counter() - start
    for env in envs:
      env.close()
  else:
    vector = {"sync": gymnasium.vector.SyncVectorEnv,
              "async": gymnasium.vector.AsyncVectorEnv}[kind]
    envs = vector([lambda: make_env(STEP_TASK)] * num_envs)
    envs.reset(seed=seed)
    start = time.perf_counter()
    for _ in range(steps):
      envs.step(rng.uniform(-1, 1, (num_envs, 4)).astype(np.float32))
    elapsed = time.perf_counter() - start
    envs.close()
  return num_envs * steps / elapsed


def render_seconds(frames: int = 20) -> dict:
  """Seconds per 128 x 128 frame, or the error that kept this machine from rendering."""
  from efjax.envs.metaworld_envs import make_env
  try:
    env = make_env(STEP_TASK, render_mode="rgb_array", size=128)
    env.reset(seed=0)
    env.render()                                   # the first frame sets the renderer up
    start = time.perf_counter()
    for _ in range(frames):
      env.step(np.zeros(4, np.float32))
      env.render()
    per_frame = (time.perf_counter() - start) / frames
    env.close()
    return {"seconds_per_frame": per_frame, "frames": frames,
            "mujoco_gl": os.environ.get("MUJOCO_GL")}
  except Exception as e:  # noqa: BLE001  (no GL on this machine: say so in the record)
    return {"seconds_per_frame": None, "error": f"{type(e).__name__}: {e}"[:300],
            "mujoco_gl": os.environ.get("MUJOCO_GL")}


def training(train_steps: int, root: str) -> list[dict]:
  """samples/s and final DSM loss of the cpu MLP energy and the smallest UNet energy."""
  import json
  from efjax.envs.metaworld_envs import collect_demos
  from efjax.train import trainer
  from experiments.configs import metaworld
  from experiments.configs.common import with_overrides
  demos = os.path.join(root, "demos")
  collect_demos(metaworld.get_config(f"{TRAIN_TASK},cpu"), demos, log=lambda s: None)
  out = []
  for name, extra in (("cpu MLP energy", {}), ("smallest UNet energy", SMALL_UNET)):
    settings = {"train.num_steps": train_steps, "train.eval_every": 0,
                "train.checkpoint_every": train_steps, "train.log_every": train_steps // 3,
                **extra}
    config = with_overrides(metaworld.get_config(f"{TRAIN_TASK},cpu"),
                            {"data.path": os.path.join(demos, "demos.npz"), **settings})
    workdir = os.path.join(root, name.replace(" ", "_"))
    trainer.train_and_evaluate(config, workdir, log=lambda s: None)
    last = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))][-1]
    out.append({"model": name, "settings": {k: list(v) if isinstance(v, tuple) else v
                                            for k, v in settings.items()},
                "samples_per_s": last["samples_per_s"], "final_loss": last["loss"],
                "step": last["step"]})
  return out


def main(argv=None):
  p = argparse.ArgumentParser(description=__doc__,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
  p.add_argument("--rounds", type=int, default=3)
  p.add_argument("--num_envs", type=int, default=10)
  p.add_argument("--steps", type=int, default=300)
  p.add_argument("--train_steps", type=int, default=300)
  p.add_argument("--record", action="store_true")
  args = p.parse_args(argv)
  if min(args.rounds, args.num_envs, args.steps, args.train_steps) < 1:
    p.error("--rounds, --num_envs, --steps and --train_steps must be positive")
  start = time.perf_counter()
  rates = {"list": [], "sync": [], "async": []}
  for r in range(args.rounds):
    for kind in rates:
      rates[kind].append(stepping_rate(kind, args.num_envs, args.steps, seed=100 * r))
      print(f"round {r + 1}/{args.rounds} {kind}: {rates[kind][-1]:,.0f} env steps/s",
            flush=True)
  render = render_seconds()
  print(f"render: {render}", flush=True)
  with tempfile.TemporaryDirectory() as root:
    train = training(args.train_steps, root)
  for t in train:
    print(f"{t['model']}: {t['samples_per_s']:,.0f} samples/s, loss {t['final_loss']:.3f}")
  if args.record:
    command = shlex.join(["python", "benchmarks/metaworld_speed.py"] + (argv or sys.argv[1:]))
    build.record({SPEED: {"stepping": rates, "render": render, "training": train,
                          **provenance.result_header(command, start, vars(args))}})


if __name__ == "__main__":
  main()
