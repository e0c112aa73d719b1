"""NGT (Yahoo Japan): the ONNG graph (Iwasaki & Miyazaki 2018), searched with NGT's range-style epsilon.

NGT first builds an ANNG, an approximate k-nearest-neighbour graph grown by inserting the items one
by one (``edge_size`` edges per item, found by a search of the graph built so far), and then turns
it into an ONNG ("optimised" graph, Iwasaki & Miyazaki, *Optimization of Indexing Based on
k-Nearest Neighbor Graph for Proximity Search in High-dimensional Data*, 2018) with
``ngtpy.Optimizer``: each item keeps ``outdegree`` of its outgoing edges and gains up to
``indegree`` reversed ones, and shortcut edges (an edge whose end is reached more cheaply through a
third item) are removed. These are the parameters of ann-benchmarks' ``NGT-onng``
(``ann_benchmarks/algorithms/onng_ngt``; there with ``edge_size`` 100). A query starts from seeds
given by NGT's vantage-point tree and explores every item within ``(1 + epsilon)`` times the
distance of the current k-th result: ``epsilon`` is the accuracy knob (ann-benchmarks sweeps it from
-0.4 to 0.2); ``edge_size`` is how many edges of an item are followed (``-2``, the default:
``30 + 10^(20 epsilon)``, NGT's dynamic size; ``0``: all of them).

Metrics. The graph is searched in ``l2``; cosine is ``l2`` on normalised vectors (a zero vector
stays zero and ties with everything); inner product is served through the MIPS transform,
declared: the label reads ``ngt-onng(ip: MIPS->l2)``. NGT 2.8 has an ``"Inner Product"`` distance
type, and it ranks correctly, but it is the same transform done inside the library (the item gets
``sqrt(M^2 - |x|^2)`` appended, the graph is ``l2`` on that; ``NGT::Index::appendWithPreprocessing``)
with the query left as is. Here the query is also scaled to the items' common norm ``M`` (a positive
factor: the inner-product ranking does not change). Unscaled, a query is a short vector beside a
sphere of radius ``M``: every item is at nearly the same distance ``M`` from it, and ``epsilon``,
which is relative to that distance, jumps from a few per cent of the catalogue to all of it within
a few thousandths (measured on 20,000 clustered items, d = 64, norms log-normal with sigma 0.5:
recall@10 0.95 at 18 ms a query with NGT's own distance, at 2 ms with the scaled query). Scaled,
the query sits on the items' sphere. With items whose norms spread over two orders of magnitude the transformed items crowd around one
pole of the sphere and any graph navigates them poorly (``hnswlib-mips`` too): recall still rises
to 1 with ``epsilon``, but the last points read most of the catalogue. The grid's build was chosen
on 20,000 items (about 25 s on one core); it was not calibrated at 10^5 items and more.

NGT-QG, the quantised graph (``ngtpy.QuantizedIndex``, ``QuantizedBlobIndex``), is not offered:
ngt 2.8's Python module can only open one. Building it takes the ``qbg create-qg`` and
``qbg build-qg`` commands of the C++ distribution, which the wheel does not ship (its own README:
"The python function for quantization is not available yet").

Files. NGT keeps an index in a directory. Each built index owns a temporary directory
(``tempfile.mkdtemp``, prefix ``recsys-ngt-``, never inside the repository), removed when the index
is built again, garbage-collected, or at interpreter exit (``weakref.finalize``). The searched
index lives in memory; the files stay only while the index does. ``memory_bytes`` is the size of
the ONNG's files (objects, graph, tree, profile): the library's own serialised form, as
hnswlib's ``index_file_size`` is (``memory_source = "library"``).

Threads. Insertion takes ``num_threads``; the optimiser and the batched search are OpenMP loops,
limited to ``num_threads`` through threadpoolctl for the duration of the call (the library's
OpenMP setting is restored afterwards). A single query runs on the calling thread. The item ids
NGT hands back start at 1; the binding's zero-based numbering (the default, used here) converts
them, and a short answer is padded with -1.

Reproducibility. Two serial builds give the same graph (the optimiser's search-parameter,
prefetch and accuracy-table steps, which time searches on sampled queries, are switched off: they
tune speed and the ``expected_accuracy`` knob, not the graph). Builds on several threads insert in
a racing order. One query per call and the batched search take the same code path and agree.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.registry import register
from recsys.checks import check_integer, check_number

__all__ = ["NGTONNG"]

#: The epsilon sweep for ``l2`` and cosine (ann-benchmarks' 0.6 to 1.2, less one, made finer).
_EPSILON_L2 = [-0.3, -0.2, -0.1, -0.05, 0.0, 0.02, 0.05, 0.1, 0.15, 0.2]
#: The epsilon sweep for inner product (MIPS -> l2): useful values are small (see the module docstring).
_EPSILON_IP = [0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.1, 0.15, 0.2]


def _ngtpy():
    return require("ngtpy", "ngt")


@contextlib.contextmanager
def _openmp_threads(num_threads: int) -> Iterator[None]:
    """OpenMP limited to ``num_threads`` for the call (restored afterwards)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=thread_count(num_threads), user_api="openmp"):
        yield


