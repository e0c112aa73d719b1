"""ann-benchmarks' dataset files (HDF5) as workloads, and a check of their neighbours against ours.

ann-benchmarks (github.com/erikbern/ann-benchmarks) publishes its datasets as HDF5 files written by
``ann_benchmarks/datasets.py:write_output``; a dense file holds:

* ``train`` (n_items, d): the catalogue; ``test`` (n_queries, d): the queries;
* ``neighbors`` (n_queries, 100), int64: the ids of each query's exact nearest train vectors,
  nearest first (brute force, ``BruteForceBLAS``, in the precision of ``train``); ``distances``
  (n_queries, 100), float64: their distances;
* attributes ``distance`` (``"angular"``, ``"euclidean"``, ``"hamming"`` or ``"jaccard"``),
  ``type`` (``"dense"``, or ``"sparse"`` for the jaccard sets, stored flattened with ``size_train``
  / ``size_test``), ``point_type`` (``"float"``, or ``"bit"`` for hamming) and ``dimension``.

:func:`read_hdf5` turns a dense float file into a :class:`~recsys.ann.workloads.Workload` (float32)
and its ``neighbors``, mapping the ``distance`` attribute to this wing's metrics
(:data:`DISTANCE_METRICS`): ``angular`` (``1 - cos``) ranks as ``"cosine"``, ``euclidean`` as
``"l2"``; ``dot`` (no file of ann-benchmarks' own has it, but derived tools write it) as ``"ip"``.
hamming and jaccard are refused.

**lastfm-64-dot.** Despite its name, its ``distance`` attribute is ``"angular"``: ann-benchmarks
appended to implicit-ALS item factors the coordinate ``sqrt(M^2 - |x|^2)`` that gives every item the
same norm ``M`` (the MIPS transform, :func:`recsys.similarity.mips_transform`), and a 0 to the user
factors, so that an angular search returns the items of largest inner product. It reads as a
``"cosine"`` workload; because every train vector has the same norm, ``metric="ip"`` ranks it
identically and benchmarks the indexes' inner-product paths instead.

:func:`check_ground_truth` compares the file's ``neighbors`` with this project's exact ground truth
(:func:`recsys.ann.ground_truth.ground_truth`) with the one tie-aware hit rule
(:func:`recsys.similarity.tie_aware_recall_scored`), in both directions, so a benchmark is trusted
on a file only once the file and our code are seen to agree.

h5py is optional (the project's ``hdf5`` extra); without it :func:`read_hdf5` raises
:class:`~recsys.ann.base.LibraryUnavailable` saying ``pip install h5py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from recsys.ann.base import METRICS, LibraryUnavailable
from recsys.ann.ground_truth import DEFAULT_EPSILON, GroundTruth, exact_scores, ground_truth, recall, recall_of_ids
from recsys.ann.workloads import Workload
from recsys.checks import check_choice, check_integer, check_number

__all__ = ["DISTANCE_METRICS", "GroundTruthAgreement", "check_ground_truth", "read_hdf5"]

#: ann-benchmarks' ``distance`` attribute -> the metric :class:`~recsys.ann.workloads.Workload` ranks by.
DISTANCE_METRICS: dict[str, str] = {"angular": "cosine", "euclidean": "l2", "dot": "ip"}
#: Distances ann-benchmarks writes that this wing cannot rank by (sets and bit strings).
UNSUPPORTED_DISTANCES = ("hamming", "jaccard")


def _h5py() -> ModuleType:
    try:
        import h5py
    except ImportError as error:
        raise LibraryUnavailable(
            f"reading ann-benchmarks' HDF5 files needs h5py, which is not installed ({error}); install it with "
            "`pip install h5py` or the project's extra: `pip install -e '.[hdf5]'`"
        ) from error
    return h5py


def _text(value: Any) -> str:
    """An HDF5 string attribute as ``str`` (h5py returns ``bytes`` for fixed-length strings)."""
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, (bytes, np.bytes_)):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _matrix(f, key: str, where: str, *, integer: bool = False):
    """The 2-D dataset ``key`` of ``f`` (unread), or a ``ValueError`` naming the file and the dataset."""
    h5py = _h5py()
    if key not in f:
        raise ValueError(f"{where} has no {key!r} dataset (ann-benchmarks' files hold 'train', 'test', 'neighbors')")
    ds = f[key]
    if not isinstance(ds, h5py.Dataset):
        raise ValueError(f"{where}: {key!r} is an HDF5 group, not a dataset")
    if ds.ndim != 2 or ds.shape[0] == 0 or ds.shape[1] == 0:
        raise ValueError(
            f"{where}: dataset {key!r} must be a non-empty 2-D array (rows x columns), got shape {ds.shape}"
        )
    kind = np.dtype(ds.dtype)
    numeric = np.issubdtype(kind, np.integer) if integer else np.issubdtype(kind, np.number)
    if not numeric or kind == np.bool_:
        wanted = "integer ids" if integer else "numbers"
        raise ValueError(f"{where}: dataset {key!r} must hold {wanted}, got dtype {kind}")
    return ds


def _float32(ds, rows: int, key: str, where: str) -> np.ndarray:
    """The first ``rows`` rows of ``ds`` as float32, refusing NaN, infinity and values beyond float32."""
    raw = np.asarray(ds[:rows])
    with np.errstate(over="ignore"):
        values = raw.astype(np.float32)
    for finite, what in (
        (np.isfinite(raw), "NaN or infinite values"),
        (np.isfinite(values), "values beyond float32's range"),
    ):
        bad = np.flatnonzero(~finite.all(axis=1))
        if bad.size:
            raise ValueError(f"{where}: dataset {key!r} holds {what} in {bad.size} row(s), the first row {int(bad[0])}")
    return values


def read_hdf5(
    path: str | os.PathLike,
    *,
    max_queries: int | None = None,
    name: str | None = None,
    metric: str | None = None,
) -> tuple[Workload, np.ndarray | None]:
    """An ann-benchmarks HDF5 file as ``(workload, neighbors)``.

    The workload's items are ``train``, its queries the first ``max_queries`` rows of ``test``
    (all of them by default, or when the file has fewer), both float32; its metric is the file's ``distance`` attribute mapped
    by :data:`DISTANCE_METRICS`, or ``metric`` (``"ip"``, ``"cosine"`` or ``"l2"``) when given.
    ``neighbors`` is the file's ``neighbors`` for those queries ((n_queries, count) int64, nearest
    first), or ``None`` if the file has none. ``name`` defaults to the file's name without ``.hdf5``.

    Raises ``FileNotFoundError`` for a missing file; ``ValueError``, naming the file (and the
    dataset), for a file that is not HDF5, a distance that is not supported (hamming, jaccard),
    sparse or bit data, a dataset missing or of the wrong shape, ``test`` and ``train`` of different
    dimensions, NaN, infinite values or values beyond float32, ``neighbors`` with another number of rows than ``test`` or
    ids outside ``train``; :class:`~recsys.ann.base.LibraryUnavailable` (an ``ImportError``) when
    h5py is not installed.
    """
    h5py = _h5py()
    path = Path(path)
    if max_queries is not None:
        max_queries = check_integer("max_queries", max_queries, 1)
    if metric is not None:
        check_choice("metric", metric, METRICS)
    if not path.exists():
        raise FileNotFoundError(f"no ann-benchmarks HDF5 file at {path}")
    if not path.is_file():
        raise ValueError(f"{path} is not a file (expected an ann-benchmarks HDF5 file such as lastfm-64-dot.hdf5)")
    where = str(path)
    if not h5py.is_hdf5(str(path)):
        raise ValueError(
            f"{where} is not an HDF5 file (ann-benchmarks' datasets are HDF5 files such as lastfm-64-dot.hdf5)"
        )
    try:
        handle = h5py.File(path, "r")
    except OSError as error:  # an HDF5 signature on a truncated or damaged file
        raise ValueError(f"{where} could not be read as an HDF5 file ({error})") from error
    with handle as f:
        if "distance" not in f.attrs:
            raise ValueError(f"{where} has no 'distance' attribute: not an ann-benchmarks dataset file")
        distance = _text(f.attrs["distance"])
        if distance not in DISTANCE_METRICS:
            known = ", ".join(repr(d) for d in DISTANCE_METRICS)
            why = "sets and bit strings are not vectors this wing ranks" if distance in UNSUPPORTED_DISTANCES else ""
            raise ValueError(
                f"{where}: distance {distance!r} is not supported ({why or 'unknown distance'}); "
                f"supported: {known} (ranked as {', '.join(repr(m) for m in DISTANCE_METRICS.values())})"
            )
        layout = _text(f.attrs.get("type", "dense"))
        if layout != "dense":
            raise ValueError(f"{where}: type {layout!r} is not supported; only dense vector files can be read")
        point_type = _text(f.attrs.get("point_type", "float"))
        if point_type != "float":
            raise ValueError(f"{where}: point_type {point_type!r} is not supported; only 'float' vectors can be read")
        train = _matrix(f, "train", where)
        test = _matrix(f, "test", where)
        n_items, dim = train.shape
        if test.shape[1] != dim:
            raise ValueError(
                f"{where}: dataset 'test' has {test.shape[1]} dimensions but 'train' has {dim} (shapes "
                f"{test.shape} and {train.shape})"
            )
        if "dimension" in f.attrs and int(np.asarray(f.attrs["dimension"])) != dim:
            raise ValueError(
                f"{where}: the 'dimension' attribute says {int(np.asarray(f.attrs['dimension']))} but "
                f"'train' has {dim} columns"
            )
        n_test = int(test.shape[0])
        n = n_test if max_queries is None else min(max_queries, n_test)
        neighbors = None
        if "neighbors" in f:
            ids = _matrix(f, "neighbors", where, integer=True)
            if ids.shape[0] != n_test:
                raise ValueError(
                    f"{where}: dataset 'neighbors' has {ids.shape[0]} rows but 'test' has {n_test} (one row of "
                    "neighbours per test vector)"
                )
            if "distances" in f and tuple(f["distances"].shape) != tuple(ids.shape):
                raise ValueError(
                    f"{where}: dataset 'distances' has shape {f['distances'].shape} but 'neighbors' has {ids.shape}"
                )
            neighbors = np.asarray(ids[:n], dtype=np.int64)
            outside = (neighbors < 0) | (neighbors >= n_items)
            if outside.any():
                row, column = (int(i) for i in np.argwhere(outside)[0])
                raise ValueError(
                    f"{where}: dataset 'neighbors' holds ids outside 'train' (0 to {n_items - 1}): "
                    f"{int(neighbors[row, column])} at row {row}, column {column} ({int(outside.sum())} in all)"
                )
        items = _float32(train, n_items, "train", where)
        queries = _float32(test, n, "test", where)
    params = {"kind": "ann-benchmarks", "file": path.name, "distance": distance, "n_test": n_test}
    stem = path.name[: -len(".hdf5")] if path.name.endswith(".hdf5") else path.stem
    workload = Workload(name or stem, items, queries, metric or DISTANCE_METRICS[distance], params)
    return workload, neighbors


@dataclass(frozen=True, eq=False)
class GroundTruthAgreement:
    """How a file's neighbour lists and our exact ground truth agree, query by query, at depth ``k``.

    ``file_recall[i]``: recall@k of the file's list for query ``i`` against our exact top-k (a
    listed item is a hit when its exact score reaches our k-th best, ties are hits);
    ``our_recall[i]``: the same of our list against the file's (a hit when it reaches the weakest
    score of the file's list). Both are 1 exactly when the two lists are equally good top-k lists.
    """

    k: int
    file_recall: np.ndarray
    our_recall: np.ndarray
    truth: GroundTruth

    @property
    def n_queries(self) -> int:
        return int(self.file_recall.shape[0])

    @property
    def recall(self) -> float:
        """Mean recall@k of the file's lists against our ground truth."""
        return float(self.file_recall.mean())

    @property
    def differing(self) -> np.ndarray:
        """The queries where the two lists are not equally good (either recall below 1)."""
        return np.flatnonzero((self.file_recall < 1.0) | (self.our_recall < 1.0))

    @property
    def n_differing(self) -> int:
        return int(self.differing.size)

    @property
    def agrees(self) -> bool:
        return self.n_differing == 0

    def record(self) -> dict[str, Any]:
        """The numbers, for a results file."""
        return {
            "k": self.k,
            "n_queries": self.n_queries,
            "recall_of_file_lists": self.recall,
            "recall_of_our_lists": float(self.our_recall.mean()),
            "n_differing": self.n_differing,
            "first_differing": self.differing[:10].tolist(),
        }

    def __str__(self) -> str:
        text = (
            f"the file's neighbours and our exact top-{self.k} agree on {self.n_queries - self.n_differing:,} of "
            f"{self.n_queries:,} queries (recall@{self.k} of the file's lists against ours {self.recall:.4f}, "
            f"of ours against the file's {float(self.our_recall.mean()):.4f}, ties counted as hits)"
        )
        if not self.agrees:
            first = ", ".join(str(int(i)) for i in self.differing[:5])
            text += f"; they differ on {self.n_differing:,} queries (the first: {first})"
        return text


