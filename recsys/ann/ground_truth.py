"""Exact ground truth of a workload and recall as ann-benchmarks counts it (ties are hits).

:func:`ground_truth` computes the exact ``depth`` best items of every query (float32 BLAS for
candidates, float64 re-scoring, a proof that nothing outside the candidates belongs, a float64
redo of the rare row where the proof fails) and caches them on disk under :func:`cache_key`: the
workload's parameters, a fingerprint of its vectors, the depth and :data:`GROUND_TRUTH_VERSION`.

:func:`recall` is recall@k **as ann-benchmarks counts it**: a returned item is a hit when its true
score is at least the k-th best true score (so ties with the k-th item are hits, and an index is
not punished for returning a different one of several equally good items), computed from the
exact scores of the returned ids, in float64, not by comparing ids. The hit rule is
:func:`recsys.similarity.tie_aware_recall_scored`, the one the similarity chapter uses too: a
tolerance of ``epsilon * max(1, |k-th score|)``, for float rounding only (ann-benchmarks uses an
absolute 1e-3 on distances, which on recommender scores of order 1 would count near misses as
hits).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recsys.ann.base import thread_count
from recsys.ann.workloads import Workload
from recsys.checks import check_integer, check_number
from recsys.similarity import RECALL_EPSILON, normalize, tie_aware_recall_scored

__all__ = [
    "DEFAULT_EPSILON",
    "GROUND_TRUTH_VERSION",
    "GroundTruth",
    "cache_key",
    "exact_scores",
    "ground_truth",
    "recall",
    "recall_of_ids",
]

#: Relative tolerance of a hit (float rounding only): hit if score >= kth - epsilon * max(1, |kth|).
DEFAULT_EPSILON = RECALL_EPSILON
#: Bumped when the ground-truth computation changes (invalidates caches).
GROUND_TRUTH_VERSION = 1


def exact_scores(items: np.ndarray, queries: np.ndarray, ids: np.ndarray, metric: str = "ip") -> np.ndarray:
    """True scores (float64, higher = better) of the items ``ids`` (n_queries, m) for each query.

    ``ip``: ``<q, x>``; ``cosine``: ``<q, x> / (|q| |x|)``; ``l2``: ``-|q - x|``. Ids of -1 (not
    found) score ``-inf``.
    """
    ids = np.asarray(ids, dtype=np.int64)
    valid = ids >= 0
    X = np.asarray(items)[np.where(valid, ids, 0)].astype(np.float64)  # (n, m, d)
    Q = np.asarray(queries, dtype=np.float64)[:, None, :]
    if metric == "ip":
        scores = np.einsum("nmd,nmd->nm", X, np.broadcast_to(Q, X.shape))
    elif metric == "cosine":
        dots = np.einsum("nmd,nmd->nm", X, np.broadcast_to(Q, X.shape))
        norms = np.linalg.norm(X, axis=2) * np.linalg.norm(Q, axis=2)
        scores = np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
    elif metric == "l2":
        scores = -np.sqrt(np.einsum("nmd,nmd->nm", X - Q, X - Q))
    else:
        raise ValueError(f"metric must be 'ip', 'cosine' or 'l2', got {metric!r}")
    return np.where(valid, scores, -np.inf)


@dataclass(frozen=True, eq=False)
class GroundTruth:
    """The exact ``depth`` best items of every query (ids and float64 scores, best first)."""

    ids: np.ndarray
    scores: np.ndarray
    metric: str
    seconds: float = 0.0
    cached: bool = False

    @property
    def depth(self) -> int:
        return int(self.ids.shape[1])


def _float32_scores(X: np.ndarray, Q: np.ndarray, metric: str, norms_sq: np.ndarray) -> np.ndarray:
    dots = Q @ X.T
    if metric == "l2":
        return 2.0 * dots - norms_sq[None, :]  # same order as -|q - x|
    return dots


def _exact_top(items: np.ndarray, queries: np.ndarray, depth: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``depth`` in blocks: float32 BLAS for candidates, float64 re-scoring, a proof check.

    Candidates are the ``depth + margin`` best by float32 scores; they are re-scored in float64.
    The float32 error of any score is bounded by ``err``; if the weakest candidate's float32 score
    plus ``2 err`` is below the ``depth``-th float64 score, no item outside the candidates can
    belong to the top ``depth``. Rows where that proof fails are redone fully in float64.
    """
    n, d = items.shape
    X = np.ascontiguousarray(items, dtype=np.float32)
    Q = np.ascontiguousarray(queries, dtype=np.float32)
    if metric == "cosine":
        X, Q = normalize(X).astype(np.float32), normalize(Q).astype(np.float32)
    norms_sq = np.einsum("ij,ij->i", X, X)
    margin = min(n - depth, max(16, depth))
    width = depth + margin
    block = max(1, min(Q.shape[0], (1 << 26) // max(n, 1)))  # ~256 MB of float32 scores per block
    ids = np.empty((Q.shape[0], depth), dtype=np.int64)
    scores = np.empty((Q.shape[0], depth), dtype=np.float64)
    x_max = float(np.sqrt(norms_sq.max()))
    unit = 2.0**-23 * (d + 2)
    for start in range(0, Q.shape[0], block):
        Qb = Q[start : start + block]
        S = _float32_scores(X, Qb, metric, norms_sq)
        if width < n:
            cand = np.argpartition(-S, width - 1, axis=1)[:, :width]
        else:
            cand = np.broadcast_to(np.arange(n), (Qb.shape[0], n)).copy()
        rows = np.arange(Qb.shape[0])[:, None]
        weakest = S[rows, cand].min(axis=1) if width < n else np.full(Qb.shape[0], -np.inf)
        exact = exact_scores(items, queries[start : start + block], cand, metric)
        order = np.lexsort((cand, -exact), axis=1)[:, :depth]
        top_ids, top_scores = cand[rows, order], exact[rows, order]
        q_norm = np.linalg.norm(Qb, axis=1).astype(np.float64)
        err = unit * (2 * q_norm * x_max + (x_max**2 if metric == "l2" else 0.0)) + 1e-30
        # the k-th exact score in the units of the float32 scores (l2: 2<q,x> - |x|^2 = |q|^2 - |q - x|^2)
        kth = q_norm**2 - top_scores[:, -1] ** 2 if metric == "l2" else top_scores[:, -1]
        unproven = np.flatnonzero(weakest + 2 * err >= kth) if width < n else np.empty(0, dtype=np.int64)
        for r in unproven:  # rare: a float32 near-tie at the boundary; do this query in float64
            q = np.asarray(queries[start + r], dtype=np.float64)[None, :]
            full = exact_scores(items, q, np.arange(n)[None, :], metric)[0]
            best_ids = np.lexsort((np.arange(n), -full))[:depth]
            top_ids[r], top_scores[r] = best_ids, full[best_ids]
        ids[start : start + Qb.shape[0]] = top_ids
        scores[start : start + Qb.shape[0]] = top_scores
    return ids, scores


def cache_key(workload: Workload, depth: int) -> dict:
    """What a cached ground truth is keyed by: the workload's parameters, a fingerprint of its
    vectors, the depth and :data:`GROUND_TRUTH_VERSION` (any change computes afresh)."""
    return {
        "workload": workload.key(),
        "fingerprint": workload.fingerprint(),
        "depth": depth,
        "version": GROUND_TRUTH_VERSION,
    }


def ground_truth(
    workload: Workload,
    depth: int = 10,
    *,
    cache_dir: str | os.PathLike | None = None,
    threads: int = 0,
) -> GroundTruth:
    """The exact top-``depth`` of every query of ``workload``, cached in ``cache_dir`` if given.

    The cache file is named by a hash of the workload's parameters, a fingerprint of its vectors
    and ``depth``, and stores that key: any changed parameter computes (and caches) afresh.
    """
    from threadpoolctl import threadpool_limits

    depth = check_integer("depth", depth, 1, workload.n_items)
    key = cache_key(workload, depth)
    text = json.dumps(key, sort_keys=True, default=str)
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"ground-truth-{hashlib.sha256(text.encode()).hexdigest()[:20]}.npz"
        cached = _read_cached(path, text, (workload.n_queries, depth))
        if cached is not None:
            ids, scores, seconds = cached
            return GroundTruth(ids, scores, workload.metric, seconds, True)
    start = time.perf_counter()
    with threadpool_limits(thread_count(threads)):
        ids, scores = _exact_top(workload.items, workload.queries, depth, workload.metric)
    seconds = time.perf_counter() - start
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temporary file of this process's own (two runs sharing a cache never write the same
        # one), moved into place in one step: a reader sees the old entry or the new one, whole
        handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp.npz")
        try:
            with os.fdopen(handle, "wb") as out:
                np.savez(out, ids=ids, scores=scores, key=np.array(text), seconds=np.array(seconds))
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return GroundTruth(ids, scores, workload.metric, seconds, False)


def _read_cached(path: Path, key: str, shape: tuple[int, int]):
    """``(ids, scores, seconds)`` of the cache entry at ``path`` if it is whole and holds ``key``;
    ``None`` if there is none or it is for other vectors. A damaged entry (truncated, not an
    archive, missing arrays, wrong shapes) is named in a warning and recomputed."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as stored:
            if str(stored["key"]) != key:
                return None
            ids, scores, seconds = stored["ids"], stored["scores"], float(stored["seconds"])
        if ids.shape != shape or scores.shape != shape or not np.issubdtype(ids.dtype, np.integer):
            raise ValueError(f"arrays of shape {ids.shape} and {scores.shape}, expected {shape}")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
        warnings.warn(f"ground-truth cache {path} is damaged ({error}); computing it again", stacklevel=3)
        return None
    return ids, scores, seconds


def recall(found, truth: GroundTruth, workload: Workload, k: int, *, epsilon: float = DEFAULT_EPSILON) -> np.ndarray:
    """Per-query recall@k, ann-benchmarks' way: a returned item is a hit if its true score is at
    least the k-th best true score (within ``epsilon * max(1, |kth|)``); ties are hits.

    ``found`` is (n_queries, >= k) item ids (-1 = nothing); only the first ``k`` count, and an id
    returned twice counts once.
    """
    k = check_integer("k", k, 1, truth.depth)
    epsilon = check_number("epsilon", epsilon, 0)
    found = np.asarray(found, dtype=np.int64)
    if found.ndim != 2 or found.shape[0] != truth.ids.shape[0] or found.shape[1] < k:
        raise ValueError(f"found must be ({truth.ids.shape[0]}, >= {k}) ids, got shape {found.shape}")
    return recall_of_ids(found, truth.scores, workload.items, workload.queries, workload.metric, k, epsilon)


def recall_of_ids(
    found, truth_scores, items, queries, metric: str, k: int, epsilon: float = DEFAULT_EPSILON
) -> np.ndarray:
    """:func:`recall` on plain arrays, unchecked (the runner calls it on the first queries only).

    The true scores of the first ``k`` found ids are computed with :func:`exact_scores`; the hit
    rule is :func:`recsys.similarity.tie_aware_recall_scored`, against ``truth_scores[:, k - 1]``.
    """
    found = np.asarray(found, dtype=np.int64)[:, :k]
    if (found >= items.shape[0]).any():
        raise ValueError(f"found holds ids >= the catalogue size {items.shape[0]}")
    scores = exact_scores(items, queries, found, metric)
    return tie_aware_recall_scored(found, scores, truth_scores[:, k - 1], epsilon)
