"""faiss (Meta's similarity-search library): the exact reference, graphs, bit sketches and PQ.

faiss serves inner product natively (``METRIC_INNER_PRODUCT``) for every index used here except
:class:`FaissSketch`, whose binary codes only see angles; the inverted files (``faiss-ivf*``)
search inner product through the MIPS transform by choice, each beside a native twin
(``faiss-ivf-ip``, ``faiss-ivfpq-ip``, ``faiss-ivfpqfs-ip``) that shows what the choice changes.
Cosine is inner product on normalised vectors. Every index here can re-rank a short list with the
exact vectors (``IndexRefineFlat``): the quantised index proposes ``k * k_factor`` candidates, the
stored float vectors order them. That re-ranking is what turns a coarse, fast code into a usable
recommender index, and it costs the memory of the float vectors (``memory_bytes`` counts it).

faiss picks its SIMD kernels at run time (``faiss.SIMDConfig``: AVX2, AVX-512 on this kind of
machine); :func:`recsys.ann.bench.library_builds` reports the level in use. Threads are OpenMP's,
a process-wide setting: each call sets it from the index's ``num_threads`` first. faiss is imported
with ``OMP_WAIT_POLICY=PASSIVE`` unless the environment says otherwise (see
:data:`recsys.ann.base.IMPORT_ENVIRONMENT`: spinning OpenMP threads make batched search on a
shared machine ten times slower).

Memory is the library's own figure: the size of ``faiss.serialize_index`` (codes, graph links,
centroids, the re-ranking vectors).
"""

from __future__ import annotations

import numpy as np

from recsys.ann.base import ANNIndex, Conformance, quiet_native_output, require, thread_count
from recsys.ann.grids import GRAPH_EF, auto_nlist
from recsys.ann.registry import register
from recsys.checks import check_integer, check_number

__all__ = [
    "FaissFlat",
    "FaissHNSW",
    "FaissHNSWSQ",
    "FaissIVFFlat",
    "FaissIVFFlatIP",
    "FaissIVFPQ",
    "FaissIVFPQFastScan",
    "FaissIVFPQFastScanIP",
    "FaissIVFPQIP",
    "FaissPQ",
    "FaissSketch",
]

# IVF with PQ codes: cells probed and re-rank depth rise together. The MIPS transform's extra
# coordinate is what PQ codes approximate worst, so re-ranking must go deep (k_factor 50 and up)
# before recall passes about 0.6 (measured on the 100,000-item mixture).
_IVF_PQ_POINTS = [(2, 20), (4, 20), (4, 50), (8, 50), (16, 50), (24, 50), (32, 100), (48, 100), (64, 200), (128, 200)]
# The native inner-product twins: their codes need less re-ranking, but their cells (chosen by the
# centroid's inner product with the query) miss more of the best items, so they probe a larger
# share of the cells: 1/4 of them for recall@10 0.95 (128 of 512 cells at 10^5 items, 512 of 2,048
# at 10^6, where re-ranking must also go to k_factor 100).
_IVF_PQ_IP_POINTS = [
    (4, 20),
    (8, 20),
    (16, 20),
    (32, 20),
    (32, 50),
    (64, 50),
    (128, 50),
    (256, 50),
    (256, 100),
    (512, 100),
    (1024, 100),
]

_current_threads: list[int] = [-1]  # faiss's OpenMP setting is global: remember the last one set


def _faiss():
    return require("faiss", "faiss-cpu")


def _set_threads(n: int) -> None:
    n = thread_count(n)
    if _current_threads[0] != n:
        _faiss().omp_set_num_threads(n)
        _current_threads[0] = n


