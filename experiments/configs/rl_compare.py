"""PPO on rewards recovered from demonstrations: EnergyFlow vs AIRL, GAIL and likelihood rewards.

    python -m experiments.rl_compare --config=experiments/configs/rl_compare.py:inverted_pendulum --workdir=WORKDIR/inverted_pendulum
    python -m experiments.rl_compare --config=experiments/configs/rl_compare.py:reacher,smoke --workdir=/tmp/smoke

Envs (all run on the 2-core CPU; results/ppo.md measured them): inverted_pendulum
(spring, 200-step episodes: EPISODE_LENGTH), inverted_double_pendulum (positional:
spring's PPO collapsed there; 200-step episodes, 10M PPO steps), reacher (spring), and
two locomotion tasks, hopper and
walker2d (spring): of the four Brax locomotion tasks they step fastest on this CPU
(results/ppo.md's env speed table), and on the fixed-horizon env neither can end an
episode early, so a fall costs the rest of the episode's true reward.

Fixed horizon: the expert trains on the env as Brax defines it, but every reward is
compared on the fixed-horizon version (`rl.env.fixed_horizon`, efjax.envs.brax_envs
.FixedHorizonWrapper): an episode never ends early, a fall leads to an absorbing state
repeated to the time limit, so no reward's sign or offset decides how long an episode
lasts. What an absorbed step pays is learned or set, as in Discriminator-Actor-Critic
(`absorbing`): the adversarial rewards learn it from the policy's absorbed steps; every
fixed reward sets it to its own mean over uniform actions at the demos' states
(efjax.reward.absorbing), since no demonstration reaches the absorbing state. Controls
run beside the learned rewards: constant +1 and -1, zero and a fixed random network
(efjax.reward.controls); a learned reward that does not beat them says nothing about
the task.

Stages: expert PPO on the true reward (or an experiments.ppo workdir reused with
--config.expert_dir), 64 stochastic expert episodes as demos, then an EnergyFlow
energy (MLP, obs history 1, chunk 1), a Gaussian BC policy and a non-conservative
(direct score) diffusion policy on the demos, then PPO with `rl.num_seeds` seeds
(vmapped) on each method's reward. Every method's PPO uses the same settings as
the expert's, on a smaller budget (`rl.ppo.total_steps`, listed below).

The EnergyFlow reward is the quickstart's MLP energy with 64x64 hidden layers
instead of 256x256, read with the quickstart's 2-node Gauss-Hermite reference rule
(1 + 2^act_dim energy rows per transition). The reward runs on every PPO transition,
so its cost sets the RL speed on a CPU: PPO on it runs at 0.9x its true-reward speed
(benchmarks/ppo.py), and on held-out transitions its reward quality matched the
128x128 net's (EPIC 0.54 vs 0.53 on inverted_double_pendulum, 0.26 vs 0.29 on
reacher). results/rl_compare.md sets it beside the 128x128 net read with 16 sampled
and with Gauss-Hermite references. The BC and diffusion baselines use the 128x128
backbone.
`,smoke` shrinks every stage to seconds (tests/test_rl_compare.py).
"""
import copy

import ml_collections

from efjax.bc import default_bc_config
from efjax.reward.adversarial import irl_config
from experiments.configs import ppo as ppo_config
from experiments.configs import quickstart
from experiments.configs.common import parse_arg

ENVS = ("inverted_pendulum", "inverted_double_pendulum", "reacher", "hopper", "walker2d")
LEARNED = ("energyflow_centered", "energyflow_soft_bellman", "airl", "gail", "bc_log_prob",
           "diffusion_elbo")
# Tasks whose episodes end early where Brax defines them (the comparison runs them with a
# fixed horizon and an absorbing state); reacher never ends early.
TERMINATING = ("inverted_pendulum", "inverted_double_pendulum", "hopper", "walker2d")
CONTROL_METHODS = ("constant_plus", "constant_minus", "zero", "random_network")
METHODS = ("true_reward",) + LEARNED + CONTROL_METHODS
# Env steps per seed of each method's PPO (the expert's budget is experiments/configs/ppo.py's).
# hopper and walker2d: a first guess; `python -m experiments.rl_budget` measures whether the
# oracle reaches the expert at it (results/ppo.md), and on the fixed-horizon env PPO needs
# more steps than the terminating expert did (a fall wastes the rest of the episode).
RL_STEPS = {"inverted_pendulum": 1_000_000, "inverted_double_pendulum": 10_000_000,
            "reacher": 2_000_000, "hopper": 5_000_000, "walker2d": 5_000_000}
