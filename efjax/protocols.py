"""Evaluation protocols as data: the seeds, episode counts and start rules of each suite.

    pid = protocol_id("metaworld/ood", settings)    # 'metaworld/ood@1', or 'custom:<hash>'

Every evaluation result records the protocol it followed (`protocol`) with the settings
that identify it (`protocol_settings`): two results are comparable exactly when they
name the same protocol. A protocol's record never changes; a change is a new version.
Settings that match no registered version (a user's own episode count, say) give
`custom:<hash of the settings>`, comparable only with results of the same settings.
"""
import hashlib
import json

from efjax.errors import ConfigError

# name -> {version: record}. `settings` are what a result must match; the rest says how.
PROTOCOLS = {
    "metaworld/in_range": {1: {
        "settings": {"num_episodes": 50, "seed": 1_000_000, "sampler_seed": 0,
                     "action_steps": 8, "ood": False},
        "starts": "episode i resets the task with seed seed + i (Meta-World's own object "
                  "and goal box); one success ends it; max_path_length steps otherwise"}},
    "metaworld/ood": {1: {
        "settings": {"num_episodes": 50, "seed": 1_000_000, "sampler_seed": 0,
                     "action_steps": 8, "ood": True, "ood_scale": 1.5,
                     "ood_expert_solvable": True},
        "starts": "object and goal drawn from the box widened ood_scale x about its centre, "
                  "outside the original box; the first num_episodes seeds from seed whose "
                  "start the scripted expert solves"}},
    "robomimic": {1: {
        "settings": {"num_episodes": 50, "seed": 100_000, "sampler_seed": 0, "action_steps": 8},
        "starts": "episode i: numpy's global seed seed + i before reset (robosuite's own "
                  "placement); at most eval.max_steps steps, robomimic's horizon per task"}},
    "brax/deterministic": {1: {
        "settings": {"eval_envs": 16, "key_offset": 1},
        "starts": "eval_envs episodes from jax.random.key(seed + key_offset), the agent's "
                  "deterministic action, the env's episode_length, cut at the first done"}},
}


def protocol_id(name: str, settings: dict) -> str:
  """'name@version' of the registered version whose settings all equal these (the
  newest first), or 'custom:<12-hex hash>'. ConfigError for an unknown suite name."""
  if name not in PROTOCOLS:
    raise ConfigError(f"unknown evaluation protocol {name!r}; valid: {', '.join(PROTOCOLS)}")
  for version, record in sorted(PROTOCOLS[name].items(), reverse=True):
    if all(settings.get(k) == v for k, v in record["settings"].items()):
      return f"{name}@{version}"
  text = json.dumps({"protocol": name, **settings}, sort_keys=True, default=str)
  return "custom:" + hashlib.sha256(text.encode()).hexdigest()[:12]


def check_protocol(pid, where: str) -> str:
  """pid itself when it names a registered version or a custom hash; ConfigError naming
  `where` otherwise (a result from a newer efjax, or a hand-edited one)."""
  if isinstance(pid, str) and pid.startswith("custom:"):
    return pid
  name, _, version = str(pid).partition("@")
  if name not in PROTOCOLS or not version.isdigit() or int(version) not in PROTOCOLS[name]:
    raise ConfigError(f"{where}: unknown evaluation protocol {pid!r} (known: "
                      + ", ".join(f"{n}@{v}" for n, r in PROTOCOLS.items() for v in r) + ")")
  return pid
