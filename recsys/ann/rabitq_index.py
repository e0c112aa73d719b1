"""RaBitQ-Library (NTU VectorDB group): SymphonyQG graphs and RaBitQ inverted files.

RaBitQ (Gao & Long, SIGMOD 2024) quantises a vector after a random rotation to one bit per
dimension (its signs relative to a centre), with two stored scalars per vector that make the
estimated distance unbiased and give it an error bound; the extended codes (``B`` bits per
dimension, "extended RaBitQ", Gao et al. SIGMOD 2025) refine the estimate. Two of the library's indexes sit here:

* :class:`SymphonyQG` (``symphonyqg``, Gou, Gao, Xu & Long, "SymphonyQG: Towards Symphonious Integration
  of Quantization and Graph for Approximate Nearest Neighbor Search", SIGMOD 2025): a graph whose
  every node stores the RaBitQ codes of its (exactly ``max_degree``) neighbours next to its own
  vector, so one memory access scores a whole neighbourhood with SIMD look-ups; the candidates are
  re-ranked with the stored vectors as the walk goes.
* :class:`RaBitQIVF` (``rabitq-ivf``): k-means cells holding RaBitQ codes, scanned with
  FastScan; ``nbits`` bits per dimension (1 to 9), or ``32`` for 1-bit codes re-ranked with the
  float vectors kept in the index.

Inner product is native for both (the library's ``"ip"``: distance ``1 - <q, x>``, estimated
from the codes of the vectors themselves, so the norms that recommender vectors carry are kept).
Checked against brute force on vectors whose norms spread 20-fold (this project's mixture, the
real ALS vectors) and 100-fold (a clustered set with log-normal norms, sigma 1): it ranks by inner
product, recall@10 rises with the query knob, and it beats the MIPS transform on both indexes,
by far on the wider spread (figures in each class). Cosine is ``l2`` on normalised vectors (the
same ranking); ``l2`` is native.

The library's random rotation (a fast Hadamard-Kac rotator) needs at least 64 dimensions: smaller
vectors are padded with zero columns, which change neither inner products nor distances. The
rotation (and the graph's random starting neighbours) is drawn afresh by every build, with no
seed to pass (the library's source seeds it from ``std::random_device``): two serial builds on
the same vectors give different indexes (different saved files; 177 of 300 queries answered
differently by the graph at ``ef`` 100, 81 of 300 by the inverted file with the same centroids
and cells at ``nprobe`` 8), so ``reproducible_build`` and ``parallel_build_is_deterministic`` are
False; the k-means, seeded here, does repeat on one thread. Threads: the build, the
k-means and :meth:`~recsys.ann.base.ANNIndex.batch_query` use ``num_threads`` (the library's own
OpenMP pool); one :meth:`~recsys.ann.base.ANNIndex.query` runs on one. Memory: the size of the
library's saved index file (codes, graph, vectors, centroids), its own figure.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.grids import auto_nlist
from recsys.ann.registry import register
from recsys.checks import check_choice, check_integer

__all__ = ["RaBitQIVF", "SymphonyQG"]

#: The fewest dimensions the library's rotator takes (it refuses fewer: "Unsupported dimension").
_MIN_DIM = 64
#: What the library returns for a slot it found nothing for (uint32 max, distance inf).
_NOT_FOUND = np.iinfo(np.uint32).max


def _rabitqlib():
    return require("rabitqlib")


class _RaBitQ(ANNIndex):
    """What both adapters share: the library, metrics, padding, ids and the saved size."""

    library = "rabitqlib"
    requirement = "rabitqlib>=0.7.1"
    native_metrics = ("ip", "l2")  # cosine: the base class normalises, then l2 (see the module)
    memory_source = "library"
    reproducible_build = False
    parallel_build_is_deterministic = False

    def _library_metric(self) -> str:
        return "ip" if self.space == "ip" else "l2"

    def _pad(self, X: np.ndarray) -> np.ndarray:
        """``X`` as float32, with zero columns up to the 64 dimensions the library needs."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.shape[1] < _MIN_DIM:
            X = np.hstack([X, np.zeros((X.shape[0], _MIN_DIM - X.shape[1]), dtype=np.float32)])
        return X

    @staticmethod
    def _ids(ids) -> np.ndarray:
        ids = np.asarray(ids)
        return np.where(ids == _NOT_FOUND, -1, ids.astype(np.int64))

    def _memory_bytes(self) -> int:
        with tempfile.TemporaryDirectory() as folder, quiet_native_output():
            path = os.path.join(folder, "index")
            self._index.save(path)
            return os.path.getsize(path)