class _Faiss(ANNIndex):
    """What every faiss adapter shares: metric, threads, padding, search, serialized size."""

    library = "faiss"
    requirement = "faiss-cpu>=1.8"
    native_metrics = ("ip", "l2")  # cosine: the base class normalises, then inner product
    memory_source = "library"

    def _metric_type(self) -> int:
        faiss = _faiss()
        return faiss.METRIC_L2 if self.space == "l2" else faiss.METRIC_INNER_PRODUCT

    def _padded_dim(self, d: int) -> int:
        """The dimension the library sees (PQ pads with zero columns to a multiple of its codes)."""
        return d

    def _pad(self, X: np.ndarray) -> np.ndarray:
        X = np.ascontiguousarray(X, dtype=np.float32)
        extra = self.padded_dim_ - X.shape[1]
        if extra > 0:  # zero columns change neither inner products nor distances
            X = np.hstack([X, np.zeros((X.shape[0], extra), dtype=np.float32)])
        return X

    def _fit(self, X: np.ndarray) -> None:
        self.padded_dim_ = self._padded_dim(X.shape[1])
        X = self._pad(X)
        _set_threads(self.num_threads)
        with quiet_native_output():  # faiss prints clustering warnings from C++
            self._index = self._build(X)

    def _build(self, X: np.ndarray):  # pragma: no cover - interface
        raise NotImplementedError

    def _apply_threads(self) -> None:
        _set_threads(self.num_threads)

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:
        _set_threads(1)
        _, ids = self._index.search(self._pad(q[None, :]), k)
        return ids[0]

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        _set_threads(self.num_threads)
        _, ids = self._index.search(self._pad(Q), k)
        return ids

    def _memory_bytes(self) -> int:
        return int(_faiss().serialize_index(self._index).size)

    def _refined(self, base, X: np.ndarray):
        """``base`` wrapped in an exact re-ranking stage (trained and filled with ``X``)."""
        faiss = _faiss()
        index = faiss.IndexRefineFlat(base)
        if not index.is_trained:
            index.train(X)
        index.add(X)
        self._base = base
        return index

    def _set_k_factor(self, k_factor) -> None:
        k_factor = check_number("k_factor", k_factor, 1)
        if hasattr(self, "_index"):
            self._index.k_factor = float(k_factor)


