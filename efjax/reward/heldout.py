"""Held-out transitions for judging a learned reward against a brax env's true one.

`heldout_transitions(env, expert, key, ...)` runs expert episodes whose actions are
replaced, with probability p (one p per episode, over `noise_levels`), by uniform
random ones, and at every `stride`-th step also tries `num_candidates` actions
from the same simulator state (the one actually taken, then uniform random ones),
recording each candidate's s' and true reward. Then `reward_metrics(fn, data)`
gives, for a learned `fn(obs, action, next_obs) -> [B]`:

- on the candidate grid [S, N] (same state, different actions): offset-free
  Pearson / Spearman, preference accuracy and EPIC with gamma = 0
  (efjax.reward.metrics); None where the true reward does not vary with the action
  (inverted_pendulum pays 1 per step whatever the action);
- `return_spearman`: rank correlation of the learned and true returns of the
  episodes (graded quality), the pipeline's reward-stage measure.
"""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.policy.rollout import graded_noise_policy, rollout
from efjax.reward.metrics import canonicalize, pearson_distance, reward_quality, spearman


def heldout_transitions(env, policy, key, noise_levels, episodes_per_level: int,
                        episode_length: int, num_candidates: int, stride: int) -> dict:
  """env: an unwrapped brax env; policy(obs [E, obs_dim], key) -> [E, act_dim].

  Returns numpy: obs/action/next_obs [E, L, ...], reward, valid [E, L];
  grid_obs [S, obs_dim], grid_action [S, N, act_dim], grid_next_obs [S, N, obs_dim],
  grid_reward [S, N] (S = valid states at every stride-th step).
  """
  levels = jnp.repeat(jnp.asarray(noise_levels, jnp.float32), episodes_per_level)
  e, act_dim, n = levels.shape[0], env.action_size, num_candidates

  def candidates(state, action, key):
    """The action taken, then n - 1 uniform random ones, each stepped from `state`."""
    k_cand = jax.random.split(key, 4)[3]           # graded_noise_policy leaves it unused
    cand = jax.random.uniform(k_cand, (e, n - 1, act_dim), minval=-1.0, maxval=1.0)
    cand = jnp.concatenate([action[:, None], cand], axis=1)             # [E, N, A]
    tries = jax.vmap(jax.vmap(env.step, (None, 0)), (0, 0))(state, cand)
    return {"action": cand, "next_obs": tries.obs, "reward": tries.reward}

  run = jax.jit(lambda k: rollout(env, graded_noise_policy(policy, levels, act_dim), k, e,
                                  episode_length, extras=candidates))
  out = jax.tree_util.tree_map(np.asarray, run(key))
  valid, cand = out["valid"], out["extras"]
  pick = valid.copy()
  pick[:, np.arange(episode_length) % stride != 0] = False
  return {"obs": out["observations"], "action": out["actions"],
          "next_obs": out["next_observations"], "reward": out["rewards"], "valid": valid,
          "noise_level": np.asarray(levels), "grid_obs": out["observations"][pick],
          "grid_action": cand["action"][pick], "grid_next_obs": cand["next_obs"][pick],
          "grid_reward": cand["reward"][pick]}


def _batched(fn, batch: int):
  """fn over numpy arrays in pieces of `batch` rows (for large evaluations)."""
  def apply(o, a, n):
    out = [np.asarray(fn(o[i:i + batch], a[i:i + batch], n[i:i + batch]))
           for i in range(0, len(o), batch)]
    return np.concatenate(out)
  return apply


CONSTANT_TOLERANCE = 1e-6     # a canonical reward this flat (relative) counts as constant


def transition_epic(fn, data: dict, true_fn, gamma: float, seed: int = 0,
                    num_transitions: int = 2000, num_coverage: int = 256,
                    batch: int = 16384) -> float | None:
  """EPIC (Gleave et al. 2020) between fn and the task's true reward true_fn, both
  fn(obs, action, next_obs) -> [B], on held-out transitions.

  Coverage distribution: states S and next states S' drawn independently from the
  held-out episodes' visited states and next states, actions A uniform in [-1, 1].
  Each reward is canonicalized over it (efjax.reward.metrics.canonicalize: potential
  shaping cancels), then compared by Pearson distance on `num_transitions` held-out
  transitions. 0: equivalent up to shaping and scale; 1: opposite. None when fn is a
  constant up to shaping (its canonical reward is 0 everywhere; EPIC is then undefined) or
  is not finite on these transitions (a diverged reward: no distance to speak of).
  """
  rng = np.random.default_rng(seed)
  valid = data["valid"].reshape(-1)
  flat = lambda x: x.reshape((-1,) + x.shape[2:])[valid]  # noqa: E731
  obs, act, nxt = flat(data["obs"]), flat(data["action"]), flat(data["next_obs"])
  pick = rng.choice(len(obs), min(num_transitions, len(obs)), replace=False)
  cov_s = obs[rng.choice(len(obs), num_coverage)]
  cov_n = nxt[rng.choice(len(obs), num_coverage)]
  cov_a = rng.uniform(-1.0, 1.0, (num_coverage, act.shape[1])).astype(np.float32)
  args = (obs[pick], act[pick], nxt[pick], cov_s, cov_a, cov_n, gamma)
  learned = _batched(fn, batch)
  true = _batched(true_fn, batch)
  canonical = np.asarray(canonicalize(learned, *args))
  if not np.isfinite(canonical).all():
    return None
  if np.std(canonical) <= CONSTANT_TOLERANCE * max(1.0, float(np.abs(canonical).max())):
    return None
  return float(pearson_distance(canonical, canonicalize(true, *args)))


def reward_metrics(fn, data: dict, batch: int = 4096, true_fn=None, gamma: float = 0.99) -> dict:
  """Metrics of fn(obs [B, obs_dim], action [B, act_dim], next_obs) -> [B] on `data`.

  On the candidate grid [S, N]: offset-free pearson / spearman, preference_accuracy, and
  centered_distance (the per-state-centered Pearson distance; not EPIC, since each
  candidate has its own next state); return_spearman over the episodes; with the task's
  true_fn (efjax.envs.brax_rewards), epic (transition_epic, discount gamma).
  """
  apply = _batched(fn, batch)

  s, n = data["grid_action"].shape[:2]
  obs = np.repeat(data["grid_obs"], n, axis=0)
  learned = apply(obs, data["grid_action"].reshape(s * n, -1),
                  data["grid_next_obs"].reshape(s * n, -1)).reshape(s, n)
  true = data["grid_reward"]
  varies = np.std(true - true.mean(1, keepdims=True)) > 1e-6
  grid = reward_quality(learned, true)
  grid["centered_distance"] = grid.pop("epic")
  out = ({k: (v if np.isfinite(v) else None) for k, v in grid.items()} if varies
         else dict.fromkeys(grid))
  e, l = data["valid"].shape
  flat = lambda x: x.reshape((e * l,) + x.shape[2:])  # noqa: E731
  r = apply(flat(data["obs"]), flat(data["action"]), flat(data["next_obs"])).reshape(e, l)
  r = np.where(data["valid"], r, 0.0)
  true_ret = (data["reward"] * data["valid"]).sum(1)
  out["return_spearman"] = float(spearman(true_ret, r.sum(1)))
  out["nonfinite"] = int((~np.isfinite(learned)).sum() + (~np.isfinite(r)).sum())
  out["epic"] = None if true_fn is None else transition_epic(fn, data, true_fn, gamma)
  return out
