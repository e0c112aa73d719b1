"""Shared fixtures: where the read-only MovieLens copies are, and an isolated data cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_datasets_dir() -> Path:
    """The read-only MovieLens copies: ``$MOVIELENS_DIR``, else ``shared/datasets`` beside the repo.

    CI clones the repository with ``shared/`` beside it and sets ``MOVIELENS_DIR``; a checkout
    without either skips the tests that need real ML-100K.
    """
    candidates = []
    if os.environ.get("MOVIELENS_DIR"):
        candidates.append(Path(os.environ["MOVIELENS_DIR"]))
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "datasets")
    for folder in candidates:
        if (folder / "ml-100k" / "u.data").is_file():
            return folder
    pytest.skip(
        "no extracted ml-100k found in $MOVIELENS_DIR or ../shared/datasets "
        f"(looked in: {', '.join(map(str, candidates))})"
    )


@pytest.fixture
def isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty download cache (``$RECSYS_DATA_DIR``) with ``$MOVIELENS_DIR`` unset."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(cache))
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    return cache
