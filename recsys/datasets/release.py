"""One downloadable dataset release: where it comes from, how to check it, how to parse it.

A :class:`Release` is all that :func:`recsys.datasets.cache.fetch_release` needs to find, verify and
extract a dataset, and all that :func:`recsys.datasets.registry.load_release` needs to parse it.
Adding a dataset is one ``Release`` entry in :mod:`recsys.datasets.registry` and one parser.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from recsys.datasets.dataset import Dataset

BASE_URL = "https://files.grouplens.org/datasets/movielens"

_LICENCE = (
    "Research use only; no commercial use without GroupLens' permission; no implied endorsement "
    "by the University of Minnesota or GroupLens; cite Harper & Konstan (2015)."
)


@dataclass(frozen=True)
class Release:
    """One release: its archive (URL, file name, size, pinned checksum), the folder it extracts
    to and the files that folder must hold, the parser that reads it, and its licence note.

    ``bundled`` releases ship with the repository (``<repo>/data/<folder>``); ``extracted_sha256``
    pins files inside an extracted folder, checked when one is read in place.
    """

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
