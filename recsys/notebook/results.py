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

Beside the private type every record carries a ``text/plain`` rendering (:func:`format_record`:
``name: value`` with floats rounded, tables as aligned text, ``skipped name: reason``), so that
JupyterLab, VS Code, nbviewer and GitHub show something readable; tools read only the private
type. :func:`add_text_fallbacks` gives the outputs of an existing notebook the same text without
re-executing it.
"""

from __future__ import annotations

import copy
import math
import numbers
import re
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
        display(_bundle(payload), raw=True)
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
        display(_bundle({"name": name, "skipped": str(reason), "compare": False}), raw=True)


def _bundle(payload: dict) -> dict:
    """The MIME bundle of one record: the payload for tools, its text for every front-end."""
    return {MIME_TYPE: payload, TEXT_TYPE: format_record(payload)}


# ------------------------------------------------------------------------------------------------
# the text every front-end can show

#: The fallback MIME type that every notebook front-end renders.
TEXT_TYPE = "text/plain"
#: Lists longer than this show their first and last values and their length.
_LIST_HEAD, _LIST_TAIL, _LIST_MAX = 6, 2, 10
#: A table wider than this is written as indented ``key: value`` lines instead.
_TABLE_WIDTH = 160


def _number(value: float) -> str:
    """A float rounded for reading: 4 significant digits, whole numbers from 1,000 on."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e3 <= abs(value) < 1e15:
        return f"{value:.0f}"
    return f"{value:.4g}"


def _scalar(value: Any, *, quote: bool = False) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return _number(float(value))
    if isinstance(value, str):
        return repr(value) if quote else value
    return repr(value)  # pragma: no cover - payloads hold JSON types only


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, Mapping) or not value


