"""Datasets: every MovieLens release and the synthetic generator behind one ``load(name)`` call.

The package, by concern: :mod:`~recsys.datasets.dataset` (the one ``Dataset`` type),
:mod:`~recsys.datasets.readers` (strict text readers), :mod:`~recsys.datasets.movielens` (the
MovieLens parsers and ML-100K's folds), :mod:`~recsys.datasets.release` and
:mod:`~recsys.datasets.registry` (what a release is; the ones we know),
:mod:`~recsys.datasets.download` (verified atomic downloads, safe extraction),
:mod:`~recsys.datasets.cache` (the find-or-fetch ladder below) and
:mod:`~recsys.datasets.synthetic` (planted data). Adding a dataset is one parser and one
registry entry.

>>> from recsys import datasets
>>> ds = datasets.load("ml-latest-small")        # bundled, works offline
>>> ds = datasets.load("ml-100k", download=False)  # cache or $MOVIELENS_DIR only, never the network

Where a MovieLens release is looked for (first hit wins):

a. ``ml-latest-small``: the copy bundled in ``<repo>/data/ml-latest-small``.
b. The cache ``<data_dir>/<folder>`` (``data_dir=`` argument, else ``$RECSYS_DATA_DIR``, else
   ``<repo>/data``) if it carries the ``.recsys-verified`` marker written after a successful
   extraction; else a verified archive ``<data_dir>/<name>.zip``, extracted into the cache.
c. ``$MOVIELENS_DIR``: a verified ``<name>.zip`` (extracted into the cache) or an extracted
   ``<folder>/`` read in place, read-only.
d. A checksum-verified download from GroupLens into the cache (unless ``download=False``).
e. Otherwise :class:`DatasetUnavailableError` naming the URL, the path to save the archive at, and
   the ``$MOVIELENS_DIR`` alternative.

``RELEASES`` lists every release with its URL, archive size, checksum and licence note;
:func:`releases_table` shows the same as a DataFrame.
"""

from __future__ import annotations

import os
from typing import Any

from recsys.datasets.dataset import Dataset, SyntheticTruth
from recsys.datasets.download import ChecksumError, DatasetUnavailableError, DownloadError
from recsys.datasets.registry import RELEASES, fetch, load_release, releases_table
from recsys.datasets.release import Release

__all__ = [
    "NAMES",
    "RELEASES",
    "ChecksumError",
    "Dataset",
    "DatasetUnavailableError",
    "DownloadError",
    "Release",
    "SyntheticTruth",
    "fetch",
    "load",
    "releases_table",
]

#: Every name :func:`load` accepts: the registered releases, then the synthetic generator. Derived
#: from :data:`RELEASES`, so a dataset is named once (its entry in :mod:`recsys.datasets.registry`).
SYNTHETIC = "synthetic"
NAMES: tuple[str, ...] = (*RELEASES, SYNTHETIC)


def load(
    name: str | Release,
    *,
    download: bool = True,
    data_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> Dataset:
    """Load a dataset by name: a MovieLens release or ``"synthetic"``.

    Args:
        name: one of :data:`NAMES`, or a :class:`Release` (e.g. a modified copy in tests).
        download: for MovieLens, allow downloading from GroupLens when no local copy is found.
        data_dir: for MovieLens, the download cache (default ``$RECSYS_DATA_DIR``, else
            ``<repo>/data``).
        **kwargs: for ``"synthetic"``, the generator's parameters (see
            ``recsys.datasets.synthetic.generate``); for MovieLens, ``movielens_dir=`` and
            ``progress=`` (see :func:`fetch`).

    Raises:
        ValueError: unknown name.
        DatasetUnavailableError: a MovieLens release is neither on disk nor downloadable.
    """
    if isinstance(name, Release):
        return load_release(name, download=download, data_dir=data_dir, **kwargs)
    if not isinstance(name, str):
        raise TypeError(f"name must be a str or Release, got {type(name).__name__}")
    if name == SYNTHETIC:
        from recsys.datasets import synthetic  # written separately; imported only when asked for

        return synthetic.generate(**kwargs)
    if name not in RELEASES:
        raise ValueError(f"unknown dataset {name!r}; known names: {', '.join(NAMES)}")
    return load_release(RELEASES[name], download=download, data_dir=data_dir, **kwargs)