def _codes_for(d: int, m: int | None, dims_per_code: int, even: bool = False) -> tuple[int, int]:
    """``(m, padded d)``: ``m`` sub-quantizers (given, or one per ``dims_per_code`` dimensions)."""
    if m is None:
        m = -(-d // dims_per_code)
    if even and m % 2:
        m += 1
    return m, -(-d // m) * m


@register
class FaissFlat(_Faiss):
    """``IndexFlatIP`` / ``IndexFlatL2``: exact search; the batched reference.

    One query is scanned with faiss's SIMD kernels. A batch is scored as one matrix product
    (BLAS) followed by heap selection: faiss 1.15 only switches to BLAS from 128,000 queries on
    (``distance_compute_blas_threshold``), and below that scans the catalogue once per query,
    which is memory-bound and five times slower for a batch of a few hundred; the batch path
    lowers the threshold to faiss's historical 20 for the call.
    """

    name = "faiss-flat"
    family = "exact"
    grid = {"build": [{}], "query": [{}]}
    quick_grid = {"build": [{}], "query": [{}]}
    conformance = Conformance({}, [{}], 1.0)

    def __init__(self, metric="ip"):
        super().__init__(metric)

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray:
        cvar = _faiss().cvar
        previous = cvar.distance_compute_blas_threshold
        cvar.distance_compute_blas_threshold = 20
        try:
            return super()._batch_query(Q, k)
        finally:
            cvar.distance_compute_blas_threshold = previous

    def _build(self, X):
        faiss = _faiss()
        index = faiss.IndexFlatL2(X.shape[1]) if self.space == "l2" else faiss.IndexFlatIP(X.shape[1])
        index.add(X)
        return index

    def _memory_bytes(self) -> int:
        return int(self._index.ntotal) * int(self._index.d) * 4


@register
class FaissHNSW(_Faiss):
    """``IndexHNSWFlat``: a hierarchical navigable small-world graph over the float vectors.

    Build: ``M`` links per node (``2 M`` on the bottom layer), ``ef_construction`` (the search
    depth while inserting). Query knob: ``ef`` (the candidate-list size of the search).
    """

    name = "faiss-hnsw"
    family = "graph"
    query_params = ("ef",)
    parallel_build_is_deterministic = False
    grid = {"build": [{"M": 16, "ef_construction": 100}], "query": {"ef": GRAPH_EF}}
    quick_grid = {"build": [{"M": 8, "ef_construction": 50}], "query": {"ef": [10, 40, 160]}}
    conformance = Conformance({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.95)

    def __init__(self, metric="ip", M: int = 16, ef_construction: int = 200):
        super().__init__(metric, M=M, ef_construction=ef_construction)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)

    def _build(self, X):
        faiss = _faiss()
        index = faiss.IndexHNSWFlat(X.shape[1], self.M, self._metric_type())
        index.hnsw.efConstruction = self.ef_construction
        index.add(X)
        return index

    def _set_query_arguments(self, ef=16) -> None:
        ef = check_integer("ef", ef, 1)
        if hasattr(self, "_index"):
            self._index.hnsw.efSearch = ef


@register
class FaissHNSWSQ(_Faiss):
    """``IndexHNSWSQ`` (8-bit scalar codes) + exact re-ranking: a quantised graph.

    The graph is walked on 1-byte-per-dimension codes (4x smaller than floats, so more of it stays
    in cache); the best ``k * k_factor`` it finds are re-ranked with the float vectors. Query
    knobs: ``ef`` and ``k_factor`` (re-rank depth).
    """

    name = "faiss-hnsw-sq8"
    family = "graph"
    query_params = ("ef", "k_factor")
    parallel_build_is_deterministic = False
    grid = {
        "build": [{"M": 16, "ef_construction": 100}],
        "query": [{"ef": ef, "k_factor": f} for ef in GRAPH_EF for f in (2,)],
    }
    quick_grid = {
        "build": [{"M": 8, "ef_construction": 50}],
        "query": [{"ef": e, "k_factor": 4} for e in (10, 40, 160)],
    }
    conformance = Conformance(
        {"M": 8, "ef_construction": 40}, [{"ef": 10, "k_factor": 1}, {"ef": 200, "k_factor": 4}], 0.95
    )

    def __init__(self, metric="ip", M: int = 16, ef_construction: int = 200):
        super().__init__(metric, M=M, ef_construction=ef_construction)
        self.M = check_integer("M", M, 2)
        self.ef_construction = check_integer("ef_construction", ef_construction, 1)

    def _build(self, X):
        faiss = _faiss()
        base = faiss.IndexHNSWSQ(X.shape[1], faiss.ScalarQuantizer.QT_8bit, self.M, self._metric_type())
        base.hnsw.efConstruction = self.ef_construction
        return self._refined(base, X)

    def _set_query_arguments(self, ef=16, k_factor=1) -> None:
        ef = check_integer("ef", ef, 1)
        self._set_k_factor(k_factor)
        if hasattr(self, "_index"):
            self._base.hnsw.efSearch = ef


@register
class FaissSketch(_Faiss):
    """Random-hyperplane bit sketches scanned exhaustively (faiss calls the index ``IndexLSH``).

    Each vector becomes ``n_bits`` signs of random projections (a 1-bit quantisation of a randomly
    rotated vector); a query's sketch is compared by Hamming distance with *every* item's sketch
    (popcounts), then the best ``k * k_factor`` are re-ranked exactly. Despite faiss's name this
    is not a bucketed LSH: no hash table, no buckets, no probing, so a query's work grows linearly
    with the catalogue, like a PQ scan. It belongs with the quantisation family (a code per item,
    scanned, then re-ranked), not with the bucketed multi-probe LSH of the ``lsh`` family
    (``numpy-lsh``, :mod:`recsys.ann.lsh`), which only looks at the items in the buckets it probes.
    Angles only: inner product goes through the MIPS transform, cosine through normalisation.
    Build knob: ``n_bits``; query knob: ``k_factor``.
    """

    name = "faiss-sketch"
    family = "quantization"
    native_metrics = ()
    supported_metrics = ("ip", "cosine")
    transform_space = "cosine"
    query_params = ("k_factor",)
    grid = {"build": [{"n_bits": 256}], "query": {"k_factor": [1, 4, 16, 64, 256]}}
    quick_grid = {"build": [{"n_bits": 128}], "query": {"k_factor": [1, 10, 100]}}
    conformance = Conformance({"n_bits": 128}, [{"k_factor": 1}, {"k_factor": 10}, {"k_factor": 100}], 0.95)

    def __init__(self, metric="ip", n_bits: int = 256):
        super().__init__(metric, n_bits=n_bits)
        self.n_bits = check_integer("n_bits", n_bits, 8)

    def _build(self, X):
        faiss = _faiss()
        # rotate_data: a random rotation before the signs, so the hyperplanes are random directions
        return self._refined(faiss.IndexLSH(X.shape[1], self.n_bits, True, False), X)

    def _set_query_arguments(self, k_factor=1) -> None:
        self._set_k_factor(k_factor)


@register
class FaissPQ(_Faiss):
    """``IndexPQ``: product-quantised codes scanned exhaustively (asymmetric distances), re-ranked.

    Every vector is cut into ``m`` sub-vectors (``dims_per_code`` dimensions each when ``m`` is
    None), each replaced by the index of its nearest of ``2^n_bits`` sub-centroids. A query scores
    all items from ``m`` look-up tables, then the best ``k * k_factor`` are re-ranked exactly.
    Build knobs: ``m`` / ``dims_per_code``; query knob: ``k_factor``.
    """

    name = "faiss-pq"
    family = "quantization"
    query_params = ("k_factor",)
    grid = {"build": [{"dims_per_code": 4}, {"dims_per_code": 2}], "query": {"k_factor": [1, 4, 16, 64, 256]}}
    quick_grid = {"build": [{"dims_per_code": 4}], "query": {"k_factor": [1, 10, 100]}}
    conformance = Conformance({"m": 4}, [{"k_factor": 1}, {"k_factor": 10}, {"k_factor": 50}], 0.98)

    def __init__(self, metric="ip", m: int | None = None, dims_per_code: int = 4, n_bits: int = 8):
        super().__init__(metric, m=m, dims_per_code=dims_per_code, n_bits=n_bits)
        self.m = None if m is None else check_integer("m", m, 1)
        self.dims_per_code = check_integer("dims_per_code", dims_per_code, 1)
        self.n_bits = check_integer("n_bits", n_bits, 1, 16)

    def _padded_dim(self, d: int) -> int:
        self.m_, padded = _codes_for(d, self.m, self.dims_per_code)
        return padded

    def _build(self, X):
        faiss = _faiss()
        _check_pq_training(X.shape[0], self.n_bits, "index more items or lower n_bits")
        return self._refined(faiss.IndexPQ(X.shape[1], self.m_, self.n_bits, self._metric_type()), X)

    def _set_query_arguments(self, k_factor=1) -> None:
        self._set_k_factor(k_factor)


def _check_pq_training(n_train: int, n_bits: int, remedy: str) -> None:
    """k-means of ``2^n_bits`` sub-centroids needs at least that many training vectors (faiss would
    stop with a C++ assertion, ``nx >= k``, that names neither the index nor the way out)."""
    if n_train < 2**n_bits:
        raise ValueError(
            f"product quantisation with {n_bits}-bit codes trains {2**n_bits} sub-centroids per sub-space and "
            f"needs at least {2**n_bits} training vectors, got {n_train}; {remedy}"
        )


class _FaissIVF(_Faiss):
    """An inverted file: k-means cells, a query scans the ``nprobe`` cells nearest to it.

    Inner product is served through the MIPS transform, in ``l2`` (cosine: ``l2`` on normalised
    vectors, the same ranking); the ``-ip`` twins search it natively. Searching inner product
    natively, faiss probes the cells whose centroid has the largest inner product with the query;
    on recommender vectors, whose norms vary widely, that misses most of the best items (recall@10
    0.65 at 16 of 512 cells on this project's 100,000-item mixture, against 0.95 through the
    transform): in the transformed space every item has the same norm, so near centroids mean near
    items.

    ``nlist=None`` picks :func:`recsys.ann.grids.auto_nlist`; k-means (and PQ) are trained on a seeded sample of
    ``train_per_cell * nlist`` items (all of them if fewer).
    """

    family = "quantization"
    native_metrics = ("l2",)
    transform_space = "l2"
    query_params = ("nprobe", "k_factor")
    _rerank = True
    #: Bits per PQ code of the cells' contents (``None``: the cells hold the float vectors).
    _pq_bits: int | None = None

    def _codes(self) -> str:
        """The faiss factory string after ``IVF{nlist},``."""
        return "Flat"

    def __init__(
        self, metric="ip", nlist: int | None = None, train_per_cell: int = 64, random_state: int = 0, **params
    ):
        super().__init__(metric, nlist=nlist, train_per_cell=train_per_cell, random_state=random_state, **params)
        self.nlist = None if nlist is None else check_integer("nlist", nlist, 1)
        self.train_per_cell = check_integer("train_per_cell", train_per_cell, 1)
        self.random_state = check_integer("random_state", random_state, 0)

    def _build(self, X):
        faiss = _faiss()
        n = X.shape[0]
        self.nlist_ = self.nlist or auto_nlist(n)
        if n < self.nlist_:
            raise ValueError(f"nlist={self.nlist_} cells need at least as many vectors; got {n}")
        metric = faiss.METRIC_INNER_PRODUCT if self.space == "ip" else faiss.METRIC_L2
        base = faiss.index_factory(X.shape[1], f"IVF{self.nlist_},{self._codes()}", metric)
        if hasattr(base, "do_polysemous_training"):  # the factory turns it on; we never use it, and it is slow
            base.do_polysemous_training = False
        sample = X
        if n > self.train_per_cell * self.nlist_:
            rows = np.random.default_rng(self.random_state).choice(n, self.train_per_cell * self.nlist_, replace=False)
            sample = X[np.sort(rows)]
        if self._pq_bits is not None:
            _check_pq_training(
                sample.shape[0], self._pq_bits, "index more items, raise train_per_cell, or use faiss-ivf"
            )
        base.train(sample)
        if self._rerank:
            return self._refined(base, X)
        base.add(X)
        self._base = base
        return base

    def _set_query_arguments(self, nprobe=1, k_factor=1) -> None:
        nprobe = check_integer("nprobe", nprobe, 1)
        if self._rerank:
            self._set_k_factor(k_factor)
        if hasattr(self, "_index"):
            _faiss().extract_index_ivf(self._base).nprobe = nprobe


@register
class FaissIVFFlat(_FaissIVF):
    """``IVF{nlist},Flat``: k-means cells holding the float vectors. Query knob: ``nprobe``."""

    name = "faiss-ivf"
    query_params = ("nprobe",)
    _rerank = False
    grid = {"build": [{"nlist": None}], "query": {"nprobe": [1, 2, 4, 8, 16, 32, 64, 128]}}
    quick_grid = {"build": [{"nlist": None}], "query": {"nprobe": [1, 4, 16]}}
    conformance = Conformance({"nlist": 32}, [{"nprobe": 1}, {"nprobe": 4}, {"nprobe": 16}], 0.98)

    def __init__(self, metric="ip", nlist: int | None = None, train_per_cell: int = 64, random_state: int = 0):
        super().__init__(metric, nlist, train_per_cell, random_state)

    def _set_query_arguments(self, nprobe=1) -> None:
        super()._set_query_arguments(nprobe=nprobe)


@register
class FaissIVFFlatIP(FaissIVFFlat):
    """``faiss-ivf`` searching inner product natively (``METRIC_INNER_PRODUCT``): a query scans the
    cells whose centroid has the largest inner product with it. Shown beside ``faiss-ivf`` (the
    same cells through the MIPS transform) because that choice, not the cells, decides how many
    of the best items an inverted file finds on vectors whose norms vary (see :class:`_FaissIVF`).
    """

    name = "faiss-ivf-ip"
    native_metrics = ("ip", "l2")


@register
class FaissIVFPQ(_FaissIVF):
    """``IVF{nlist},PQ{m}`` + exact re-ranking: cells of 8-bit PQ codes of the residuals.

    ``m`` sub-quantizers (one per ``dims_per_code`` dimensions when None). Query knobs: ``nprobe``
    (cells scanned) and ``k_factor`` (re-rank depth ``k * k_factor``).
    """

    name = "faiss-ivfpq"
    _pq_bits = 8
    grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_POINTS],
    }
    quick_grid = {
        "build": [{"nlist": None, "dims_per_code": 4}],
        "query": [{"nprobe": p, "k_factor": 10} for p in (1, 4, 16)],
    }
    conformance = Conformance(
        {"nlist": 32, "m": 4}, [{"nprobe": 1, "k_factor": 10}, {"nprobe": 16, "k_factor": 10}], 0.95
    )

    def __init__(
        self,
        metric="ip",
        nlist: int | None = None,
        m: int | None = None,
        dims_per_code: int = 2,
        train_per_cell: int = 64,
        random_state: int = 0,
    ):
        super().__init__(metric, nlist, train_per_cell, random_state, m=m, dims_per_code=dims_per_code)
        self.m = None if m is None else check_integer("m", m, 1)
        self.dims_per_code = check_integer("dims_per_code", dims_per_code, 1)

    def _padded_dim(self, d: int) -> int:
        self.m_, padded = _codes_for(d, self.m, self.dims_per_code)
        return padded

    def _codes(self) -> str:
        return f"PQ{self.m_}"


