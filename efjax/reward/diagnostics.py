"""Checks of a learned reward on a user's own data, where no true Q is known.

Every function takes a trained model (`efjax.load(workdir)`) and demo windows in the
demo file's units, obs [B, Ho, obs_dim] and actions [B, Ha, act_dim], and reads the
reward as a user does, `model.reward(obs, actions)`:

- `perturbation_preference`: how often a demo action is rewarded above the same action
  perturbed by Gaussian noise of a growing size (in units of the demo actions' per-
  dimension standard deviation). A reward recovered from the demos should prefer the
  demo action more often as the perturbation grows; near 0.5 at every size means the
  reward does not see the demos.
- `reward_along_lines`: the reward along straight lines from demo actions (lambda = 0)
  to random actions (lambda = 1, uniform in the box the demo actions span), relative to
  its value at the demo action.
- `noise_level_agreement`: the reward read at several noise levels t, compared by the
  Pearson correlation of their per-state-centered values on the same actions (demo,
  perturbed and random ones); a reward that changes its ordering with t is fragile.
- `learned_term_spread`: with the EDM preconditioning the energy is a fixed Gaussian prior
  plus the network's learned term, E = |x|^2 / (2 s^2) - F(x / s) / sigma; how much the
  learned term varies over actions against the prior. Near 0 the network ignores the
  action and the reward is the prior's quadratic alone, whatever the demos: a training
  collapse (seen at a learning rate of 3e-3 on near-uniform 1-D bandit demos, where 1e-3
  trained), which the other checks can miss (every noise level then agrees perfectly).
- `reference_rule_shift`: how much the centering term, which the reward subtracts at each
  state, moves between the `sampled` and `gauss_hermite` reference rules
  (efjax/reward/reference.py): the state-dependent part of the difference, relative to the
  energy's spread over actions. A large value means the rule adds a spurious state reward.

`diagnose` runs them all and returns one JSON-able dict.
"""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.data import Demos, window_indices
from efjax.errors import DataError
from efjax.networks.energy_net import edm_prior, edm_scale
from efjax.reward.formulas import default_reward_config
from efjax.reward.reference import reference_rule

PERTURBATION_SCALES = (0.03, 0.1, 0.3, 1.0, 3.0)
NOISE_LEVELS = (1e-3, 0.05, 0.1, 0.2, 0.4, 0.6)
FLAT_LEARNED_TERM = 0.05                   # learned term's spread / prior's: below, collapsed
MAX_GAUSS_HERMITE_DIM = 12                 # 2^12 = 4096 reference points at most
POINTS_PER_CALL = 16                       # reference points evaluated per compiled call


class DiagnosticsError(DataError):
  """Inputs the diagnostics cannot use; the message names what is wrong."""


def demo_windows(demos: Demos, model, max_windows: int = 1024, seed: int = 0):
  """Up to max_windows (obs [B, Ho, obs_dim], actions [B, Ha, act_dim]) windows of the demos,
  in file units, with the model's horizons; DiagnosticsError when the sizes differ."""
  for name, dim, expected in (("observations", demos.observations.shape[1], model.obs_dim),
                              ("actions", demos.actions.shape[1], model.act_dim)):
    if dim != expected:
      raise DiagnosticsError(f"the demos' {name} have {dim} dimensions, the model was trained "
                             f"on {expected}")
  d = model.config.data
  obs_idx, act_idx = window_indices(demos.episode_ends, d.obs_horizon, d.action_horizon)
  rows = np.random.default_rng(seed).permutation(len(obs_idx))[:max_windows]
  return (jnp.asarray(demos.observations[obs_idx[rows]]),
          jnp.asarray(demos.actions[act_idx[rows]]))


def _reward(model):
  return jax.jit(lambda o, a: model.reward(o, a))


def _action_box(actions):
  """Per-dimension (low, high) of the demo actions: [act_dim] each."""
  flat = actions.reshape(-1, actions.shape[-1])
  return flat.min(0), flat.max(0)


def perturbation_preference(model, obs, actions, key, scales=PERTURBATION_SCALES) -> list[dict]:
  """[{'scale', 'accuracy', 'median_gap'}] for each perturbation scale (x demo action std)."""
  reward = _reward(model)
  std = actions.reshape(-1, actions.shape[-1]).std(0)
  base = reward(obs, actions)
  out = []
  for scale, k in zip(scales, jax.random.split(key, len(scales))):
    moved = actions + scale * std * jax.random.normal(k, actions.shape)
    gap = base - reward(obs, moved)
    out.append({"scale": float(scale), "accuracy": float(jnp.mean(gap > 0)),
                "median_gap": float(jnp.median(gap))})
  return out


