"""Brax expert rollouts -> demo-file fields.

    policy = lambda obs, key: act(agent, obs, key)          # [N, obs_dim] -> [N, act_dim]
    arrays = rollout_numpy(brax_env, policy, key, num_episodes=50, episode_length=1000)
    demos = to_demo_fields(arrays)                          # demo-file fields (ARCHITECTURE.md)

(efjax.policy.rollout runs the episodes; an episode that terminates early is cut at
its first `done`, and the steps after it are never written.)
"""
import numpy as np

from efjax.policy.rollout import episode_returns


def to_demo_fields(arrays: dict) -> dict:
  """Rollout arrays -> demo-file fields (observations, actions, rewards, episode_ends)
  plus `episode_returns` [E] and `expert_return` (their mean), float32."""
  lengths = arrays["valid"].sum(axis=1)
  keep = lambda x: np.concatenate([x[i, :n] for i, n in enumerate(lengths)])  # noqa: E731
  returns = np.asarray(episode_returns(arrays))
  return {"observations": keep(arrays["observations"]).astype(np.float32),
          "actions": keep(arrays["actions"]).astype(np.float32),
          "rewards": keep(arrays["rewards"]).astype(np.float32),
          "episode_ends": np.cumsum(lengths).astype(np.int64),
          "episode_returns": returns.astype(np.float32),
          "expert_return": np.float32(returns.mean())}
