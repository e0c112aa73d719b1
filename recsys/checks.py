"""Argument checks shared by the whole package, so every public function fails the same way.

One exception type per kind of mistake:

* ``TypeError``: the value has the wrong *type* (a float where an integer count is needed, a
  string where a number is, ``True`` where a number is: booleans are never numbers here; float
  or boolean arrays where integer indices are needed).
* ``ValueError``: the type is right but the *value* is not allowed (out of range, not finite,
  not one of the options, an array of the wrong shape, repeated indices where each must appear
  once).
* :class:`IndexOutOfRangeError`: a user or item *index* outside what it indexes (``[0, n)``, or
  ``[-1, n)`` where ``-1`` marks an id the model never saw). It is both an ``IndexError`` (what
  indexing raises) and a ``ValueError`` (a wrong value), as numpy's ``AxisError`` is, so callers
  may catch either; a negative index is refused rather than left to wrap around to the last row.

Arrays of user or item indices go through :func:`check_indices`, the one place that validates
them (models' ``score``/``predict``, the evaluation).

Every message names the argument and shows the value it got, e.g.
``factors must be an integer >= 1, got 0`` or ``users: user index 40 out of range for 30 users``. The notebook parameter checks
(:mod:`recsys.notebook.params`) build on these with ``name="parameter 'k'"``.

This module is the bottom floor of the package: it imports nothing from ``recsys``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "IndexOutOfRangeError",
    "check_choice",
    "check_flag",
    "check_fraction",
    "check_indices",
    "check_integer",
    "check_non_negative",
    "check_number",
    "check_positive",
    "check_seed",
    "random_generator",
    "is_integer",
    "is_real",
    "to_jsonable",
]


def is_integer(value: Any) -> bool:
    """True for Python and numpy integers, False for booleans."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def is_real(value: Any) -> bool:
    """True for Python and numpy real numbers (integers included), False for booleans."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _bounds(minimum, maximum, exclusive: bool) -> str:
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if exclusive else '>='} {minimum:g}" if is_real(minimum) else f">= {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if exclusive else '<='} {maximum:g}" if is_real(maximum) else f"<= {maximum}")
    return " and ".join(parts)


def check_integer(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if it is an integer within ``[minimum, maximum]``.

    Raises ``TypeError`` for a non-integer (``2.0`` and ``True`` included), ``ValueError`` when
    it is out of range.
    """
    bounds = _bounds(minimum, maximum, False)
    expected = "an integer" + (f" {bounds}" if bounds else "")
    if not is_integer(value):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value)


def check_number(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive: bool = False,
) -> float:
    """``value`` as a ``float`` if it is a finite real number within the bounds.

    ``exclusive=True`` makes both bounds open. ``TypeError`` for a non-number, ``ValueError`` for
    NaN, infinity or a value out of range.
    """
    bounds = _bounds(minimum, maximum, exclusive)
    expected = "a finite number" + (f" {bounds}" if bounds else "")
    if not is_real(value):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if exclusive:
        bad = (minimum is not None and value <= minimum) or (maximum is not None and value >= maximum)
    else:
        bad = (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
    if bad:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def check_positive(**values: Any) -> None:
    """Check that every keyword value is a finite number > 0 (the keyword names the argument)."""
    for name, value in values.items():
        check_number(name, value, 0, exclusive=True)


def check_non_negative(**values: Any) -> None:
    """Check that every keyword value is a finite number >= 0."""
    for name, value in values.items():
        check_number(name, value, 0)


def check_fraction(name: str, value: Any, *, closed: bool = False) -> float:
    """A share: strictly between 0 and 1 (or within [0, 1] with ``closed=True``)."""
    return check_number(name, value, 0, 1, exclusive=not closed)


def check_choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options`` (``ValueError`` listing them otherwise)."""
    options = tuple(options)
    try:
        ok = value in options
    except TypeError:  # unhashable or incomparable
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}, got {value!r}")
    return value


def check_flag(name: str, value: Any) -> bool:
    """``value`` if it is ``True`` or ``False`` (numpy booleans too); ``TypeError`` otherwise."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_seed(name: str, value: Any) -> int | np.random.Generator | None:
    """A seed: ``None``, an integer >= 0, or a ``numpy.random.Generator``."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    return check_integer(name, value, minimum=0)


def random_generator(seed: Any, name: str = "random_state") -> np.random.Generator:
    """``numpy.random.default_rng(seed)`` after :func:`check_seed`, so a bad seed is named."""
    return np.random.default_rng(check_seed(name, seed))


class IndexOutOfRangeError(IndexError, ValueError):
    """A user or item index outside what it indexes (an ``IndexError`` and a ``ValueError``)."""


def check_indices(
    name: str,
    values: Any,
    n: int,
    *,
    kind: str = "item",
    unknown: bool = False,
    flatten: bool = False,
    unique: bool = False,
) -> np.ndarray:
    """``values`` as a 1-D int64 array of ``kind`` indices into ``n`` users or items.

    ``TypeError`` when they are not integers (floats and booleans included; an empty array of any
    dtype passes), ``ValueError`` when the array is not 1-D (``flatten=True`` ravels any shape
    instead, a scalar included) or, with ``unique=True``, holds an index twice, and
    :class:`IndexOutOfRangeError` for an index outside ``[0, n)``, or ``[-1, n)`` with
    ``unknown=True`` (``-1`` = an id the model never saw, see
    :meth:`recsys.interactions.IdMap.user_index`).
    """
    array = np.asarray(values)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        marker = " (-1 = unknown)" if unknown else ""
        raise TypeError(f"{name} must be integer {kind} indices{marker}, got dtype {array.dtype}")
    if flatten:
        array = array.ravel()
    elif array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of {kind} indices, got shape {array.shape}")
    array = array.astype(np.int64, copy=False)
    low = -1 if unknown else 0
    bad = (array < low) | (array >= n)
    if bad.any():
        allowed = f" (-1 marks an unknown {kind})" if unknown else ""
        raise IndexOutOfRangeError(f"{name}: {kind} index {array[bad][0]} out of range for {n} {kind}s{allowed}")
    if unique and np.unique(array).size != array.size:
        raise ValueError(f"{name} holds repeated {kind} indices; each {kind} must appear once")
    return array


def to_jsonable(value: Any, *, fallback=None) -> Any:
    """``value`` with numpy scalars and arrays, tuples and pandas objects as plain JSON types.

    Non-finite floats become ``None`` (JSON has no NaN). Anything else that JSON cannot hold is a
    ``TypeError`` naming its type, unless ``fallback`` (``repr``, say) is given to convert it.
    """
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, fallback=fallback) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, fallback=fallback) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist(), fallback=fallback)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "to_dict"):  # pandas Series / DataFrame
        return to_jsonable(value.to_dict(), fallback=fallback)
    if fallback is not None:
        return fallback(value)
    raise TypeError(
        f"cannot convert a value of type {type(value).__name__} to JSON; use numbers, strings, lists or dicts"
    )
