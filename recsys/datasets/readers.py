"""Text readers for ratings files: strict, fast, and precise about what is wrong and where.

Every reader either returns a frame with exactly the expected columns and dtypes or raises a
``ValueError`` that names the file and, where it can, the line (:func:`malformed`). They know
nothing about any particular dataset: the parsers of :mod:`recsys.datasets.movielens` (and of any
future dataset) are built from them.

A ``::``-separated file is read by pandas' C engine with ``sep=":"`` on the even columns (about
2x faster than replacing ``::``, and ``sep="::"`` would force the slow python engine); the byte
structure is checked separately so a malformed line cannot slip through.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.datasets.dataset import RATING_COLUMNS

__all__ = [
    "finish_ratings",
    "malformed",
    "read_csv_checked",
    "read_double_colon",
    "read_table",
    "read_text",
    "require_files",
]


def malformed(path: Path, problem: object) -> ValueError:
    return ValueError(f"{path}: malformed file: {problem}")


def read_text(path: Path, encodings: Sequence[str]) -> str:
    """Decode a whole (small) file with the first encoding that works."""
    data = path.read_bytes()
    for encoding in encodings[:-1]:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    try:
        return data.decode(encodings[-1])
    except UnicodeDecodeError as exc:
        raise malformed(path, f"not valid {encodings[-1]} text ({exc})") from exc


def read_table(
    path: Path,
    *,
    sep: str,
    n_columns: int,
    dtype: dict[int, str | type],
    encoding: str = "utf-8",
    string_table: bool = False,
) -> pd.DataFrame:
    """Read a headerless file with a one-character separator (C engine), n_columns wide."""
    try:
        df = pd.read_csv(
            path,
            sep=sep,
            header=None,
            dtype=dtype,
            engine="c",
            encoding=encoding,
            quoting=csv.QUOTE_NONE,
            keep_default_na=not string_table,
            na_values=None if not string_table else [],
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise malformed(path, first_line_with_other_fields(path, n_columns, encoding, sep=sep) or exc) from exc
    if df.shape[1] != n_columns:
        raise malformed(
            path,
            first_line_with_other_fields(path, n_columns, encoding, sep=sep)
            or f"expected {n_columns} {sep!r}-separated columns, found {df.shape[1]}",
        )
    return df


def _first_lines_differ(path: Path) -> bool:
    """Whether a CSV's first data line has another number of fields than its header."""
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
        rows = csv.reader(fh)
        header, first = next(rows, None), next(rows, None)
    return header is not None and first is not None and len(first) != len(header)


def first_line_with_other_fields(path: Path, k: int, encoding: str, *, sep: str | None = None) -> str | None:
    """On the error path only: the first line without ``k`` fields, split on ``sep`` (no quoting),
    or read as CSV (quoted fields, the header line included) when ``sep`` is None."""
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        lines = csv.reader(fh) if sep is None else (line.rstrip("\r\n").split(sep) for line in fh)
        for lineno, fields in enumerate(lines, start=1):
            if fields in ([], [""]):
                continue
            if len(fields) != k:
                shown = ",".join(fields) if sep is None else sep.join(fields)
                return f"line {lineno}: expected {k} fields, found {len(fields)}: {shown[:200]!r}"
    return None


def colon_structure(path: Path, block: int = 1 << 25) -> tuple[int, int]:
    """Count ':' bytes and adjacent '::' pairs in a file, block by block (vectorised)."""
    colons = pairs = 0
    prev_colon = False
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            is_colon = np.frombuffer(chunk, dtype=np.uint8) == ord(":")
            colons += int(np.count_nonzero(is_colon))
            pairs += int(np.count_nonzero(is_colon[1:] & is_colon[:-1]))
            pairs += int(prev_colon and is_colon[0])
            prev_colon = bool(is_colon[-1])
    return colons, pairs


