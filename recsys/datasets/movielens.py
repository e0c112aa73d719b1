"""MovieLens parsers, one per file format, and the predefined folds of ML-100K.

Every parser returns the same :class:`~recsys.datasets.dataset.Dataset` shape: ``ratings`` with
``user_id``/``item_id`` (int64), ``rating`` (float32), ``timestamp`` (int64) and a RangeIndex;
``items`` indexed by ``item_id`` with ``title`` (str), ``year`` (Int64) and ``genres`` (list of
str); ``users`` indexed by ``user_id`` where the release has demographics, else ``None``.

Format notes: ML-100K and ML-1M files are latin-1; ML-10M's are read as UTF-8, falling back to
latin-1; the CSV releases are UTF-8. The readers themselves live in :mod:`recsys.datasets.readers`;
where a release is found (cache, ``$MOVIELENS_DIR``, download) is :mod:`recsys.datasets.cache`'s
job, and the list of releases is :mod:`recsys.datasets.registry`'s.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.datasets.dataset import RATING_COLUMNS, Dataset
from recsys.datasets.readers import (
    finish_ratings,
    malformed,
    read_csv_checked,
    read_double_colon,
    read_table,
    read_text,
    require_files,
)

__all__ = [
    "ML100K_GENRES",
    "read_csv_release",
    "read_ml1m",
    "read_ml10m",
    "read_ml100k",
    "read_ml100k_folds",
]

NO_GENRES = "(no genres listed)"

#: ML-100K's 19 genre flags in ``u.item`` order (``u.genre`` is read when present).
ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip

#: ML-1M occupation codes (``users.dat``), from the release's README.
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

#: ML-1M age codes (``users.dat``): each is the lower bound of an age bracket.
ML1M_AGE_GROUPS = {
    1: "Under 18", 18: "18-24", 25: "25-34", 35: "35-44", 45: "45-49", 50: "50-55", 56: "56+",
}  # fmt: skip

_YEAR_IN_TITLE = re.compile(r"\((\d{4})(?:\s*[-\u2013]\s*(?:\d{4})?)?\)\s*$")

#: Every genre name the ``::``-separated releases use (ML-1M spells "Children's", ML-10M
#: "Children" and adds "IMAX"): a genre field outside it means the line's fields have moved.
DAT_GENRES = frozenset(ML100K_GENRES) - {"unknown"} | {"Children", "IMAX"}


# --------------------------------------------------------------------------------------------
# Reading helpers


def _years_from_titles(titles: pd.Series) -> pd.Series:
    """The year in a trailing ``(1995)`` (or ``(2006-2007)``, first year) of each title; else NA."""
    return pd.to_numeric(titles.str.extract(_YEAR_IN_TITLE, expand=False), errors="coerce").astype("Int64")


def _split_genres(genres: Sequence[str]) -> list[list[str]]:
    return [[] if (not g or g == NO_GENRES) else g.split("|") for g in genres]


def _items_frame(
    path: Path, ids: np.ndarray, titles: pd.Series, years: pd.Series, genres: list[list[str]]
) -> pd.DataFrame:
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        dup = pd.Series(ids).loc[pd.Series(ids).duplicated()].iloc[0]
        raise malformed(path, f"item id {dup} is listed more than once")
    index = pd.Index(ids, name="item_id", dtype="int64")
    return pd.DataFrame(
        {
            "title": pd.Series(titles.to_numpy(), index=index).astype(str).str.strip(),
            "year": pd.Series(years.to_numpy(), index=index, dtype="Int64"),
            "genres": pd.Series(genres, index=index, dtype=object),
        },
        index=index,
    )


def _users_frame(path: Path, ids: np.ndarray, columns: dict[str, object]) -> pd.DataFrame:
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        raise malformed(path, "a user id is listed more than once")
    return pd.DataFrame(columns, index=pd.Index(ids, name="user_id", dtype="int64"))


# --------------------------------------------------------------------------------------------
# Parsers, one per format


def read_ml100k(folder: str | os.PathLike[str], *, name: str = "ml-100k") -> Dataset:
    """Parse an extracted ML-100K folder (``u.data``, ``u.item``, ``u.user``; ``u.genre`` optional).

    Titles keep their text; ``year`` comes from the title's ``(1995)`` suffix, else from the release
    date. The ``unknown`` genre flag maps to an empty genre list, like ``(no genres listed)``.
    """
    folder = Path(folder)
    f = require_files(folder, ("u.data", "u.item", "u.user"))

    raw = read_table(f["u.data"], sep="\t", n_columns=4, dtype={0: "int64", 1: "int64", 2: "float32", 3: "int64"})
    ratings = finish_ratings(raw, f["u.data"], (1.0, 5.0), 1.0)

    genre_names = list(ML100K_GENRES)
    genre_file = folder / "u.genre"
    if genre_file.is_file():
        g = read_table(
            genre_file, sep="|", n_columns=2, dtype={0: str, 1: "int64"}, encoding="latin-1",
            string_table=True,
        )  # fmt: skip
        genre_names = list(g.sort_values(1)[0])
    n_flags = len(genre_names)
    item_dtype: dict[int, str | type] = {j: str for j in range(5)}
    item_dtype.update({j: "int8" for j in range(5, 5 + n_flags)})
    item_dtype[0] = "int64"
    it = read_table(
        f["u.item"], sep="|", n_columns=5 + n_flags, dtype=item_dtype, encoding="latin-1",
        string_table=True,
    )  # fmt: skip
    flags = it.iloc[:, 5:].to_numpy()
    if not np.isin(flags, (0, 1)).all():
        raise malformed(f["u.item"], "genre flags must be 0 or 1")
    names = np.array(genre_names, dtype=object)
    keep = names != "unknown"
    genres = [list(names[row & keep]) for row in flags.astype(bool)]
    titles = it[1]
    years = _years_from_titles(titles)
    release_years = pd.to_numeric(it[2].str.extract(r"(\d{4})\s*$", expand=False), errors="coerce").astype("Int64")
    years = years.fillna(release_years)
    items = _items_frame(f["u.item"], it[0].to_numpy(), titles, years, genres)

    us = read_table(
        f["u.user"], sep="|", n_columns=5, dtype={0: "int64", 1: "int64", 2: str, 3: str, 4: str},
        encoding="latin-1", string_table=True,
    )  # fmt: skip
    users = _users_frame(
        f["u.user"],
        us[0].to_numpy(),
        {
            "gender": us[2].to_numpy(),
            "age": us[1].to_numpy(dtype=np.int64),
            "occupation": us[3].to_numpy(),
            "zip_code": us[4].to_numpy(),
        },
    )
    users = users.astype({"gender": str, "occupation": str, "zip_code": str})
    return Dataset(name, ratings, items, users, (1.0, 5.0), 1.0, folder)


def _read_movies_dat(path: Path, encodings: Sequence[str]) -> pd.DataFrame:
    """Parse ``MovieID::Title::Genres`` lines: exactly three fields (a title may contain ':', not
    '::'), every genre a MovieLens genre, so a line with a separator too many or too few is
    refused with its number rather than read with its fields moved."""
    text = read_text(path, encodings)
    ids: list[int] = []
    titles: list[str] = []
    genres: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("::")
        if len(fields) != 3:
            raise malformed(
                path, f"line {lineno}: expected 'MovieID::Title::Genres' (3 fields), got {len(fields)}: {line!r}"
            )
        head, title, genre = fields
        try:
            ids.append(int(head))
        except ValueError:
            raise malformed(path, f"line {lineno}: movie id {head!r} is not an integer") from None
        genre = genre.strip()
        unknown = [g for g in genre.split("|") if g not in DAT_GENRES] if genre != NO_GENRES else []
        if unknown:
            raise malformed(
                path,
                f"line {lineno}: genre {unknown[0]!r} is not a MovieLens genre (one '::' too many or too few?); "
                f"expected 'MovieID::Title::Genres' with genres from {sorted(DAT_GENRES)}, got {line!r}",
            )
        titles.append(title)
        genres.append(genre)
    return pd.DataFrame({"item_id": ids, "title": titles, "genres": genres})


def _dat_items(path: Path, encodings: Sequence[str]) -> pd.DataFrame:
    mv = _read_movies_dat(path, encodings)
    titles = mv["title"].astype(str)
    return _items_frame(
        path,
        mv["item_id"].to_numpy(),
        titles,
        _years_from_titles(titles),
        _split_genres(mv["genres"].tolist()),
    )


_RATING_DTYPES: dict[str, str | type] = {
    "user_id": "int64",
    "item_id": "int64",
    "rating": "float32",
    "timestamp": "int64",
}


def read_ml1m(folder: str | os.PathLike[str], *, name: str = "ml-1m") -> Dataset:
    """Parse an extracted ML-1M folder (``ratings.dat``, ``movies.dat``, ``users.dat``; latin-1).

    ``users`` has ``gender``, ``age`` (the README's code, the lower bound of the bracket, 1 meaning
    under 18), ``age_group`` (the bracket as text), ``occupation`` (decoded from the README's
    codes) and ``zip_code``.
    """
    folder = Path(folder)
    f = require_files(folder, ("ratings.dat", "movies.dat", "users.dat"))
    raw = read_double_colon(f["ratings.dat"], names=RATING_COLUMNS, dtype=_RATING_DTYPES, encoding="latin-1")
    ratings = finish_ratings(raw, f["ratings.dat"], (1.0, 5.0), 1.0)
    items = _dat_items(f["movies.dat"], ("latin-1",))

    us = read_double_colon(
        f["users.dat"],
        names=("user_id", "gender", "age", "occupation", "zip_code"),
        dtype={"user_id": "int64", "gender": str, "age": "int64", "occupation": "int64",
               "zip_code": str},
        encoding="latin-1",
    )  # fmt: skip
    occ = us["occupation"].to_numpy()
    if ((occ < 0) | (occ >= len(ML1M_OCCUPATIONS))).any():
        bad = occ[(occ < 0) | (occ >= len(ML1M_OCCUPATIONS))][0]
        raise malformed(f["users.dat"], f"unknown occupation code {bad}")
    age = us["age"].to_numpy()
    known_ages = np.array(sorted(ML1M_AGE_GROUPS))
    if not np.isin(age, known_ages).all():
        raise malformed(f["users.dat"], f"unknown age code {age[~np.isin(age, known_ages)][0]}")
    users = _users_frame(
        f["users.dat"],
        us["user_id"].to_numpy(),
        {
            "gender": us["gender"].astype(str).to_numpy(),
            "age": age.astype(np.int64),
            "age_group": pd.Series(age).map(ML1M_AGE_GROUPS).to_numpy(),
            "occupation": np.array(ML1M_OCCUPATIONS, dtype=object)[occ],
            "zip_code": us["zip_code"].astype(str).to_numpy(),
        },
    )
    users = users.astype({"gender": str, "age_group": str, "occupation": str, "zip_code": str})
    return Dataset(name, ratings, items, users, (1.0, 5.0), 1.0, folder)


def read_ml10m(folder: str | os.PathLike[str], *, name: str = "ml-10m") -> Dataset:
    """Parse an extracted ML-10M folder (``ratings.dat``, ``movies.dat``; no users)."""
    folder = Path(folder)
    f = require_files(folder, ("ratings.dat", "movies.dat"))
    raw = read_double_colon(f["ratings.dat"], names=RATING_COLUMNS, dtype=_RATING_DTYPES, encoding="utf-8")
    ratings = finish_ratings(raw, f["ratings.dat"], (0.5, 5.0), 0.5)
    items = _dat_items(f["movies.dat"], ("utf-8", "latin-1"))
    return Dataset(name, ratings, items, None, (0.5, 5.0), 0.5, folder)


def read_csv_release(folder: str | os.PathLike[str], *, name: str) -> Dataset:
    """Parse a CSV release (``ratings.csv``, ``movies.csv``): ML-20M, ML-25M, latest-small."""
    folder = Path(folder)
    f = require_files(folder, ("ratings.csv", "movies.csv"))
    cols = ("userId", "movieId", "rating", "timestamp")
    raw = read_csv_checked(
        f["ratings.csv"],
        cols,
        {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"},
        strings=False,
    )
    ratings = finish_ratings(raw, f["ratings.csv"], (0.5, 5.0), 0.5, header_lines=1)
    mv = read_csv_checked(
        f["movies.csv"],
        ("movieId", "title", "genres"),
        {"movieId": "int64", "title": str, "genres": str},
        strings=True,
    )
    titles = mv["title"].astype(str)
    items = _items_frame(
        f["movies.csv"],
        mv["movieId"].to_numpy(),
        titles,
        _years_from_titles(titles.str.strip()),
        _split_genres(mv["genres"].tolist()),
    )
    return Dataset(name, ratings, items, None, (0.5, 5.0), 0.5, folder)


# --------------------------------------------------------------------------------------------
# ML-100K's predefined folds

_FOLD_DTYPES = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}

#: SHA-256 of the predefined fold files of the GroupLens ML-100K release, so a fold read from any
#: folder is as trusted as a download (tests of the fold reader pass ``verify=False``).
ML100K_FOLD_SHA256 = {
    "u1.base": "ce253ec86c448b44fb3ba9a30d12dcfc2e9210cbde71efada3730c22e9ac212a",
    "u1.test": "18c6014a4b2c7324f250a63f8904a7b16b2b19f911129e346141507b0cbac950",
    "u2.base": "6c06f0b5df4b256da1a994f3ac66edc8da4d3f09bc9282df6b14d893366d703e",
    "u2.test": "4de658d1e04ed9104629509a2e2528fce833ac8e048280183f1df167632038c3",
    "u3.base": "afdc155c291c6edc41c0407e39d7462eb98d341e064f0b0a12175b80b3c4af5d",
    "u3.test": "0f548b51c78327de4c156461d3e430b7e5579fe2b5681586a59416e48fd35f6d",
    "u4.base": "219f0f4d40dfe9c5141d425f53fa91ee23ed275f14e280bbf1b50117afb064ca",
    "u4.test": "7c02ad0a1e7ab1083c8b9d4b627203a051dd7b5eab46d99fa44de33470de8db9",
    "u5.base": "a9574e59ce961eec2121627760b6e9b0974ce1637b3fe69ac32cb14a4bfab485",
    "u5.test": "351cc52e0d15b6c721466276fc24671d40936899e3d01fadeaf312915b8c5634",
}


def ml100k_folder(path) -> Path:
    """The extracted ``ml-100k`` folder from a folder path, a folder holding it, or a Dataset."""
    folder = getattr(path, "path", path)
    if folder is None:
        raise ValueError("this Dataset has no path; the ML-100K folds need the extracted ml-100k folder")
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"path must be a folder path or a Dataset, got {type(path).__name__}")
    folder = Path(folder)
    if not (folder / "u1.base").is_file() and (folder / "ml-100k" / "u1.base").is_file():
        folder = folder / "ml-100k"
    return folder


def read_ml100k_fold_file(path: Path, *, verify: bool = True) -> pd.DataFrame:
    """One of ``u1.base`` ... ``u5.test``: tab-separated ``user item rating timestamp``, checked.

    With ``verify`` the file must match the release's pinned SHA-256 (:data:`ML100K_FOLD_SHA256`):
    a fold that was edited, truncated or comes from another release is refused, naming the file.
    """
    if not path.is_file():
        raise FileNotFoundError(f"ML-100K fold file {path} not found; expected the extracted ml-100k release there")
    if verify and path.name in ML100K_FOLD_SHA256:
        from recsys.datasets.download import verify as verify_file

        verify_file(path, sha256=ML100K_FOLD_SHA256[path.name])
    raw = read_table(path, sep="\t", n_columns=4, dtype={0: "int64", 1: "int64", 2: "float32", 3: "int64"})
    ratings = finish_ratings(raw, path, (1.0, 5.0), 1.0)
    return ratings.astype(_FOLD_DTYPES)


def read_ml100k_folds(path, *, verify: bool = True) -> list[tuple[pd.DataFrame, pd.DataFrame]]:
    """ML-100K's five predefined ``(u{f}.base, u{f}.test)`` frames, ``f = 1..5``, in order.

    ``path`` is the extracted ``ml-100k`` folder (a folder holding it, or a ``Dataset`` whose
    ``path`` is it, also works). Each file is checked against its pinned SHA-256 unless
    ``verify=False``. :func:`recsys.splits.ml100k_folds` turns them into splits.
    """
    folder = ml100k_folder(path)
    return [
        (
            read_ml100k_fold_file(folder / f"u{f}.base", verify=verify),
            read_ml100k_fold_file(folder / f"u{f}.test", verify=verify),
        )
        for f in range(1, 6)
    ]
