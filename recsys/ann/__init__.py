"""Approximate nearest-neighbour and maximum-inner-product search, behind one small interface.

What belongs here: one module per search library, each an adapter subclassing
:class:`recsys.ann.base.ANNIndex` (modelled on ann-benchmarks' ``BaseANN``: ``fit(vectors)``,
``set_query_arguments(...)``, ``query(vector, k)``, ``batch_query(vectors, k)``,
``memory_bytes()``), plus the workloads the indexes are measured on and the benchmark harness.

Rules of this wing:

* An adapter module imports its library **inside** ``fit`` (or a helper it calls), never at
  module level, so ``import recsys.ann`` works without any optional library installed; an adapter
  whose library is missing raises :class:`~recsys.ann.base.LibraryUnavailable` naming the pip
  package, and the harness skips it with that reason.
* The heavy libraries (faiss, hnswlib, nmslib, annoy, scann, ...) live in the optional extra
  ``pip install -e '.[ann]'``; the core package needs none of them.
* This wing may import :mod:`recsys.checks` and :mod:`recsys.similarity` (the measures and the
  MIPS transform); it never imports models, evaluation or the notebook machinery: it takes
  vectors (``model.inner_product_factors()``), not models.
"""

from recsys.ann.base import ANNIndex, LibraryUnavailable

__all__ = ["ANNIndex", "LibraryUnavailable"]
