"""Checks for notebook parameters, so a bad value fails at the top of a notebook with a clear message.

Each notebook's first cell after its ``parameters`` cell calls these, e.g.::

    params.choice("dataset", dataset, recsys.datasets.NAMES)
    params.integer("k_core", k_core, minimum=0)

They are the package-wide checks of :mod:`recsys.checks` with one exception type,
:class:`ParameterError`, whose message names the parameter as the notebook spells it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from recsys import checks


class ParameterError(ValueError):
    """A notebook parameter has a value the notebook cannot use."""


def _checked(check, name: str, *args, **kwargs):
    try:
        return check(f"parameter {name!r}", *args, **kwargs)
    except (TypeError, ValueError) as error:
        raise ParameterError(str(error)) from None


def _assigned_names(source: str) -> list[str]:
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def no_unknown_parameters() -> None:
    """Fail when papermill injected a parameter the notebook does not declare.

    ``papermill nb.ipynb out.ipynb -p kcore 10`` (a typo for ``k_core``) would otherwise run the
    whole notebook with the default ``k_core`` and a stray ``kcore`` variable. Called first in the
    cell after the parameters cell, this finds papermill's injected cell (it starts with
    ``# Parameters``) in the kernel's history and compares its names with those of the cell just
    before it (the notebook's ``parameters`` cell). Outside papermill it does nothing.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    shell = get_ipython()
    history = list(shell.user_ns.get("In", [])) if shell is not None else []
    for position in range(1, len(history)):
        if history[position].lstrip().startswith("# Parameters") and position > 1:
            declared = set(_assigned_names(history[position - 1]))
            unknown = [n for n in _assigned_names(history[position]) if n not in declared]
            if unknown:
                raise ParameterError(
                    f"unknown parameter(s) {', '.join(repr(n) for n in unknown)}: this notebook declares "
                    f"{', '.join(sorted(declared))}"
                )


def choice(name: str, value: Any, options: Iterable[Any]) -> Any:
    """``value`` if it is one of ``options``."""
    return _checked(checks.check_choice, name, value, options)


def integer(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` if it is an integer within [minimum, maximum]."""
    return _checked(checks.check_integer, name, value, minimum, maximum)


def number(
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    exclusive: bool = False,
) -> float:
    """``value`` if it is a finite real number within the bounds (open bounds with ``exclusive``)."""
    return _checked(checks.check_number, name, value, minimum, maximum, exclusive=exclusive)


def optional_number(name: str, value: Any, minimum: float | None = None, maximum: float | None = None) -> float | None:
    """``None``, or a finite number within the bounds (a threshold that may be switched off)."""
    return None if value is None else number(name, value, minimum, maximum)


def _non_empty_list(name: str, values: Any, what: str) -> Sequence:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
        raise ParameterError(f"parameter {name!r} must be a non-empty list of {what}, got {values!r}")
    return values


def integers(name: str, values: Any, minimum: int | None = None, maximum: int | None = None) -> list[int]:
    """``values`` if it is a non-empty list of integers within the bounds (a sweep grid, say)."""
    values = _non_empty_list(name, values, "integers")
    return [integer(f"{name}[{i}]", v, minimum, maximum) for i, v in enumerate(values)]


def numbers_list(
    name: str, values: Any, minimum: float | None = None, maximum: float | None = None, *, exclusive: bool = False
) -> list[float]:
    """``values`` if it is a non-empty list of numbers within the bounds."""
    values = _non_empty_list(name, values, "numbers")
    return [number(f"{name}[{i}]", v, minimum, maximum, exclusive=exclusive) for i, v in enumerate(values)]


def choices(name: str, values: Any, options: Iterable[Any]) -> list:
    """``values`` if it is a non-empty list whose every element is one of ``options``."""
    options = list(options)
    values = _non_empty_list(name, values, "names")
    return [choice(f"{name}[{i}]", v, options) for i, v in enumerate(values)]


def strings(name: str, values: Any) -> list[str]:
    """``values`` if it is a non-empty list of non-empty strings (titles to look up, say)."""
    values = _non_empty_list(name, values, "strings")
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            raise ParameterError(f"parameter {name + f'[{i}]'!r} must be a non-empty string, got {v!r}")
    return list(values)


def boolean(name: str, value: Any) -> bool:
    """``value`` if it is True or False."""
    return _checked(checks.check_flag, name, value)


def grid(name: str, value: Any) -> dict[str, list]:
    """``value`` if it is a hyperparameter grid: a non-empty dict of non-empty lists."""
    if (
        not isinstance(value, dict)
        or not value
        or not all(isinstance(k, str) and isinstance(v, list) and v for k, v in value.items())
    ):
        raise ParameterError(
            f"parameter {name!r} must be a dict of non-empty lists (a hyperparameter grid), got {value!r}"
        )
    return value
