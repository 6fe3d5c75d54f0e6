"""The whole EnergyFlow story on a small Brax task, in minutes on a 2-core CPU.

    python -m experiments.pipeline --config=experiments/configs/quickstart.py --workdir=workdirs/quickstart

Stages (each resumes from its own files if the run is interrupted):
  1. expert      PPO on the true reward of reacher (brax, spring backend)
  2. demos       expert rollouts -> WORKDIR/demos.npz (the demo-file format)
  3. energyflow  an MLP energy trained by DSM on the demos (obs history 1, action chunk 1)
  4. imitation   the energy's PF-ODE sampler as a policy, true return in the env
  5. reward      reward quality of the centered energy: return ranking over policies of
                 graded quality, expert-vs-random action preference at expert states
  6. reward_rl   PPO from scratch on the centered energy only; the true return is logged
  7. random      the true return of uniform random actions (the 0 of a normalized score)
  8. controls    PPO from scratch on control rewards (a constant, a fixed random network),
                 the same budget as reward_rl: what the recovered reward must beat
  9. report      WORKDIR/report.md and PNG plots

reacher (a 2-joint arm reaching a random target; reward: minus the distance to the target
and the control cost, episodes of 1000 steps that never end early) is the task because
no reward's sign or offset can buy a good return there: a constant reward teaches nothing,
so the controls stay near the random policy while the recovered reward has to point the
arm at the target. The report's table gives each policy's true return and its normalized
score, (R - R_random) / (R_expert - R_random), 1 for the demonstrations.
`:smoke` shrinks every stage to seconds (tests).
"""
import ml_collections

from experiments.configs import demos as demos_config
from experiments.configs import ppo as ppo_config
from experiments.configs.common import parse_arg

ENV = "reacher"
REWARD_RL_STEPS = 2_000_000     # PPO on a learned or control reward (the expert: ppo.py's 5M)
CONTROLS = ("constant_plus", "random_network")


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.expert = ppo_config.get_config(ENV)
  c.demos = dict(num_episodes=64, deterministic=False)  # stochastic expert: max-ent demos

  ef = demos_config.get_config()
  demos_config.apply_paper_recipe(ef, reward_t=0.4)   # demos.py's defaults when this was made
  ef.data.update(obs_horizon=1, action_horizon=1, obs_normalizer="zscore")
  ef.model.backbone = "mlp"
  ef.model.mlp.hidden = (256, 256)
  ef.model.update(obs_hidden=(128,), emb_dim=64, head_hidden=())
  ef.model.spectral_norm = False
  ef.train.update(num_steps=4000, batch_size=256, learning_rate=3e-3,
                  checkpoint_every=1000, log_every=500, eval_every=0, ema=0.999)
  ef.optim.warmup_steps = 100
  # The centering expectation over N(0, I) by the 2-node Gauss-Hermite rule (2^act_dim
  # reference actions) instead of 16 sampled ones: its error was 9-180x smaller on
  # rl_compare's 1-D and 2-D action energies, with 3-6x fewer energy evaluations per
  # RL step (efjax/rewards.py, results/rl_compare.md).
  ef.reward.update(reference="gauss_hermite", num_reference=2)
  c.energyflow = ef

  c.imitation = dict(num_episodes=16)
  c.reward = dict(noise_levels=(0.0, 0.25, 0.5, 0.75, 1.0), episodes_per_level=8)
  c.reward_rl = ppo_config.get_config(ENV)
  c.reward_rl.ppo.total_steps = REWARD_RL_STEPS
  c.controls = CONTROLS
  # The env and episodes the random policy is scored on (experiments/stages.py's
  # random_policy reads rl.env, rl.eval_envs and seed, as in rl_compare).
  c.rl = dict(env=c.reward_rl.env.to_dict(), eval_envs=16)

  _, flags = parse_arg(arg, "quickstart.py", flags=("smoke",))
  if "smoke" in flags:
    c.expert = ppo_config.get_config(ENV + ",smoke")
    c.reward_rl = ppo_config.get_config(ENV + ",smoke")
    for rl in (c.expert, c.reward_rl):
      rl.env.episode_length, rl.eval_envs = 50, 2
    c.demos.num_episodes = 4
    ef.train.update(num_steps=40, checkpoint_every=20, log_every=20)
    ef.optim.warmup_steps = 5
    c.imitation.num_episodes = 2
    c.reward.update(noise_levels=(0.0, 1.0), episodes_per_level=2)
    c.rl.env.episode_length, c.rl.eval_envs = 50, 2
  return c
