"""The committed notebooks carry the outputs of their default run; the current code must reproduce them.

This runs every notebook with its default parameters (the full, publishable run: a few minutes)
and compares the results it records with those stored in the committed notebook, within the
tolerance of :func:`recsys.notebook.results.compare_results` (relative 1e-3; timings are not compared).
The loops that only time things run short (:data:`recsys.notebook.runner.QUICK_TIMINGS`): every
compared value is still computed, and one that moved or went missing is a difference.
Sections that need data this machine lacks (ML-100K without ``MOVIELENS_DIR``) are skipped by
the notebooks and left out of the comparison. Marked ``reproduce``; ``make test-fast`` skips it.
"""

from __future__ import annotations

import pytest

from recsys.notebook import runner

pytestmark = [pytest.mark.reproduce, pytest.mark.notebook]


@pytest.mark.parametrize("notebook", [nb.stem for nb in runner.discover()])
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
