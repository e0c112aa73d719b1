"""MovieLens releases: the registry, the parsers (one per file format) and where a release is found.

Every parser returns the same :class:`~recsys.datasets.dataset.Dataset` shape: ``ratings`` with
``user_id``/``item_id`` (int64), ``rating`` (float32), ``timestamp`` (int64) and a RangeIndex;
``items`` indexed by ``item_id`` with ``title`` (str), ``year`` (Int64) and ``genres`` (list of
str); ``users`` indexed by ``user_id`` where the release has demographics, else ``None``.

Where :func:`fetch` finds a release, in this order:

a. ``ml-latest-small`` only: the copy bundled in the repository (``<repo>/data/ml-latest-small``),
   so it works offline.
b. The cache ``<data_dir>/<folder>`` (``data_dir`` argument, else ``$RECSYS_DATA_DIR``, else
   ``<repo>/data``), if it holds the marker ``.recsys-verified`` naming the archive's checksum. The
   marker is written only after a fully successful extraction; a folder without it is re-extracted.
   Then a verified archive ``<data_dir>/<name>.zip`` (e.g. one you dropped there by hand),
   extracted into the cache.
c. ``$MOVIELENS_DIR`` (or the ``movielens_dir`` argument): an archive ``<name>.zip`` there is
   verified and extracted into the cache; an extracted ``<folder>/`` with the expected files is read
   in place and never written to (ML-100K's ``u.data`` is checked against its pinned SHA-256).
d. A download from GroupLens into the cache (checksum-verified, atomic), then extraction.
e. Otherwise :class:`DatasetUnavailableError`, whose message names the URL, the exact path to save
   the archive at, and the ``MOVIELENS_DIR`` alternative.

Format notes: ML-100K and ML-1M files are latin-1; ML-10M's are read as UTF-8, falling back to
latin-1; the CSV releases are UTF-8. A ``::``-separated ratings file is read by pandas' C engine
with ``sep=":"`` on the even columns (about 2x faster than replacing ``::``, and ``sep="::"`` would
force the slow python engine); the byte structure is checked separately so a malformed line cannot
slip through.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from recsys import paths
from recsys.datasets.dataset import RATING_COLUMNS, Dataset
from recsys.datasets.download import (
    ChecksumError,
    DatasetUnavailableError,
    DownloadError,
    safe_extract,
    verify,
)
from recsys.datasets.download import (
    download as download_file,
)

__all__ = [
    "MARKER",
    "RELEASES",
    "Release",
    "fetch",
    "load_release",
    "read_csv_release",
    "read_ml1m",
    "read_ml10m",
    "read_ml100k",
    "releases_table",
]

#: File written into a cache folder after a fully successful extraction; holds the archive checksum.
MARKER = ".recsys-verified"
BASE_URL = "https://files.grouplens.org/datasets/movielens"
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


# --------------------------------------------------------------------------------------------
# Reading helpers


def _malformed(path: Path, problem: object) -> ValueError:
    return ValueError(f"{path}: malformed file: {problem}")


def _read_text(path: Path, encodings: Sequence[str]) -> str:
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
        raise _malformed(path, f"not valid {encodings[-1]} text ({exc})") from exc


def _read_table(
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
        raise _malformed(path, exc) from exc
    if df.shape[1] != n_columns:
        raise _malformed(
            path, f"expected {n_columns} {sep!r}-separated columns, found {df.shape[1]}"
        )
    return df


def _colon_structure(path: Path, block: int = 1 << 25) -> tuple[int, int]:
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


def _read_double_colon(
    path: Path, *, names: Sequence[str], dtype: dict[str, str | type], encoding: str
) -> pd.DataFrame:
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
        raise _malformed(path, _first_bad_line(path, k, encoding) or exc) from exc
    colons, pairs = _colon_structure(path)
    n = len(df)
    if colons != 2 * (k - 1) * n or pairs != (k - 1) * n:
        raise _malformed(
            path,
            _first_bad_line(path, k, encoding)
            or f"expected {k} '::'-separated fields on each of its {n:,} lines "
            f"({(k - 1) * n:,} '::' separators), found {colons:,} ':' characters "
            f"forming {pairs:,} '::' pairs",
        )
    return df[list(names)]


def _first_bad_line(path: Path, k: int, encoding: str) -> str | None:
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


def _finish_ratings(
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
        raise _malformed(path, f"missing rating on {first_line(missing)}")
    outside = (r < lo) | (r > hi)
    if outside.any():
        bad = r[np.flatnonzero(outside)[0]]
        raise _malformed(
            path,
            f"rating {bad:g} on {first_line(outside)} is outside the scale [{lo:g}, {hi:g}] "
            f"({int(outside.sum()):,} such ratings)",
        )
    bad = r[np.flatnonzero(~ok)[0]]
    raise _malformed(
        path, f"rating {bad:g} on {first_line(~ok)} is not a multiple of {step:g} from {lo:g}"
    )


def _years_from_titles(titles: pd.Series) -> pd.Series:
    """The year in a trailing ``(1995)`` (or ``(2006-2007)``, first year) of each title; else NA."""
    return pd.to_numeric(titles.str.extract(_YEAR_IN_TITLE, expand=False), errors="coerce").astype(
        "Int64"
    )


def _split_genres(genres: Sequence[str]) -> list[list[str]]:
    return [[] if (not g or g == NO_GENRES) else g.split("|") for g in genres]


def _items_frame(
    path: Path, ids: np.ndarray, titles: pd.Series, years: pd.Series, genres: list[list[str]]
) -> pd.DataFrame:
    ids = np.asarray(ids, dtype=np.int64)
    if len(np.unique(ids)) != len(ids):
        dup = pd.Series(ids).loc[pd.Series(ids).duplicated()].iloc[0]
        raise _malformed(path, f"item id {dup} is listed more than once")
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
        raise _malformed(path, "a user id is listed more than once")
    return pd.DataFrame(columns, index=pd.Index(ids, name="user_id", dtype="int64"))


def _require(folder: Path, files: Sequence[str]) -> dict[str, Path]:
    found = {f: folder / f for f in files}
    missing = [f for f, p in found.items() if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {', '.join(missing)}")
    return found


# --------------------------------------------------------------------------------------------
# Parsers, one per format


def read_ml100k(folder: str | os.PathLike[str], *, name: str = "ml-100k") -> Dataset:
    """Parse an extracted ML-100K folder (``u.data``, ``u.item``, ``u.user``; ``u.genre`` optional).

    Titles keep their text; ``year`` comes from the title's ``(1995)`` suffix, else from the release
    date. The ``unknown`` genre flag maps to an empty genre list, like ``(no genres listed)``.
    """
    folder = Path(folder)
    f = _require(folder, ("u.data", "u.item", "u.user"))

    raw = _read_table(
        f["u.data"], sep="\t", n_columns=4, dtype={0: "int64", 1: "int64", 2: "float32", 3: "int64"}
    )
    ratings = _finish_ratings(raw, f["u.data"], (1.0, 5.0), 1.0)

    genre_names = list(ML100K_GENRES)
    genre_file = folder / "u.genre"
    if genre_file.is_file():
        g = _read_table(
            genre_file, sep="|", n_columns=2, dtype={0: str, 1: "int64"}, encoding="latin-1",
            string_table=True,
        )  # fmt: skip
        genre_names = list(g.sort_values(1)[0])
    n_flags = len(genre_names)
    item_dtype: dict[int, str | type] = {j: str for j in range(5)}
    item_dtype.update({j: "int8" for j in range(5, 5 + n_flags)})
    item_dtype[0] = "int64"
    it = _read_table(
        f["u.item"], sep="|", n_columns=5 + n_flags, dtype=item_dtype, encoding="latin-1",
        string_table=True,
    )  # fmt: skip
    flags = it.iloc[:, 5:].to_numpy()
    if not np.isin(flags, (0, 1)).all():
        raise _malformed(f["u.item"], "genre flags must be 0 or 1")
    names = np.array(genre_names, dtype=object)
    keep = names != "unknown"
    genres = [list(names[row & keep]) for row in flags.astype(bool)]
    titles = it[1]
    years = _years_from_titles(titles)
    release_years = pd.to_numeric(
        it[2].str.extract(r"(\d{4})\s*$", expand=False), errors="coerce"
    ).astype("Int64")
    years = years.fillna(release_years)
    items = _items_frame(f["u.item"], it[0].to_numpy(), titles, years, genres)

    us = _read_table(
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
    """Parse ``MovieID::Title::Genres`` lines; a title may itself contain ':' (or even '::')."""
    text = _read_text(path, encodings)
    ids: list[int] = []
    titles: list[str] = []
    genres: list[str] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        head, sep1, rest = line.partition("::")
        title, sep2, genre = rest.rpartition("::")
        if not sep1 or not sep2:
            raise _malformed(
                path, f"line {lineno}: expected 'MovieID::Title::Genres', got {line!r}"
            )
        try:
            ids.append(int(head))
        except ValueError:
            raise _malformed(path, f"line {lineno}: movie id {head!r} is not an integer") from None
        titles.append(title)
        genres.append(genre.strip())
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
    f = _require(folder, ("ratings.dat", "movies.dat", "users.dat"))
    raw = _read_double_colon(
        f["ratings.dat"], names=RATING_COLUMNS, dtype=_RATING_DTYPES, encoding="latin-1"
    )
    ratings = _finish_ratings(raw, f["ratings.dat"], (1.0, 5.0), 1.0)
    items = _dat_items(f["movies.dat"], ("latin-1",))

    us = _read_double_colon(
        f["users.dat"],
        names=("user_id", "gender", "age", "occupation", "zip_code"),
        dtype={"user_id": "int64", "gender": str, "age": "int64", "occupation": "int64",
               "zip_code": str},
        encoding="latin-1",
    )  # fmt: skip
    occ = us["occupation"].to_numpy()
    if ((occ < 0) | (occ >= len(ML1M_OCCUPATIONS))).any():
        bad = occ[(occ < 0) | (occ >= len(ML1M_OCCUPATIONS))][0]
        raise _malformed(f["users.dat"], f"unknown occupation code {bad}")
    age = us["age"].to_numpy()
    known_ages = np.array(sorted(ML1M_AGE_GROUPS))
    if not np.isin(age, known_ages).all():
        raise _malformed(f["users.dat"], f"unknown age code {age[~np.isin(age, known_ages)][0]}")
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
    f = _require(folder, ("ratings.dat", "movies.dat"))
    raw = _read_double_colon(
        f["ratings.dat"], names=RATING_COLUMNS, dtype=_RATING_DTYPES, encoding="utf-8"
    )
    ratings = _finish_ratings(raw, f["ratings.dat"], (0.5, 5.0), 0.5)
    items = _dat_items(f["movies.dat"], ("utf-8", "latin-1"))
    return Dataset(name, ratings, items, None, (0.5, 5.0), 0.5, folder)


def _read_csv_checked(
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
        raise _malformed(path, exc) from exc
    if list(df.columns) != list(columns):
        raise _malformed(path, f"expected columns {list(columns)}, found {list(df.columns)}")
    return df


def read_csv_release(folder: str | os.PathLike[str], *, name: str) -> Dataset:
    """Parse a CSV release (``ratings.csv``, ``movies.csv``): ML-20M, ML-25M, latest-small."""
    folder = Path(folder)
    f = _require(folder, ("ratings.csv", "movies.csv"))
    cols = ("userId", "movieId", "rating", "timestamp")
    raw = _read_csv_checked(
        f["ratings.csv"],
        cols,
        {"userId": "int64", "movieId": "int64", "rating": "float32", "timestamp": "int64"},
        strings=False,
    )
    ratings = _finish_ratings(raw, f["ratings.csv"], (0.5, 5.0), 0.5, header_lines=1)
    mv = _read_csv_checked(
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
# The registry


_LICENCE = (
    "Research use only; no commercial use without GroupLens' permission; no implied endorsement "
    "by the University of Minnesota or GroupLens; cite Harper & Konstan (2015)."
)


@dataclass(frozen=True)
class Release:
    """One MovieLens release: where it comes from, how to check it and how to parse it."""

    name: str
    url: str
    filename: str
    folder: str
    size: int | None
    sha256: str | None
    md5: str | None
    files: tuple[str, ...]
    parser: Callable[..., Dataset] = field(repr=False, compare=False)
    n_ratings: int = 0
    rating_scale: tuple[float, float] = (1.0, 5.0)
    rating_step: float = 1.0
    licence: str = _LICENCE
    bundled: bool = False
    #: Pinned SHA-256 of files inside an extracted folder, checked when reading one in place.
    extracted_sha256: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.sha256 is None and self.md5 is None:
            raise ValueError(f"release {self.name!r} needs a pinned sha256 or md5")

    @property
    def checksum(self) -> str:
        """``"sha256:<hex>"`` (or ``"md5:<hex>"``): what the cache marker records."""
        return f"sha256:{self.sha256}" if self.sha256 else f"md5:{self.md5}"

    def parse(self, folder: str | os.PathLike[str]) -> Dataset:
        """Parse an extracted folder of this release."""
        return self.parser(Path(folder), name=self.name)


def _release(name: str, **kwargs: object) -> Release:
    kwargs.setdefault("url", f"{BASE_URL}/{name}.zip")
    kwargs.setdefault("filename", f"{name}.zip")
    kwargs.setdefault("folder", name)
    return Release(name=name, **kwargs)  # type: ignore[arg-type]


_CSV_FILES = ("ratings.csv", "movies.csv")
_HALF = {"rating_scale": (0.5, 5.0), "rating_step": 0.5}

#: Every MovieLens release ``load`` knows, by name. Tests may monkeypatch entries.
RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        _release(
            "ml-latest-small",
            size=978_202,
            sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
            md5=None,
            files=_CSV_FILES,
            parser=read_csv_release,
            n_ratings=100_836,
            licence=_LICENCE + " Redistribution allowed under the same conditions: bundled.",
            bundled=True,
            **_HALF,
        ),
        _release(
            "ml-100k",
            size=4_924_029,
            sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
            md5=None,
            files=("u.data", "u.item", "u.user"),
            parser=read_ml100k,
            n_ratings=100_000,
            licence=_LICENCE + " No redistribution without permission: downloaded on first use.",
            extracted_sha256=(
                ("u.data", "06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490"),
            ),
        ),
        _release(
            "ml-1m",
            size=5_917_549,
            sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
            md5=None,
            files=("ratings.dat", "movies.dat", "users.dat"),
            parser=read_ml1m,
            n_ratings=1_000_209,
            licence=_LICENCE + " No redistribution without permission: downloaded on first use.",
        ),
        _release(
            "ml-10m",
            folder="ml-10M100K",
            size=None,  # GroupLens publishes only an MD5 for this archive
            sha256=None,
            md5="ce571fd55effeba0271552578f2648bd",
            files=("ratings.dat", "movies.dat"),
            parser=read_ml10m,
            n_ratings=10_000_054,
            licence=_LICENCE + " No redistribution without permission: downloaded on first use.",
            **_HALF,
        ),
        _release(
            "ml-20m",
            size=198_702_078,
            sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
            md5=None,
            files=_CSV_FILES,
            parser=read_csv_release,
            n_ratings=20_000_263,
            licence=_LICENCE + " Redistribution allowed under the same conditions, but too large "
            "to bundle: downloaded on first use.",
            **_HALF,
        ),
        _release(
            "ml-25m",
            size=261_978_986,
            sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
            md5=None,
            files=_CSV_FILES,
            parser=read_csv_release,
            n_ratings=25_000_095,
            licence=_LICENCE + " Redistribution allowed under the same conditions, but too large "
            "to bundle: downloaded on first use.",
            **_HALF,
        ),
    )
}


def releases_table() -> pd.DataFrame:
    """The registry as a table (name, url, archive size, ratings, scale, licence note)."""
    rows = [
        {
            "name": r.name,
            "url": r.url,
            "archive_bytes": r.size,
            "ratings": r.n_ratings,
            "rating_scale": r.rating_scale,
            "rating_step": r.rating_step,
            "checksum": r.checksum,
            "bundled": r.bundled,
            "licence": r.licence,
        }
        for r in RELEASES.values()
    ]
    return pd.DataFrame(rows).set_index("name")


# --------------------------------------------------------------------------------------------
# Finding a release on disk (or the network)


def _has_files(folder: Path, release: Release) -> bool:
    return folder.is_dir() and all((folder / f).is_file() for f in release.files)


def _is_verified(folder: Path, release: Release) -> bool:
    marker = folder / MARKER
    try:
        recorded = marker.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return False
    return recorded == release.checksum and _has_files(folder, release)


def _verify_archive(path: Path, release: Release) -> None:
    verify(path, sha256=release.sha256, md5=release.md5, expected_size=release.size)


def _extract(archive: Path, target: Path, release: Release) -> Path:
    """Extract a verified archive into the cache folder, then write the marker."""
    safe_extract(archive, target, strip=release.folder)
    if not _has_files(target, release):
        missing = [f for f in release.files if not (target / f).is_file()]
        shutil.rmtree(target, ignore_errors=True)
        raise ValueError(
            f"{archive}: the archive has no {release.folder}/{', '.join(missing)}; "
            f"is it really {release.filename}?"
        )
    (target / MARKER).write_text(release.checksum + "\n", encoding="ascii")
    return target


@contextmanager
def _cache_lock(cache: Path, release: Release) -> Iterator[None]:
    """Serialise writers of one release's cache entry across processes (POSIX; no-op elsewhere).

    Parallel test workers or notebooks may load the same release at once; without the lock one
    could swap out the folder another is reading. The lock file stays (deleting it would race).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f".{release.name}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _check_extracted(folder: Path, release: Release) -> None:
    for filename, expected in release.extracted_sha256:
        verify(folder / filename, sha256=expected)


