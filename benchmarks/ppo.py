"""Env steps/s of efjax.rl PPO vs brax's own PPO, and with a stand-in learned reward.

    python benchmarks/ppo.py [--env inverted_pendulum] [--backend spring] [--out /tmp/ppo_bench.md]
    python benchmarks/ppo.py --updates 5 --epochs 9 --record   # the published figures

In one process, back to back, with the same env, backend, num_envs, unroll length,
minibatches, epochs and networks (brax's defaults: policy 4x32, value 5x256, swish):
  brax_ppo       brax.training.agents.ppo.train on the true reward; its own
                 `training/sps` of the epochs after the compiling one
  efjax_true     efjax.rl PPO.run, true reward, compiled call of K updates per round
  efjax_learned  the same with reward_fn = an MLP (3x256 SiLU on [obs, action, next_obs]),
                 the cost of a learned reward such as EnergyFlow's MLP energy; the two
                 efjax cases are timed in turn, round by round
Then, for each of rl_compare's envs in its PPO setting (experiments/configs/ppo.py: 64x64
tanh networks), the true reward against the real EnergyFlow centered reward through
Model.reward_fn('centered') (weights do not change the cost, so an untrained network of
each size is timed):
  ef_64_gh         rl_compare's 64x64 energy with its reference rule
                   (reward.reference='gauss_hermite', 2 nodes per action dimension:
                   1 + 2^act_dim energy rows per transition): issue 19's goal, >= 0.85x
                   the true reward's steps/s
  ef_128_gh        the same rule on a 128x128 energy (rl_compare's earlier net)
  ef_128_gh_bf16   that with bfloat16 matmul inputs
  ef_128           the 128x128 net with the paper's 16 sampled reference actions (17 rows)
  ef_128_bf16      that with bfloat16 matmul inputs
  ef_256           (inverted_pendulum only) the quickstart's 256x256 energy, 16 sampled refs
Every case is timed in rounds (--epochs of them), and the raw JSON keeps each round's
env steps/s with the command and the fingerprint of what made it; the tables
(experiments/reports/ppo.py: median [min-max] over rounds, ratios taken within a round)
are printed and written to --out. With --record the raw JSON goes to results/raw/ppo/
(brax.json; energyflow_reward.json) and the documents made from it (BENCHMARKS.md's and
results/ppo.md's PPO tables, README's bullet) are rebuilt: python -m experiments.reports.build.
`TITLE` and `run(args)` are benchmarks/run_all.py's interface.
"""
import argparse
import os
import shlex
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from efjax import provenance  # noqa: E402
from efjax.envs.brax_envs import make_env  # noqa: E402
from efjax.rl import make_ppo  # noqa: E402
from experiments.configs.ppo import BACKENDS, default_ppo_config  # noqa: E402
from experiments.reports import build  # noqa: E402
from experiments.reports import ppo as report  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

TITLE = "PPO env steps/s (`benchmarks/ppo.py`): vs brax's PPO, and with the EnergyFlow reward"


class RewardMLP(nn.Module):
  """Stand-in learned reward: [B, 2 obs_dim + act_dim] -> [B]."""

  @nn.compact
  def __call__(self, x):
    for _ in range(3):
      x = nn.silu(nn.Dense(256)(x))
    return nn.Dense(1)(x)[:, 0]


def restore_device_put_replicated():
  """brax 0.14.2's PPO calls jax.device_put_replicated, which jax 0.10 removed."""
  if hasattr(jax, "device_put_replicated"):
    return

  def device_put_replicated(x, devices):
    # One device here: brax pmaps over a leading axis of size 1 and unpmaps shard 0.
    assert len(devices) == 1, devices
    return jax.device_put(jax.tree.map(lambda a: np.stack([np.asarray(a)]), x), devices[0])
  jax.device_put_replicated = device_put_replicated


def bench_brax(args, config) -> list[float]:
  """brax's own `training/sps` of each epoch after the one that compiled."""
  from brax import envs
  from brax.training.agents.ppo import networks as ppo_networks
  from brax.training.agents.ppo import train as brax_ppo
  import functools
  restore_device_put_replicated()
  env = envs.get_environment(args.env, backend=args.backend)
  sps = []
  steps_per_epoch = args.updates * config.num_envs * config.unroll_length
  brax_ppo.train(
      environment=env, num_timesteps=(args.epochs + 1) * steps_per_epoch,
      num_evals=args.epochs + 2, run_evals=False, use_pmap_on_reset=False,
      num_envs=config.num_envs, episode_length=1000, action_repeat=1,
      unroll_length=config.unroll_length, num_minibatches=config.num_minibatches,
      batch_size=config.num_envs // config.num_minibatches,
      num_updates_per_batch=config.update_epochs, learning_rate=config.learning_rate,
      entropy_cost=config.entropy_coef, discounting=config.gamma,
      gae_lambda=config.gae_lambda, clipping_epsilon=config.clip_eps,
      max_grad_norm=config.max_grad_norm, normalize_observations=True,
      network_factory=functools.partial(
          ppo_networks.make_ppo_networks, policy_hidden_layer_sizes=config.actor_hidden,
          value_hidden_layer_sizes=config.critic_hidden),
      progress_fn=lambda step, m: sps.append(float(m["training/sps"])), seed=0)
  return sps[1:]     # sps[0] is the epoch that compiled


