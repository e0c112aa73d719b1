"""Record results from inside a notebook, and read them back from an executed notebook.

A notebook calls ``record("rmse.als", 0.91)``. The value travels in the cell's outputs under a
private MIME type, so it is saved with the notebook itself: the runner, the tests and the
reproducibility check read numbers back with :func:`read_results` instead of parsing printed text.
Dotted names nest: ``record("rmse.als", x)`` and ``record("rmse.sgd", y)`` read back as
``{"rmse": {"als": x, "sgd": y}}``.

Timings and other machine-dependent values are recorded with ``compare=False``: they are kept,
but the reproducibility check does not expect them to repeat. A section that cannot run here
(optional data that is not on this machine, say) calls ``skip("ml100k", "why")``: the check then
leaves the reference's ``ml100k.*`` results aside instead of calling them missing.
"""

from __future__ import annotations

import copy
import numbers
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recsys.checks import to_jsonable

#: The MIME type that carries one recorded result in a cell's outputs.
MIME_TYPE = "application/vnd.recsys.result+json"

#: Default tolerance of the reproducibility check: |a - b| <= ABS_TOL + REL_TOL * |b|.
REL_TOL = 1e-3
ABS_TOL = 1e-6


def record(name: str, value: Any, *, compare: bool = True) -> Any:
    """Record ``value`` under ``name`` (dots nest) in the running notebook's outputs; returns ``value``.

    ``compare=False`` marks a value (a timing, say) that the reproducibility check should not
    expect to repeat. Outside a notebook the call only validates and returns the value.
    """
    if not isinstance(name, str) or not name or any(not part for part in name.split(".")):
        raise ValueError(f"result name must be a non-empty dotted string, got {name!r}")
    payload = {"name": name, "value": to_jsonable(value), "compare": bool(compare)}
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return value
    if get_ipython() is not None:
        display({MIME_TYPE: payload}, raw=True)
    return value


def record_table(name: str, table, columns=None, *, compare: bool = True):
    """Record a DataFrame as ``{name: {row label: {column: value}}}`` (chosen ``columns`` only)."""
    columns = list(table.columns if columns is None else columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise KeyError(f"table has no column(s) {missing}; it has {list(table.columns)}")
    rows = {str(label): {c: row[c] for c in columns} for label, row in table.iterrows()}
    record(name, rows, compare=compare)
    return table


def skip(name: str, reason: str) -> None:
    """Say that the results under ``name`` were not computed in this run, and why."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"result name must be a non-empty dotted string, got {name!r}")
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    if get_ipython() is not None:
        display({MIME_TYPE: {"name": name, "skipped": str(reason), "compare": False}}, raw=True)


def skipped(notebook) -> dict[str, str]:
    """``{name: reason}`` of the sections a notebook run skipped (see :func:`skip`)."""
    return {p["name"]: p["skipped"] for p in iter_records(notebook) if "skipped" in p}


def _set_nested(tree: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def iter_records(notebook) -> list[dict]:
    """Every recorded payload of a notebook (a path or an ``nbformat`` node), in execution order."""
    if isinstance(notebook, (str, Path)):
        import nbformat

        notebook = nbformat.read(str(notebook), as_version=4)
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE in data:
                found.append(dict(data[MIME_TYPE]))
    return found


def read_results(notebook, *, comparable_only: bool = False) -> dict:
    """The nested dict of results recorded in an executed notebook (later records win)."""
    tree: dict = {}
    for payload in iter_records(notebook):
        if "skipped" in payload or (comparable_only and not payload.get("compare", True)):
            continue
        # a copy: a later record nested under this one ("cost.best" under "cost") must not be
        # written into the notebook's own payload, where the next read would find it
        _set_nested(tree, payload["name"], copy.deepcopy(payload["value"]))
    return tree


def flatten(tree: Mapping, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _close(a: Any, b: Any, rel_tol: float, abs_tol: float) -> bool:
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return a == b
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return abs(a - b) <= abs_tol + rel_tol * abs(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y, rel_tol, abs_tol) for x, y in zip(a, b))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel_tol, abs_tol) for k in a)
    return a == b


def compare_results(
    reference: Mapping,
    current: Mapping,
    *,
    skipped: Iterable[str] = (),
    rel_tol: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> list[str]:
    """Differences between two result trees, as readable lines (empty = they agree).

    Numbers agree when ``|current - reference| <= abs_tol + rel_tol * |reference|``; everything
    else must be equal. A value missing on either side is a difference, except reference values
    under a name the current run ``skipped``.
    """
    prefixes = tuple(skipped)
    ref, cur = flatten(reference), flatten(current)
    ref = {k: v for k, v in ref.items() if not any(k == p or k.startswith(p + ".") for p in prefixes)}
    problems = []
    for name in sorted(ref.keys() | cur.keys()):
        if name not in cur:
            problems.append(f"{name}: recorded {ref[name]!r} before, missing now")
        elif name not in ref:
            problems.append(f"{name}: new result {cur[name]!r}, not in the reference")
        elif not _close(cur[name], ref[name], rel_tol, abs_tol):
            problems.append(f"{name}: reference {ref[name]!r}, now {cur[name]!r}")
    return problems