def check_ground_truth(
    workload: Workload,
    neighbors,
    k: int = 10,
    *,
    epsilon: float = DEFAULT_EPSILON,
    truth: GroundTruth | None = None,
    cache_dir: str | os.PathLike | None = None,
    threads: int = 0,
) -> GroundTruthAgreement:
    """Compare the first ``k`` columns of a file's ``neighbors`` with our exact ground truth.

    ``neighbors`` is (workload.n_queries, >= k) item ids, as :func:`read_hdf5` returns them.
    ``truth`` is our ground truth if already computed (depth >= k), else it is computed (and cached
    in ``cache_dir``). Both directions use :func:`recsys.ann.ground_truth.recall`'s hit rule
    (:func:`recsys.similarity.tie_aware_recall_scored`, tolerance ``epsilon``): the file's lists
    against our k-th best exact score, and ours against the weakest exact score of the file's lists
    (which catches an error on our side that the first direction would forgive).
    """
    neighbors = np.asarray(neighbors)
    if neighbors.ndim != 2 or not np.issubdtype(neighbors.dtype, np.integer):
        raise ValueError(
            f"neighbors must be a 2-D array of integer ids, got {neighbors.dtype} of shape {neighbors.shape}"
        )
    if neighbors.shape[0] != workload.n_queries:
        raise ValueError(
            f"neighbors has {neighbors.shape[0]} rows but the workload has {workload.n_queries} queries (one row each)"
        )
    k = check_integer("k", k, 1, workload.n_items)
    if k > neighbors.shape[1]:
        raise ValueError(f"k={k} is more than the {neighbors.shape[1]} neighbours listed per query")
    epsilon = check_number("epsilon", epsilon, 0)
    if truth is None:
        truth = ground_truth(workload, k, cache_dir=cache_dir, threads=threads)
    elif truth.depth < k or truth.ids.shape[0] != workload.n_queries:
        raise ValueError(f"truth covers {truth.ids.shape} (queries x depth); need ({workload.n_queries}, >= {k})")
    listed = np.ascontiguousarray(neighbors[:, :k], dtype=np.int64)
    file_recall = recall(listed, truth, workload, k, epsilon=epsilon)
    # the file's lists' exact scores, best first: their weakest is the k-th score our lists must reach
    file_scores = -np.sort(-exact_scores(workload.items, workload.queries, listed, workload.metric), axis=1)
    our_recall = recall_of_ids(
        truth.ids[:, :k], file_scores, workload.items, workload.queries, workload.metric, k, epsilon
    )
    return GroundTruthAgreement(k, file_recall, our_recall, truth)