def _remove_directory(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _directory_bytes(path: str) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(path) if entry.is_file())


@register
class NGTONNG(ANNIndex):
    """NGT's ONNG; ``ip`` through the MIPS transform (queries scaled to the items' norm). Query
    knobs: ``epsilon`` (the search range, the accuracy knob) and ``edge_size`` (edges followed)."""

    name = "ngt-onng"
    family = "graph"
    library = "ngtpy"
    requirement = "ngt>=2.8"
    native_metrics = ("l2",)  # cosine: l2 on the vectors the base class normalises
    transform_space = "l2"
    query_params = ("epsilon", "edge_size")
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {
        "build": [{"edge_size": 40, "outdegree": 10, "indegree": 120}],
        "query": {"epsilon": _EPSILON_IP},
    }
    quick_grid = {
        "build": [{"edge_size": 20, "outdegree": 10, "indegree": 60}],
        "query": {"epsilon": [0.0, 0.02, 0.05, 0.1]},
    }
    conformance = Conformance(
        {"edge_size": 20, "outdegree": 10, "indegree": 60},
        [{"epsilon": 0.0}, {"epsilon": 0.05}, {"epsilon": 0.2}],
        0.98,
    )

    def __init__(self, metric="ip", edge_size: int = 40, outdegree: int = 10, indegree: int = 120):
        super().__init__(metric, edge_size=edge_size, outdegree=outdegree, indegree=indegree)
        self.edge_size = check_integer("edge_size", edge_size, 1)
        self.outdegree = check_integer("outdegree", outdegree, 1)
        self.indegree = check_integer("indegree", indegree, 0)

    def _fit(self, X: np.ndarray) -> None:
        ngtpy = _ngtpy()
        X = np.ascontiguousarray(X, dtype=np.float32)
        if getattr(self, "_cleanup", None) is not None:
            self._cleanup()  # the previous build's files
        self._index = None
        directory = tempfile.mkdtemp(prefix="recsys-ngt-")
        self._cleanup = weakref.finalize(self, _remove_directory, directory)
        anng, onng = os.path.join(directory, "anng"), os.path.join(directory, "onng")
        with quiet_native_output(), _openmp_threads(self.num_threads):
            ngtpy.create(
                anng,
                X.shape[1],
                edge_size_for_creation=self.edge_size,
                edge_size_for_search=40,
                distance_type="L2",
                object_type="Float",
            )
            index = ngtpy.Index(anng, log_disabled=True)
            index.batch_insert(X, num_threads=thread_count(self.num_threads))
            index.save()
            index.close()
            optimizer = ngtpy.Optimizer(
                num_of_outgoings=self.outdegree, num_of_incomings=self.indegree, log_disabled=True
            )
            # the graph only: the other steps tune prefetching and the accuracy table by timing
            # searches on sampled queries (slow, and not reproducible)
            optimizer.set_processing_modes(
                shortcut_reduction=True,
                search_parameter_optimization=False,
                prefetch_parameter_optimization=False,
                accuracy_table_generation=False,
            )
            optimizer.execute(anng, onng)
            shutil.rmtree(anng, ignore_errors=True)
            self._index = ngtpy.Index(onng, read_only=True, log_disabled=True)
        self._directory = onng
        self._query_scale = float(getattr(self, "max_norm_", 0.0)) if self.transformed else 0.0
        self._set_query_arguments(**self.query_arguments)

    def _set_query_arguments(self, epsilon=0.1, edge_size=-2) -> None:
        epsilon = check_number("epsilon", epsilon, -1.0, exclusive=True)
        edge_size = check_integer("edge_size", edge_size, -2)
        if edge_size == -1:
            raise ValueError("edge_size must be -2 (NGT's dynamic size), 0 (every edge) or positive, got -1")
        if getattr(self, "_index", None) is not None:
            self._index.set(epsilon=float(epsilon), edge_size=int(edge_size))

    def _scaled(self, Q: np.ndarray) -> np.ndarray:
        """Queries of the MIPS transform scaled to the items' common norm (rankings unchanged)."""
        Q = np.asarray(Q, dtype=np.float32)
        if not self._query_scale:
            return Q
        norms = np.linalg.norm(Q.astype(np.float64), axis=-1, keepdims=True)
        factor = np.divide(self._query_scale, norms, out=np.ones_like(norms), where=norms > 0)
        return np.ascontiguousarray(Q * factor.astype(np.float32))

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(self._index.search(self._scaled(q), k, with_distance=False), dtype=np.int64)

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        ngtpy = _ngtpy()
        results = ngtpy.BatchResults()
        with _openmp_threads(self.num_threads):
            self._index.batch_search(self._scaled(Q), results, k, with_distance=False)
        offsets = np.asarray(results.get_index(), dtype=np.int64)
        ids = np.asarray(results.get_indexed_ids(), dtype=np.int64)
        out = np.full((Q.shape[0], k), -1, dtype=np.int64)
        for row in range(Q.shape[0]):
            found = ids[offsets[row] : offsets[row + 1]][:k]
            out[row, : found.size] = found
        return out

    def _memory_bytes(self) -> int:
        return _directory_bytes(self._directory)
