"""Shared fixtures: where the read-only MovieLens copies are, and an isolated data cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_datasets_dir() -> Path:
    """The folder holding an extracted ``ml-100k/`` (``$MOVIELENS_DIR``), or skip.

    ML-100K's licence forbids redistributing it, so the repository does not carry it: point
    ``MOVIELENS_DIR`` at a folder holding ``ml-100k/u.data`` (CI does) to run these tests.
    """
    folder = os.environ.get("MOVIELENS_DIR")
    if folder and (Path(folder) / "ml-100k" / "u.data").is_file():
        return Path(folder)
    pytest.skip(
        f"no extracted ml-100k: set MOVIELENS_DIR to a folder holding ml-100k/u.data (MOVIELENS_DIR={folder!r})"
    )


@pytest.fixture
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty download cache (``$RECSYS_DATA_DIR``) with ``$MOVIELENS_DIR`` unset."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(cache))
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    return cache
