"""Shared fixtures: where the read-only MovieLens copies are, and an isolated data cache."""

from __future__ import annotations

import inspect
import os
import re
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


# -- the order tests are handed out in ------------------------------------------------------------
#
# `make test` runs pytest-xdist with `--dist loadgroup`: a worker is handed the next unit (a test,
# or an xdist_group such as a notebook's small run and its determinism check) each time one of its
# tests finishes. Handing out the longest units first keeps both workers busy to the end instead of
# leaving one notebook's default run as a serial tail. The figures are rough seconds measured on a
# 2-core machine (default run with quick timings / its small run twice, from make test --durations);
# only their order matters.
NOTEBOOK_SECONDS = {"03": (600, 25), "07": (450, 70), "06": (600, 130), "08": (90, 200), "02": (65, 20)}
NOTEBOOK_SECONDS |= {"04": (50, 45), "05": (40, 45), "01": (6, 14), "09": (900, 30)}


def _expected_seconds(item: pytest.Item) -> float:
    group = item.get_closest_marker("xdist_group")
    if group and group.args and str(group.args[0]).startswith("nb"):
        return NOTEBOOK_SECONDS.get(str(group.args[0])[2:], (0, 30))[1]
    if "test_default_run_reproduces" in item.nodeid:
        number = item.nodeid.split("[", 1)[-1][:2]
        return NOTEBOOK_SECONDS.get(number, (30, 0))[0]
    return 30.0 if item.get_closest_marker("notebook") else 0.0


# -- tiers ----------------------------------------------------------------------------------------
#
# A test that starts a Jupyter kernel, a script, a browser or a Spark session is `slow`: it takes
# seconds, whatever the data. The mark is read from the test's own source, so a new test of that
# kind cannot be forgotten in the fast tier (`make test-unit`: -m "not notebook and not slow").
_SLOW_CALLS = re.compile(
    r"\brunner\.run\(|\bmain\(\s*\[|\bsubprocess\.|\bpapermill\.|chromium|\bsys\.executable\b|_run_script\("
)


def _starts_a_process(item: pytest.Item) -> bool:
    function = getattr(item, "function", None)
    try:
        source = inspect.getsource(function) if function is not None else ""
    except (OSError, TypeError):
        return False
    return bool(_SLOW_CALLS.search(source))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long-reproduce",
        action="store_true",
        help="also reproduce the chapters whose default run is too long for make test (make test-reproduce)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    long_runs = config.getoption("--long-reproduce")
    for item in items:
        if not item.get_closest_marker("slow") and _starts_a_process(item):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("long_reproduce") and not long_runs:
            item.add_marker(
                pytest.mark.skip(
                    reason="a default run of many minutes: reproduced by `make notebooks` (exit 3 on a difference) "
                    "and `make test-reproduce` (tests/test_reproduce.py says why)"
                )
            )
    items.sort(key=_expected_seconds, reverse=True)  # stable: equal estimates keep their order
