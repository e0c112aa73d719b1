"""Voyager (Spotify): hnswlib's HNSW behind a safer API, inner product natively, items inserted
longest first.

The same graph as hnswlib (``M`` links per item, ``2 M`` on the bottom layer, a search of depth
``ef_construction`` while inserting; ``ef``, the query knob, is ``query_ef``), stored in float32.

Inner product is native in its ranking: ``Space.InnerProduct`` scores ``1 - <q, x>`` on the raw
vectors. Its graph is not hnswlib's, though. Voyager always appends an extra coordinate to every
item, ``sqrt(m^2 - |x|^2)`` with ``m`` the longest norm inserted *so far* (Bachrach et al.'s
order-preserving transform, the one :func:`recsys.similarity.mips_transform` applies; the Python
API cannot turn it off), and 0 to every query. The query's score is unchanged, but the graph is
built among the transformed items, which puts the many short items in a crowd near one pole of a
sphere. On recommender-shaped vectors (norms spread over two orders of magnitude) that graph
searches badly: on ``workloads.clustered(20_000, 200, 64, 50)`` (log-normal norms, sigma
0.5; ``M = 12``, ``ef_construction = 200``), inserted in the catalogue's order, recall@10 was 0.53
at ``ef = 10`` and 0.98 at ``ef = 512``, where hnswlib's plain inner-product graph had 0.99 at
``ef = 10``; the same search on :func:`~recsys.similarity.mips_transform`'s vectors in voyager's
``Euclidean`` space scored the same (0.51 to 0.99), and inserting the longest item first (so that
``m`` is final from the start) did not help (0.40 to 0.99). With sigma 1.0 the catalogue's order
gave 0.11 at ``ef = 10`` and 0.77 at ``ef = 512`` (``M = 16``, ``ef_construction = 100``).

What helps is the insertion order. Inserted from the longest vector to the shortest (the long
items, the ones inner product ranks first, then form the graph's early backbone and entry point:
our reading of why, not a measured mechanism), recall@10 went to 0.96 at ``ef = 10`` and 1.0 from ``ef = 256`` (sigma 0.5), 0.92 at ``ef = 10``
and 1.0 from ``ef = 128`` (sigma 1.0); 0.94 at ``ef = 10`` and 1.0 from ``ef = 192`` on 100,000
items (sigma 0.75). The order is a remedy for voyager's transformed graph only: it makes
hnswlib's and glass's plain inner-product graphs worse (0.92 to 0.89 at ``ef = 10``).
``order="norm"`` (the default) inserts so, with ids kept; ``order="given"`` inserts in the
catalogue's order, to show the difference (``tests/test_ann_glass_voyager.py`` checks the gap on
the battery's small case). The order applies to ``ip`` only: cosine (voyager normalises) and
``l2`` are native and insert in the given order.

Threads: ``add_items`` and batched ``query`` take ``num_threads`` (voyager runs a batch of up to
four queries per thread on one thread). One thread with a fixed ``random_state`` builds the same
index every time; several insert in a racing order. A search that reaches fewer than ``k`` items
makes voyager raise ``RecallError``; the adapter then asks for fewer and answers -1 for the rest.
Memory: the size of voyager's own serialisation (``Index.save``), counted, not written.
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_choice, check_integer

__all__ = ["Voyager"]

_ORDERS = ("norm", "given")


class _ByteCounter:
    """A write-only, seekable file-like object that keeps no bytes, only the length written."""

    def __init__(self) -> None:
        self.size = 0
        self.position = 0

    def write(self, data) -> int:
        written = memoryview(data).nbytes
        self.position += written
        self.size = max(self.size, self.position)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = offset + (0, self.position, self.size)[whence]
        return self.position

    def tell(self) -> int:
        return self.position

    def seekable(self) -> bool:
        return True

    def flush(self) -> None:
        pass


@register
class Voyager(ANNIndex):
    """Voyager's HNSW; ``ip`` native (distance ``1 - <q, x>``), items longest first. Query knob: ``ef``."""

    name = "voyager"
    family = "graph"
    library = "voyager"
    requirement = "voyager>=2.2"
    native_metrics = ("ip", "cosine", "l2")
    query_params = ("ef",)
    memory_source = "library"
    parallel_build_is_deterministic = False
    grid = {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": GRAPH_EF}}
    quick_grid = {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(
        self, metric="ip", M: int = 16, ef_construction: int = 200, order: str = "norm", random_state: int = 1
    ):
        super().__init__(metric, M=M, ef_construction=ef_construction, order=order, random_state=random_state)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)
        self.order = check_choice("order", order, _ORDERS)
        self.random_state = check_integer("random_state", random_state, 0)
        self.ef = 10

    def _fit(self, X: np.ndarray) -> None:
        voyager = require("voyager")
        X = np.ascontiguousarray(X, dtype=np.float32)
        spaces = {"ip": voyager.Space.InnerProduct, "cosine": voyager.Space.Cosine, "l2": voyager.Space.Euclidean}
        index = voyager.Index(
            spaces[self.space],
            X.shape[1],
            M=self.M,
            ef_construction=self.ef_construction,
            random_seed=self.random_state,
            max_elements=X.shape[0],
        )
        if self.space == "ip" and self.order == "norm":
            order = np.argsort(-np.einsum("ij,ij->i", X, X, dtype=np.float64), kind="stable")
        else:
            order = np.arange(X.shape[0])
        index.add_items(np.ascontiguousarray(X[order]), ids=order.tolist(), num_threads=thread_count(self.num_threads))
        self._index = index
        self._serialised_bytes: int | None = None

    def _set_query_arguments(self, ef=10) -> None:
        self.ef = check_integer("ef", ef, 1)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        q = q.astype(np.float32, copy=False)
        want = k
        while want >= 1:
            try:
                ids, _ = self._index.query(q, k=want, query_ef=max(self.ef, want))
            except require("voyager").RecallError:  # fewer than want reachable: ask for fewer
                want //= 2
                continue
            return np.asarray(ids, dtype=np.int64)
        return np.empty(0, dtype=np.int64)

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray | list:
        Q = np.ascontiguousarray(Q, dtype=np.float32)
        try:
            ids, _ = self._index.query(Q, k=k, num_threads=thread_count(self.num_threads), query_ef=max(self.ef, k))
        except require("voyager").RecallError:
            return [self._query(q, k) for q in Q]
        return np.asarray(ids, dtype=np.int64)

    def _memory_bytes(self) -> int:
        if self._serialised_bytes is None:
            counter = _ByteCounter()
            self._index.save(counter)
            self._serialised_bytes = counter.size
        return self._serialised_bytes