@register
class SymphonyQG(_RaBitQ):
    """SymphonyQG (``rabitqlib.SymqgIndex``): a RaBitQ-quantised graph. Query knob: ``ef``.

    Build: ``max_degree`` (every node's exact number of neighbours, a multiple of 32: the codes of
    a neighbourhood are laid out in blocks of 32 for the SIMD scan), ``ef_construction`` (the
    search depth of each refinement round), ``quantization_bits`` (how the index keeps the vectors
    it re-ranks with: ``0`` float32, ``4`` or ``8`` bits per dimension) and ``init`` (the starting
    graph the library refines: ``"pipnn"``, its default, or ``"random"``). Query: ``ef``, the
    candidate list of the search (the library needs ``ef >= k``: a smaller ``ef`` is raised to
    ``k``, as hnswlib does).

    Recall@10 against brute force, 500 queries, d = 64, at ``ef`` 10 / 40 / 160 / 640 / 2048
    (this class's ``grid`` build; ``MIPS->l2``: the same graph on MIPS-transformed vectors):

    * mixture, 100,000 items (norms 0.05 / 0.23 / 1.03 at the 1st / 50th / 99th percentile):
      ``ip`` 0.40 / 0.77 / 0.95 / 0.99 / 0.998, ``MIPS->l2`` 0.26 / 0.62 / 0.89 / 0.98 / 0.997;
      ``cosine`` 0.32 / 0.69 / 0.92 / 0.99 / 0.999; ``l2`` 0.29 / 0.63 / 0.88 / 0.975 / 0.997;
    * the 8,753 real ALS item vectors (610 users): ``ip`` 0.54 / 0.86 / 0.97 / 0.998 (1.0 at 1,280);
    * clustered, 100,000 items, log-normal norms with sigma 1 (0.9 / 9.3 / 95): ``ip`` 0.11 /
      0.27 / 0.48 / 0.76 / 0.92, ``MIPS->l2`` 0.04 / 0.05 / 0.09 / 0.22 / 0.47. hnswlib's native
      ``ip`` graph finds 0.96 there at ``ef`` 10; neither ``max_degree=64`` with
      ``ef_construction=400`` (0.93 at 2048) nor ``init="random"`` (0.96) closes the gap: on
      norms this spread, SymphonyQG's inner-product graph is slow to reach the long items.

    Its search needs a larger ``ef`` than hnswlib's for the same recall (the walk is steered by
    1-bit estimates): the grid runs further than :data:`~recsys.ann.grids.GRAPH_EF`.
    """

    name = "symphonyqg"
    family = "graph"
    query_params = ("ef",)
    grid = {
        "build": [{"max_degree": 32, "ef_construction": 200}],
        "query": {"ef": [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048]},
    }
    quick_grid = {"build": [{"max_degree": 32, "ef_construction": 100}], "query": {"ef": [10, 40, 160, 640]}}
    conformance = Conformance({"max_degree": 32, "ef_construction": 100}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98)

    def __init__(
        self,
        metric="ip",
        max_degree: int = 32,
        ef_construction: int = 200,
        quantization_bits: int = 0,
        init: str = "pipnn",
    ):
        super().__init__(
            metric,
            max_degree=max_degree,
            ef_construction=ef_construction,
            quantization_bits=quantization_bits,
            init=init,
        )
        self.max_degree = check_integer("max_degree", max_degree, 32)
        if self.max_degree % 32:
            raise ValueError(f"max_degree must be a multiple of 32 (SymphonyQG's code blocks), got {max_degree}")
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)
        self.quantization_bits = check_choice(
            "quantization_bits", check_integer("quantization_bits", quantization_bits, 0), (0, 4, 8)
        )
        self.init = check_choice("init", init, ("pipnn", "random"))
        self._ef = 64

    def _fit(self, X: np.ndarray) -> None:
        rabitqlib = _rabitqlib()
        if X.shape[0] <= self.max_degree:
            raise ValueError(
                f"max_degree={self.max_degree} neighbours per node need more than {self.max_degree} items; "
                f"got {X.shape[0]}"
            )
        X = self._pad(X)
        index = rabitqlib.SymqgIndex(X.shape[1], self.max_degree, self._library_metric(), self.quantization_bits)
        with quiet_native_output():
            index.build(X, self.ef_construction, thread_count(self.num_threads), self.init)
        self._index = index

    def _set_query_arguments(self, ef=64) -> None:
        self._ef = check_integer("ef", ef, 1)

    def _search(self, Q: np.ndarray, k: int, threads: int) -> np.ndarray:
        ids, _ = self._index.search(self._pad(Q), k, max(self._ef, k), threads)
        return self._ids(ids)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._search(q[None, :], k, 1)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        return self._search(Q, k, thread_count(self.num_threads))


