"""glass (Zilliz's graph library, ``pyglass``): an HNSW graph searched by a lean, prefetching
searcher over full-precision or 16-bit vectors, inner product natively.

glass splits an index in two. ``glass.Index("HNSW", metric, quant, R, L).build(X)`` builds the
graph with hnswlib's insertion algorithm (``R`` links per item on the bottom layer, ``M = R / 2``
on the upper ones, a search of depth ``L`` = ef_construction while inserting) and keeps the bottom
layer as a flat ``n x R`` table plus the upper layers as an entry-point finder;
``glass.Searcher(graph, X, metric, quant)`` stores the vectors again in the searcher's own format
and walks that table keeping the ``ef`` best candidates: ``ef`` is the accuracy knob. The PyPI
wheel used here is ``pyglass-portable`` (the upstream source built for AVX2, not only AVX-512;
the PyPI name ``pyglass`` is an unrelated tool).

Inner product is native (glass's ``"IP"`` distance is ``-<q, x>``, on the raw vectors, no
transform) and ranks correctly on vectors of widely spread norms: on
``workloads.clustered(20_000, 200, 64, 50)`` recall@10 went from 0.99 at ``ef = 10`` to 1.0 at
``ef = 64`` with log-normal norms of sigma 0.5, from 0.92 to 0.995 at ``ef = 512`` with sigma 1.0
(norms from 0.2 to 870), as hnswlib's does; on 100,000 such items (sigma 0.75), 0.96 at
``ef = 10`` and 1.0 from ``ef = 96``. Cosine is inner product on normalised vectors; ``l2`` is
native.

``quant`` (a build parameter) is the vectors' format in both the builder and the searcher:
``"FP32"`` or ``"FP16"`` (half the memory of the vectors, the same recall on the clustered
workloads; coordinates must stay within float16's range, 65,504). glass's other formats are left
out. ``BF16`` takes the same memory as ``FP16`` with 8 bits of mantissa instead of 11, and its
cosine recall@10 stopped at 0.988 as ``ef`` grew. ``SQ8U`` (one symmetric scale for every
coordinate, clipped at a quantile) plateaus at recall@10 0.69 on items whose norms spread as
recommender factors do (the clustered items above with sigma 1.0; 0.77 with glass's own float
re-ranking, which looks at only 1.5 k candidates), and ``SQ8`` at 0.94 (0.97 re-ranked),
whatever ``ef``. glass's NSG graph is left out
too: its builder has no metric (``l2`` only), so inner product would go through the MIPS
transform, where it plateaued at recall@10 0.40-0.94 at ``ef = 512`` after a build ten times as
long as HNSW's.

Two things the adapter does for correctness. glass's searcher sizes its candidate pool
``max(ef, k)`` for one query but ``ef`` for a batch, so the adapter hands it ``max(ef, k)`` for
both: the two paths then return the same items. And glass copies out ``k`` slots of its pool
without saying how many it filled: a slot the search never reached holds whatever an earlier
query left there. A pool of ``max(ef, k)`` runs short only when the search's start reaches fewer
than ``k`` items through the graph's links, so after building, the adapter reads the bottom layer
(from the graph glass saves) and answers -1 past the fewest items any start can reach
(``reach_``). On an inner-product graph that is well below the catalogue: short items link to
long ones but few links lead back to them (20,000 clustered items with spread norms: 7,663
reachable from the long items' component; 19,997 of them under cosine, all under ``l2``), so a
query for thousands of items gets -1 where hnswlib would return fewer items or fail.

Threads: the build and :meth:`~recsys.ann.base.ANNIndex.batch_query` use OpenMP (glass's own
runtime), at most one thread per core (glass keeps one search pool per core, and a thread past
them would use memory that is not its own). One thread builds the same graph every time (the
layers come from hnswlib's fixed seed); several insert in a racing order. glass's ``optimize()``
(a timing-based search for prefetch depths) is not called: it changes speed, not results, and
takes seconds of timed queries. Memory: the sizes of the arrays glass holds (the graph as glass
saves it, and ``n`` vectors of the searcher's format, aligned to 16 coordinates).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.grids import GRAPH_EF
from recsys.ann.registry import register
from recsys.checks import check_choice, check_integer

__all__ = ["GlassHNSW"]

#: The metric glass searches for each space (cosine: inner product on normalised vectors).
_METRICS = {"ip": "IP", "cosine": "IP", "l2": "L2"}
#: Bytes per stored coordinate of each searcher format.
_BYTES = {"FP32": 4, "FP16": 2}
#: The largest finite float16.
_FP16_MAX = 65504.0
#: Coordinates are stored in blocks of this many (glass's ``Tensor`` alignment on AVX2 builds).
_ALIGN = 16


def _glass():
    return require("glass", "pyglass-portable")


def _cores() -> int:
    return max(1, os.cpu_count() or 1)


def _read_graph(path: Path, n: int) -> np.ndarray | None:
    """The bottom layer (n, R) of a graph file glass saved (-1 = no link), or ``None`` if the
    file is not laid out as glass 2.1 writes it (entry points, N, R, N x R links, upper layers)."""
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size < 3 or raw[0] < 0 or raw.size < 3 + raw[0]:
        return None
    start = 1 + int(raw[0])
    rows, width = int(raw[start]), int(raw[start + 1])
    if rows != n or width < 1 or raw.size < start + 2 + rows * width:
        return None
    links = raw[start + 2 : start + 2 + rows * width].reshape(rows, width)
    if links.max(initial=-1) >= n or links.min(initial=-1) < -1:
        return None
    return links


def _smallest_reach(links: np.ndarray) -> int:
    """The fewest items a search can reach from any start on the directed graph ``links``.

    ``n`` when the graph is strongly connected (every item reaches item 0 and item 0 reaches every
    item: two vectorised sweeps); otherwise the size of the smallest strongly connected component
    no link leaves (a search starting there sees only it).
    """
    n = links.shape[0]
    pad = np.zeros(n + 1, dtype=bool)  # index -1 (no link) reads the last slot, always False
    reached = pad.copy()
    reached[0] = True
    frontier = np.zeros(1, dtype=np.int64)
    while frontier.size:
        nxt = links[frontier].ravel()
        nxt = np.unique(nxt[nxt >= 0])
        nxt = nxt[~reached[nxt]]
        reached[nxt] = True
        frontier = nxt
    reaches_zero = pad.copy()
    reaches_zero[0] = True
    while True:
        pending = np.flatnonzero(~reaches_zero[:n])
        found = pending[reaches_zero[links[pending]].any(axis=1)]
        if not found.size:
            break
        reaches_zero[found] = True
    if reached[:n].all() and reaches_zero[:n].all():
        return n
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    valid = links >= 0
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
    graph = sp.csr_matrix((np.ones(int(indptr[-1]), dtype=np.int8), links[valid], indptr), shape=(n, n))
    _, label = connected_components(graph, directed=True, connection="strong")
    source = np.repeat(np.arange(n), valid.sum(axis=1))
    leaves = np.zeros(label.max() + 1, dtype=bool)
    leaves[label[source][label[source] != label[links[valid]]]] = True
    sizes = np.bincount(label)
    return int(sizes[~leaves].min())


@register
class GlassHNSW(ANNIndex):
    """glass's HNSW graph and searcher; ``ip`` native (distance ``-<q, x>``). Query knob: ``ef``."""

    name = "glass"
    family = "graph"
    library = "glass"
    requirement = "pyglass-portable>=2.1"
    native_metrics = ("ip", "l2")
    query_params = ("ef",)
    memory_source = "arrays"
    parallel_build_is_deterministic = False
    grid = {
        "build": [{"R": 32, "L": 100, "quant": "FP32"}, {"R": 32, "L": 100, "quant": "FP16"}],
        "query": {"ef": GRAPH_EF},
    }
    quick_grid = {"build": [{"R": 16, "L": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"R": 16, "L": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(self, metric="ip", R: int = 32, L: int = 200, quant: str = "FP32"):
        super().__init__(metric, R=R, L=L, quant=quant)
        self.R = check_integer("R", R, 4)
        if self.R % 2:
            raise ValueError(f"R must be even (the upper layers get R / 2 links), got {R}")
        self.L = check_integer("L", L, 1)
        self.quant = check_choice("quant", quant, tuple(_BYTES))
        self.ef = 32

    def _fit(self, X: np.ndarray) -> None:
        glass = _glass()
        X = np.ascontiguousarray(X, dtype=np.float32)
        metric = _METRICS[self.space]
        if self.quant == "FP16" and float(np.abs(X).max(initial=0.0)) > _FP16_MAX:
            raise ValueError(
                f"quant='FP16' stores coordinates as float16, whose largest value is {_FP16_MAX:g}; these "
                f"vectors reach {float(np.abs(X).max()):.3g}: use quant='FP32' or rescale them"
            )
        glass.set_num_threads(self._threads())
        with quiet_native_output(), tempfile.TemporaryDirectory(prefix="glass-") as folder:
            graph = glass.Index("HNSW", metric, self.quant, self.R, self.L).build(X)
            path = Path(folder) / "graph"
            graph.save(str(path))  # before the searcher takes the graph over
            self.graph_bytes_ = path.stat().st_size
            links = _read_graph(path, X.shape[0])
            searcher = glass.Searcher(graph, X, metric, self.quant, "")
        #: Answers past this many slots are not trusted (see the module docstring).
        self.reach_ = X.shape[0] if links is None else _smallest_reach(links)
        self.code_bytes_ = X.shape[0] * -(-X.shape[1] // _ALIGN) * _ALIGN * _BYTES[self.quant]
        searcher.set_ef(self.ef)
        self._searcher = searcher

    def _threads(self) -> int:
        return min(thread_count(self.num_threads), _cores())

    def _set_query_arguments(self, ef=32) -> None:
        self.ef = check_integer("ef", ef, 1)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        self._searcher.set_ef(max(self.ef, k))
        ids, _ = self._searcher.search(q.astype(np.float32, copy=False), k)
        return self._trusted(np.asarray(ids, dtype=np.int64)[None, :])[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        self._searcher.set_ef(max(self.ef, k))
        ids, _ = self._searcher.batch_search(np.ascontiguousarray(Q, dtype=np.float32), k, self._threads())
        return self._trusted(np.asarray(ids, dtype=np.int64).reshape(Q.shape[0], k))

    def _trusted(self, ids: np.ndarray) -> np.ndarray:
        if ids.shape[1] > self.reach_:
            ids[:, self.reach_ :] = -1
        return ids

    def _memory_bytes(self) -> int:
        return int(self.graph_bytes_ + self.code_bytes_)