def read_double_colon(path: Path, *, names: Sequence[str], dtype: dict[str, str | type], encoding: str) -> pd.DataFrame:
    """Read a ``a::b::c`` file fast: C engine with sep=':' on the even columns, structure-checked.

    With ``usecols`` pandas silently drops surplus fields, so the file's colons are counted too:
    each of the n rows must contain exactly ``len(names) - 1`` '::' separators and no other ':'.
    """
    k = len(names)
    raw_names = [f"_{j}" for j in range(2 * k - 1)]
    for j, name in enumerate(names):
        raw_names[2 * j] = name
    string_table = any(v is str for v in dtype.values())
    try:
        df = pd.read_csv(
            path,
            sep=":",
            header=None,
            names=raw_names,
            usecols=list(names),
            dtype=dtype,
            engine="c",
            encoding=encoding,
            quoting=csv.QUOTE_NONE,
            keep_default_na=not string_table,
            na_values=None if not string_table else [],
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise malformed(path, first_bad_line(path, k, encoding) or exc) from exc
    colons, pairs = colon_structure(path)
    n = len(df)
    if colons != 2 * (k - 1) * n or pairs != (k - 1) * n:
        raise malformed(
            path,
            first_bad_line(path, k, encoding)
            or f"expected {k} '::'-separated fields on each of its {n:,} lines "
            f"({(k - 1) * n:,} '::' separators), found {colons:,} ':' characters "
            f"forming {pairs:,} '::' pairs",
        )
    return df[list(names)]


def first_bad_line(path: Path, k: int, encoding: str) -> str | None:
    """On the error path only: the first line that does not have k '::'-separated fields."""
    with open(path, encoding=encoding, errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("::")
            if len(fields) != k or any(":" in f for f in fields):
                return f"line {lineno}: expected {k} '::'-separated fields, got {line!r}"
    return None


#: 1995-01-01 UTC: no MovieLens release holds an earlier rating (ML-25M's first is from 1995-01-09),
#: so an earlier timestamp is a truncated or corrupted field, not a date.
EARLIEST_TIMESTAMP = 788_918_400


def _check_timestamps(t: np.ndarray, path: Path, header_lines: int) -> None:
    """Refuse timestamps before :data:`EARLIEST_TIMESTAMP` or more than a day in the future,
    naming the first one's line and date (a truncated field reads as a date in the 1970s)."""
    if not t.size:
        return
    latest = int(time.time()) + 86_400
    if t.min() >= EARLIEST_TIMESTAMP and t.max() <= latest:
        return
    bad = (t < EARLIEST_TIMESTAMP) | (t > latest)
    row = int(np.flatnonzero(bad)[0])
    value = int(t[row])
    when = datetime.fromtimestamp(min(max(value, -62_135_596_800), 253_402_300_799), UTC).date()
    bound = "before MovieLens began (1995-01-01)" if value < EARLIEST_TIMESTAMP else "in the future"
    raise malformed(
        path,
        f"timestamp {value} on line {row + 1 + header_lines} is {when.isoformat()}, {bound}: a truncated or "
        f"corrupted field ({int(bad.sum()):,} such timestamps)",
    )


def finish_ratings(
    df: pd.DataFrame,
    path: Path,
    scale: tuple[float, float],
    step: float,
    *,
    header_lines: int = 0,
) -> pd.DataFrame:
    """Build the canonical ratings frame (exact dtypes, RangeIndex) and validate the ratings."""
    ratings = pd.DataFrame(
        {
            "user_id": df.iloc[:, 0].to_numpy(dtype=np.int64),
            "item_id": df.iloc[:, 1].to_numpy(dtype=np.int64),
            "rating": df.iloc[:, 2].to_numpy(dtype=np.float32),
            "timestamp": df.iloc[:, 3].to_numpy(dtype=np.int64),
        },
        columns=list(RATING_COLUMNS),
        copy=False,
    )
    _check_timestamps(ratings["timestamp"].to_numpy(), path, header_lines)
    r = ratings["rating"].to_numpy()
    lo, hi = scale
    # One fused check on the fast path (NaN fails every comparison); diagnose only on failure.
    # Scale ends and steps (0.5, 1) are exact in float32, so exact comparisons are safe.
    units = (r - np.float32(lo)) / np.float32(step)
    ok = (units >= 0) & (units <= (hi - lo) / step) & (units == np.rint(units))
    if ok.all():
        return ratings

    def first_line(mask: np.ndarray) -> str:
        row = int(np.flatnonzero(mask)[0])
        return f"line {row + 1 + header_lines}"

    missing = np.isnan(r)
    if missing.any():
        raise malformed(path, f"missing rating on {first_line(missing)}")
    outside = (r < lo) | (r > hi)
    if outside.any():
        bad = r[np.flatnonzero(outside)[0]]
        raise malformed(
            path,
            f"rating {bad:g} on {first_line(outside)} is outside the scale [{lo:g}, {hi:g}] "
            f"({int(outside.sum()):,} such ratings)",
        )
    bad = r[np.flatnonzero(~ok)[0]]
    raise malformed(path, f"rating {bad:g} on {first_line(~ok)} is not a multiple of {step:g} from {lo:g}")


def read_csv_checked(
    path: Path, columns: Sequence[str], dtype: dict[str, str | type], *, strings: bool
) -> pd.DataFrame:
    try:
        df = pd.read_csv(
            path,
            dtype=dtype,
            engine="c",
            encoding="utf-8",
            keep_default_na=not strings,
            na_values=None if not strings else [],
        )
    except (ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise malformed(path, first_line_with_other_fields(path, len(columns), "utf-8") or exc) from exc
    if not df.index.equals(pd.RangeIndex(len(df))) or _first_lines_differ(path):
        # a first data line longer than the header: pandas quietly makes its first field(s) the
        # index and shifts every other field to the left (on every line that is as long)
        raise malformed(path, first_line_with_other_fields(path, len(columns), "utf-8") or "fields beyond the header")
    if list(df.columns) != list(columns):
        raise malformed(path, f"expected columns {list(columns)}, found {list(df.columns)}")
    return df


def require_files(folder: Path, files: Sequence[str]) -> dict[str, Path]:
    found = {f: folder / f for f in files}
    missing = [f for f, p in found.items() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}")
    return found
