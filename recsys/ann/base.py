"""The one adapter interface every approximate-search method sits behind.

Modelled on ann-benchmarks' ``BaseANN`` (``ann_benchmarks/algorithms/base/module.py``)::

    index = SomeIndex(metric="ip", M=16, ef_construction=200)   # build parameters
    index.fit(item_vectors)                                       # build
    index.set_query_arguments(ef=100)                             # the accuracy knob
    index.query(user_vector, k=10)       # -> (k,) int64 item indices, best first
    index.batch_query(user_vectors, 10)  # -> (n, k)
    index.memory_bytes()                 # the index's size (see ``memory_source``)

The *metric* is what the caller wants ranked: ``"ip"`` (inner product, the recommender's score),
``"cosine"`` or ``"l2"``. A library that cannot search inner product natively serves ``"ip"``
through the MIPS transform (:func:`recsys.similarity.mips_transform`): items get one extra
coordinate, queries a zero, and the library searches ``l2`` or cosine on those. Such an index says
so: ``transformed`` is True and its :attr:`~ANNIndex.label` ends in ``"MIPS->l2"`` (or
``"MIPS->cosine"``), and the harness records it.

A subclass sets the class attributes ``name``, ``family``, ``library``/``requirement`` (the module
it needs, if any, and its pip requirement), ``native_metrics`` (what the library searches as is),
``supported_metrics``, ``transform_space`` (the metric it searches after the MIPS transform),
``query_params`` (the names :meth:`set_query_arguments` accepts), its parameter grids ``grid`` and
``quick_grid`` (see :mod:`recsys.ann.grids`) and ``conformance`` (the small case the shared test
battery checks it on, a :class:`Conformance`); it implements ``_fit``, ``_query`` (and
``_batch_query`` when the library batches better than a loop) and registers itself with
:func:`recsys.ann.registry.register`. One adapter, one file: nothing else needs editing.

Threads. Every index starts serial (``num_threads = 1``); :meth:`ANNIndex.set_num_threads`
changes what the library may use for building and for :meth:`~ANNIndex.batch_query` (``0`` = all
cores). A single :meth:`~ANNIndex.query` is one query on one thread. Graph builds are only
reproducible on one thread (insertion order races); a class says whether a parallel build gives
the same index in :attr:`~ANNIndex.parallel_build_is_deterministic`, and the benchmark harness
builds serially when reproducibility is asked for and it is False.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np

from recsys.checks import check_choice, check_integer
from recsys.similarity import check_vectors, mips_transform, normalize

Metric = Literal["ip", "cosine", "l2"]
METRICS: tuple[str, ...] = ("ip", "cosine", "l2")
#: The four families of the study, plus exact search as the reference and exact search that
#: prunes with bounds (norm-pruned: recall 1 at ``epsilon`` 0, approximate above it, so its points
#: belong on the frontier beside the approximate families, not on the exact reference's line).
FAMILIES: tuple[str, ...] = ("exact", "pruning", "graph", "tree", "lsh", "quantization")

__all__ = [
    "FAMILIES",
    "METRICS",
    "ANNIndex",
    "Conformance",
    "LibraryUnavailable",
    "quiet_native_output",
    "require",
    "requirement_name",
    "resident_bytes",
    "thread_count",
]


class LibraryUnavailable(ImportError):
    """An adapter's library is not installed; the message names the pip package to install."""


@contextlib.contextmanager
def quiet_native_output(enabled: bool = True) -> Iterator[None]:
    """Silence what C/C++ code writes straight to file descriptors 1 and 2 (log lines, banners).

    Several libraries print from native code (nmslib's "compiled without SIMD" banner on import,
    ScaNN's absl log lines on every build); Jupyter forwards those writes into the cell's outputs.
    Python-level ``sys.stdout``/``sys.stderr`` writes are left alone.
    """
    if not enabled:
        yield
        return
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = []
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:  # pragma: no cover - no /dev/null
        yield
        return
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(devnull, fd)
            except OSError:  # pragma: no cover - fd not open
                continue
        yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


#: Environment defaults set (unless already set) before a library is first imported.
#: faiss's bundled OpenMP runtime spins its idle threads by default; on a machine whose cores are
#: shared with other jobs that makes a 2-thread batch search 10x *slower* than one thread
#: (measured here: 1,000 vs 100 QPS on 300,000 items). Passive waiting removes the collapse and
#: costs little on an idle machine. It must be set before the runtime starts: ``recsys.ann`` sets
#: it on import (faiss shares its runtime with scikit-learn's, which may load first); this is the
#: second line of defence for code that imports this module's adapters some other way.
IMPORT_ENVIRONMENT: dict[str, dict[str, str]] = {"faiss": {"OMP_WAIT_POLICY": "PASSIVE"}}


