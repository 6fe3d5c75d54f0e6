"""The `--config=FILE.py:ARG` argument every config takes: `[name][,flag,...]`.

    name, flags = parse_arg(arg, "ppo.py", names=ENVS, flags=("smoke",), default="inverted_pendulum")

`name` picks a task or environment (configs without one take only flags), `flags`
variants such as `smoke` (seconds-long, for tests) or `cpu` (the 2-core CPU budget).
An unknown name or flag is one ConfigError listing the valid ones.
"""
import copy
from typing import Callable, Iterable

from efjax.errors import ConfigError


def parse_arg(arg: str, config_file: str, *, names: Iterable[str] | Callable | None = None,
              what: str = "name", flags: Iterable[str] = (), default: str = "",
              exclusive: bool = False):
  """(name, frozenset of flags) of a config argument.

  names: the valid names (or a function that raises for an invalid one); None: the
  config takes no name, only flags. what: what a name is, for the error ("env", "task").
  exclusive: at most one flag.
  """
  parts = [p.strip() for p in arg.split(",")] if arg else []
  flags = tuple(flags)
  if names is None:
    name, given = "", [p for p in parts if p]
  else:
    name, given = (parts[0] or default if parts else default), [p for p in parts[1:] if p]
    if callable(names):
      names(name)
    elif name not in tuple(names):
      raise ConfigError(f"unknown {what} {name!r}; valid: {', '.join(names)} "
                        f"({config_file})")
  unknown = [f for f in given if f not in flags]
  if unknown:
    raise ConfigError(f"unknown variant {unknown[0]!r} of {config_file}; valid: "
                      f"{', '.join(flags) if flags else 'none'}")
  if exclusive and len(given) > 1:
    raise ConfigError(f"{config_file}:{arg}: at most one of {', '.join(flags)}")
  return name, frozenset(given)


def with_overrides(config, overrides: dict):
  """A copy of a config with {dotted key: value} overrides applied (as the
  `--config.<key>=<value>` flags of the command it stands for would)."""
  config = copy.deepcopy(config)
  config.unlock()
  for key, value in overrides.items():
    *path, leaf = key.split(".")
    node = config
    for part in path:
      node = node[part]
    node[leaf] = value
  return config
