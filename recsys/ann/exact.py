"""Exact search with numpy: one BLAS product and ``argpartition``. The reference every index is
measured against, and the baseline a recommender without an index pays."""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex


def _top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Best-first indices of the ``k`` largest entries of each row (ties: smaller index first)."""
    n = scores.shape[1]
    if k < n:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    else:
        part = np.broadcast_to(np.arange(n), scores.shape).copy()
    rows = np.arange(scores.shape[0])[:, None]
    order = np.lexsort((part, -scores[rows, part]), axis=1)
    return part[rows, order]


class BruteForce(ANNIndex):
    """Every item scored for every query (numpy/BLAS), the top ``k`` kept by ``argpartition``.

    Serves ``ip``, ``cosine`` (items normalised at build) and ``l2`` natively. ``batch_query``
    scores queries in blocks of ``batch_size`` rows (one matrix product each), which is how a
    recommender without an index serves many users at once.
    """

    name = "exact-numpy"
    family = "exact"
    native_metrics = ("ip", "l2")  # cosine: the base class normalises, then inner product
    query_params = ("batch_size",)

    def __init__(self, metric="ip", batch_size: int = 1024):
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
        return _top_k_rows(self._scores(q[None, :]), k)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        size = max(1, int(self.query_arguments.get("batch_size", 1024)))
        return np.vstack([_top_k_rows(self._scores(Q[i : i + size]), k) for i in range(0, Q.shape[0], size)])

    def _memory_bytes(self) -> int:
        return self._X.nbytes + self._norms_sq.nbytes
