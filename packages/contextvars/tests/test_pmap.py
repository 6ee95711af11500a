"""The persistent map behind the contexts, checked against a dict model."""

from __future__ import annotations

import random
from typing import Any

import pytest

from treadle.contextvars import ContextVar
from treadle.contextvars._pmap import (
    ABSENT,
    SMALL_MAX,
    Hamt,
    PMap,
    map_delete,
    map_equal,
    map_items,
    map_keys,
    map_set,
    map_values,
    new_hkey,
)


def check(m: PMap, model: dict[Any, Any]) -> None:
    assert len(m) == len(model)
    assert dict(map_items(m)) == model
    assert set(map_keys(m)) == set(model)
    assert sorted(map_values(m)) == sorted(model.values())
    for key, value in model.items():
        assert m.get(key, ABSENT) == value


def test_keys_are_unique() -> None:
    keys = {new_hkey() for _ in range(10_000)}
    assert len(keys) == 10_000
    assert all(0 <= k < 2**64 for k in keys)


def test_small_maps_are_dicts_and_large_ones_tries() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(SMALL_MAX + 1)]
    m: PMap = {}
    for i, var in enumerate(variables[:SMALL_MAX]):
        m = map_set(m, var, i)
    assert type(m) is dict
    m = map_set(m, variables[-1], -1)
    assert isinstance(m, Hamt)
    check(m, {var: i for i, var in enumerate(variables[:SMALL_MAX])} | {variables[-1]: -1})


def test_set_never_changes_the_old_map() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(200)]
    maps: list[PMap] = [{}]
    models: list[dict[Any, Any]] = [{}]
    for i, var in enumerate(variables):
        maps.append(map_set(maps[-1], var, i))
        models.append({**models[-1], var: i})
    for m, model in zip(maps, models, strict=True):
        check(m, model)


@pytest.mark.parametrize("seed", range(5))
def test_random_operations_match_a_dict(seed: int) -> None:
    rng = random.Random(seed)
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(300)]
    m: PMap = {}
    model: dict[Any, Any] = {}
    history: list[tuple[PMap, dict[Any, Any]]] = []
    for step in range(3000):
        var = rng.choice(variables)
        if rng.random() < 0.6:
            m = map_set(m, var, step)
            model[var] = step
        else:
            m = map_delete(m, var)
            model.pop(var, None)
        if step % 100 == 0:
            check(m, model)
            history.append((m, dict(model)))
    check(m, model)
    for old, old_model in history:
        check(old, old_model)


def test_delete_everything() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(500)]
    m: PMap = {}
    for i, var in enumerate(variables):
        m = map_set(m, var, i)
    for var in variables:
        m = map_delete(m, var)
    assert len(m) == 0
    assert list(map_items(m)) == []


def test_delete_absent_and_set_identical_return_the_same_map() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(50)]
    m: PMap = {}
    value = object()
    for var in variables[:40]:
        m = map_set(m, var, value)
    assert isinstance(m, Hamt)
    assert map_delete(m, variables[45]) is m
    assert map_set(m, variables[0], value) is m
    small: PMap = map_set({}, variables[0], 1)
    assert map_delete(small, variables[1]) is small


def test_lookup_cache_is_per_map_version() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(40)]
    m1: PMap = {}
    for i, var in enumerate(variables):
        m1 = map_set(m1, var, i)
    m2 = map_set(m1, variables[0], 100)
    for _ in range(2):  # the second round reads from the cache
        assert m1.get(variables[0], ABSENT) == 0
        assert m2.get(variables[0], ABSENT) == 100


def test_equality_across_forms() -> None:
    variables: list[ContextVar[int]] = [ContextVar(f"v{i}") for i in range(SMALL_MAX + 5)]
    big: PMap = {}
    for i, var in enumerate(variables):
        big = map_set(big, var, i)
    for var in variables[SMALL_MAX:]:
        big = map_delete(big, var)
    assert isinstance(big, Hamt)
    small: PMap = {var: i for i, var in enumerate(variables[:SMALL_MAX])}
    assert map_equal(big, small)
    assert map_equal(small, big)
    assert not map_equal(big, map_set(small, variables[0], -1))
    assert not map_equal(big, map_delete(small, variables[0]))
