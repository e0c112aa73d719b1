"""Checks for notebook parameters, so a bad value fails at the top of a notebook with a clear message.

Each notebook's first cell after its ``parameters`` cell calls these, e.g.::

    params.choice("dataset", dataset, recsys.datasets.NAMES)
    params.integer("k_core", k_core, minimum=0)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use."""


def _fail(name: str, expected: str, value: Any) -> None:
    raise ParameterError(f"parameter {name!r} must be {expected}, got {value!r}")


def choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options``."""
    options = list(options)
    if value not in options:
        _fail(name, "one of " + ", ".join(repr(o) for o in options), value)
    return value


def _bounds(minimum, maximum, exclusive: bool) -> str:
    lo = ">" if exclusive else ">="
    hi = "<" if exclusive else "<="
    parts = []
    if minimum is not None:
        parts.append(f"{lo} {minimum}")
    if maximum is not None:
        parts.append(f"{hi} {maximum}")
    return " and ".join(parts)


def integer(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` if it is an integer within [minimum, maximum]."""
    expected = "an integer" + (" " + _bounds(minimum, maximum, False) if minimum is not None or maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(name, expected, value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        _fail(name, expected, value)
    return int(value)


def number(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive: bool = False,
) -> float:
    """``value`` if it is a finite real number within the bounds (open bounds with ``exclusive``)."""
    expected = "a number" + (" " + _bounds(minimum, maximum, exclusive) if minimum is not None or maximum is not None else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        _fail(name, expected, value)
    if exclusive:
        bad = (minimum is not None and value <= minimum) or (maximum is not None and value >= maximum)
    else:
        bad = (minimum is not None and value < minimum) or (maximum is not None and value > maximum)
    if bad:
        _fail(name, expected, value)
    return float(value)


def integers(name: str, values: Any, minimum: int | None = None, maximum: int | None = None) -> list[int]:
    """``values`` if it is a non-empty list of integers within the bounds (a sweep grid, say)."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        _fail(name, "a non-empty list of integers", values)
    return [integer(f"{name}[{i}]", v, minimum, maximum) for i, v in enumerate(values)]


def numbers_list(
    name: str, values: Any, minimum: float | None = None, maximum: float | None = None, *, exclusive: bool = False
) -> list[float]:
    """``values`` if it is a non-empty list of numbers within the bounds."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        _fail(name, "a non-empty list of numbers", values)
    return [number(f"{name}[{i}]", v, minimum, maximum, exclusive=exclusive) for i, v in enumerate(values)]


def boolean(name: str, value: Any) -> bool:
    """``value`` if it is True or False."""
    if not isinstance(value, bool):
        _fail(name, "True or False", value)
    return value


def grid(name: str, value: Any) -> dict[str, list]:
    """``value`` if it is a hyperparameter grid: a non-empty dict of non-empty lists."""
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, list) and v for k, v in value.items())
    ):
        _fail(name, "a dict of non-empty lists (a hyperparameter grid)", value)
    return value
