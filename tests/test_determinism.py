"""Determinism by default: every notebook, run twice with the same parameters, records identical results.

Each notebook runs with the small parameters of its own papermill test (``notebook_runs.SMALL``;
that test's run is reused as the first of the two) and once more, and every result it records for
comparison (``record(..., compare=True)``, the default) must be *equal*, not merely close: the
tolerance of the reproducibility check (``recsys.notebook.results.REL_TOL``) is for other machines
and library builds, not for a second run on the same one. Timings are recorded with
``compare=False`` and left out. This is what fixed seeds by default buy (every stochastic model,
split and workload defaults to ``random_state=0`` or takes the notebook's ``seed``), and what
pinned thread counts buy where a library is nondeterministic with several threads.
"""

from __future__ import annotations

import nbformat
import pytest
from notebook_runs import SMALL, execute, small_run

from recsys.notebook import runner
from recsys.notebook.results import compare_results, read_results

pytestmark = pytest.mark.notebook


def test_every_notebook_is_covered():
    assert sorted(SMALL) == sorted(nb.stem.split("_", 1)[0] for nb in runner.discover())


def _comparable(run: runner.NotebookRun, number: str) -> dict:
    assert run.ok, run.error
    results = read_results(nbformat.read(run.executed, as_version=4), comparable_only=True)
    assert results, f"notebook {number} recorded nothing to compare"
    return results


@pytest.mark.parametrize("number", [pytest.param(n, marks=pytest.mark.xdist_group(f"nb{n}")) for n in sorted(SMALL)])
def test_two_runs_record_identical_results(number, tmp_path, tmp_path_factory):
    first = _comparable(small_run(number, tmp_path_factory), number)
    second = _comparable(execute(number, tmp_path / "second", SMALL[number]), number)
    differences = compare_results(first, second, rel_tol=0.0, abs_tol=0.0)
    assert differences == [], f"notebook {number} is not deterministic:\n" + "\n".join(differences[:20])