def reward_along_lines(model, obs, actions, key, num_points: int = 21) -> dict:
  """The reward from each demo action (lambda 0) to a random action (lambda 1).

  Returns lambdas [P], relative [B, P] (reward minus its value at the demo action),
  and demo_above_random: the fraction of lines whose demo end is rewarded higher.
  """
  reward = _reward(model)
  low, high = _action_box(actions)
  far = jax.random.uniform(key, actions.shape, minval=low, maxval=high)
  lambdas = jnp.linspace(0.0, 1.0, num_points)
  values = jnp.stack([reward(obs, (1 - lam) * actions + lam * far) for lam in lambdas], 1)
  relative = values - values[:, :1]
  return {"lambdas": np.asarray(lambdas).tolist(), "relative": np.asarray(relative),
          "demo_above_random": float(jnp.mean(relative[:, -1] < 0))}


def _candidate_actions(actions, key, num_actions: int):
  """[B, N, Ha, A]: the demo action, perturbations of growing size, random box actions."""
  k_p, k_r = jax.random.split(key)
  std = actions.reshape(-1, actions.shape[-1]).std(0)
  n_perturbed = (num_actions - 1) // 2
  scales = jnp.geomspace(0.03, 3.0, n_perturbed)[None, :, None, None]
  perturbed = actions[:, None] + scales * std * jax.random.normal(
      k_p, (actions.shape[0], n_perturbed) + actions.shape[1:])
  low, high = _action_box(actions)
  n_random = num_actions - 1 - n_perturbed
  random = jax.random.uniform(k_r, (actions.shape[0], n_random) + actions.shape[1:],
                              minval=low, maxval=high)
  return jnp.concatenate([actions[:, None], perturbed, random], 1)


def _centered_pearson(x, y) -> float:
  """Pearson of [S, N] arrays after removing each state's (row's) mean."""
  x, y = x - x.mean(1, keepdims=True), y - y.mean(1, keepdims=True)
  return float(jnp.sum(x * y) / jnp.sqrt(jnp.sum(x * x) * jnp.sum(y * y)))


def noise_level_agreement(model, obs, actions, key, levels=NOISE_LEVELS,
                          num_actions: int = 16) -> dict:
  """{'levels' [L], 'pearson' [L, L], 'configured_t'}: per-state-centered Pearson between the
  rewards read at each pair of levels, on num_actions candidate actions per state.

  The centered reward at t is -E(a, s, sigma(t)) plus a per-state constant, which the
  per-state centering removes, so the energy is read directly (one compiled function
  for every level)."""
  cand = _candidate_actions(actions, key, num_actions)              # [B, N, Ha, A]
  b, n = cand.shape[:2]
  flat_obs = jnp.repeat(obs, n, axis=0)
  flat_act = cand.reshape((b * n,) + cand.shape[2:])
  energy = jax.jit(lambda sigma: model.energy(flat_obs, flat_act, sigma))
  values = [-energy(model.schedule.sigma(jnp.float32(t))).reshape(b, n) for t in levels]
  corr = np.array([[_centered_pearson(x, y) for y in values] for x in values])
  return {"levels": [float(t) for t in levels], "pearson": corr,
          "configured_t": float(model.config.reward.t)}


def learned_term_spread(model, obs, actions, key, num_actions: int = 16) -> dict:
  """{'ratio', 'flat', 't'}: at the reward's level t, the mean over states of the learned
  term's standard deviation over num_actions candidate actions (demo, perturbed, random)
  divided by the prior's; 'flat' when the ratio is below FLAT_LEARNED_TERM. Without the
  EDM preconditioning the energy has no separate prior: ratio and flat are None."""
  t = float(model.config.reward.t)
  if model.config.model.get("preconditioning", "none") != "edm":
    return {"ratio": None, "flat": None, "t": t,
            "note": "the energy has no separate prior without model.preconditioning=edm"}
  cand = _candidate_actions(actions, key, num_actions)              # [B, N, Ha, A]
  b, n = cand.shape[:2]
  flat_obs = jnp.repeat(obs, n, axis=0)
  flat_act = cand.reshape((b * n,) + cand.shape[2:])
  sigma = model.schedule.sigma(jnp.float32(t))
  scale = edm_scale(model.net.preconditioning, model.schedule.t_of_sigma(sigma))

  @jax.jit
  def terms(o, a):
    prior = edm_prior(model.units.actions(a), scale)               # in the network's units
    return model.energy(o, a, sigma) - prior, prior
  learned, prior = (v.reshape(b, n) for v in terms(flat_obs, flat_act))
  ratio = float(jnp.mean(learned.std(1)) / jnp.mean(prior.std(1)))
  return {"ratio": ratio, "flat": ratio < FLAT_LEARNED_TERM, "t": t, "note": ""}


