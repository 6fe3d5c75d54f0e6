"""The EnergyFlow paper's model and protocol (Meta-World shapes: obs 39 x 2, actions 4 x 16).

The network is the authors' temporal UNet energy (4,812,032 parameters at these
shapes; tests/test_networks.py checks it), VE schedule sigma 0.01..10, DSM with
t ~ U[0, 1], AdamW 1e-4 / wd 1e-6, 500 warm-up steps then cosine, clip 1.0, EMA
0.9999, batch 256, 100k steps; Euler PF-ODE with 20 steps to t = 1e-3; the
centered-energy reward at t = 1e-3 against 16 reference chunks.

Used by the core benchmark:
    python benchmarks/core.py
To train on a demo file with the paper's recipe (this training and reward recipe with
the data keys of demos.py; the paper's UNet unless --config.model.backbone says otherwise):
    python -m experiments.train --config=experiments/configs/demos.py:paper \
        --config.data.path=demos.npz --workdir=DIR
demos.py's own defaults differ from the paper where the bandit family showed the paper's
recipe recovering the reward poorly in a short run (README, results/bandit_family.md).
"""
import ml_collections

from experiments.configs.common import parse_arg

from efjax.networks import default_model_config
from efjax.policy.samplers import default_sampler_config
from efjax.reward import default_reward_config
from efjax.schedules import default_schedule_config
from efjax.train import default_optim_config


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.data = dict(obs_dim=39, obs_horizon=2, act_dim=4, action_horizon=16)
  c.model = default_model_config()
  c.schedule = default_schedule_config()
  c.optim = default_optim_config()
  c.train = dict(num_steps=100_000, batch_size=256, num_levels=1, ema=0.9999)
  c.sampler = default_sampler_config()
  c.reward = default_reward_config()
  c.reward.t = 1e-3                      # the paper's level (efjax's default is higher)
  _, flags = parse_arg(arg, "paper.py", flags=("bf16",))
  if "bf16" in flags:
    c.model.compute_dtype = "bfloat16"
  return c
