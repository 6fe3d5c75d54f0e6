"""Name -> object registries: duplicates are refused, unknown names list the valid ones.

Names come from configs, so an unknown one is the user's error (ConfigError).
"""
from typing import Generic, Iterator, TypeVar

from efjax.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
  """A small mapping from names to objects for schedules, samplers, backbones, rewards."""

  def __init__(self, kind: str):
    self.kind = kind
    self._items: dict[str, T] = {}

  def register(self, name: str, item: T | None = None):
    """`registry.register(name, item)`, or `@registry.register(name)` as a decorator."""
    if item is None:
      return lambda obj: self.register(name, obj)
    if name in self._items:
      raise ValueError(f"{self.kind} {name!r} is already registered")
    self._items[name] = item
    return item

  def get(self, name: str) -> T:
    try:
      return self._items[name]
    except KeyError:
      raise ConfigError(f"unknown {self.kind} {name!r}; valid: {', '.join(self.names())}") from None

  def names(self) -> list[str]:
    return sorted(self._items)

  def __contains__(self, name: str) -> bool:
    return name in self._items

  def __iter__(self) -> Iterator[str]:
    return iter(self.names())