def reference_rule_shift(model, obs, num_sampled: int = 16) -> dict:
  """The centering term under `sampled` (num_sampled chunks) vs 2-node `gauss_hermite`.

  Returns {'relative_shift': rms over states of the difference minus its mean, divided by
  the energy's mean spread over actions (std of E at the Gauss-Hermite points), ...};
  None values when Ha x act_dim > MAX_GAUSS_HERMITE_DIM (the rule would need too many
  points)."""
  shape = (model.config.data.action_horizon, model.act_dim)
  dim = shape[0] * shape[1]
  if dim > MAX_GAUSS_HERMITE_DIM:
    return {"relative_shift": None, "rms_shift": None, "energy_spread": None,
            "note": f"{dim} action dimensions: the Gauss-Hermite rule needs 2^{dim} points"}
  sigma = float(model.schedule.sigma(jnp.float32(model.config.reward.t)))
  unnormalize = model.units.normalizers["actions"].unnormalize
  per_point = lambda p: model.energy(obs, unnormalize(jnp.broadcast_to(p, (obs.shape[0],) + shape)),  # noqa: E731
                                     sigma)
  energies_of = jax.jit(jax.vmap(per_point))                         # [C, Ha, A] -> [C, S]

  def centering(reference, num):
    cfg = default_reward_config()
    cfg.update(reference=reference, num_reference=num)
    points, weights = reference_rule(cfg, shape)
    chunks = [points[i:i + POINTS_PER_CALL] for i in range(0, points.shape[0], POINTS_PER_CALL)]
    padded = [jnp.concatenate([c, jnp.repeat(c[-1:], POINTS_PER_CALL - c.shape[0], 0)])
              for c in chunks]                                       # one compiled shape
    e = jnp.concatenate([energies_of(c)[:len(chunk)] for c, chunk in zip(padded, chunks)])
    return weights @ e, e, weights                                   # [S], [M, S], [M]

  sampled, _, _ = centering("sampled", num_sampled)
  gh, e_gh, w = centering("gauss_hermite", 2)
  spread = float(jnp.mean(jnp.sqrt(w @ jnp.square(e_gh - gh))))
  diff = sampled - gh
  rms = float(jnp.sqrt(jnp.mean(jnp.square(diff - diff.mean()))))
  return {"relative_shift": rms / spread if spread > 0 else None, "rms_shift": rms,
          "energy_spread": spread, "num_sampled": num_sampled, "gauss_hermite_points": 2 ** dim,
          "note": ""}


def diagnose(model, obs, actions, seed: int = 0) -> dict:
  """Every diagnostic on the same windows; arrays as nested lists (JSON-able)."""
  k1, k2, k3, k4 = jax.random.split(jax.random.key(seed), 4)
  lines = reward_along_lines(model, obs, actions, k2)
  agreement = noise_level_agreement(model, obs, actions, k3)
  rel = lines["relative"]
  return {
      "num_windows": int(obs.shape[0]),
      "reward": {"kind": model.config.reward.kind, "t": float(model.config.reward.t),
                 "reference": model.config.reward.get("reference", "sampled"),
                 "num_reference": int(model.config.reward.num_reference)},
      "perturbation_preference": perturbation_preference(model, obs, actions, k1),
      "lines": {"lambdas": lines["lambdas"], "demo_above_random": lines["demo_above_random"],
                "median": np.median(rel, 0).tolist(),
                "q10": np.quantile(rel, 0.1, 0).tolist(), "q90": np.quantile(rel, 0.9, 0).tolist()},
      "noise_levels": {"levels": agreement["levels"], "pearson": agreement["pearson"].tolist(),
                       "configured_t": agreement["configured_t"]},
      "reference_rule": reference_rule_shift(model, obs),
      "learned_term": learned_term_spread(model, obs, actions, k4),
  }
