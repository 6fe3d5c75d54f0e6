"""How well each reference rule estimates the centering term of a trained energy.

    python -m experiments.reference_rule_check --workdir=RL_COMPARE_WORKDIR/reacher

The centered reward subtracts Ebar(s) = E_{a ~ N(0, I)} E(a, s) (normalized action
units), estimated at a few reference actions (`reward.reference`, efjax/reward/reference.py).
Its error is a function of the state, so it acts as a spurious state reward. On the
held-out states of an rl_compare workdir (WORKDIR/heldout.npz) and its energy
(WORKDIR/energyflow) this compares each rule with a 40-node (1-D actions) or
16^D-node Gauss-Hermite estimate taken as exact. The error is reported without its
mean (a constant does not change a reward), relative to the energy's mean spread over
actions at a state (its standard deviation under N(0, I)). Writes
WORKDIR/reference_rule.json, which experiments.reports.rl_compare tabulates.
"""
import os

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from absl import flags

import efjax
from efjax.reward import default_reward_config, reference_rule
from efjax.reward.reference import gauss_hermite_points
from efjax.workdir import write_json
from experiments import cli

_WORKDIR = cli.workdir_flag("An experiments.rl_compare env workdir.")
_STATES = cli.shared_flag(flags.DEFINE_integer, "states", 3000, "Held-out states to measure on.")
RULES = (("sampled", 16), ("sampled", 4), ("gauss_hermite", 2), ("gauss_hermite", 3))


def _rule(reference: str, num: int) -> ml_collections.ConfigDict:
  cfg = default_reward_config()
  cfg.update(reference=reference, num_reference=num)
  return cfg


def check(workdir: str, num_states: int = 3000) -> dict:
  model = efjax.load(os.path.join(workdir, "energyflow"))
  sigma = float(model.schedule.sigma(jnp.float32(model.config.reward.t)))
  with np.load(os.path.join(workdir, "heldout.npz"), allow_pickle=False) as z:
    obs = z["obs"].reshape(-1, z["obs"].shape[-1])
  obs = obs[np.linspace(0, len(obs) - 1, min(num_states, len(obs))).astype(int)]
  shape = (1, model.act_dim)
  energy_at = jax.jit(lambda o, a: model.energy(o, model.units.to_demo_actions(a), sigma))

  def energies(points):                      # [M, 1, A] -> [M, S]
    return np.stack([np.asarray(energy_at(obs, jnp.broadcast_to(p, (len(obs),) + shape)))
                     for p in points])

  exact_points, exact_weights = gauss_hermite_points(
      40 if model.act_dim == 1 else 16, shape)
  e_exact = energies(exact_points)
  w = np.asarray(exact_weights)[:, None]
  mean = (w * e_exact).sum(0)
  spread = float(np.sqrt((w * (e_exact - mean) ** 2).sum(0)).mean())
  out = {"states": len(obs), "act_dim": model.act_dim, "energy_spread": spread, "rules": []}
  for reference, num in RULES:
    points, weights = reference_rule(_rule(reference, num), shape)
    err = np.asarray(weights) @ energies(points) - mean
    rms = float(np.sqrt(np.mean((err - err.mean()) ** 2)))
    out["rules"].append({"reference": reference, "num_reference": num,
                         "points": int(points.shape[0]), "rms_error": rms,
                         "relative_error": rms / spread})
  return out


def main(argv):
  del argv
  cli.quiet_library_logs()
  result = check(_WORKDIR.value, _STATES.value)
  path = os.path.join(_WORKDIR.value, "reference_rule.json")
  write_json(path, result)
  for r in result["rules"]:
    print(f"{r['reference']:>13s} x{r['num_reference']:<2d} ({r['points']:3d} points): centering "
          f"error {r['rms_error']:.4f} = {100 * r['relative_error']:.2f}% of the energy's spread "
          f"over actions ({result['energy_spread']:.3f})")
  print(path)


if __name__ == "__main__":
  cli.run(main, required=("workdir",))
