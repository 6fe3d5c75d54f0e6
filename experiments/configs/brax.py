"""Demonstrations from a Brax expert: PPO on the true reward (or a saved agent), then
stochastic expert episodes in one jitted, vmapped rollout.

    python -m experiments.collect_demos --config=experiments/configs/brax.py:inverted_pendulum \
        --workdir=DIR [--config.expert_dir=AN_EXPERIMENTS_PPO_WORKDIR]

Writes DIR/expert/ (the PPO agent, its metrics and learning curve; skipped when
expert_dir names a finished experiments.ppo run on the same env), DIR/demos.npz
(the demo-file layout plus `expert_return`, the demos' mean true return) and
DIR/demos.json. Envs: experiments/configs/ppo.py's (inverted_pendulum,
inverted_double_pendulum, reacher, hopper); `,smoke` shrinks it to seconds. On the
2-core CPU the inverted_pendulum expert takes ~1 min and reaches ~950-1000.
"""
import ml_collections

from experiments.configs import ppo as ppo_config
from experiments.configs.common import parse_arg


def get_config(arg: str = "inverted_pendulum") -> ml_collections.ConfigDict:
  name, flags = parse_arg(arg, "brax.py", names=ppo_config.ENVS, what="env",
                         flags=("smoke",), default="inverted_pendulum")
  smoke = "smoke" in flags
  c = ml_collections.ConfigDict()
  c.source = "brax"
  c.seed = 0
  c.expert = ppo_config.get_config(name + (",smoke" if smoke else ""))  # lists valid envs
  c.expert_dir = ""
  # Stochastic expert actions: demonstrations as the max-ent assumption has them.
  c.demos = dict(num_episodes=64, deterministic=False)
  if smoke:
    c.expert.env.episode_length, c.expert.eval_envs = 50, 2
    c.demos.num_episodes = 3
  return c
