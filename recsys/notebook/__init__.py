"""The notebook machinery: what runs the chapters and what they use to record and show results.

* :mod:`~recsys.notebook.runner`: executes the notebook sequence with papermill and writes
  ``build/`` (executed notebooks, HTML, figures, results JSON, the index page);
* :mod:`~recsys.notebook.results`: ``record``/``skip`` from inside a notebook, read back by the
  runner, the tests and the reproducibility check;
* :mod:`~recsys.notebook.params`: checks of notebook parameters, failing in the first cell;
* :mod:`~recsys.notebook.plotting`: the figure style and plots that need more than a few lines;
* :mod:`~recsys.notebook.machine`: what a timing was measured on.

This wing imports the domain (``recsys.datasets``, ``recsys.models``, ...); the domain never
imports it. Notebooks import from here::

    from recsys.notebook import params, plotting, record, record_table, skip
"""

from recsys.notebook.results import record, record_table, skip

__all__ = ["record", "record_table", "skip"]