def require(module: str, pip_name: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`LibraryUnavailable` saying how to install it.

    Native banners printed on import (nmslib's) are silenced; :data:`IMPORT_ENVIRONMENT` is applied
    first (a value already in the environment wins).
    """
    if module in sys.modules:
        return sys.modules[module]
    for name, value in IMPORT_ENVIRONMENT.get(module, {}).items():
        os.environ.setdefault(name, value)
    try:
        with quiet_native_output():
            return importlib.import_module(module)
    except ImportError as error:
        pip_name = pip_name or module
        raise LibraryUnavailable(
            f"{module} is not installed ({error}); install it with `pip install {pip_name}` "
            "or the project's extra: `pip install -e '.[ann]'`"
        ) from error


def resident_bytes() -> int | None:
    """This process's resident memory (VmRSS) in bytes, or ``None`` where /proc is missing."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:  # pragma: no cover - not Linux
        return None
    return None  # pragma: no cover


def thread_count(num_threads: int) -> int:
    """``num_threads`` with 0 read as "all cores"."""
    return int(num_threads) if num_threads > 0 else max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Conformance:
    """The small case the shared adapter battery (``tests/ann_conformance.py``) checks an adapter on.

    The battery builds the adapter with ``build`` on a 2,000-item clustered set (d = 16, 10
    clusters, 100 queries), sets each point of ``knob`` (the query knob, coarse to fine) and asks
    that the finest one reach ``recall`` (recall@10, ties counted) and that recall does not fall as
    the knob rises. ``cosine_point``: the most accurate point for cosine, where it differs from the
    last of ``knob``.
    """

    build: Mapping[str, Any] = field(default_factory=dict)
    knob: Sequence[Mapping[str, Any]] = ({},)
    recall: float = 1.0
    cosine_point: Mapping[str, Any] | None = None


def requirement_name(requirement: str) -> str:
    """The distribution name of a pip requirement: ``"faiss-cpu"`` for ``"faiss-cpu>=1.8"``."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"not a pip requirement: {requirement!r}")
    return match.group(1)


class ANNIndex:
    """Base class of every search adapter (see the module docstring)."""

    #: Short method name, e.g. ``"hnswlib"``; the harness's key for grids and results.
    name: ClassVar[str] = "base"
    #: One of :data:`FAMILIES`.
    family: ClassVar[str] = "exact"
    #: Python module the adapter needs (``None``: numpy only), its pip requirement as the project's
    #: ``ann`` extra lists it (bounds and markers included) and its pip package (read from
    #: ``requirement`` unless set).
    library: ClassVar[str | None] = None
    requirement: ClassVar[str | None] = None
    pip_name: ClassVar[str | None] = None
    #: Metrics the library searches without any transform.
    native_metrics: ClassVar[tuple[str, ...]] = METRICS
    #: Metrics the adapter serves at all (natively, by normalising, or by the MIPS transform).
    supported_metrics: ClassVar[tuple[str, ...]] = METRICS
    #: The metric searched after the MIPS transform, when ``"ip"`` is not native.
    transform_space: ClassVar[str] = "l2"
    #: Names :meth:`set_query_arguments` accepts.
    query_params: ClassVar[tuple[str, ...]] = ()
    #: Where :meth:`memory_bytes` comes from: ``"library"`` (the library's own figure),
    #: ``"arrays"`` (the sizes of the arrays the index holds) or ``"measured"`` (resident growth).
    memory_source: ClassVar[str] = "arrays"
    #: Does a build on several threads give the same index as a serial one?
    parallel_build_is_deterministic: ClassVar[bool] = True
    #: Does a serial build with the same parameters (and seed) give the same index every time?
    #: False for a library whose training is not reproducible (ScaNN's k-means tree): the harness
    #: marks its rows, and notebooks compare a tolerance-free summary of them instead.
    reproducible_build: ClassVar[bool] = True
    #: Does :meth:`batch_query` return exactly what one :meth:`query` per row returns? False for a
    #: library whose batched search takes another code path (ScaNN): the conformance battery then
    #: requires the two to agree on nearly every item instead of every one.
    batch_equals_single: ClassVar[bool] = True
    #: Parameter grids (``{"build": [...], "query": ...}``, see :mod:`recsys.ann.grids`): ``grid``
    #: for catalogues of 10^5 to 10^6 items (notebook 06), ``quick_grid`` a few points for tests,
    #: CI and catalogues of a few thousand.
    grid: ClassVar[Mapping[str, Any] | None] = None
    quick_grid: ClassVar[Mapping[str, Any] | None] = None
    #: The small case of the shared conformance battery (see :class:`Conformance`).
    conformance: ClassVar[Conformance | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("requirement") and "pip_name" not in cls.__dict__:
            cls.pip_name = requirement_name(cls.requirement)

    def __init__(self, metric: Metric = "ip", **build_params: Any) -> None:
        self.metric = check_choice("metric", metric, METRICS)
        if metric not in self.supported_metrics:
            raise ValueError(
                f"{type(self).__name__} serves metric(s) {', '.join(self.supported_metrics)}, not {metric!r}"
            )
        self.build_params = dict(build_params)
        self.query_arguments: dict[str, Any] = {}
        self.num_threads = 1

    # -- what the index is ----------------------------------------------------------------------

    @property
    def transformed(self) -> bool:
        """True when ``"ip"`` is served through the MIPS transform rather than natively."""
        return self.metric == "ip" and "ip" not in self.native_metrics

    @property
    def space(self) -> str:
        """The metric the library actually searches."""
        return self.transform_space if self.transformed else self.metric

    @property
    def label(self) -> str:
        """``name(metric)``, or ``name(ip: MIPS->l2)`` when the transform serves inner product."""
        return f"{self.name}(ip: MIPS->{self.space})" if self.transformed else f"{self.name}({self.metric})"

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in {**self.build_params, **self.query_arguments}.items())
        return f"{type(self).__name__}<{self.label}>({params})"

    @classmethod
    def available(cls) -> str | None:
        """``None`` if the adapter can run here, else the reason it cannot (for the harness)."""
        if cls.library is None:
            return None
        try:
            require(cls.library, cls.pip_name)
        except LibraryUnavailable as error:
            return str(error)
        return None

    def set_num_threads(self, num_threads: int) -> ANNIndex:
        """Threads the library may use for building and for :meth:`batch_query` (0 = all cores)."""
        self.num_threads = check_integer("num_threads", num_threads, 0)
        if hasattr(self, "n_items_"):
            self._apply_threads()
        return self

    # -- building -------------------------------------------------------------------------------

    #: The largest vector norm an index accepts. The libraries compute in float32, whose largest
    #: value is 3.4e38: a squared norm or an inner product of two vectors longer than about 1.8e19
    #: overflows, and some of them abort the process on it (faiss, ScaNN). Vectors up to 1e18 keep
    #: every inner product of two of them below 1e36.
    MAX_NORM: ClassVar[float] = 1e18

    def fit(self, vectors) -> ANNIndex:
        """Build the index on the item vectors (n_items, d); returns ``self``.

        Sets ``n_items_``, ``dim_``, ``build_seconds_`` (wall time of the library's build) and
        ``build_rss_bytes_`` (growth of the process's resident memory across the build, the
        figure behind ``memory_source = "measured"``).
        """
        if self.library is not None:
            require(self.library, self.pip_name)
        X = _check_magnitude(check_vectors(vectors, "vectors"), "vectors", self.MAX_NORM)
        self.n_items_, self.dim_ = X.shape
        if self.transformed:
            X = self._transform_items(X)
        elif self.metric == "cosine" and "cosine" not in self.native_metrics:
            X = normalize(X)
        X = np.ascontiguousarray(X)
        before = resident_bytes()
        start = time.perf_counter()
        self._fit(X)
        self.build_seconds_ = time.perf_counter() - start
        after = resident_bytes()
        self.build_rss_bytes_ = max(0, after - before) if before is not None and after is not None else 0
        if self.query_arguments:
            self._set_query_arguments(**self.query_arguments)
        return self

    def set_query_arguments(self, **arguments: Any) -> None:
        """Set the query-time knobs (``ef``, ``search_k``, ``nprobe``, ...); names are checked."""
        unknown = sorted(set(arguments) - set(self.query_params))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no query argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(self.query_params) or 'none'}"
            )
        merged = {**self.query_arguments, **arguments}
        self._set_query_arguments(**merged)  # a refused value is not kept
        self.query_arguments = merged

    # -- querying -------------------------------------------------------------------------------

    def _prepare_queries(self, vectors, k: int) -> tuple[np.ndarray, int]:
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not built yet; call fit(vectors) first")
        Q = _check_magnitude(check_vectors(vectors, "query vectors", dim=self.dim_), "query vectors", self.MAX_NORM)
        k = check_integer("k", k, 1)
        if k > self.n_items_:
            raise ValueError(f"k={k} is larger than the catalogue ({self.n_items_} items)")
        if self.transformed:
            Q = np.hstack([Q, np.zeros((Q.shape[0], 1), dtype=Q.dtype)])
        elif self.metric == "cosine" and "cosine" not in self.native_metrics:
            Q = normalize(Q)
        return np.ascontiguousarray(Q), k

    def prepare_queries(self, vectors, k: int) -> tuple[np.ndarray, int]:
        """Checked (and, where declared, transformed) queries and ``k``, for :meth:`query_prepared`.

        The benchmark harness prepares all queries once, then times one :meth:`query_prepared`
        call per query, so that the figure is the library's search and not the input checks.
        """
        return self._prepare_queries(vectors, k)

    def query_prepared(self, q: np.ndarray, k: int) -> np.ndarray:
        """:meth:`query` on one row of :meth:`prepare_queries`'s output (no checks)."""
        return _as_ids(self._query(q, k), k)

    def query(self, vector, k: int) -> np.ndarray:
        """The ``k`` best items for one query vector (d,): (k,) int64, best first, -1 = not found."""
        vector = np.asarray(vector)
        if vector.ndim != 1:
            raise ValueError(f"query takes one vector of shape (d,), got shape {vector.shape}; use batch_query")
        Q, k = self._prepare_queries(vector[None, :], k)
        return _as_ids(self._query(Q[0], k), k)

    def batch_query(self, vectors, k: int) -> np.ndarray:
        """The ``k`` best items for each query row: (n, k) int64, best first, -1 = not found."""
        Q, k = self._prepare_queries(vectors, k)
        out = self._batch_query(Q, k)
        return np.vstack([_as_ids(row, k) for row in out]) if isinstance(out, list) else _as_ids_2d(out, k)

    def memory_bytes(self) -> int:
        """The index's size in bytes (how it was obtained: :attr:`memory_source`)."""
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not built yet; call fit(vectors) first")
        return int(self._memory_bytes())

    # -- for subclasses ---------------------------------------------------------------------------

    def _fit(self, X: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def _transform_items(self, X: np.ndarray) -> np.ndarray:
        """The MIPS transform of the items (sets ``max_norm_``); an adapter may refine it."""
        X, self.max_norm_ = mips_transform(X)
        return X

    def _set_query_arguments(self, **arguments: Any) -> None:
        """Apply the query arguments to the built (or to-be-built) index; default: nothing."""

    def _apply_threads(self) -> None:
        """Hand :attr:`num_threads` to the built library; default: nothing to do."""

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray | list:
        return [self._query(q, k) for q in Q]

    def _memory_bytes(self) -> int:
        """Default: the resident growth measured across the build."""
        return self.build_rss_bytes_


def _check_magnitude(X: np.ndarray, name: str, max_norm: float) -> np.ndarray:
    """``X`` itself, or a clear error when a row is longer than ``max_norm`` (norms in float64, so
    the check itself cannot overflow): such vectors would overflow the libraries' float32 arithmetic.
    Vectors of no dimension at all are refused too: several libraries abort the process on them
    (faiss's IVF indexes) or fail deep inside (nmslib, faiss's PQ)."""
    if X.ndim == 2 and X.shape[1] == 0:
        raise ValueError(
            f"{name} have 0 dimensions; an index needs at least one (a model without factors, such as "
            "Popularity, hands over its bias through inner_product_factors())"
        )
    if X.size:
        largest = float(np.abs(X).max(initial=0.0))
        if largest * np.sqrt(X.shape[1]) > max_norm:  # cheap bound first; the exact norms only if needed
            norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
            if norms.max() > max_norm:
                row = int(norms.argmax())
                raise ValueError(
                    f"{name}: row {row} has norm {norms[row]:.3g}, above the {max_norm:.0e} an index accepts "
                    "(the libraries compute in float32, where squares of such values overflow); rescale the "
                    "vectors (inner-product rankings do not change when every vector is scaled by one factor)"
                )
    return X


def _as_ids(ids, k: int) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64).ravel()[:k]
    if ids.size < k:
        ids = np.concatenate([ids, np.full(k - ids.size, -1, dtype=np.int64)])
    return ids


def _as_ids_2d(ids, k: int) -> np.ndarray:
    ids = np.asarray(ids, dtype=np.int64)
    if ids.ndim != 2:
        raise ValueError(f"an adapter's _batch_query returned shape {ids.shape}; expected (n, k)")
    if ids.shape[1] < k:
        ids = np.hstack([ids, np.full((ids.shape[0], k - ids.shape[1]), -1, dtype=np.int64)])
    return ids[:, :k]
