"""hnswlib: the reference implementation of HNSW (Malkov & Yashunin), inner product natively.

A hierarchical navigable small-world graph: every item is linked to about ``M`` near neighbours
(``2 M`` on the bottom layer), found while inserting with a search of depth
``ef_construction``; a few items also sit on sparser upper layers that act as express lanes. A
query walks greedily from the top layer down and keeps the ``ef`` best candidates on the bottom
one: ``ef`` is the accuracy knob.

Builds are reproducible on one thread with a fixed ``random_state`` (it draws the layers);
several threads insert in a racing order. hnswlib compiles its distance kernels for the CPU it is
built on; a wheel built with ``HNSWLIB_NO_NATIVE=1`` (as the Makefile does, see ``docs/dependencies.md``) uses SSE
only: :func:`recsys.ann.bench.library_builds` says which. Memory: ``index_file_size()``, the
library's own figure.
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_integer

__all__ = ["HnswLib", "HnswLibMIPS"]

_SPACES = {"ip": "ip", "cosine": "cosine", "l2": "l2"}


@register
class HnswLib(ANNIndex):
    """hnswlib's HNSW; ``ip`` native (distance ``1 - <q, x>``). Query knob: ``ef``."""

    name = "hnswlib"
    family = "graph"
    library = "hnswlib"
    requirement = "hnswlib>=0.8"
    native_metrics = ("ip", "cosine", "l2")
    query_params = ("ef",)
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": GRAPH_EF}}
    quick_grid = {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(self, metric="ip", M: int = 16, ef_construction: int = 200, random_state: int = 0):
        super().__init__(metric, M=M, ef_construction=ef_construction, random_state=random_state)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)
        self.random_state = check_integer("random_state", random_state, 0)

    def _fit(self, X: np.ndarray) -> None:
        hnswlib = require("hnswlib")
        X = np.ascontiguousarray(X, dtype=np.float32)
        index = hnswlib.Index(space=_SPACES[self.space], dim=X.shape[1])
        index.init_index(
            max_elements=X.shape[0], M=self.M, ef_construction=self.ef_construction, random_seed=self.random_state
        )
        index.set_num_threads(thread_count(self.num_threads))
        index.add_items(X, np.arange(X.shape[0]))
        index.set_ef(10)
        self._index = index

    def _apply_threads(self) -> None:
        self._index.set_num_threads(thread_count(self.num_threads))

    def _set_query_arguments(self, ef=10) -> None:
        ef = check_integer("ef", ef, 1)
        if hasattr(self, "_index"):
            self._index.set_ef(ef)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        q = q.astype(np.float32, copy=False)
        try:
            labels, _ = self._index.knn_query(q, k=k, num_threads=1)
        except RuntimeError:  # fewer than k reachable (k close to the catalogue): return what it finds
            return self._fewer(q, k)
        return labels[0]

    def _fewer(self, q: np.ndarray, k: int) -> np.ndarray:
        """hnswlib refuses to return fewer than k; ask for less until it answers (the rest stays -1)."""
        while k > 1:
            k //= 2
            try:
                return self._index.knn_query(q, k=k, num_threads=1)[0][0]
            except RuntimeError:
                continue
        return np.empty(0, dtype=np.int64)

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray | list:
        Q = Q.astype(np.float32, copy=False)
        try:
            labels, _ = self._index.knn_query(Q, k=k, num_threads=thread_count(self.num_threads))
        except RuntimeError:
            return [self._query(q, k) for q in Q]
        return labels

    def _memory_bytes(self) -> int:
        return int(self._index.index_file_size())


@register
class HnswLibMIPS(HnswLib):
    """hnswlib searching ``l2`` on MIPS-transformed vectors (to compare with the native ``ip``)."""

    name = "hnswlib-mips"
    native_metrics = ("cosine", "l2")
    transform_space = "l2"
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 80}, {"ef": 400}], 0.95)
