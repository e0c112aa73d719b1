"""User tags of the CSV MovieLens releases (``tags.csv``: ml-latest-small, ML-20M, ML-25M).

A tag is a free-text label one user put on one film (``"pixar"``, ``"time travel"``). The
releases' ``tags.csv`` has the header ``userId,movieId,tag,timestamp``; :func:`read_tags` reads
it with the strict readers of :mod:`recsys.datasets.readers` (a malformed line is an error naming
the file and the line) and returns one row per application, with raw MovieLens ids.
:func:`load_tags` finds the file next to a loaded dataset's ratings.

Tags are user-generated: a film only has tags once people have watched it, so for a truly new
film they are not yet known (notebook 05 says so where it uses them for cold items).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.datasets.dataset import Dataset
from recsys.datasets.readers import malformed, read_csv_checked

__all__ = ["TAG_COLUMNS", "load_tags", "read_tags"]

#: Columns of the frame :func:`read_tags` returns, in order.
TAG_COLUMNS = ("user_id", "item_id", "tag", "timestamp")


def read_tags(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a MovieLens ``tags.csv``: columns ``user_id``, ``item_id`` (int64), ``tag`` (str), ``timestamp``.

    The tag text is kept as written, surrounding white space removed. Raises ``ValueError``
    naming the file (and the line where pandas can tell) for a wrong header, a line with the
    wrong number of fields, a non-integer id or timestamp, or an empty tag; ``FileNotFoundError``
    when the file is absent.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such tags file")
    raw = read_csv_checked(
        path,
        ("userId", "movieId", "tag", "timestamp"),
        {"userId": "int64", "movieId": "int64", "tag": str, "timestamp": "int64"},
        strings=True,
    )
    tags = raw["tag"].astype(str).str.strip()
    empty = tags.to_numpy() == ""
    if empty.any():
        line = int(np.flatnonzero(empty)[0]) + 2  # one header line, lines counted from 1
        raise malformed(path, f"empty tag on line {line} ({int(empty.sum())} empty tag(s))")
    return pd.DataFrame(
        {
            "user_id": raw["userId"].to_numpy(dtype=np.int64),
            "item_id": raw["movieId"].to_numpy(dtype=np.int64),
            "tag": tags.to_numpy(dtype=object),
            "timestamp": raw["timestamp"].to_numpy(dtype=np.int64),
        },
        columns=list(TAG_COLUMNS),
    )


def load_tags(dataset: Dataset) -> pd.DataFrame:
    """The tags of a loaded dataset, read from ``tags.csv`` in the folder its ratings came from.

    Raises ``FileNotFoundError`` saying which releases carry tags when this one does not (ML-100K,
    ML-1M, ML-10M's ``tags.dat`` is not read here, and the synthetic data have none).
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a recsys.datasets.Dataset, got {type(dataset).__name__}")
    path = None if dataset.path is None else Path(dataset.path) / "tags.csv"
    if path is None or not path.is_file():
        where = "has no folder" if dataset.path is None else f"has no tags.csv in {dataset.path}"
        raise FileNotFoundError(
            f"dataset {dataset.name!r} {where}; user tags come with the CSV releases (ml-latest-small, ml-20m, ml-25m)"
        )
    return read_tags(path)