@register
class FaissIVFPQIP(FaissIVFPQ):
    """``faiss-ivfpq`` searching inner product natively (``METRIC_INNER_PRODUCT``, coarse quantiser
    a flat inner-product index, as ``IndexFlatIP``): 8-bit PQ codes of the item's own coordinates.

    The codes are better than its transformed twin's (no appended coordinate to code, see
    :class:`FaissIVFPQFastScanIP`): probing every cell without re-ranking, recall@10 0.87 against
    0.50 on this project's 100,000-item mixture (0.92 against 0.79 on the 8,753 real vectors). The
    cells are worse (chosen by the centroid's inner product, see :class:`_FaissIVF`), so it probes
    more of them: 0.97 at 128 of 512 cells on the mixture (``k_factor=20``); about 0.98 at 64 of
    the 256 cells on the real vectors, where the twin needs 32. Query knobs: ``nprobe`` and
    ``k_factor``.
    """

    name = "faiss-ivfpq-ip"
    native_metrics = ("ip", "l2")
    grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_IP_POINTS],
    }
    quick_grid = {
        "build": [{"nlist": None, "dims_per_code": 4}],
        "query": [{"nprobe": p, "k_factor": 20} for p in (4, 16, 64)],
    }


@register
class FaissIVFPQFastScan(FaissIVFPQ):
    """``IVF{nlist},PQ{m}x4fs`` + exact re-ranking: 4-bit PQ codes scanned with SIMD shuffles.

    With 16 sub-centroids per sub-space a look-up table fits in one SIMD register, so the scan
    runs from registers rather than memory (André et al., "Quicker ADC"); the coarse 4-bit codes
    are then rescued by the exact re-ranking. ``m`` must be even (codes are packed in pairs; with
    ``m=None`` it is rounded up). Query knobs: ``nprobe`` and ``k_factor``.

    A limit on inner-product search: the codes are of the MIPS-transformed vectors, and the
    appended coordinate ``sqrt(M^2 - |x|^2)``, large for the many short items, is what 16 levels
    per sub-space resolve worst; the L2 estimate carries that error through the reconstructed norm,
    so the re-ranking depth a recall target needs grows with the catalogue (notebook 06 measured
    recall@10 0.96 at ``k_factor=100`` on 300,000 items, but 0.90 at ``k_factor=200`` on 10^6).
    ``faiss-ivfpqfs-ip`` codes the vectors themselves and searches inner product natively.
    """

    name = "faiss-ivfpqfs"
    _pq_bits = 4
    grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_POINTS],
    }
    quick_grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": 10} for p in (1, 4, 16)],
    }
    #: 4-bit codes of unit vectors are coarser: cosine's most accurate point probes and re-ranks more.
    conformance = Conformance(
        {"nlist": 32, "m": 4},
        [{"nprobe": 1, "k_factor": 10}, {"nprobe": 16, "k_factor": 10}],
        0.95,
        cosine_point={"nprobe": 32, "k_factor": 50},
    )

    def __init__(
        self,
        metric="ip",
        nlist: int | None = None,
        m: int | None = None,
        dims_per_code: int = 2,
        train_per_cell: int = 64,
        random_state: int = 0,
    ):
        if m is not None and check_integer("m", m, 2) % 2:
            raise ValueError(f"m must be even for 4-bit fast-scan codes (they are packed in pairs), got {m}")
        super().__init__(metric, nlist, m, dims_per_code, train_per_cell, random_state)

    def _padded_dim(self, d: int) -> int:
        self.m_, padded = _codes_for(d, self.m, self.dims_per_code, even=True)
        return padded

    def _codes(self) -> str:
        return f"PQ{self.m_}x4fs"


