"""One registry per kind of plug-in (models, datasets, attribution methods, studies).

A decorator fills a dict, a duplicate name raises, ``create``/``available`` sit on top. Unknown
names raise :class:`UserError` naming the closest registered names.
"""
from __future__ import annotations

import difflib
from typing import Callable, Generic, Iterator, TypeVar

from .errors import UserError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> entry map for one kind of plug-in (``kind`` is used in error messages)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"duplicate {self.kind} name {name!r}")
        self._entries[name] = entry
        return entry

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise UserError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}?" if close else f"known: {', '.join(sorted(self._entries))}."
        return f"Unknown {self.kind} {name!r}; {hint}"

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def items(self):
        return self._entries.items()


def decorator(registry: Registry, make_entry: Callable[..., T]):
    """Build a ``@register(name, ...)`` decorator that stores ``make_entry(fn, name, ...)``."""

    def register(name: str, **meta):
        def wrap(fn):
            registry.add(name, make_entry(fn, name, **meta))
            return fn

        return wrap

    return register
