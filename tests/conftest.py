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


#: Rough default-run seconds of each notebook on 2 cores (the README's table), longest first.
_DEFAULT_RUN_ORDER = ["03", "06", "07", "08", "02", "04", "05", "01"]


def _weight(item) -> tuple[int, int]:
    """Sort key: the longest tests first, so that ``pytest -n auto`` (xdist hands out tests in
    collection order) starts the default-run reproductions at once, spread over the workers,
    instead of leaving them for a tail that only one worker runs."""
    name = item.nodeid
    rank = next((i for i, n in enumerate(_DEFAULT_RUN_ORDER) if f"[{n}" in name or f"[{n}_" in name), 99)
    if item.get_closest_marker("reproduce"):
        return (0, rank)
    if "test_determinism.py" in name:
        return (1, rank)
    if item.get_closest_marker("notebook"):
        return (2, 0)
    return (3, 0)


def pytest_collection_modifyitems(config, items):
    items.sort(key=_weight)  # stable: within a tier, the files' own order is kept
