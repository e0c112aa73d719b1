"""Similarity measures between embeddings, and the MIPS transform that turns inner-product search
into nearest-neighbour search.

What belongs here: functions on plain vectors (numpy arrays), batched over queries, for the three
measures every chapter compares (notebooks 04 and 05, the ANN wing):

* ``"dot"``: the inner product ``<q, x>``; what a factor model's score is (see
  :meth:`recsys.models.base.FactorModel.inner_product_factors`);
* ``"cosine"``: ``<q, x> / (|q| |x|)``, the angle alone;
* ``"euclidean"``: ``|q - x|``, ranked smallest first; ``|q - x|^2 = |q|^2 + |x|^2 - 2 <q, x>``
  ties it to the other two.

Every function returns *similarities*, higher = better (the negated distance for
``"euclidean"``), so one top-k serves all three: :func:`top_k_rows`, the package's one exact
top-k of a score matrix (ties to the lower index), and :func:`top_k_items`, the top-k items of
query vectors by a measure. Around them: item-to-item neighbours
(:func:`similar_items`), how much two top-k lists agree (:func:`jaccard`,
:func:`rank_correlation`), recall with ties counted as ann-benchmarks counts them
(:func:`tie_aware_recall`), the angles a search sees (:func:`angles`), and
:class:`MeasureScorer`, which scores any model with the factor contract by any measure so that
:func:`recsys.evaluation.evaluate_ranking` can rank by cosine or distance unchanged.

This module imports only numpy and :mod:`recsys.checks`; models, ANN adapters and notebooks
import it, never the reverse (:class:`MeasureScorer` takes a model by duck typing).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from recsys.checks import check_choice, check_indices, check_integer, check_number

Measure = Literal["dot", "cosine", "euclidean"]
MEASURES: tuple[str, ...] = ("dot", "cosine", "euclidean")

__all__ = [
    "MEASURES",
    "Measure",
    "RECALL_EPSILON",
    "MeasureScorer",
    "angles",
    "check_vectors",
    "jaccard",
    "measure_agreement",
    "mips_agreement",
    "mips_angles",
    "mips_transform",
    "normalize",
    "rank_correlation",
    "rankings",
    "similar_items",
    "similarity",
    "squared_distances",
    "three_orders_example",
    "tie_aware_recall",
    "tie_aware_recall_scored",
    "top_k_items",
    "top_k_rows",
]


def check_vectors(vectors, name: str = "vectors", *, dim: int | None = None, allow_empty: bool = False) -> np.ndarray:
    """``vectors`` as a C-contiguous 2-D float array (float32 stays float32), or a clear error.

    Refuses non-numeric input, NaN or infinity, the wrong number of columns (``dim``) and, unless
    ``allow_empty``, zero rows.
    """
    if hasattr(vectors, "toarray") and hasattr(vectors, "nnz"):  # scipy.sparse: asarray would make a 0-d object
        raise TypeError(
            f"{name} must be a dense 2-D array, got a sparse {type(vectors).__name__}; convert it with .toarray()"
        )
    array = np.asarray(vectors)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows = vectors), got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)) or array.dtype == bool:
        raise TypeError(f"{name} must hold numbers, got dtype {array.dtype}")
    if array.dtype not in (np.float32, np.float64):
        array = array.astype(np.float64)
    if array.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} holds no vectors (shape {array.shape})")
    if dim is not None and array.shape[1] != dim:
        raise ValueError(f"{name} have {array.shape[1]} dimensions, expected {dim}")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array).all(axis=1)))
        raise ValueError(f"{name} hold NaN or infinite values ({bad} row(s))")
    return np.ascontiguousarray(array)


def normalize(vectors) -> np.ndarray:
    """Each row divided by its Euclidean norm; all-zero rows stay zero (their cosine is 0)."""
    vectors = check_vectors(vectors, allow_empty=True)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def similarity(queries, items, measure: Measure = "dot") -> np.ndarray:
    """(n_queries, n_items) similarities, higher = better: dot, cosine, or minus the distance."""
    check_choice("measure", measure, MEASURES)
    queries = check_vectors(queries, "queries", allow_empty=True)
    items = check_vectors(items, "items", dim=queries.shape[1], allow_empty=True)
    if measure == "dot":
        return queries @ items.T
    if measure == "cosine":
        return normalize(queries) @ normalize(items).T
    squared = (
        np.einsum("ij,ij->i", queries, queries)[:, None]
        + np.einsum("ij,ij->i", items, items)[None, :]
        - 2.0 * (queries @ items.T)
    )
    return -np.sqrt(np.maximum(squared, 0.0))


def top_k_rows(scores, k: int) -> np.ndarray:
    """Column positions of the ``k`` largest entries of each row of ``scores``, best first.

    The package's one exact top-k: every ranked list (:func:`top_k_items`,
    :func:`recsys.metrics.top_k`, the embeddings' neighbours, the exact ANN baseline) comes from
    here. Deterministic: equal scores are ordered by the lower column index, also at the cut (of
    three columns tied for the last place, the two with the smallest indices win), so the result
    does not depend on the partition algorithm. ``-inf`` is an ordinary (lowest) score; NaN is
    not a score and must not occur (callers check). Returns an (n, min(k, m)) int64 array.

    Cost: one ``argpartition`` of each row, one comparison pass to find rows with more than ``k``
    entries at or above the cut (rare with real-valued scores; resolved by index), and a sort of
    the ``k`` winners only. No full-size copy of ``scores`` is made.
    """
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (one row per query), got shape {scores.shape}")
    n, m = scores.shape
    k = min(check_integer("k", k, 0), m)
    if n == 0 or k == 0:
        return np.zeros((n, k), dtype=np.int64)
    if k < m:
        part = np.argpartition(scores, m - k, axis=1)[:, m - k :]
        cut = np.take_along_axis(scores, part, axis=1).min(axis=1)
        # the winning set is ambiguous only where more than k entries reach the cut value
        ambiguous = np.flatnonzero(np.count_nonzero(scores >= cut[:, None], axis=1) > k)
        if ambiguous.size:
            sub, at = scores[ambiguous], cut[ambiguous][:, None]
            better, tied = sub > at, sub == at
            need = k - np.count_nonzero(better, axis=1)
            take = better | (tied & (np.cumsum(tied, axis=1) <= need[:, None]))  # the lowest tied indices
            part[ambiguous] = np.nonzero(take)[1].reshape(ambiguous.size, k)
    else:
        part = np.tile(np.arange(m), (n, 1))
    values = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -values), axis=1)  # by score (descending), then by index
    return np.take_along_axis(part, order, axis=1).astype(np.int64, copy=False)


def top_k_items(queries, items, k: int, measure: Measure = "dot", *, exclude=None) -> np.ndarray:
    """The ``k`` items most similar to each query vector, best first: (n_queries, k) int64 indices.

    ``queries`` (n, d) and ``items`` (m, d) are vectors, compared by ``measure``
    (:func:`similarity`); ``exclude`` holds item indices no query may get (items already seen,
    say). Exact; ties go to the smaller item index (:func:`top_k_rows`). ``k`` may not exceed
    the items that remain. (Lists from a score matrix with per-user exclusions, padded with
    ``-1``, are :func:`recsys.metrics.top_k`.)
    """
    scores = similarity(queries, items, measure)
    n_items = scores.shape[1]
    if exclude is not None:
        excluded = check_indices("exclude", exclude, n_items, unique=True)
        scores = np.array(scores, dtype=np.float64)
        scores[:, excluded] = -np.inf
        n_items -= excluded.size
    k = check_integer("k", k, 1)
    if k > n_items:
        raise ValueError(f"k={k} but only {n_items} items can be returned")
    return top_k_rows(scores, k)


def mips_transform(items, queries=None, *, max_norm: float | None = None):
    """Maximum inner-product search as nearest-neighbour search (Bachrach et al. 2014).

    Append ``sqrt(M^2 - |x|^2)`` to every item vector (``M`` = the largest item norm, or
    ``max_norm``) and 0 to every query. Every transformed item then has norm ``M``, so for a query
    ``q``, ``|q' - x'|^2 = |q|^2 + M^2 - 2 <q, x>``: the nearest item in Euclidean distance, and the
    most similar in cosine, is the item of largest inner product, exactly.

    Returns ``(items', M)``, or ``(items', queries', M)`` when ``queries`` is given.
    """
    items = check_vectors(items, "items")
    norms_sq = np.einsum("ij,ij->i", items, items, dtype=np.float64)
    largest = float(np.sqrt(norms_sq.max()))
    if max_norm is None:
        max_norm = largest
    elif check_number("max_norm", max_norm, 0) < largest * (1 - 1e-12):
        raise ValueError(f"max_norm={max_norm!r} is below the largest item norm {largest!r}")
    extra = np.sqrt(np.maximum(max_norm**2 - norms_sq, 0.0)).astype(items.dtype)
    items_t = np.hstack([items, extra[:, None]])
    if queries is None:
        return items_t, float(max_norm)
    queries = check_vectors(queries, "queries", dim=items.shape[1])
    queries_t = np.hstack([queries, np.zeros((queries.shape[0], 1), dtype=queries.dtype)])
    return items_t, queries_t, float(max_norm)


def squared_distances(queries, items) -> np.ndarray:
    """(n_queries, n_items) squared Euclidean distances ``|q|^2 + |x|^2 - 2 <q, x>`` (>= 0).

    Ranks like ``similarity(..., "euclidean")`` (smallest first) and shows the identity that ties
    the three measures together: only the ``|x|^2`` term separates it from the inner product.
    """
    queries = check_vectors(queries, "queries", allow_empty=True)
    items = check_vectors(items, "items", dim=queries.shape[1], allow_empty=True)
    squared = (
        np.einsum("ij,ij->i", queries, queries)[:, None]
        + np.einsum("ij,ij->i", items, items)[None, :]
        - 2.0 * (queries @ items.T)
    )
    return np.maximum(squared, 0.0)


def angles(queries, items) -> np.ndarray:
    """(n_queries, n_items) angles in degrees between each query and each item (90 for a zero vector)."""
    return np.degrees(np.arccos(np.clip(similarity(queries, items, "cosine"), -1.0, 1.0)))


def similar_items(vectors, items, k: int, measure: Measure = "dot") -> np.ndarray:
    """ "More like this": the ``k`` items most similar to each of ``items`` (indices), itself excluded.

    ``vectors`` are the item vectors (n_items, d); the query is the item's own vector. Under the
    dot product an item need not be its own nearest neighbour (a longer vector in about the same
    direction beats it), which is why the item itself is removed explicitly rather than skipped
    as "the first hit". Returns (len(items), k) int64, best first, ties by the smaller index.
    """
    vectors = check_vectors(vectors, "vectors")
    items = np.asarray(items)
    if items.ndim != 1 or (items.size and not np.issubdtype(items.dtype, np.integer)):
        raise TypeError(f"items must be a 1-D array of integer item indices, got {items!r}")
    items = items.astype(np.int64)
    if items.size and (items.min() < 0 or items.max() >= vectors.shape[0]):
        raise IndexError(f"item indices must lie in [0, {vectors.shape[0]}), got {items.min()}..{items.max()}")
    k = check_integer("k", k, 1, vectors.shape[0] - 1)
    scores = np.array(similarity(vectors[items], vectors, measure), dtype=np.float64)
    scores[np.arange(items.size), items] = -np.inf
    return top_k_rows(scores, k)


def jaccard(a, b) -> np.ndarray:
    """Per-row Jaccard overlap ``|A & B| / |A | B|`` of two (n, k) arrays of item indices.

    Rows are top-k lists (no repeats within a row); ``-1`` marks an empty slot and is ignored.
    Two empty rows overlap 1. Order within a row does not matter.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim != 2 or a.shape[0] != b.shape[0] or b.ndim != 2:
        raise ValueError(f"a and b must be 2-D with the same number of rows, got shapes {a.shape} and {b.shape}")
    both = np.sort(np.hstack([a, b]).astype(np.int64), axis=1)
    repeated = (both[:, 1:] == both[:, :-1]) & (both[:, 1:] >= 0)
    shared = np.count_nonzero(repeated, axis=1)
    union = np.count_nonzero(a >= 0, axis=1) + np.count_nonzero(b >= 0, axis=1) - shared
    return np.divide(shared, union, out=np.ones(a.shape[0]), where=union > 0)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, tied values sharing the mean of their ranks (scipy's ``rankdata``)."""
    n = x.size
    sorter = np.argsort(x, kind="mergesort")
    inverse = np.empty(n, dtype=np.int64)
    inverse[sorter] = np.arange(n)
    ordered = x[sorter]
    starts = np.r_[True, ordered[1:] != ordered[:-1]]
    group = np.cumsum(starts)[inverse]
    bounds = np.r_[np.flatnonzero(starts), n]
    return 0.5 * (bounds[group] + bounds[group - 1] + 1)


def rank_correlation(x, y) -> float:
    """Spearman's rank correlation of two equally long 1-D sequences (ties get average ranks).

    1 when both put the values in the same order, -1 for the reverse order; NaN when either is
    constant (no order to agree with).
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(f"x and y must be 1-D of the same length >= 2, got shapes {x.shape} and {y.shape}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("x and y must be finite")
    rx, ry = _average_ranks(x) - (x.size + 1) / 2, _average_ranks(y) - (x.size + 1) / 2
    denominator = np.sqrt((rx @ rx) * (ry @ ry))
    return float(rx @ ry / denominator) if denominator > 0 else float("nan")


def rankings(query, items) -> dict[str, np.ndarray]:
    """Each measure's full order of ``items`` (indices, best first) for one ``query`` vector (d,)."""
    query = np.asarray(query)
    if query.ndim != 1:
        raise ValueError(f"query must be one vector of shape (d,), got shape {query.shape}")
    items = check_vectors(items, "items", dim=query.size)
    return {m: top_k_items(query[None, :], items, items.shape[0], m)[0] for m in MEASURES}


def three_orders_example() -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The classic picture: a query and items A, B, C in 2-D that the three measures rank differently.

    ``(query, items, names)``. A is long and off to the side (largest inner product), C points
    exactly along the query (largest cosine), B is short and sits next to the query (nearest).
    The dot product orders them A, C, B; cosine C, B, A; Euclidean distance B, C, A.
    """
    query = np.array([1.0, 0.0])
    items = np.array([[3.0, 3.0], [1.0, 0.2], [2.0, 0.0]])
    return query, items, ("A", "B", "C")


#: Tolerance of a tie-aware hit, relative to the k-th score: a found item is a hit when its true
#: score is at least ``kth - RECALL_EPSILON * max(1, |kth|)``. Float rounding only; an absolute
#: tolerance (ann-benchmarks' 1e-3 on distances) would count near misses as hits on scores of order 1.
RECALL_EPSILON = 1e-6


def tie_aware_recall_scored(found, found_scores, kth_scores, epsilon: float = RECALL_EPSILON) -> np.ndarray:
    """Per-query recall of ``found`` (n, k) given the true scores of those items and the k-th best.

    The one definition of a hit, used by :func:`tie_aware_recall` and by the ANN benchmark's ground
    truth (which never scores the whole catalogue): an item is a hit when its true score
    (``found_scores``, (n, k), higher = better) is at least the k-th best true score
    (``kth_scores``, (n,)) within ``epsilon * max(1, |kth|)``, so any of several items tied at the cut
    is a right answer, as ann-benchmarks counts them. ``-1`` (nothing found) is a miss, and an item
    returned twice counts once. Returns (n,) floats in [0, 1].
    """
    found = np.asarray(found)
    found_scores = np.asarray(found_scores, dtype=np.float64)
    kth = np.asarray(kth_scores, dtype=np.float64)
    if found.ndim != 2 or found_scores.shape != found.shape or kth.shape != (found.shape[0],):
        raise ValueError(
            f"found and found_scores must be (n, k) and kth_scores (n,), got shapes {found.shape}, "
            f"{found_scores.shape} and {kth.shape}"
        )
    epsilon = check_number("epsilon", epsilon, 0)
    k = check_integer("k (the width of found)", found.shape[1], 1)
    counted = found >= 0
    ordered = np.sort(found, axis=1)
    repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    for r in np.flatnonzero(repeated.any(axis=1)):  # count each id once: its first occurrence
        _, first = np.unique(found[r], return_index=True)
        keep = np.zeros(k, dtype=bool)
        keep[first] = True
        counted[r] &= keep
    threshold = kth - epsilon * np.maximum(1.0, np.abs(kth))
    hits = counted & (found_scores >= threshold[:, None])
    return np.count_nonzero(hits, axis=1) / k


def tie_aware_recall(reference_scores, found, epsilon: float = RECALL_EPSILON) -> np.ndarray:
    """Per-query recall of ``found`` (n, k) against the exact top-k of ``reference_scores`` (n, m).

    Ties are counted as ann-benchmarks counts them (``knn_threshold``), with the relative tolerance
    of :func:`tie_aware_recall_scored` (the one definition of a hit): a found item is a hit when its
    reference score reaches the k-th best reference score less ``epsilon * max(1, |kth|)``, so any
    of several items tied at the cut is a right answer. ``-1`` (no item) is a miss. Returns (n,)
    floats in [0, 1].
    """
    reference = np.asarray(reference_scores, dtype=np.float64)
    found = np.asarray(found)
    if reference.ndim != 2 or found.ndim != 2 or found.shape[0] != reference.shape[0]:
        raise ValueError(
            f"reference_scores must be (n, m) and found (n, k), got shapes {reference.shape} and {found.shape}"
        )
    epsilon = check_number("epsilon", epsilon, 0)
    n, m = reference.shape
    k = check_integer("k (the width of found)", found.shape[1], 1, m)
    if found.size and not np.issubdtype(found.dtype, np.integer):
        raise TypeError(f"found must hold integer item indices (-1 = nothing found), got dtype {found.dtype}")
    if found.size and (found.min() < -1 or found.max() >= m):
        raise ValueError(
            f"found holds item index {int(found.min() if found.min() < -1 else found.max())}, outside [-1, {m}): "
            "the lists and reference_scores must describe the same catalogue"
        )
    kth = -np.partition(-reference, k - 1, axis=1)[:, k - 1]
    valid = found >= 0
    values = np.where(valid, np.take_along_axis(reference, np.where(valid, found, 0), axis=1), -np.inf)
    return tie_aware_recall_scored(found, values, kth, epsilon)


def mips_agreement(queries, items, k: int = 10, *, epsilon: float = RECALL_EPSILON, batch_size: int = 1024) -> dict:
    """Does nearest-neighbour search on MIPS-transformed vectors return the inner-product top-k?

    For every query: the exact inner-product top-k; the L2 and the cosine top-k on the vectors of
    :func:`mips_transform`; and, for contrast, the L2 and cosine top-k on the raw vectors. Returns
    per-query arrays: ``recall_<space>`` (:func:`tie_aware_recall` against the inner product) and
    ``identical_<space>`` (the same items in the same order), for ``space`` in ``l2``, ``cosine``,
    ``l2_raw``, ``cosine_raw``; plus ``max_norm`` (M).
    """
    queries = check_vectors(queries, "queries")
    items = check_vectors(items, "items", dim=queries.shape[1])
    k = check_integer("k", k, 1, items.shape[0])
    batch_size = check_integer("batch_size", batch_size, 1)
    items_t, queries_t, max_norm = mips_transform(items, queries)
    spaces = {
        "l2": (items_t, "euclidean"),
        "cosine": (items_t, "cosine"),
        "l2_raw": (items, "euclidean"),
        "cosine_raw": (items, "cosine"),
    }
    out: dict = {f"{kind}_{s}": [] for s in spaces for kind in ("recall", "identical")}
    for start in range(0, queries.shape[0], batch_size):
        q = queries[start : start + batch_size]
        reference = similarity(q, items, "dot")
        exact = top_k_rows(reference, k)
        for space, (vectors, measure) in spaces.items():
            query_vectors = queries_t[start : start + batch_size] if vectors is items_t else q
            found = top_k_items(query_vectors, vectors, k, measure)
            out[f"recall_{space}"].append(tie_aware_recall(reference, found, epsilon))
            out[f"identical_{space}"].append((found == exact).all(axis=1))
    result = {name: np.concatenate(parts) for name, parts in out.items()}
    result["max_norm"] = max_norm
    return result


class MeasureScorer:
    """A fitted factor model scored by another measure: ``score(users)`` = similarity of its vectors.

    Takes any object with ``inner_product_factors`` (the factor contract of
    :class:`recsys.models.base.FactorModel`), ``n_users_`` and ``n_items_``, and scores users
    against items by ``measure`` on those vectors, so :func:`recsys.evaluation.evaluate_ranking`
    ranks by cosine or distance exactly as it ranks by the model's own score. With
    ``ranking_only=True`` (the default, the vectors an index would serve) the user-constant
    column ``mu + b_u`` is left out: it changes no user's dot-product ranking, but it would
    change their cosine and distance rankings for no reason but the bias's size.
    """

    def __init__(self, model, measure: Measure = "dot", *, ranking_only: bool = True) -> None:
        self.measure = check_choice("measure", measure, MEASURES)
        if not callable(getattr(model, "inner_product_factors", None)):
            raise TypeError(f"{type(model).__name__} has no inner_product_factors(); it has no vectors to measure")
        U, V = model.inner_product_factors(ranking_only=ranking_only)
        self.model = model
        self.user_vectors_ = check_vectors(U, "user vectors")
        self.item_vectors_ = check_vectors(V, "item vectors", dim=self.user_vectors_.shape[1])
        self.n_users_, self.n_items_ = self.user_vectors_.shape[0], self.item_vectors_.shape[0]
        self._items = normalize(self.item_vectors_) if self.measure == "cosine" else self.item_vectors_

    def __repr__(self) -> str:
        return f"MeasureScorer({type(self.model).__name__}, {self.measure!r})"

    def score(self, users) -> np.ndarray:
        """(len(users), n_items) similarities, higher = better (minus the distance for ``"euclidean"``)."""
        users = np.asarray(users)
        if users.size and not np.issubdtype(users.dtype, np.integer):
            raise TypeError(f"users must be integer user indices, got dtype {users.dtype}")
        users = users.astype(np.int64).ravel()
        if users.size and (users.min() < 0 or users.max() >= self.n_users_):
            raise IndexError(f"user index out of range for a model fitted on {self.n_users_} users")
        queries = self.user_vectors_[users]
        if self.measure == "dot":
            return queries @ self._items.T
        if self.measure == "cosine":
            return normalize(queries) @ self._items.T
        return similarity(queries, self._items, "euclidean")


def mips_angles(queries, items, k: int = 10) -> dict:
    """The angles a search sees, before and after :func:`mips_transform`, for each query.

    Returns ``before`` and ``after``, (n_queries, n_items) angles in degrees between each query
    and each item in the raw space and in the transformed space, and ``top_k``, the exact
    inner-product top-k of each query (n_queries, k). After the transform every item has norm
    ``M`` and ``cos(q', x') = <q, x> / (|q| M)``: the ranking is the inner product's, but an item
    far below ``M`` mostly points along the appended coordinate, so all angles crowd towards
    90 degrees and the right answers stand out less from the rest.
    """
    queries = check_vectors(queries, "queries")
    items = check_vectors(items, "items", dim=queries.shape[1])
    k = check_integer("k", k, 1, items.shape[0])
    items_t, queries_t, _ = mips_transform(items, queries)
    return {
        "before": angles(queries, items),
        "after": angles(queries_t, items_t),
        "top_k": top_k_items(queries, items, k, "dot"),
    }


def measure_agreement(queries, items, k: int = 10) -> dict[str, dict[str, float]]:
    """How far the three measures agree, over a set of queries, pair by pair.

    For each pair of measures: ``min_rank_correlation`` (the smallest, over queries, Spearman
    correlation of the two measures' scores of all items; 1 = the same order for every query) and
    ``identical_top_k`` (the share of queries whose top-k lists are the same, in the same order).
    On unit vectors both are 1: there ``cos = <q, x>`` and ``|q - x|^2 = 2 - 2 <q, x>``.
    """
    queries = check_vectors(queries, "queries")
    items = check_vectors(items, "items", dim=queries.shape[1])
    k = check_integer("k", k, 1, items.shape[0])
    scores = {m: similarity(queries, items, m) for m in MEASURES}
    tops = {m: top_k_rows(scores[m], k) for m in MEASURES}
    out = {}
    for i, a in enumerate(MEASURES):
        for b in MEASURES[i + 1 :]:
            rho = [rank_correlation(x, y) for x, y in zip(scores[a], scores[b])]
            out[f"{a} vs {b}"] = {
                "min_rank_correlation": float(np.nanmin(rho)),
                "identical_top_k": float((tops[a] == tops[b]).all(axis=1).mean()),
            }
    return out
