"""USearch (Unum): a compact HNSW with SIMD kernels picked at run time, inner product natively.

The same graph as hnswlib (``connectivity`` = M, ``expansion_add`` = ef_construction,
``expansion_search`` = ef, the query knob), written for small memory and fast distance kernels
(NumKong/SimSIMD, dispatched for the CPU found at run time: ``Index.hardware_acceleration``).
Builds are reproducible on one thread. Memory: ``Index.memory_usage``, the library's own figure.
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_choice, check_integer

__all__ = ["USearch"]

_METRICS = {"ip": "ip", "cosine": "cos", "l2": "l2sq"}


@register
class USearch(ANNIndex):
    """USearch's HNSW; ``ip`` native (distance ``1 - <q, x>``). Query knob: ``ef``."""

    name = "usearch"
    family = "graph"
    library = "usearch"
    requirement = "usearch>=2.12"
    native_metrics = ("ip", "cosine", "l2")
    query_params = ("ef",)
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": GRAPH_EF}}
    quick_grid = {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(self, metric="ip", M: int = 16, ef_construction: int = 128, dtype: str = "f32"):
        super().__init__(metric, M=M, ef_construction=ef_construction, dtype=dtype)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)
        self.dtype = check_choice("dtype", dtype, ("f32", "f16", "bf16", "i8"))

    def _fit(self, X: np.ndarray) -> None:
        require("usearch")
        from usearch.index import Index

        X = np.ascontiguousarray(X, dtype=np.float32)
        index = Index(
            ndim=X.shape[1],
            metric=_METRICS[self.space],
            dtype=self.dtype,
            connectivity=self.M,
            expansion_add=self.ef_construction,
            expansion_search=64,
        )
        index.add(np.arange(X.shape[0], dtype=np.uint64), X, threads=thread_count(self.num_threads), log=False)
        self._index = index

    def _set_query_arguments(self, ef=64) -> None:
        ef = check_integer("ef", ef, 1)
        if hasattr(self, "_index"):
            self._index.expansion_search = ef

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._found(self._index.search(q.astype(np.float32, copy=False), k, threads=1), 1)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        matches = self._index.search(Q.astype(np.float32, copy=False), k, threads=thread_count(self.num_threads))
        return self._found(matches, Q.shape[0])

    @staticmethod
    def _found(matches, n: int) -> np.ndarray:
        keys = np.asarray(matches.keys, dtype=np.int64).reshape(n, -1)
        counts = np.asarray(getattr(matches, "counts", np.full(n, keys.shape[1]))).reshape(n)
        keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1  # unfilled slots
        return keys

    def _memory_bytes(self) -> int:
        return int(self._index.memory_usage)
