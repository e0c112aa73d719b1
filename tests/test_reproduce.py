"""The committed notebooks carry the outputs of their default run; the current code must reproduce them.

This runs a notebook with its default parameters (the full, publishable run) and compares the
results it records with those stored in the committed notebook, within the tolerance of
:func:`recsys.notebook.results.compare_results` (relative 1e-3; timings are not compared).
The loops that only time things run short (:data:`recsys.notebook.runner.QUICK_TIMINGS`): every
compared value is still computed, and one that moved or went missing is a difference.
Sections that need data this machine lacks (ML-100K without ``MOVIELENS_DIR``) are skipped by
the notebooks and left out of the comparison. Marked ``reproduce``; ``make test-unit`` skips it.

**Which chapters `make test` reproduces.** Those whose default run takes a few minutes or less.
The chapters in :data:`LONG_DEFAULT_RUNS` take 5 to 30 minutes each even with quick timings
(together about 20 of the 2-core machine's minutes out of `make test`'s 15-minute budget), so
`make test` skips them, saying why, and they are reproduced by:

* ``make notebooks`` (the main job): every chapter's default run is compared with its committed
  notebook and the command exits 3 on a difference;
* ``make test-reproduce`` (``pytest -m reproduce --long-reproduce``): this test for every chapter.

What `make test` still checks of those chapters: their small runs, asserted on and run twice for
determinism (``tests/test_notebook_0N.py``, ``tests/test_determinism.py``), their parameter
checks, and that every committed run under ``notebooks/results/`` comes from the current source
(``tests/test_committed_runs.py``). What it no longer catches: a code change that moves a number
of one of those chapters' default runs and nothing in its small run.
"""

from __future__ import annotations

import pytest

from recsys.notebook import runner

pytestmark = [pytest.mark.reproduce, pytest.mark.notebook]

#: Chapters whose default run is too long for `make test` (its wall time with quick timings in
#: make test --durations on the 2-core machine, two workers, 2026-12-07; the full runs are in the
#: README's notebook table). Reproduced by `make notebooks` and `make test-reproduce`.
LONG_DEFAULT_RUNS: dict[str, int] = {
    "03_als_svd_sgd": 397,
    "06_ann_recall_latency": 480,
    "07_autoencoder_gnn_embeddings": 547,
    "08_scale_out": 213,
    "09_leaderboard": 900,  # estimated from its parts (2026-12-08): its boards tune every model on nine draws
}


def _chapters() -> list:
    return [
        pytest.param(nb.stem, marks=pytest.mark.long_reproduce) if nb.stem in LONG_DEFAULT_RUNS else nb.stem
        for nb in runner.discover()
    ]


def test_the_long_runs_are_chapters():
    assert set(LONG_DEFAULT_RUNS) <= {nb.stem for nb in runner.discover()}
    assert len(LONG_DEFAULT_RUNS) < len(runner.discover()), "make test must still reproduce some chapter"


@pytest.mark.parametrize("notebook", _chapters())
def test_default_run_reproduces_the_committed_notebook(notebook, tmp_path):
    run = runner.run(
        only=[notebook], build_dir=tmp_path, progress=False, html=False, quick_timings=True, log=lambda _: None
    )[0]
    assert run.ok, run.error
    assert run.defaults and run.quick_timings == runner.QUICK_TIMINGS.get(notebook, {})
    assert run.reproduction is not None, f"{notebook}: the committed notebook records no results to compare"
    assert run.reproduction == [], f"{notebook} no longer reproduces its committed results:\n" + "\n".join(
        run.reproduction
    )