def efjax_timer(args, config, env, reward_fn=None, reward_params=None):
  """Compiles efjax PPO's `run` of args.updates updates; returns `once() -> env steps/s`
  of one timed call (the runner carries on from call to call)."""
  ppo = make_ppo(config, env, reward_fn)
  run = jax.jit(ppo.run, static_argnums=2, donate_argnums=0)
  state = {"runner": jax.jit(ppo.init)(jax.random.key(0))}

  def once() -> float:
    t0 = time.perf_counter()
    state["runner"], m = run(state["runner"], reward_params, args.updates)
    jax.block_until_ready(m)
    return args.updates * ppo.steps_per_update / (time.perf_counter() - t0)

  once()                                                  # compiles
  return once


def interleaved(timers: dict, rounds: int) -> dict:
  """{case: [env steps/s of each round]}: `rounds` rounds that call every timer once in
  turn, so that the machine's drift falls on every case alike."""
  rates = {k: [] for k in timers}
  for _ in range(rounds):
    for k, once in timers.items():
      rates[k].append(once())
  return rates


def energyflow_model(hidden=(256, 256), obs_dim=4, act_dim=1, reference="sampled",
                     num_reference=16, compute_dtype="float32"):
  """An (untrained) efjax Model of the quickstart's reward energy (weights do not change the cost)."""
  from efjax.model import init_model
  from experiments.configs import quickstart
  config = quickstart.get_config().energyflow
  config.model.mlp.hidden = hidden
  config.model.compute_dtype = compute_dtype
  config.reward.update(reference=reference, num_reference=num_reference)
  return init_model(config, obs_dim, act_dim, jax.random.key(0))



REWARD_ENVS = ("inverted_pendulum", "inverted_double_pendulum", "reacher")   # rl_compare's
LABELS = {"ef_256": "EnergyFlow centered (256x256, 16 sampled refs: the quickstart's net)",
          "ef_64_gh": "EnergyFlow centered (64x64, Gauss-Hermite refs: rl_compare's reward)",
          "ef_128_gh": "EnergyFlow centered (128x128, Gauss-Hermite refs)",
          "ef_128_gh_bf16": "EnergyFlow centered, bf16 matmuls (128x128, Gauss-Hermite refs)",
          "ef_128": "EnergyFlow centered (128x128, 16 sampled refs: the paper's)",
          "ef_128_bf16": "EnergyFlow centered, bf16 matmuls (128x128, 16 sampled refs)"}
GOAL = {"case": "ef_64_gh", "ratio": 0.85}      # issue 19: rl_compare's reward
PAPER_CASE = "ef_128"                            # the paper's reference rule


def made_by(args, start: float, setting: dict) -> dict:
  """What every raw record carries (provenance.result_header) for this invocation."""
  command = getattr(args, "command", None) or shlex.join(["python", "benchmarks/ppo.py"]
                                                        + args.argv)
  return provenance.result_header(command, start, setting)


def energyflow_record(args) -> dict:
  """True reward vs the EnergyFlow centered reward in each rl_compare env's PPO setting:
  the raw record (env steps/s of every case in every round)."""
  from experiments.configs import ppo as ppo_configs
  start = time.perf_counter()
  envs = REWARD_ENVS if getattr(args, "reward_envs", None) is None else args.reward_envs
  out = []
  for name in envs:
    ec = ppo_configs.get_config(name)
    config = ec.ppo
    config.num_envs, config.unroll_length = args.num_envs, args.unroll_length
    env = make_env(name, ec.env.backend, ec.env.episode_length)
    dims = dict(obs_dim=env.observation_size, act_dim=env.action_size)
    gh = dict(reference="gauss_hermite", num_reference=2)
    models = {"ef_64_gh": energyflow_model((64, 64), **dims, **gh),
              "ef_128_gh": energyflow_model((128, 128), **dims, **gh),
              "ef_128_gh_bf16": energyflow_model((128, 128), **dims, **gh, compute_dtype="bfloat16"),
              "ef_128": energyflow_model((128, 128), **dims),
              "ef_128_bf16": energyflow_model((128, 128), **dims, compute_dtype="bfloat16")}
    if name == "inverted_pendulum":      # the quickstart's net
      models = {"ef_256": energyflow_model((256, 256), **dims), **models}
    timers = {"true": efjax_timer(args, config, env)}
    timers.update({key: efjax_timer(args, config, env, m.reward_fn("centered"), m.params)
                   for key, m in models.items()})
    rates = interleaved(timers, args.epochs)
    for key, values in rates.items():
      print(f"{name} {key} {report.rate_cell(values)} steps/s", flush=True)
    out.append({"env": name, "backend": ec.env.backend, "act_dim": env.action_size,
                "steps_per_s": rates})
  setting = {"num_envs": args.num_envs, "unroll_length": args.unroll_length,
             "updates": args.updates, "rounds": args.epochs, "envs": list(envs)}
  return {"benchmark": "energyflow_reward", "envs": out, "labels": LABELS, "goal": GOAL,
          "paper_case": PAPER_CASE, **made_by(args, start, setting)}


