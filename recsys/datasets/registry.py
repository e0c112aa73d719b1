"""The registry of dataset releases ``load`` knows, and loading one by name.

Each entry of :data:`RELEASES` is a :class:`~recsys.datasets.release.Release` (URL, pinned
checksum, files, parser, licence). To add a dataset: write its parser (in
:mod:`recsys.datasets.movielens` or a module of its own, built from :mod:`recsys.datasets.readers`),
add one entry here (:data:`recsys.datasets.NAMES` is derived from it).
"""

from __future__ import annotations

import os

import pandas as pd

from recsys.datasets.cache import fetch_release
from recsys.datasets.dataset import Dataset
from recsys.datasets.movielens import ML100K_FOLD_SHA256, read_csv_release, read_ml1m, read_ml10m, read_ml100k
from recsys.datasets.release import _LICENCE, BASE_URL, Release

__all__ = ["RELEASES", "fetch", "load_release", "releases_table", "resolve"]


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
            extracted_sha256=(
                ("ratings.csv", "80da8b3393dae325bbba5a31f291a6ba55d8d4f4396de3c456f2c1635b1b70e8"),
                ("movies.csv", "c47b783f23eb304413307e1bb05335e427737da20ec8d3c0e96335567dd5f3dc"),
                ("tags.csv", "68eec00a0820c2faa8863a6df7032f13d5899a4462bce9a97213905297ff3d34"),
                ("links.csv", "028a4a1d17751ca9276e0e0718cfc22356350f224a996e1ec348c23274b9209d"),
            ),
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
                ("u.item", "553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701"),
                ("u.user", "f120e114da2e8cf314fd28f99417c94ae9ddf1cb6db8ce0e4b5995d40e90e62c"),
                *ML100K_FOLD_SHA256.items(),
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


def resolve(release: Release | str) -> Release:
    """A :class:`Release` itself, or the registered release of that name."""
    if isinstance(release, Release):
        return release
    try:
        return RELEASES[release]
    except (KeyError, TypeError):
        raise ValueError(f"unknown MovieLens release {release!r}; known: {', '.join(RELEASES)}") from None


def fetch(
    release: Release | str,
    *,
    download: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    movielens_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
):
    """Make a release available on disk and return its folder (see :func:`recsys.datasets.cache.fetch_release`)."""
    return fetch_release(
        resolve(release), download=download, data_dir=data_dir, movielens_dir=movielens_dir, progress=progress
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
    release = resolve(release)
    folder = fetch_release(
        release,
        download=download,
        data_dir=data_dir,
        movielens_dir=movielens_dir,
        progress=progress,
    )
    dataset = release.parse(folder)
    if release.n_ratings and len(dataset.ratings) != release.n_ratings:
        raise ValueError(
            f"{folder}: {release.name} should hold {release.n_ratings:,} ratings, found {len(dataset.ratings):,}; "
            "the copy is incomplete or modified (delete it to fetch a fresh one, or fix $MOVIELENS_DIR)"
        )
    return dataset
