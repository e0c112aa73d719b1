"""nmslib (Non-Metric Space Library): HNSW over many spaces, including a native negative dot product.

Two adapters, to compare the two ways of serving inner product with one graph library:

* :class:`NmslibHNSW` searches ``negdotprod`` (distance ``-<q, x>``) natively: the graph is built
  and searched on inner products, which are not a metric (an item need not be its own nearest
  neighbour), so the graph's navigability guarantees do not strictly hold;
* :class:`NmslibHNSWMIPS` searches ``cosinesimil`` on MIPS-transformed vectors: every item gets
  the extra coordinate ``sqrt(M^2 - |x|^2)``, so all items have the same norm and the nearest by
  angle is the best by inner product, in a true metric space.

Build knobs: ``M``, ``ef_construction``, ``post`` (0-2, extra graph post-processing); query knob:
``ef``. nmslib's PyPI wheel is compiled without SIMD (it says so on import; the banner is
silenced here and reported by :func:`recsys.ann.bench.library_builds`). Builds on one thread are
reproducible. nmslib reports no index size: memory is the size of its own serialised index
(``saveIndex`` with the data), written to a temporary folder.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_integer

__all__ = ["NmslibHNSW", "NmslibHNSWMIPS"]

_SPACES = {"ip": "negdotprod", "cosine": "cosinesimil", "l2": "l2"}


@register
class NmslibHNSW(ANNIndex):
    """nmslib's HNSW with inner product searched natively (``negdotprod``). Query knob: ``ef``."""

    name = "nmslib-hnsw"
    family = "graph"
    library = "nmslib"
    requirement = "nmslib>=2.1.2"
    native_metrics = ("ip", "cosine", "l2")
    query_params = ("ef",)
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": GRAPH_EF}}
    quick_grid = {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(self, metric="ip", M: int = 16, ef_construction: int = 200, post: int = 0):
        super().__init__(metric, M=M, ef_construction=ef_construction, post=post)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)
        self.post = check_integer("post", post, 0, 2)

    def _fit(self, X: np.ndarray) -> None:
        nmslib = require("nmslib")
        X = np.ascontiguousarray(X, dtype=np.float32)
        index = nmslib.init(method="hnsw", space=_SPACES[self.space], data_type=nmslib.DataType.DENSE_VECTOR)
        index.addDataPointBatch(X)
        with quiet_native_output():
            index.createIndex(
                {
                    "M": self.M,
                    "efConstruction": self.ef_construction,
                    "post": self.post,
                    "indexThreadQty": thread_count(self.num_threads),
                },
                print_progress=False,
            )
        self._index = index
        self._set_query_arguments(**self.query_arguments)

    def _set_query_arguments(self, ef=10) -> None:
        ef = check_integer("ef", ef, 1)
        if hasattr(self, "_index"):
            self._index.setQueryTimeParams({"efSearch": ef})

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        ids, _ = self._index.knnQuery(q.astype(np.float32, copy=False), k=k)
        return ids

    def _batch_query(self, Q: np.ndarray, k: int) -> list:
        found = self._index.knnQueryBatch(
            Q.astype(np.float32, copy=False), k=k, num_threads=thread_count(self.num_threads)
        )
        return [ids for ids, _ in found]

    def _memory_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as folder, quiet_native_output():
            self._index.saveIndex(os.path.join(folder, "index"), save_data=True)
            return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


@register
class NmslibHNSWMIPS(NmslibHNSW):
    """nmslib's HNSW searching ``cosinesimil`` on MIPS-transformed vectors."""

    name = "nmslib-hnsw-mips"
    native_metrics = ("cosine", "l2")
    transform_space = "cosine"
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 80}, {"ef": 400}], 0.95)