def brax_record(args) -> dict:
  """efjax PPO against brax's PPO on the true reward, and with a stand-in MLP reward."""
  start = time.perf_counter()
  config = default_ppo_config()
  config.num_envs, config.unroll_length = args.num_envs, args.unroll_length
  config.actor_hidden, config.critic_hidden = (32,) * 4, (256,) * 5
  config.activation, config.anneal_lr = "swish", False
  env = make_env(args.env, args.backend, 1000)
  mlp = RewardMLP()
  obs_dim, act_dim = env.observation_size, env.action_size
  reward_params = mlp.init(jax.random.key(1), jnp.zeros((1, 2 * obs_dim + act_dim)))

  def learned_reward(params, obs, action, next_obs):
    return mlp.apply(params, jnp.concatenate([obs, action, next_obs], -1))

  rates = {"brax_ppo": bench_brax(args, config)}
  print(f"brax_ppo {report.rate_cell(rates['brax_ppo'])} steps/s", flush=True)
  rates.update(interleaved({"efjax_true": efjax_timer(args, config, env),
                            "efjax_learned": efjax_timer(args, config, env, learned_reward,
                                                         reward_params)}, args.epochs))
  for key in ("efjax_true", "efjax_learned"):
    print(f"{key} {report.rate_cell(rates[key])} steps/s", flush=True)
  setting = {"env": args.env, "backend": args.backend, "num_envs": args.num_envs,
             "unroll_length": args.unroll_length, "updates": args.updates,
             "rounds": args.epochs, "num_minibatches": config.num_minibatches,
             "update_epochs": config.update_epochs}
  return {"benchmark": "brax", "steps_per_s": rates, **made_by(args, start, setting)}


def markdown(raws: dict, markers: bool = False) -> str:
  """The tables of the records made (between generated-section markers, for BENCHMARKS.md)."""
  from experiments.reports import documents
  parts = []
  for name, body in ((report.BRAX, report.brax_section), (report.ENERGYFLOW,
                                                          report.energyflow_section)):
    if name in raws:
      text = body(raws[name])
      parts.append(documents.section(name.removesuffix(".json"), text) if markers else text)
  return "\n\n".join(p.rstrip("\n") for p in parts)


def run(args) -> str:
  """benchmarks/run_all.py's entry: both tables as Markdown. A full run into the repository's
  BENCHMARKS.md records its raw JSON (and rebuilds results/ppo.md and README's bullet;
  run_all writes BENCHMARKS.md itself)."""
  a = argparse.Namespace(env="inverted_pendulum", backend=None, num_envs=128, unroll_length=32,
                         updates=5, epochs=9, out=None)
  quick = getattr(args, "quick", False)
  if quick:
    a.num_envs, a.unroll_length, a.updates, a.epochs = 16, 16, 2, 1
    a.reward_envs = ("inverted_pendulum",)
  if getattr(args, "repeats", None):
    a.epochs = args.repeats
  a.backend = BACKENDS[a.env]
  a.command = shlex.join(["python", "benchmarks/run_all.py"] + sys.argv[1:])
  raws = {report.BRAX: brax_record(a), report.ENERGYFLOW: energyflow_record(a)}
  publish = (not quick and os.path.abspath(getattr(args, "out", "") or "")
             == os.path.join(ROOT, "BENCHMARKS.md"))
  if publish:
    build.record(raws, skip=("BENCHMARKS.md",))
  return markdown(raws, markers=publish)


def main():
  p = argparse.ArgumentParser()
  p.add_argument("--env", default="inverted_pendulum")
  p.add_argument("--backend", default=None, help="default: the one experiments/configs/ppo.py uses")
  p.add_argument("--num_envs", type=int, default=128)
  p.add_argument("--unroll_length", type=int, default=32)
  p.add_argument("--updates", type=int, default=10, help="updates per timed call / brax epoch")
  p.add_argument("--epochs", type=int, default=3, help="timed rounds after the compiling call")
  p.add_argument("--out", default="/tmp/ppo_bench.md")
  p.add_argument("--only_energyflow", action="store_true", help="skip the brax comparison")
  p.add_argument("--reward_envs", nargs="+", default=None, choices=REWARD_ENVS,
                 help="envs of the EnergyFlow-reward table (default: all of rl_compare's)")
  p.add_argument("--record", action="store_true",
                 help="write the raw JSON to results/raw/ppo/ and rebuild the documents "
                      "made from it (the published figures)")
  args = p.parse_args()
  args.argv = sys.argv[1:]
  args.backend = args.backend or BACKENDS[args.env]
  if args.record and args.epochs < 3:
    p.error("--record needs --epochs >= 3 to show a spread over rounds")
  raws = {} if args.only_energyflow else {report.BRAX: brax_record(args)}
  raws[report.ENERGYFLOW] = energyflow_record(args)
  table = markdown(raws)
  print(table)
  with open(args.out, "w") as f:
    f.write(table + "\n")
  if args.record:
    build.record(raws)


if __name__ == "__main__":
  main()