# Episode length of the expert's env and of the comparison's (brax's own: 1000). On the
# fixed-horizon pendulum an early fall leaves the rest of a 1000-step episode in the
# absorbing state, where no action matters: PPO on the true reward then stayed far below
# the expert at 5M steps, while with 200-step episodes it reaches the expert well inside
# its budget (results/ppo.md, "RL budgets").
# inverted_double_pendulum: the same 200 steps; at 2M steps the oracle stayed near random
# there (a probe, not recorded), so its budget is the expert's own 10M.
EPISODE_LENGTH = {"inverted_pendulum": 200, "inverted_double_pendulum": 200}


def get_config(arg: str = "inverted_pendulum") -> ml_collections.ConfigDict:
  name, flags = parse_arg(arg, "rl_compare.py", names=ENVS, what="env", flags=("smoke",),
                         default="inverted_pendulum")
  smoke = "smoke" in flags
  q = quickstart.get_config("smoke" if smoke else "")
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.env_name = name
  c.expert = ppo_config.get_config(name + (",smoke" if smoke else ""))
  c.expert.env.episode_length = EPISODE_LENGTH.get(name, c.expert.env.episode_length)
  c.expert_dir = ""      # an experiments.ppo workdir on the same env to reuse as the expert
  c.demos = dict(num_episodes=64, deterministic=False)

  ef = q.energyflow
  ef.model.mlp.hidden = (128, 128)
  bc = ml_collections.ConfigDict(ef.to_dict())
  bc.bc = default_bc_config()
  c.bc = bc
  diff = ml_collections.ConfigDict(ef.to_dict())
  diff.model.parameterization = "score"
  c.diffusion = diff
  ef.model.mlp.hidden = (64, 64)
  c.energyflow = ef

  c.methods = METHODS
  # What absorbed steps pay on a task that can end early: 'uninformed', every fixed reward
  # (learned from the demos, or a control) pays its mean over uniform actions at the demos'
  # states (efjax.reward.absorbing; the adversarial rewards learn it, the true reward pays
  # the env's 0); 'read', each reward reads the frozen absorbing state as any other.
  c.absorbing = "uninformed"
  c.rl = dict(env=dict(c.expert.env, fixed_horizon=True), ppo=copy.deepcopy(c.expert.ppo),
              num_seeds=5, seed=100, log_every=10, eval_envs=16)
  c.rl.ppo.total_steps = RL_STEPS[name]
  # diffusion_elbo_reward's: 32 fixed (t, eps) draws per reward. With 8 (2 per level) PPO
  # on reacher collapsed to a bang-bang policy far below random; with 32 it reached the
  # expert (results/rl_compare.md, "Diagnosis: diffusion ELBO").
  c.elbo = dict(levels=(0.2, 0.3, 0.4, 0.5), draws_per_level=8)
  c.irl = irl_config()
  c.irl.gamma = c.expert.ppo.gamma
  c.reward_eval = dict(noise_levels=(0.0, 0.25, 0.5, 0.75, 1.0), episodes_per_level=4,
                       num_candidates=8, stride=10, seed=1000)

  if smoke:
    c.expert.env.episode_length = c.rl.env.episode_length = 50
    c.expert.eval_envs = 2
    c.demos.num_episodes = 4
    for sub in (c.bc, c.diffusion):
      sub.train.update(num_steps=40, checkpoint_every=20, log_every=20)
    c.rl.ppo.update(num_envs=16, unroll_length=16, total_steps=16 * 16 * 4)
    c.rl.update(num_seeds=2, log_every=2, eval_envs=2)
    c.irl.update(batch_size=64, disc_steps=2)
    c.reward_eval.update(noise_levels=(0.0, 1.0), episodes_per_level=2, stride=5)
    # zero and constant_minus run constant_plus's code path: left out to keep tests short
    c.methods = tuple(m for m in METHODS if m not in ("zero", "constant_minus"))
  return c