def _resolve(release: Release | str) -> Release:
    if isinstance(release, Release):
        return release
    try:
        return RELEASES[release]
    except KeyError:
        raise ValueError(
            f"unknown MovieLens release {release!r}; known: {', '.join(RELEASES)}"
        ) from None


def fetch(
    release: Release | str,
    *,
    download: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    movielens_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Path:
    """Make a release available on disk and return its extracted folder (see the module docstring).

    Args:
        release: a name from :data:`RELEASES` or a :class:`Release`.
        download: allow step d (the network); ``False`` raises instead of downloading.
        data_dir: the cache folder; default ``$RECSYS_DATA_DIR`` or ``<repo>/data``.
        movielens_dir: a folder of archives or extracted releases; default ``$MOVIELENS_DIR``.
        progress: show a tqdm progress bar while downloading.

    Raises:
        DatasetUnavailableError: no copy found and the download was forbidden or failed.
    """
    release = _resolve(release)

    # a. the bundled copy
    if release.bundled:
        bundled = paths.bundled_dir() / release.folder
        if _has_files(bundled, release):
            return bundled

    cache = Path(data_dir) if data_dir is not None else paths.data_dir()
    target = cache / release.folder
    archive = cache / release.filename
    problems: list[str] = []

    # b. a verified extraction in the cache, else a verified archive in the cache
    if _is_verified(target, release):
        return target
    if archive.is_file():
        with _cache_lock(cache, release):
            if _is_verified(target, release):  # another process finished meanwhile
                return target
            try:
                _verify_archive(archive, release)
            except ChecksumError as exc:
                problems.append(f"the archive in the cache failed verification ({exc})")
                warnings.warn(f"ignoring {archive}: {exc}", stacklevel=2)
            else:
                return _extract(archive, target, release)

    # c. $MOVIELENS_DIR: an archive to extract into the cache, or an extracted folder read in place
    mdir_value = movielens_dir if movielens_dir is not None else paths.movielens_dir()
    if mdir_value is not None:
        mdir = Path(mdir_value)
        shared_archive = mdir / release.filename
        shared_folder = mdir / release.folder
        if not shared_archive.is_file() and not _has_files(shared_folder, release):
            problems.append(
                f"{paths.MOVIELENS_DIR_ENV}={mdir} holds neither {release.filename} "
                f"nor {release.folder}/ with {', '.join(release.files)}"
            )
        if shared_archive.is_file():
            try:
                _verify_archive(shared_archive, release)
            except ChecksumError as exc:
                problems.append(f"{shared_archive} failed verification ({exc})")
                warnings.warn(f"ignoring {shared_archive}: {exc}", stacklevel=2)
            else:
                with _cache_lock(cache, release):
                    if _is_verified(target, release):
                        return target
                    return _extract(shared_archive, target, release)
        if _has_files(shared_folder, release):
            try:
                _check_extracted(shared_folder, release)
            except ChecksumError as exc:
                problems.append(f"{shared_folder} failed verification ({exc})")
                warnings.warn(f"ignoring {shared_folder}: {exc}", stacklevel=2)
            else:
                return shared_folder
    else:
        problems.append(f"{paths.MOVIELENS_DIR_ENV} is not set")

    # d. download into the cache
    if download:
        with _cache_lock(cache, release):
            if _is_verified(target, release):  # another process downloaded it meanwhile
                return target
            try:
                download_file(
                    release.url,
                    archive,
                    sha256=release.sha256,
                    md5=release.md5,
                    expected_size=release.size,
                    progress=progress,
                )
            except (DownloadError, ChecksumError, OSError) as exc:
                problems.append(f"downloading {release.url} failed: {exc}")
            else:
                return _extract(archive, target, release)
    else:
        problems.append("downloading was not allowed (download=False)")

    # e. nothing worked: say exactly how to provide the data
    pin = f"SHA-256 {release.sha256}" if release.sha256 else f"MD5 {release.md5}"
    raise DatasetUnavailableError(
        f"MovieLens release {release.name!r} is not available: " + "; ".join(problems) + ".\n"
        f"To use it offline, either\n"
        f"  * download {release.url}\n"
        f"    and save it as {archive}\n"
        f"    (it is checked against {pin}), or\n"
        f"  * set {paths.MOVIELENS_DIR_ENV} to a folder holding {release.filename} "
        f"or the extracted {release.folder}/ folder."
    )


def load_release(
    release: Release | str,
    *,
    download: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    movielens_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> Dataset:
    """Fetch a release (see :func:`fetch`) and parse it into a :class:`Dataset`."""
    release = _resolve(release)
    folder = fetch(
        release,
        download=download,
        data_dir=data_dir,
        movielens_dir=movielens_dir,
        progress=progress,
    )
    return release.parse(folder)