@register
class FaissIVFPQFastScanIP(FaissIVFPQFastScan):
    """``faiss-ivfpqfs`` searching inner product natively (``IndexIVFPQFastScan`` with
    ``METRIC_INNER_PRODUCT``, coarse quantiser a flat inner-product index, as ``IndexFlatIP``),
    with the same exact re-ranking.

    Shown beside ``faiss-ivfpqfs`` because the MIPS transform, not PQ, is what limits that twin on
    large catalogues. The twin's L2 estimate ``|q|^2 - 2 q.x^ + |x'^|^2`` holds the code's
    reconstructed squared norm, ``M^2`` for every item before coding; after it, an error that does
    not depend on the query, mostly from the one sub-space that codes the appended coordinate
    ``sqrt(M^2 - |x|^2)`` (near ``M`` for the many short items) on 16 levels. It is as large as the
    spread of the true scores across items (standard deviations 0.07 and 0.065 for 4-bit PQ of the
    100,000-item mixture). The native estimate ``q.x^`` has no such term. On this project's mixture
    (recall@10, 500 queries):

    * codes alone (every cell probed, ``k_factor=1``): 0.35 against 0.24 at 10^5 items, 0.22 against
      0.11 at 10^6; with ``k_factor=50``: 0.99 against 0.98 at 10^5, 0.92 against 0.60 at 10^6;
    * best of the grid: at 10^6 this index reaches 0.96 (512 of 2,048 cells, ``k_factor=100``) and
      0.97 (1,024 cells), where the twin stops at 0.88 (``k_factor=200``); at 10^5 both pass 0.95,
      the twin sooner (0.97 at 16 of 512 cells, ``k_factor=50``; this index: 128 cells).

    The price is the cells: chosen by the centroid's inner product with the query (see
    :class:`_FaissIVF`), they hold fewer of the best items, so this index probes about a quarter
    of them for 0.95 (the twin: 16 cells at 10^5). On the 8,753 real vectors both reach 0.95
    (0.98 at 64 of 256 cells here, 0.96 at 16 for the twin); the codes alone give 0.63 against 0.44.
    """

    name = "faiss-ivfpqfs-ip"
    native_metrics = ("ip", "l2")
    grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": f} for p, f in _IVF_PQ_IP_POINTS],
    }
    quick_grid = {
        "build": [{"nlist": None, "dims_per_code": 2}],
        "query": [{"nprobe": p, "k_factor": 20} for p in (4, 16, 64)],
    }
