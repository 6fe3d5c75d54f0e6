"""PPO on a brax environment's true reward (the expert for demonstrations, and the RL check).

    python -m experiments.ppo --config=experiments/configs/ppo.py:inverted_pendulum --workdir=DIR
    python -m experiments.ppo --config=experiments/configs/ppo.py:inverted_pendulum,smoke --workdir=DIR

`:<env>` picks the per-env settings below; `,smoke` shrinks the run to seconds.
Measured on the shared 2-core CPU (results/ppo.md has the commands and curves):
  inverted_pendulum         2M steps, 28-36 s wall; deterministic eval 1000.0 +- 0.0 (16 episodes)
  inverted_double_pendulum  10M steps, 248 s wall; deterministic eval 9354.4 +- 0.1 (positional)
  reacher                   5M steps, 103 s wall; deterministic eval -74 +- 47 (random: ~-840)
  hopper                    not run: ~1-4k env steps/s on this CPU (all backends)
Seed 0 each (config.seed); the speed is shared-CPU speed and varies with the load.
"""
import ml_collections

from experiments.configs.common import parse_arg

ENVS = ("inverted_pendulum", "inverted_double_pendulum", "reacher", "hopper")
# Measured on the 2-core CPU (results/ppo.md): spring is fastest everywhere, but on the
# double pendulum its PPO run collapsed late, so that env keeps positional (2x slower).
BACKENDS = {"inverted_pendulum": "spring", "inverted_double_pendulum": "positional",
            "reacher": "spring", "hopper": "spring"}


def default_ppo_config() -> ml_collections.ConfigDict:
  """efjax.rl.make_ppo's settings; derived values (updates, minibatch size) are computed there."""
  return ml_collections.ConfigDict(dict(
      num_envs=128, unroll_length=32, total_steps=1_000_000,
      num_minibatches=16, update_epochs=4,
      gamma=0.99, gae_lambda=0.95, clip_eps=0.2, entropy_coef=0.0, vf_coef=0.5,
      learning_rate=3e-4, anneal_lr=True, max_grad_norm=0.5, reward_scaling=1.0,
      normalize_obs=True, normalize_advantage=True, squash="clip",
      actor_hidden=(64, 64), critic_hidden=(64, 64), activation="tanh", init_log_std=-0.5))


def get_config(arg: str = "inverted_pendulum") -> ml_collections.ConfigDict:
  name, flags = parse_arg(arg, "ppo.py", names=ENVS, what="env", flags=("smoke",),
                         default="inverted_pendulum")
  c = ml_collections.ConfigDict()
  c.seed = 0
  # Backends chosen by measured env steps/s on this CPU (results/ppo.md).
  c.env = dict(name=name, backend=BACKENDS[name], episode_length=1000)
  c.ppo = default_ppo_config()
  c.log_every = 10          # updates per compiled call; progress, metrics, checkpoint after each
  c.eval_envs = 16          # deterministic episodes scored at the end

  if name == "inverted_pendulum":
    c.ppo.total_steps = 2_000_000
  elif name == "inverted_double_pendulum":
    c.ppo.total_steps = 10_000_000
  elif name == "reacher":
    c.ppo.total_steps = 5_000_000
    c.ppo.gamma = 0.95
  elif name == "hopper":
    c.ppo.total_steps = 5_000_000

  if "smoke" in flags:
    c.ppo.num_envs, c.ppo.unroll_length, c.ppo.total_steps = 16, 16, 16 * 16 * 4
    c.log_every = 2
  return c
