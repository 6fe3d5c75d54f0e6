"""Held-out transitions for judging a learned reward against a brax env's true one.

`heldout_transitions(env, expert, key, ...)` runs expert episodes whose actions are
replaced, with probability p (one p per episode, over `noise_levels`), by uniform
random ones, and at every `stride`-th step also tries `num_candidates` actions
from the same simulator state (the one actually taken, then uniform random ones),
recording each candidate's s' and true reward. Then `reward_metrics(fn, data)`
gives, for a learned `fn(obs, action, next_obs) -> [B]`:

- on the candidate grid [S, N] (same state, different actions): offset-free
  Pearson / Spearman, preference accuracy and EPIC with gamma = 0
  (efjax.reward_metrics); None where the true reward does not vary with the action
  (inverted_pendulum pays 1 per step whatever the action);
- `return_spearman`: rank correlation of the learned and true returns of the
  episodes (graded quality), the pipeline's reward-stage measure.
"""
import jax
import jax.numpy as jnp
import numpy as np

from efjax.reward_metrics import reward_quality


def heldout_transitions(env, policy, key, noise_levels, episodes_per_level: int,
                        episode_length: int, num_candidates: int, stride: int) -> dict:
  """env: an unwrapped brax env; policy(obs [E, obs_dim], key) -> [E, act_dim].

  Returns numpy: obs/action/next_obs [E, L, ...], reward, valid [E, L];
  grid_obs [S, obs_dim], grid_action [S, N, act_dim], grid_next_obs [S, N, obs_dim],
  grid_reward [S, N] (S = valid states at every stride-th step).
  """
  levels = jnp.repeat(jnp.asarray(noise_levels, jnp.float32), episodes_per_level)
  e, act_dim, n = levels.shape[0], env.action_size, num_candidates
  k_reset, k_run = jax.random.split(key)

  @jax.jit
  def run(k_reset, k_run):
    state = jax.vmap(env.reset)(jax.random.split(k_reset, e))

    def body(carry, k):
      state, alive = carry
      k_pol, k_mix, k_rand, k_cand = jax.random.split(k, 4)
      rand = jax.random.uniform(k_rand, (e, act_dim), minval=-1.0, maxval=1.0)
      use_rand = jax.random.uniform(k_mix, (e,)) < levels
      action = jnp.where(use_rand[:, None], rand, jnp.clip(policy(state.obs, k_pol), -1, 1))
      nxt = jax.vmap(env.step)(state, action)
      cand = jax.random.uniform(k_cand, (e, n - 1, act_dim), minval=-1.0, maxval=1.0)
      cand = jnp.concatenate([action[:, None], cand], axis=1)             # [E, N, A]
      tries = jax.vmap(jax.vmap(env.step, (None, 0)), (0, 0))(state, cand)
      out = (state.obs, action, nxt.obs, nxt.reward, alive, cand, tries.obs, tries.reward)
      return (nxt, alive & (nxt.done == 0)), out

    _, out = jax.lax.scan(body, (state, jnp.ones((e,), bool)),
                          jax.random.split(k_run, episode_length))
    return jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), out)       # [E, L, ...]

  obs, action, next_obs, reward, valid, cand, cand_next, cand_r = jax.device_get(
      run(k_reset, k_run))
  pick = valid.copy()
  pick[:, np.arange(episode_length) % stride != 0] = False
  return {"obs": obs, "action": action, "next_obs": next_obs, "reward": reward, "valid": valid,
          "noise_level": np.asarray(levels), "grid_obs": obs[pick], "grid_action": cand[pick],
          "grid_next_obs": cand_next[pick], "grid_reward": cand_r[pick]}


def _ranks(x):
  return np.argsort(np.argsort(x)).astype(np.float64)


def reward_metrics(fn, data: dict, batch: int = 4096) -> dict:
  """Metrics of fn(obs [B, obs_dim], action [B, act_dim], next_obs) -> [B] on `data`."""
  def apply(o, a, n):
    out = [np.asarray(fn(o[i:i + batch], a[i:i + batch], n[i:i + batch]))
           for i in range(0, len(o), batch)]
    return np.concatenate(out)

  s, n = data["grid_action"].shape[:2]
  obs = np.repeat(data["grid_obs"], n, axis=0)
  learned = apply(obs, data["grid_action"].reshape(s * n, -1),
                  data["grid_next_obs"].reshape(s * n, -1)).reshape(s, n)
  true = data["grid_reward"]
  varies = np.std(true - true.mean(1, keepdims=True)) > 1e-6
  out = ({k: (v if np.isfinite(v) else None) for k, v in reward_quality(learned, true).items()}
         if varies else {"pearson": None, "spearman": None, "preference_accuracy": None,
                         "epic": None})
  e, l = data["valid"].shape
  flat = lambda x: x.reshape((e * l,) + x.shape[2:])  # noqa: E731
  r = apply(flat(data["obs"]), flat(data["action"]), flat(data["next_obs"])).reshape(e, l)
  r = np.where(data["valid"], r, 0.0)
  true_ret = (data["reward"] * data["valid"]).sum(1)
  out["return_spearman"] = float(np.corrcoef(_ranks(true_ret), _ranks(r.sum(1)))[0, 1])
  out["nonfinite"] = int((~np.isfinite(learned)).sum() + (~np.isfinite(r)).sum())
  return out
