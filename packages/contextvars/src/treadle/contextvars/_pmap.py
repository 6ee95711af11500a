"""The persistent map that holds the values of treadle's context variables.

A map is never changed once it has been published: setting or deleting a key makes a
new map that shares most of its structure with the old one, so copying a context is
taking a reference (O(1)) and a task that sets a variable cannot disturb its parent.

Two representations, chosen by size, behind the same few functions:

* Up to ``SMALL_MAX`` keys, a plain ``dict`` that is copied on every change. Copying a
  dict of a few keys is a single C call, faster than any tree written in Python, and a
  lookup is one ``dict.get``; the copy is bounded by ``SMALL_MAX``, so it is O(1).
* Above that, :class:`Hamt`: a hash array mapped trie of 32-way nodes, O(log32 n) to
  look up, set or delete. Nodes are tuples ``(bitmap, entries)``; an entry is either a
  leaf ``(key, value)`` or a child node, told apart by the type of its first item (a
  bitmap is an ``int``, a key is a context variable).

Keys are treadle context variables only. Each carries ``_hkey``, a 64-bit number unique
to it (an odd multiple of a counter, so two variables never share one): the trie never
has to handle two keys with the same hash, and keys are compared by identity. Each also
carries ``_cache``, the last value looked up for it in a trie, keyed by the trie's
version number (a counter, never reused, so the cache keeps no map alive).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, Protocol

__all__ = [
    "ABSENT",
    "SMALL_MAX",
    "Hamt",
    "Key",
    "PMap",
    "map_delete",
    "map_equal",
    "map_items",
    "map_keys",
    "map_promote",
    "map_set",
    "map_values",
    "new_hkey",
]

SMALL_MAX = 16
_HKEY_MASK = (1 << 64) - 1
_HKEY_MULT = 0x9E3779B97F4A7C15  # odd: multiplying by it permutes the 64-bit numbers


class _Absent:
    """The marker for a key that is not in a map."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()

_hkeys = itertools.count(1)
_versions = itertools.count(1)


def new_hkey() -> int:
    """Return a fresh 64-bit trie key, different from every other one handed out."""
    return (next(_hkeys) * _HKEY_MULT) & _HKEY_MASK


class Key(Protocol):
    """What the map needs from its keys (treadle's context variables)."""

    _hkey: int
    _cache: tuple[int, Any]


# A node is (bitmap, entries); an entry is a leaf (key, value) or a node.
_Node = tuple[int, tuple[Any, ...]]


def _lookup(node: _Node, h: int, key: object) -> Any:
    shift = 0
    while True:
        bitmap, entries = node
        bit = 1 << ((h >> shift) & 31)
        if not bitmap & bit:
            return ABSENT
        entry = entries[(bitmap & (bit - 1)).bit_count()]
        first = entry[0]
        if type(first) is int:
            node = entry
            shift += 5
        elif first is key:
            return entry[1]
        else:
            return ABSENT


def _pair(shift: int, e1: tuple[Any, Any], h1: int, e2: tuple[Any, Any], h2: int) -> _Node:
    """Return the smallest subtrie holding the two leaves (whose keys differ)."""
    if shift >= 64:  # pragma: no cover - two variables never share a 64-bit key
        raise AssertionError("two context variables have the same key")
    i1 = (h1 >> shift) & 31
    i2 = (h2 >> shift) & 31
    if i1 == i2:
        return (1 << i1, (_pair(shift + 5, e1, h1, e2, h2),))
    if i1 < i2:
        return ((1 << i1) | (1 << i2), (e1, e2))
    return ((1 << i1) | (1 << i2), (e2, e1))


def _assoc(node: _Node, shift: int, h: int, key: Key, value: object) -> tuple[_Node, bool]:
    """Return *node* with *key* set to *value*, and whether the trie grew."""
    bitmap, entries = node
    bit = 1 << ((h >> shift) & 31)
    idx = (bitmap & (bit - 1)).bit_count()
    if not bitmap & bit:
        return (bitmap | bit, (*entries[:idx], (key, value), *entries[idx:])), True
    entry = entries[idx]
    first = entry[0]
    grew = False
    if type(first) is int:
        sub, grew = _assoc(entry, shift + 5, h, key, value)
        if sub is entry:
            return node, False
        new_entry: Any = sub
    elif first is key:
        if entry[1] is value:
            return node, False
        new_entry = (key, value)
    else:
        new_entry = _pair(shift + 5, entry, first._hkey, (key, value), h)
        grew = True
    return (bitmap, (*entries[:idx], new_entry, *entries[idx + 1 :])), grew


