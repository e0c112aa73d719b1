"""Rating and ranking metrics, vectorised over all users at once.

Rating metrics (:func:`rmse`, :func:`mae`) compare predicted with observed ratings. Ranking
metrics take a ``recommended`` matrix (one row of item indices per user, best first, ``-1`` for an
empty slot) and a ``relevant`` CSR matrix (users x items, stored entries = the relevant items) and
return one value per user, computed without a Python loop over users: the hit matrix
``hits[u, j] = recommended[u, j] in relevant[u]`` is found with one ``searchsorted`` over the
sorted keys ``u * n_items + i`` of the relevant entries, and every metric is a row-wise reduction
of it.

Conventions (binary relevance, cut-off ``k``, ``R_u`` = number of relevant items of user ``u``):

* ``precision@k = hits / k`` (empty ``-1`` slots count as misses, so the divisor is always ``k``);
* ``recall@k = hits / R_u``;
* ``ndcg@k = DCG / IDCG`` with ``DCG = sum_j hit_j / log2(j + 2)`` (``j`` from 0) and the ideal DCG
  over ``min(k, R_u)`` positions;
* ``map@k`` averages ``AP@k = sum_j precision@(j+1) * hit_j / min(k, R_u)`` (see
  :func:`ranking_metrics` for the other normaliser);
* ``hit_rate@k`` is 1 if any of the ``k`` items is relevant;
* ``mrr@k`` is ``1 / rank`` of the first relevant item within the top ``k`` (0 if none): MRR cut at ``k``.

Users with no relevant items get NaN in every per-user array and are left out of the means
(:func:`mean_metrics`): none of these metrics says anything useful about them.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from recsys.checks import check_integer
from recsys.interactions import binarize, check_interactions, row_indices
from recsys.similarity import top_k_rows

MapDenominator = Literal["min_k_relevant", "n_relevant"]

#: Names (and order) of the per-user arrays :func:`ranking_metrics` returns.
RANKING_METRICS = ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")


# --------------------------------------------------------------------------- rating metrics


def _check_targets(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same shape, got {y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty: the metric is undefined for no ratings")
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if not np.all(np.isfinite(values)):
            bad = int(np.count_nonzero(~np.isfinite(values)))
            raise ValueError(f"{name} holds {bad} NaN or infinite value(s)")
    return y_true.ravel(), y_pred.ravel()


def rmse(y_true, y_pred) -> float:
    """Root mean squared error between observed and predicted ratings."""
    y_true, y_pred = _check_targets(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error between observed and predicted ratings."""
    y_true, y_pred = _check_targets(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


# --------------------------------------------------------------------------- validation helpers


def _check_k(k, name: str = "k") -> int:
    return check_integer(name, k, 1)


def _check_csr(X, name: str, shape: tuple[int, int] | None = None) -> sp.csr_matrix:
    """``X`` through :func:`recsys.interactions.check_interactions` (same formats, same refusal
    of repeated entries), with an optional shape check."""
    X = check_interactions(X, name)
    if shape is not None and X.shape != tuple(shape):
        raise ValueError(f"{name} has shape {X.shape}, expected {tuple(shape)}")
    return X


def _check_recommended(recommended, n_items: int | None = None) -> np.ndarray:
    """``recommended`` as a 2-D int64 array of item indices (-1 = empty slot), no repeats per row."""
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D (n_users, k), got shape {rec.shape}")
    if rec.size and not np.issubdtype(rec.dtype, np.integer):
        raise TypeError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    rec = rec.astype(np.int64, copy=False)
    if rec.size:
        if rec.min() < -1:
            raise ValueError(f"recommended holds item index {rec.min()}; only -1 may mark an empty slot")
        if n_items is not None and rec.max() >= n_items:
            raise ValueError(f"recommended holds item index {rec.max()}, out of range for {n_items} items")
        ordered = np.sort(rec, axis=1)
        repeated = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
        if repeated.any():
            row = int(np.nonzero(repeated.any(axis=1))[0][0])
            raise ValueError(f"recommended row {row} lists an item more than once")
    return rec


def _fit_width(rec: np.ndarray, k: int) -> np.ndarray:
    """Cut ``rec`` to ``k`` columns, or pad it with -1 (empty slots) up to ``k``."""
    if rec.shape[1] >= k:
        return rec[:, :k]
    pad = np.full((rec.shape[0], k - rec.shape[1]), -1, dtype=np.int64)
    return np.hstack([rec, pad])


# --------------------------------------------------------------------------- top-k


def top_k(scores, k: int, exclude: sp.spmatrix | None = None) -> np.ndarray:
    """The ``k`` best items of each row of a score matrix, best first: an (n, k) int64 array.

    ``scores`` is (n_users, n_items), e.g. a model's ``score(users)``; ``exclude`` (same shape,
    e.g. the users' training rows) removes its stored entries from the candidates by scoring them
    ``-inf``; an item the model itself scores ``-inf`` is not a candidate either. Rows with fewer
    than ``k`` candidates are padded with ``-1``, which every metric here counts as a miss. The
    ranking is :func:`recsys.similarity.top_k_rows`, the package's one exact top-k: ties go to the
    lower item index, so the result does not depend on the partition algorithm. (The top-k items
    of query *vectors* by a similarity measure are :func:`recsys.similarity.top_k_items`.)
    """
    k = _check_k(k)
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (n_users, n_items), got shape {scores.shape}")
    if not (np.issubdtype(scores.dtype, np.floating) or np.issubdtype(scores.dtype, np.integer)):
        raise TypeError(f"scores must be numeric, got dtype {scores.dtype}")
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    if np.isnan(scores).any():
        raise ValueError("scores hold NaN; a ranking needs comparable scores")
    n, m = scores.shape
    if exclude is not None:
        exclude = _check_csr(exclude, "exclude", shape=(n, m))
        scores = scores.copy()  # the caller's scores stay as they were
        scores[row_indices(exclude), exclude.indices] = -np.inf
    out = np.full((n, k), -1, dtype=np.int64)
    winners = top_k_rows(scores, k)  # (n, min(k, m))
    winners[np.take_along_axis(scores, winners, axis=1) == -np.inf] = -1  # excluded or -inf: not a candidate
    out[:, : winners.shape[1]] = winners
    return out


# --------------------------------------------------------------------------- relevance


#: The relevant items of each user as a binary CSR (``relevance_threshold=None``: every stored
#: entry); the same function that turns ratings into positives for training.
relevance_matrix = binarize


# --------------------------------------------------------------------------- ranking metrics


def hit_matrix(recommended, relevant) -> np.ndarray:
    """Boolean (n_users, k): is ``recommended[u, j]`` a stored entry of row ``u`` of ``relevant``?

    Vectorised over all users: the relevant entries, in canonical CSR order, have sorted keys
    ``u * n_items + i``; one ``searchsorted`` finds every recommended key among them.
    """
    relevant = _check_csr(relevant, "relevant")
    n_users, n_items = relevant.shape
    rec = _check_recommended(recommended, n_items)
    if rec.shape[0] != n_users:
        raise ValueError(f"recommended has {rec.shape[0]} rows but relevant has {n_users} users")
    if relevant.nnz == 0 or rec.size == 0:
        return np.zeros(rec.shape, dtype=bool)
    rows = row_indices(relevant)
    keys = rows * n_items + relevant.indices.astype(np.int64)
    wanted = np.arange(n_users, dtype=np.int64)[:, None] * n_items + rec
    pos = np.minimum(np.searchsorted(keys, wanted), keys.size - 1)
    return (keys[pos] == wanted) & (rec >= 0)


def ranking_metrics(
    recommended,
    relevant,
    k: int | None = None,
    map_denominator: MapDenominator = "min_k_relevant",
) -> dict[str, np.ndarray]:
    """Per-user precision, recall, nDCG, MAP, hit rate and MRR at ``k``: float arrays of length n_users.

    ``recommended`` is (n_users, width) item indices, best first, ``-1`` = empty slot;
    ``relevant`` a CSR (n_users, n_items) whose stored entries are the relevant items (see
    :func:`relevance_matrix`). ``k`` defaults to the width; a smaller ``k`` keeps the first ``k``
    columns, a larger one treats the missing slots as empty. Users with no relevant item get NaN.

    ``map_denominator`` sets the normaliser of AP@k, on which libraries differ:
    ``"min_k_relevant"`` (default) divides by ``min(k, R_u)``, so a perfect top-k scores 1 -- the
    convention of ml_metrics' ``apk``, Spark's ``meanAveragePrecisionAt`` and Microsoft
    Recommenders' ``map_at_k`` since 1.2; ``"n_relevant"`` divides by ``R_u`` -- Microsoft
    Recommenders' ``map_at_k`` up to 1.1 (its ``map`` since 1.2), which cannot reach 1 when
    ``R_u > k``.
    """
    relevant = _check_csr(relevant, "relevant")
    rec = _check_recommended(recommended, relevant.shape[1])
    k = rec.shape[1] if k is None else _check_k(k)
    if k == 0:
        raise ValueError("recommended has no columns; pass k >= 1")
    if map_denominator not in ("min_k_relevant", "n_relevant"):
        raise ValueError(f"map_denominator must be 'min_k_relevant' or 'n_relevant', got {map_denominator!r}")
    rec = _fit_width(rec, k)
    hits = hit_matrix(rec, relevant)

    n_relevant = np.diff(relevant.indptr).astype(np.float64)
    has_relevant = n_relevant > 0
    positions = np.arange(1, k + 1, dtype=np.float64)
    discounts = 1.0 / np.log2(positions + 1.0)  # position j (1-based) -> 1 / log2(j + 1)
    ideal_len = np.minimum(k, n_relevant).astype(np.int64)
    ideal_dcg = np.cumsum(discounts)[np.maximum(ideal_len, 1) - 1]

    n_hits = hits.sum(axis=1, dtype=np.float64)
    any_hit = n_hits > 0
    precision_at = np.cumsum(hits, axis=1) / positions  # precision@j for j = 1..k
    ap_sum = (precision_at * hits).sum(axis=1)
    ap_norm = np.minimum(k, n_relevant) if map_denominator == "min_k_relevant" else n_relevant
    first_hit = hits.argmax(axis=1)

    with np.errstate(divide="ignore", invalid="ignore"):
        metrics = {
            "precision": n_hits / k,
            "recall": n_hits / n_relevant,
            "ndcg": (hits @ discounts) / ideal_dcg,
            "map": ap_sum / ap_norm,
            "hit_rate": any_hit.astype(np.float64),
            "mrr": np.where(any_hit, 1.0 / (first_hit + 1.0), 0.0),
        }
    for values in metrics.values():
        values[~has_relevant] = np.nan
    return metrics


def mean_metrics(per_user: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean of each per-user array over the users that have a value (NaN = no relevant items)."""
    means = {}
    for name, values in per_user.items():
        values = np.asarray(values, dtype=np.float64)
        defined = values[~np.isnan(values)]
        means[name] = float(defined.mean()) if defined.size else float("nan")
    return means


# --------------------------------------------------------------------------- beyond accuracy


def catalogue_coverage(recommended, n_items: int) -> float:
    """Fraction of the ``n_items`` items recommended to at least one user (``-1`` slots ignored)."""
    n_items = check_integer("n_items", n_items, 1)
    rec = _check_recommended(recommended, int(n_items))
    seen = np.zeros(int(n_items), dtype=bool)
    seen[rec[rec >= 0]] = True
    return float(seen.mean())


def item_popularity(train, normalise: bool = False) -> np.ndarray:
    """Training popularity of every item: its number of stored interactions.

    ``normalise=True`` divides by the number of users, giving the fraction of users who
    interacted with the item -- comparable across datasets of different size.
    """
    train = _check_csr(train, "train")
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    if normalise:
        if train.shape[0] == 0:
            raise ValueError("train has no users; cannot normalise popularity")
        counts /= train.shape[0]
    return counts


def list_popularity(recommended, item_popularity) -> np.ndarray:
    """Average popularity of each row's recommended items (filled slots only; NaN for an empty
    row): the per-user figure behind :func:`mean_popularity`, for paired comparisons of two
    models' lists over the same users."""
    popularity = np.asarray(item_popularity, dtype=np.float64)
    if popularity.ndim != 1:
        raise ValueError(f"item_popularity must be 1-D (one value per item), got shape {popularity.shape}")
    rec = _check_recommended(recommended, popularity.size)
    filled = rec >= 0
    sums = np.where(filled, popularity[np.where(filled, rec, 0)], 0.0).sum(axis=1)
    counts = filled.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def mean_popularity(recommended, item_popularity) -> float:
    """Average popularity of the recommended items, over all filled slots (NaN if none).

    Pass :func:`item_popularity` of the training matrix (raw counts, or ``normalise=True`` for the
    fraction of users). Lower means the recommender reaches further into the long tail.
    """
    popularity = np.asarray(item_popularity, dtype=np.float64)
    if popularity.ndim != 1:
        raise ValueError(f"item_popularity must be 1-D (one value per item), got shape {popularity.shape}")
    rec = _check_recommended(recommended, popularity.size)
    filled = rec[rec >= 0]
    return float(popularity[filled].mean()) if filled.size else float("nan")
