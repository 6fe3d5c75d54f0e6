"""Equal tuning for every reward in the RL comparison: the same number of configurations per
method, picked on tuning seeds, then final runs of each method's pick on fresh seeds.

    python -m experiments.rl_sweep --config=experiments/configs/rl_sweep.py:reacher --workdir=WORKDIR/reacher
    python -m experiments.rl_sweep --config=experiments/configs/rl_sweep.py:reacher,smoke --workdir=/tmp/s

Every learned reward gets SWEEP_SIZE (6) configurations over its own key settings:
EnergyFlow's reading level, net width and reference rule; AIRL's and GAIL's
discriminator steps, learning rate, batch and logit-entropy bonus; BC's width and
log-std floor; the diffusion ELBO's width, noise levels and noise draws per reward.
Each runs PPO with `tuning.num_seeds` seeds from `tuning.seed` (seeds the finals never
use) on the rl_compare config of the env; the configuration with the best mean
normalized return wins. The finals then run every method's winner, the oracle and the controls with
rl.num_seeds seeds from rl.seed. Keys are rl_compare.py's, dotted (`energyflow.reward.t`).
`diagnoses(env)` adds runs, outside the budget, that explain a method's result.
"""
import ml_collections

from experiments.configs import rl_compare
from experiments.configs.common import parse_arg

SWEEP_SIZE = 6


def _grid(keys, rows):
  return [dict(zip(keys, row)) for row in rows]


def sweeps() -> dict:
  """{method: [overrides of the rl_compare config]} with SWEEP_SIZE entries each; the first
  is rl_compare's own setting."""
  ef = _grid(("energyflow.reward.t", "energyflow.model.mlp.hidden", "energyflow.reward.reference",
              "energyflow.reward.num_reference"),
             [(0.4, (64, 64), "gauss_hermite", 2), (0.1, (64, 64), "gauss_hermite", 2),
              (0.7, (64, 64), "gauss_hermite", 2), (0.4, (128, 128), "gauss_hermite", 2),
              (0.1, (128, 128), "gauss_hermite", 2), (0.4, (64, 64), "sampled", 16)])
  adversarial = _grid(("irl.disc_steps", "irl.learning_rate", "irl.batch_size",
                       "irl.entropy_coef"),
                      [(4, 3e-4, 512, 0.0), (2, 3e-4, 512, 0.0), (8, 3e-4, 512, 0.0),
                       (4, 1e-3, 512, 0.0), (4, 3e-4, 256, 0.0), (4, 3e-4, 512, 0.01)])
  bc = _grid(("bc.bc.hidden", "bc.bc.min_log_std"),
             [((256, 256, 256), -5.0), ((64, 64), -5.0), ((128, 128), -5.0),
              ((256, 256, 256), -3.0), ((64, 64), -3.0), ((128, 128), -3.0)])
  levels4, levels3 = (0.2, 0.3, 0.4, 0.5), (0.05, 0.1, 0.2)
  elbo = _grid(("diffusion.model.mlp.hidden", "elbo.levels", "elbo.draws_per_level"),
               [((128, 128), levels4, 8), ((64, 64), levels4, 8), ((256, 256), levels4, 8),
                ((128, 128), levels3, 8), ((128, 128), levels4, 16), ((128, 128), levels4, 2)])
  return {"energyflow_centered": ef, "energyflow_soft_bellman": ef, "airl": adversarial,
          "gail": adversarial, "bc_log_prob": bc, "diffusion_elbo": elbo}


def diagnoses(env: str) -> dict:
  """{method: [(label, overrides)]}: runs on the tuning seeds that explain a method's result
  on `env`. They are not part of its tuning budget and nothing is picked from them; each
  is the method's first sweep configuration with the overrides (none: that sweep run
  itself, its diagnostic readings taken from its folder rather than training it again).

  AIRL: its policy's reward holds -log pi(a|s) (efjax.reward.adversarial), bounded only
  when pi is a density over the actions the env receives (the tanh squash); with the
  clipped Gaussian every method's PPO uses, and with g(s) or g(s, a). The diffusion ELBO:
  the surrogate's roughness and PPO's exploration. EnergyFlow, on a task whose episodes
  can end early: what its reward pays at the fixed-horizon env's absorbing state, a state
  no demonstration reaches.
  """
  out = {"airl": [
      ("clipped Gaussian policy, g(s)", {"irl.airl_squash": "clip"}),
      ("clipped Gaussian policy, g(s, a)", {"irl.airl_squash": "clip",
                                            "irl.reward_inputs": "state_action"}),
      ("tanh policy, g(s) (as swept)", {}),
      ("tanh policy, g(s, a)", {"irl.reward_inputs": "state_action"})],
      # The diffusion ELBO surrogate's PPO once collapsed on reacher to a bang-bang policy
      # that earned less of the surrogate than the oracle's policy: was it the rough
      # surrogate (8 fixed noise draws, the old default) or PPO's exploration?
      "diffusion_elbo": [
          ("as swept (config 1: 32 noise draws per reward)", {}),
          ("8 noise draws per reward (the old default)", {"elbo.draws_per_level": 2}),
          ("8 noise draws, PPO entropy bonus 0.01", {"elbo.draws_per_level": 2,
                                                     "rl.ppo.entropy_coef": 0.01}),
          ("8 noise draws, tanh policy", {"elbo.draws_per_level": 2,
                                          "rl.ppo.squash": "tanh"})]}
  if env in rl_compare.TERMINATING:
    # On inverted_pendulum PPO on EnergyFlow centered's pick fell and then earned several
    # times the expert's learned return at the absorbing state, where the centered energy,
    # extrapolated to a state off the demonstrations, pays its per-state maximum far
    # above anything on the expert's path. There no action matters: the expert's soft Q
    # is flat in the action, so its centered value is 0.
    sampled = {"energyflow.reward.reference": "sampled", "energyflow.reward.num_reference": 16}
    absorbing_zero = {"rl.ppo.absorbing_reward": 0.0}
    out["energyflow_centered"] = [
        ("16 sampled references (config 6)", sampled),
        ("16 sampled references, absorbed steps pay 0", {**sampled, **absorbing_zero}),
        ("Gauss-Hermite references (config 1), absorbed steps pay 0", absorbing_zero)]
    # Soft-Bellman reads V at the next state. Under the rule its step into the absorbing
    # state reads the V its absorbed value read (efjax.reward.absorbing); with a number
    # set, the step reads the network's V at the terminal state, extrapolated.
    out["energyflow_soft_bellman"] = [
        ("as swept (config 1)", {}),
        ("absorbed steps pay 0, the step into them reads the network's V", absorbing_zero)]
  return out


def get_config(arg: str = "reacher") -> ml_collections.ConfigDict:
  name, flags = parse_arg(arg, "rl_sweep.py", names=rl_compare.ENVS, what="env",
                          flags=("smoke",), default="reacher")
  c = ml_collections.ConfigDict()
  c.compare = rl_compare.get_config(name + (",smoke" if "smoke" in flags else ""))
  c.tuning = dict(seed=1000, num_seeds=2)
  c.sweep_size = SWEEP_SIZE
  c.diagnose = True         # run diagnoses(env) for the methods compared
  if "smoke" in flags:
    c.tuning.num_seeds = 1
    c.sweep_size = 2
    c.diagnose = False
  return c