def _without(node: _Node, shift: int, h: int, key: object) -> _Node | None:
    """Return *node* without *key* (``None`` if that leaves it empty)."""
    bitmap, entries = node
    bit = 1 << ((h >> shift) & 31)
    if not bitmap & bit:
        return node
    idx = (bitmap & (bit - 1)).bit_count()
    entry = entries[idx]
    first = entry[0]
    if type(first) is int:
        sub = _without(entry, shift + 5, h, key)
        if sub is entry:
            return node
        new_entry: Any = sub
        if sub is not None and len(sub[1]) == 1 and type(sub[1][0][0]) is not int:
            new_entry = sub[1][0]  # a child left with one leaf: keep the leaf itself
        if new_entry is not None:
            return (bitmap, (*entries[:idx], new_entry, *entries[idx + 1 :]))
    elif first is not key:
        return node
    if bitmap == bit:
        return None
    return (bitmap & ~bit, entries[:idx] + entries[idx + 1 :])


def _iter_leaves(node: _Node) -> Iterator[tuple[Any, Any]]:
    for entry in node[1]:
        if type(entry[0]) is int:
            yield from _iter_leaves(entry)
        else:
            yield entry


class Hamt:
    """An immutable map from context variables to values, for more than a few keys."""

    __slots__ = ("_root", "_size", "_ver")

    _root: _Node
    _size: int
    _ver: int

    def get(self, key: Key, default: Any) -> Any:
        """Return the value of *key*, or *default* when it has none."""
        cache = key._cache
        if cache[0] == self._ver:
            value = cache[1]
        else:
            value = _lookup(self._root, key._hkey, key)
            key._cache = (self._ver, value)
        return default if value is ABSENT else value

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        for k, _ in _iter_leaves(self._root):
            yield k

    def items(self) -> Iterator[tuple[Any, Any]]:
        """Iterate over the ``(key, value)`` pairs."""
        return _iter_leaves(self._root)

    def values(self) -> Iterator[Any]:
        """Iterate over the values."""
        for _, v in _iter_leaves(self._root):
            yield v

    def __repr__(self) -> str:
        return f"<Hamt size={self._size} ver={self._ver}>"


def _hamt(root: _Node, size: int) -> Hamt:
    m = Hamt()
    m._root = root
    m._size = size
    m._ver = next(_versions)
    return m


# Either representation; both have get(key, default), len(), iteration over keys.
PMap = dict[Any, Any] | Hamt


def map_set(m: PMap, key: Key, value: object) -> PMap:
    """Return a new map: *m* with *key* set to *value*."""
    if type(m) is dict:
        d = m.copy()
        d[key] = value
        return map_promote(d) if len(d) > SMALL_MAX else d
    assert isinstance(m, Hamt)
    root, grew = _assoc(m._root, 0, key._hkey, key, value)
    if root is m._root:
        return m
    return _hamt(root, m._size + 1 if grew else m._size)


def map_promote(d: dict[Any, Any]) -> Hamt:
    """Return a trie holding the items of *d* (a small map that outgrew its form)."""
    root: _Node = (0, ())
    for k, v in d.items():
        root, _ = _assoc(root, 0, k._hkey, k, v)
    return _hamt(root, len(d))


def map_delete(m: PMap, key: Key) -> PMap:
    """Return a new map: *m* without *key* (*m* itself when the key is absent)."""
    if type(m) is dict:
        if key not in m:
            return m
        d = m.copy()
        del d[key]
        return d
    assert isinstance(m, Hamt)
    root = _without(m._root, 0, key._hkey, key)
    if root is m._root:
        return m
    if root is None:
        return {}
    return _hamt(root, m._size - 1)


def map_keys(m: PMap) -> Iterator[Any]:
    """Iterate over the keys of *m*."""
    return iter(m)


def map_items(m: PMap) -> Iterator[tuple[Any, Any]]:
    """Iterate over the ``(key, value)`` pairs of *m*."""
    return iter(m.items())


def map_values(m: PMap) -> Iterator[Any]:
    """Iterate over the values of *m*."""
    return iter(m.values())


def map_equal(a: PMap, b: PMap) -> bool:
    """Whether two maps hold the same keys with equal values."""
    if a is b:
        return True
    if len(a) != len(b):
        return False
    # Both maps are immutable: a value's __eq__ may set variables, it cannot disturb us.
    for k, v in list(map_items(a)):
        w = b.get(k, ABSENT)
        if w is ABSENT or not (w is v or w == v):
            return False
    return True