def _leaf(value: Any) -> str:
    """One value on one line: a scalar, a (shortened) list, a dict in braces."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_inline(v)}" for k, v in _sorted(value)) + "}"
    if isinstance(value, list):
        items = [_inline(v) for v in value]
        if len(items) > _LIST_MAX:
            items = [*items[:_LIST_HEAD], "…", *items[-_LIST_TAIL:]]
            return f"[{', '.join(items)}] ({len(value)} values)"
        return f"[{', '.join(items)}]"
    return _scalar(value)


def _inline(value: Any) -> str:
    """A value inside a list or braces: strings quoted, so that commas in titles stay readable."""
    return _leaf(value) if isinstance(value, (list, Mapping)) else _scalar(value, quote=True)


def _key_order(key: str) -> tuple:
    """Numbers in numeric order before words, and words in natural order ("ef 16" before "ef 128"):
    a notebook stores its keys sorted as text, so the rendering must not depend on the order a
    dict was built in."""
    try:
        number = float(key)
    except ValueError:
        number = math.nan
    if math.isfinite(number):
        return (0, number, key)
    parts = re.split(r"(\d+)", key.casefold())
    return (1, tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), key)


def _sorted(tree: Mapping) -> list[tuple[str, Any]]:
    return sorted(tree.items(), key=lambda item: _key_order(str(item[0])))


def _rows(tree: Mapping) -> list[tuple[str, Mapping]] | None:
    """``[(row label, {column: leaf})]`` when every branch of ``tree`` ends in a dict of leaves at
    the same depth (a table, row labels joined with " / "), else ``None``."""
    if not tree or any(_is_leaf(v) for v in tree.values()):
        return None
    if all(all(_is_leaf(x) for x in v.values()) for v in tree.values()):
        return [(str(k), v) for k, v in _sorted(tree)]
    rows = []
    for key, value in _sorted(tree):
        inner = _rows(value)
        if inner is None:
            return None
        rows.extend((f"{key} / {label}", cells) for label, cells in inner)
    return rows


def _table(rows: list[tuple[str, Mapping]], indent: str) -> list[str] | None:
    columns: list[str] = sorted({str(c) for _, cells in rows for c in cells}, key=_key_order)
    body = [[label] + [_leaf(cells[c]) if c in cells else "" for c in columns] for label, cells in rows]
    numeric = [
        all(cells.get(c) is None or isinstance(cells.get(c), numbers.Number) for _, cells in rows) for c in columns
    ]
    widths = [max(len(line[i]) for line in [["", *columns], *body]) for i in range(len(columns) + 1)]
    if len(indent) + sum(widths) + 2 * len(columns) > _TABLE_WIDTH:
        return None

    def line(cells: list[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        for i, cell in enumerate(cells[1:], 1):
            parts.append(cell.rjust(widths[i]) if numeric[i - 1] else cell.ljust(widths[i]))
        return (indent + "  ".join(parts)).rstrip()

    return [line(["", *columns])] + [line(cells) for cells in body]


def _block(tree: Mapping, indent: str) -> list[str]:
    """The lines of a dict: a table when it is one, else aligned ``key: value`` lines, nested
    dicts indented under their key."""
    rows = _rows(tree)
    if rows is not None:
        table = _table(rows, indent)
        if table is not None:
            return table
    items = _sorted(tree)
    width = max((len(str(k)) for k, v in items if _is_leaf(v)), default=0) + 1
    lines = []
    for key, value in items:
        if _is_leaf(value):
            lines.append(f"{indent}{(str(key) + ':').ljust(width)} {_leaf(value)}".rstrip())
        else:
            lines.append(f"{indent}{key}:")
            lines.extend(_block(value, indent + "  "))
    return lines


def format_record(payload: Mapping) -> str:
    """The ``text/plain`` rendering of one recorded payload (what :func:`record` and :func:`skip`
    display beside the private type): ``name: value``, a dict as an aligned table or indented
    ``key: value`` lines under ``name:``, a skip as ``skipped name: reason``.

    It depends on the values only, not on the order a dict was built in, so that an executed
    notebook (whose JSON keys are stored sorted) gets the same text back from
    :func:`add_text_fallbacks`.
    """
    name = payload["name"]
    if "skipped" in payload:
        return f"skipped {name}: {payload['skipped']}"
    value = payload["value"]
    if _is_leaf(value):
        return f"{name}: {_leaf(value)}"
    return "\n".join([f"{name}:", *_block(value, "  ")])


def add_text_fallbacks(notebook) -> int:
    """Give every recorded output of ``notebook`` (an ``nbformat`` node, changed in place, or a
    path, rewritten) the ``text/plain`` rendering a fresh run would write for the same values.

    Returns how many outputs changed. Executed notebooks recorded before the fallback existed are
    brought up to date this way without being run again: a file is written the way papermill
    writes an executed notebook (keeping its final newline, if it had one), so its recorded
    outputs are byte for byte what a fresh run would write for the same values.
    """
    import nbformat

    path = None
    if isinstance(notebook, (str, Path)):
        path = Path(notebook)
        raw = path.read_text(encoding="utf-8")
        notebook = nbformat.reads(raw, as_version=nbformat.NO_CONVERT)
    changed = 0
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE not in data:
                continue
            text = format_record(data[MIME_TYPE])
            if _text(data.get(TEXT_TYPE)) != text:
                data[TEXT_TYPE] = text
                changed += 1
    if path is not None and changed:
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(nbformat.writes(notebook) + ("\n" if raw.endswith("\n") else ""), encoding="utf-8")
        tmp.replace(path)
    return changed


def _text(value: Any) -> Any:
    """A text output as one string (nbformat may hold multi-line text as a list of lines)."""
    return "".join(value) if isinstance(value, list) else value


def text_fallback_problems(notebook) -> list[str]:
    """Every recorded output of ``notebook`` whose ``text/plain`` is missing or differs from
    :func:`format_record` of its payload, as readable lines (empty = all up to date)."""
    import nbformat

    if isinstance(notebook, (str, Path)):
        notebook = nbformat.read(str(notebook), as_version=4)
    problems = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if MIME_TYPE not in data:
                continue
            text = _text(data.get(TEXT_TYPE))
            if text is None:
                problems.append(f"cell {index}: {data[MIME_TYPE]['name']!r} has no {TEXT_TYPE}")
            elif text != format_record(data[MIME_TYPE]):
                problems.append(f"cell {index}: {data[MIME_TYPE]['name']!r} has an outdated {TEXT_TYPE}")
    return problems


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