@register
class RaBitQIVF(_RaBitQ):
    """RaBitQ inverted file (``rabitqlib.IvfIndex``): k-means cells of RaBitQ codes. Query knob: ``nprobe``.

    Build: ``nlist`` cells (``None``: the power of two nearest ``2 sqrt(n)``, as ``faiss-ivf``),
    found by the library's k-means (``RaBitQKMeans``, seeded with ``random_state``) on a seeded
    sample of ``train_per_cell * nlist`` items; every item then goes to its nearest centroid
    (exact ``l2``). ``nbits``: bits per dimension of the codes (1 to 9; more bits, a finer
    estimate and a higher recall ceiling) or ``32`` (1-bit codes, then re-ranking with the float
    vectors stored in the index). Query: ``nprobe``, the cells scanned; with ``ip`` they are the
    cells whose centroid has the largest inner product with the query, as ``faiss-ivf-ip``.

    No re-ranking (but with ``nbits=32``): the codes' estimates rank the candidates, so recall
    stops below 1 however many cells are scanned, and more bits raise that ceiling. Recall@10
    against brute force, 500 queries, d = 64, at ``nprobe`` 1 / 4 / 16 / 64 / all cells
    (``MIPS->l2``: the same index on MIPS-transformed vectors):

    * mixture, 100,000 items, 512 cells: ``ip``, 7 bits 0.38 / 0.82 / 0.96 / 0.98 / 0.983, 9 bits
      0.38 / 0.82 / 0.97 / 0.990 / 0.992, ``nbits=32`` 0.995 at all cells, 4 bits 0.89 at all
      cells; ``MIPS->l2`` (7 bits) 0.45 / 0.78 / 0.95 / 0.975 / 0.977; ``cosine`` 0.36 / 0.64 /
      0.83 / 0.95 / 0.980; ``l2`` 0.21 / 0.52 / 0.80 / 0.93 / 0.983;
    * mixture, 300,000 items, 1,024 cells: 7 bits 0.31 / 0.71 / 0.93 / 0.974 / 0.976, 9 bits 0.31
      / 0.72 / 0.94 / 0.990 / 0.993 (hence the grid's 9 bits);
    * the 8,753 real ALS item vectors, 256 cells, 7 bits: 0.12 / 0.47 / 0.87 / 0.989 / 0.990
      (``MIPS->l2`` 0.22 / 0.58 / 0.91 / 0.986 / 0.990);
    * clustered, 100,000 items, log-normal norms with sigma 1: ``ip`` 0.43 / 0.945 / 0.96 / 0.966 /
      0.966; ``MIPS->l2`` 0.25 / 0.48 / 0.62 / 0.75 / 0.75, falling after 0.78 at 128 cells.

    That last fall is a property of ranking by estimates alone: each scanned cell adds candidates
    whose estimated score may pass a true top-10 item, so with coarse codes (1 bit, or the MIPS
    transform's appended coordinate, which the codes resolve worst) recall can drop as ``nprobe``
    rises; 1-bit codes on the 20,000-item clustered set: 0.82 at 4 cells, 0.76 at all 283.
    """

    name = "rabitq-ivf"
    family = "quantization"
    query_params = ("nprobe",)
    grid = {"build": [{"nlist": None, "nbits": 9}], "query": {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128, 256]}}
    quick_grid = {"build": [{"nlist": None, "nbits": 7}], "query": {"nprobe": [1, 4, 16]}}
    conformance = Conformance({"nlist": 32, "nbits": 7}, [{"nprobe": 1}, {"nprobe": 4}, {"nprobe": 16}], 0.98)

    def __init__(
        self,
        metric="ip",
        nlist: int | None = None,
        nbits: int = 9,
        train_per_cell: int = 64,
        random_state: int = 0,
    ):
        super().__init__(metric, nlist=nlist, nbits=nbits, train_per_cell=train_per_cell, random_state=random_state)
        self.nlist = None if nlist is None else check_integer("nlist", nlist, 1)
        self.nbits = check_integer("nbits", nbits, 1)
        if not (self.nbits <= 9 or self.nbits == 32):
            raise ValueError(f"nbits must be 1 to 9 (bits per dimension) or 32 (re-rank with the vectors), got {nbits}")
        self.train_per_cell = check_integer("train_per_cell", train_per_cell, 1)
        self.random_state = check_integer("random_state", random_state, 0)
        self._nprobe = 1

    def _fit(self, X: np.ndarray) -> None:
        from threadpoolctl import threadpool_limits

        rabitqlib = _rabitqlib()
        n = X.shape[0]
        self.nlist_ = self.nlist or auto_nlist(n)
        if n < self.nlist_:
            raise ValueError(f"nlist={self.nlist_} cells need at least as many vectors; got {n}")
        X = self._pad(X)
        threads = thread_count(self.num_threads)
        sample = X
        if n > self.train_per_cell * self.nlist_:
            rows = np.random.default_rng(self.random_state).choice(n, self.train_per_cell * self.nlist_, replace=False)
            sample = X[np.sort(rows)]
        kmeans = rabitqlib.RaBitQKMeans(
            X.shape[1], self.nlist_, num_threads=threads, seed=self.random_state, min_points_per_centroid=1
        )
        with quiet_native_output():
            kmeans.train(sample)
        centroids = np.ascontiguousarray(kmeans.centroids, dtype=np.float32)
        with threadpool_limits(threads):  # numpy's BLAS, for the assignment
            cells = _nearest_centroid(X, centroids)
        index = rabitqlib.IvfIndex(X.shape[1], n, self.nlist_, self.nbits, self._library_metric(), "flat")
        with quiet_native_output():
            index.build(X, centroids, cells, threads)
        self._index = index

    def _set_query_arguments(self, nprobe=1) -> None:
        self._nprobe = check_integer("nprobe", nprobe, 1)

    def _search(self, Q: np.ndarray, k: int, threads: int) -> np.ndarray:
        ids, _ = self._index.search(self._pad(Q), k, min(self._nprobe, self.nlist_), num_threads=threads)
        return self._ids(ids)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        return self._search(q[None, :], k, 1)[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        return self._search(Q, k, thread_count(self.num_threads))


def _nearest_centroid(X: np.ndarray, centroids: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Each row's nearest centroid (squared ``l2``), as uint32 cell ids, a chunk of rows at a time."""
    squared = np.einsum("ij,ij->i", centroids, centroids)
    cells = np.empty(X.shape[0], dtype=np.uint32)
    for start in range(0, X.shape[0], chunk):
        block = X[start : start + chunk]
        cells[start : start + chunk] = np.argmin(squared[None, :] - 2.0 * (block @ centroids.T), axis=1)
    return cells
