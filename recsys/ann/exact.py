"""Exact search with numpy: one BLAS product and ``argpartition``. The reference every index is
measured against, and the baseline a recommender without an index pays.

(faiss's exact index, :class:`recsys.ann.faiss_indexes.FaissFlat`, is the batched reference of
the benchmark: the same answers with SIMD kernels and OpenMP threads.)
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance
from recsys.ann.registry import register
from recsys.similarity import top_k_rows


@register
class BruteForce(ANNIndex):
    """Every item scored for every query (numpy/BLAS), the top ``k`` kept by ``argpartition``.

    Serves ``ip`` and ``l2`` natively and ``cosine`` on normalised vectors. ``query`` is one
    matrix-vector product (memory-bound: it reads the whole catalogue per query); ``batch_query``
    scores queries in blocks of ``batch_size`` rows, one matrix product each, which is how a
    recommender without an index serves many users at once (``batch_size=None``: as many rows as
    keep one block of float32 scores near 256 MB). Ties: smaller index first.
    """

    name = "exact-numpy"
    family = "exact"
    native_metrics = ("ip", "l2")  # cosine: the base class normalises, then inner product
    query_params = ("batch_size",)
    grid = {"build": [{}], "query": [{}]}
    quick_grid = {"build": [{}], "query": [{}]}
    conformance = Conformance({}, [{}], 1.0)

    def __init__(self, metric="ip", batch_size: int | None = None):
        super().__init__(metric)
        self.query_arguments = {"batch_size": batch_size}

    def _fit(self, X: np.ndarray) -> None:
        self._X = X
        self._norms_sq = np.einsum("ij,ij->i", X, X)

    def _scores(self, Q: np.ndarray) -> np.ndarray:
        dots = Q @ self._X.T
        if self.space == "l2":  # minus the squared distance, up to the query's own norm
            return 2.0 * dots - self._norms_sq[None, :]
        return dots

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return top_k_rows(self._scores(q[None, :]), k)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        size = self.query_arguments.get("batch_size") or max(1, (1 << 26) // max(1, self._X.shape[0]))
        size = max(1, int(size))
        return np.vstack([top_k_rows(self._scores(Q[i : i + size]), k) for i in range(0, Q.shape[0], size)])

    def _memory_bytes(self) -> int:
        return self._X.nbytes + self._norms_sq.nbytes
