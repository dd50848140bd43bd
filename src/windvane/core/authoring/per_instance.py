"""Lean operator storage: defaults live on the class, mutable ones are made on first read.

A wide DAG holds thousands of operators, and most of their arguments keep their defaults. An
operator stores in its own ``__dict__`` only the values that differ from what its class holds
(:func:`keep`), so reading ``task.retries`` is the plain attribute access it always was, and
CPython's key-sharing instance dictionaries stay small (a few keys, not forty). A mutable default
(``params``, ``upstream_task_ids``) cannot sit on the class, where every instance would share and
mutate one object: :class:`PerInstance` creates it for the instance the first time it is read, so
an operator that never reads it never pays for it, and one that does gets its own, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class PerInstance(Generic[T]):
    """A class attribute whose value is ``factory()``, made per instance on its first read and then
    stored in the instance (a non-data descriptor: an assigned value takes precedence at once)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> PerInstance[T]: ...

    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> T | PerInstance[T]:
        if obj is None:
            return self
        value = self._factory()
        setattr(obj, self._name, value)
        return value


_MISSING = object()


def keep(obj: object, name: str, value: Any) -> None:
    """Set ``obj.name = value`` unless ``obj``'s class already holds an equal value of the same
    type (``True`` is not ``1``, an enum member is itself), or a :class:`PerInstance` that would
    make an equal one (an empty list), so reading it gives ``value`` either way and the instance
    stores only what it changed."""
    default = getattr(type(obj), name, _MISSING)
    if isinstance(default, PerInstance):  # made per instance: compare with what it would make
        made = default._factory()
        if type(made) is type(value) and _equal(made, value) and name not in vars(obj):
            return
        setattr(obj, name, value)
        return
    same = default is value or (type(default) is type(value) and _equal(default, value))
    # Unless the instance holds a value of its own (set before, by a subclass or an earlier call).
    if same and getattr(obj, name, _MISSING) is default:
        return
    setattr(obj, name, value)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # an odd __eq__: store the value, as before
        return False


def seed_instance_keys(cls: type, names: tuple[str, ...]) -> None:
    """Register ``names`` in ``cls``'s shared instance keys before its first instance is made.

    CPython keeps the attribute values of a class's instances in a small array sized by the keys
    the class has seen when the instance is created (plus one once ~30 instances exist). An
    attribute set later, that no earlier instance had (``dag``, ``upstream_task_ids`` set by
    ``>>`` after all tasks of a wide DAG were built), does not fit, and the instance's attributes
    move to a full dictionary of its own (~700 bytes more per task). Setting the names on a
    throwaway instance makes room for them in every later one (8 bytes each).
    """
    try:
        probe: object = object.__new__(cls)
        for name in names:
            object.__setattr__(probe, name, None)
    except Exception:  # only a size optimisation: a class that refuses it works as before
        return
