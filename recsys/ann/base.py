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

A subclass sets the class attributes ``name``, ``family``, ``library``/``pip_name`` (the module
it needs, if any), ``native_metrics`` (what the library searches as is), ``transform_space`` (the
metric it searches after the MIPS transform) and ``query_params`` (the names
:meth:`set_query_arguments` accepts), and implements ``_fit``, ``_query`` (and ``_batch_query``
when the library batches better than a loop).
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType
from typing import Any, ClassVar, Literal

import numpy as np

from recsys.checks import check_choice, check_integer
from recsys.similarity import check_vectors, mips_transform, normalize

Metric = Literal["ip", "cosine", "l2"]
METRICS: tuple[str, ...] = ("ip", "cosine", "l2")
#: The four families of the study, plus exact search as the reference.
FAMILIES: tuple[str, ...] = ("exact", "graph", "tree", "lsh", "quantization")

__all__ = ["FAMILIES", "METRICS", "ANNIndex", "LibraryUnavailable", "require"]


class LibraryUnavailable(ImportError):
    """An adapter's library is not installed; the message names the pip package to install."""


def require(module: str, pip_name: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`LibraryUnavailable` saying how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        pip_name = pip_name or module
        raise LibraryUnavailable(
            f"{module} is not installed ({error}); install it with `pip install {pip_name}` "
            "or the project's extra: `pip install -e '.[ann]'`"
        ) from error


class ANNIndex:
    """Base class of every search adapter (see the module docstring)."""

    #: Short method name, e.g. ``"hnswlib"``; the harness's key for grids and results.
    name: ClassVar[str] = "base"
    #: One of :data:`FAMILIES`.
    family: ClassVar[str] = "exact"
    #: Python module the adapter needs (``None``: numpy only) and its pip package.
    library: ClassVar[str | None] = None
    pip_name: ClassVar[str | None] = None
    #: Metrics the library searches without any transform.
    native_metrics: ClassVar[tuple[str, ...]] = METRICS
    #: The metric searched after the MIPS transform, when ``"ip"`` is not native.
    transform_space: ClassVar[str] = "l2"
    #: Names :meth:`set_query_arguments` accepts.
    query_params: ClassVar[tuple[str, ...]] = ()
    #: Where :meth:`memory_bytes` comes from: ``"library"`` (the library's own figure),
    #: ``"arrays"`` (the sizes of the arrays the index holds) or ``"measured"`` (resident growth).
    memory_source: ClassVar[str] = "arrays"

    def __init__(self, metric: Metric = "ip", **build_params: Any) -> None:
        self.metric = check_choice("metric", metric, METRICS)
        self.build_params = dict(build_params)
        self.query_arguments: dict[str, Any] = {}

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

    # -- building -------------------------------------------------------------------------------

    def fit(self, vectors) -> ANNIndex:
        """Build the index on the item vectors (n_items, d); returns ``self``."""
        if self.library is not None:
            require(self.library, self.pip_name)
        X = check_vectors(vectors, "vectors")
        self.n_items_, self.dim_ = X.shape
        if self.transformed:
            X, self.max_norm_ = mips_transform(X)
        elif self.metric == "cosine" and "cosine" not in self.native_metrics:
            X = normalize(X)
        start = time.perf_counter()
        self._fit(np.ascontiguousarray(X))
        self.build_seconds_ = time.perf_counter() - start
        return self

    def set_query_arguments(self, **arguments: Any) -> None:
        """Set the query-time knobs (``ef``, ``search_k``, ``nprobe``, ...); names are checked."""
        unknown = sorted(set(arguments) - set(self.query_params))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no query argument(s) {', '.join(unknown)}; "
                f"it takes: {', '.join(self.query_params) or 'none'}"
            )
        self.query_arguments.update(arguments)
        self._set_query_arguments(**self.query_arguments)

    # -- querying -------------------------------------------------------------------------------

    def _prepare_queries(self, vectors, k: int) -> tuple[np.ndarray, int]:
        if not hasattr(self, "n_items_"):
            raise RuntimeError(f"{type(self).__name__} is not built yet; call fit(vectors) first")
        Q = check_vectors(vectors, "query vectors", dim=self.dim_)
        k = check_integer("k", k, 1)
        if k > self.n_items_:
            raise ValueError(f"k={k} is larger than the catalogue ({self.n_items_} items)")
        if self.transformed:
            Q = np.hstack([Q, np.zeros((Q.shape[0], 1), dtype=Q.dtype)])
        elif self.metric == "cosine" and "cosine" not in self.native_metrics:
            Q = normalize(Q)
        return np.ascontiguousarray(Q), k

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

    def _set_query_arguments(self, **arguments: Any) -> None:
        """Apply the query arguments to the built (or to-be-built) index; default: nothing."""

    def _query(self, q: np.ndarray, k: int) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _batch_query(self, Q: np.ndarray, k: int) -> np.ndarray | list:
        return [self._query(q, k) for q in Q]

    def _memory_bytes(self) -> int:  # pragma: no cover - interface
        raise NotImplementedError


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
