"""Determinism by default: every notebook, run twice with the same parameters, records identical results.

Each notebook runs twice with the small parameters of its own papermill test, and every result it
records for comparison (``record(..., compare=True)``, the default) must be *equal*, not merely
close: the tolerance of the reproducibility check (``recsys.notebook.results.REL_TOL``) is for
other machines and library builds, not for a second run on the same one. Timings are recorded with
``compare=False`` and left out. This is what fixed seeds by default buy (every stochastic model,
split and workload defaults to ``random_state=0`` or takes the notebook's ``seed``), and what
pinned thread counts buy where a library is nondeterministic with several threads.
"""

from __future__ import annotations

import nbformat
import pytest
from test_notebook_04 import SMALL_04
from test_notebook_05 import SMALL_05
from test_notebook_06 import TINY_06
from test_notebook_07 import SMALL as SMALL_07
from test_notebook_08 import SMALL as SMALL_08
from test_notebooks import SMALL_03

from recsys.notebook import runner
from recsys.notebook.results import compare_results, read_results

pytestmark = pytest.mark.notebook

PARAMETERS = {
    "01": dict(dataset="synthetic", k_core=3, seed=1),
    "02": dict(
        dataset="synthetic", n_folds=2, dampings=[5], damping_grid=[5], given=[0], mf_factors=2, use_ml100k=False
    ),
    "03": SMALL_03,
    "04": SMALL_04,
    "05": {**SMALL_05, "use_ml100k": False},
    # a time budget that a busy machine cannot exhaust: a budget that cut one run's grid short and
    # not the other's would differ in what was measured, not in what a measurement gives
    "06": {**TINY_06, "time_budget": 600.0},
    "07": {**SMALL_07, "use_ml100k": False, "ann_time_budget": 600.0},
    "08": SMALL_08,
}


def test_every_notebook_is_covered():
    assert sorted(PARAMETERS) == sorted(nb.stem.split("_", 1)[0] for nb in runner.discover())


def _results(number: str, build, parameters) -> dict:
    if number == "06":  # its ground-truth cache lives in the build folder: each run computes its own
        parameters = {**parameters, "cache_dir": str(build / "cache")}
    run = runner.run(
        only=[number],
        parameters=parameters,
        build_dir=build,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )[0]
    assert run.ok, run.error
    results = read_results(nbformat.read(run.executed, as_version=4), comparable_only=True)
    assert results, f"notebook {number} recorded nothing to compare"
    return results


@pytest.mark.parametrize("number", sorted(PARAMETERS))
def test_two_runs_record_identical_results(number, tmp_path):
    first = _results(number, tmp_path / "first", PARAMETERS[number])
    second = _results(number, tmp_path / "second", PARAMETERS[number])
    differences = compare_results(first, second, rel_tol=0.0, abs_tol=0.0)
    assert differences == [], f"notebook {number} is not deterministic:\n" + "\n".join(differences[:20])
