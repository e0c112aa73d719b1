"""The one evaluation of recommendations: rating error, and top-k quality of item lists.

Lists are what is scored (as LensKit scores item lists): :func:`evaluate_lists` takes any
source's top-k lists (a model's, an approximate index's, Spark's, a cold-start protocol's) and
the held-out interactions, and returns one dict of metrics. :func:`evaluate_ranking` scores a
*model*: it ranks first (:func:`recommend`), then scores the lists with :func:`evaluate_lists`,
so a model and the lists it makes get the same numbers. No model re-implements evaluation:
anything with ``score(users)`` (and ``predict(users, items)`` for rating error) following
:mod:`recsys.models.base` is ranked and scored here, the same way.

Protocol of :func:`evaluate_ranking`: for each user with at least one relevant test item, score
every item, remove the user's training items (they are known, not recommendations), keep the top
``k``, and compare with the relevant test items (all stored test entries, or those rated
``>= relevance_threshold``). Means are over those users only; :func:`evaluate_lists` leaves
out users without a relevant test item in the same way.

Nothing to evaluate is an error, the same in every function: :func:`evaluate_ratings` with no
test rating and :func:`evaluate_ranking` or :func:`evaluate_lists` with no user holding a
relevant test item raise ``ValueError`` rather than return NaN means.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from recsys.checks import check_indices
from recsys.interactions import check_interactions, row_indices
from recsys.metrics import (
    MapDenominator,
    _check_k,
    catalogue_coverage,
    item_popularity,
    mae,
    mean_metrics,
    mean_popularity,
    ranking_metrics,
    relevance_matrix,
    rmse,
    top_k,
)

#: Memory budget of one batch of dense scores (float64), in bytes.
SCORE_BATCH_BYTES = 64 * 2**20


def default_batch_size(n_items: int, budget_bytes: int = SCORE_BATCH_BYTES) -> int:
    """Rows per batch so that one (rows, n_items) float64 score block fits ``budget_bytes`` (~64 MB)."""
    return max(1, int(budget_bytes // (8 * max(int(n_items), 1))))


def _model_shape(model) -> tuple[int, int]:
    if not (hasattr(model, "n_users_") and hasattr(model, "n_items_")):
        raise NotFittedError(f"{type(model).__name__} is not fitted yet (no n_users_/n_items_); call fit() first")
    return int(model.n_users_), int(model.n_items_)


def _check_matrix(X, name: str, shape: tuple[int, int]) -> sp.csr_matrix:
    X = check_interactions(X, name)
    if X.shape != shape:
        raise ValueError(
            f"{name} has shape {X.shape} but the model was fitted on {shape[0]} users x {shape[1]} items; "
            "build both matrices with the model's IdMap"
        )
    return X


def _check_users(users, n_users: int) -> np.ndarray:
    """Every user (``None``) or the given distinct user indices (:func:`recsys.checks.check_indices`)."""
    if users is None:
        return np.arange(n_users, dtype=np.int64)
    return check_indices("users", users, n_users, kind="user", unique=True)


def evaluate_ratings(model, test) -> dict:
    """RMSE and MAE of ``model.predict`` on held-out ratings.

    ``test`` is a CSR of the model's shape (its stored entries are the test ratings), or a tuple
    ``(users, items, ratings)`` of index arrays in which ``-1`` marks a user or item the model
    never saw (from :meth:`recsys.interactions.IdMap.encode` with ``unknown="mark"``); those are
    predicted by the model's documented fallback, as Surprise does, so every test rating counts.
    Returns ``{"rmse": float, "mae": float, "n": number of test ratings}``.
    """
    shape = _model_shape(model)
    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"{type(model).__name__} has no predict(users, items); it cannot be scored on ratings")
    if isinstance(test, tuple):
        if len(test) != 3:
            raise ValueError(f"test as a tuple must be (users, items, ratings), got {len(test)} arrays")
        users, items, truth = (np.asarray(a).ravel() for a in test)
        if not (users.size == items.size == truth.size):
            raise ValueError(f"users, items and ratings differ in length: {users.size}, {items.size}, {truth.size}")
        # integer indices only: a float index (2.7) would be truncated to another user or item
        users = check_indices("test users", users, shape[0], kind="user", unknown=True)
        items = check_indices("test items", items, shape[1], kind="item", unknown=True)
        if not np.issubdtype(truth.dtype, np.number) or truth.dtype == bool:
            raise TypeError(f"test ratings must be numbers, got dtype {truth.dtype}")
        truth = truth.astype(np.float64)
        if not np.isfinite(truth).all():
            raise ValueError("test ratings hold NaN or infinite values")
    else:
        test = _check_matrix(test, "test", shape)
        users = row_indices(test)
        items = test.indices.astype(np.int64)
        truth = test.data
    if truth.size == 0:
        raise ValueError("test holds no ratings")
    predicted = np.asarray(model.predict(users, items), dtype=np.float64)
    if predicted.shape != truth.shape:
        raise ValueError(f"model.predict returned shape {predicted.shape} for {truth.size} pairs")
    return {"rmse": rmse(truth, predicted), "mae": mae(truth, predicted), "n": int(truth.size)}


def recommend(model, users, k: int, exclude=None, batch_size: int | None = None) -> np.ndarray:
    """Top-``k`` item indices (``-1`` = empty slot) for ``users``, scoring them in batches.

    ``exclude`` is an (n_users, n_items) CSR whose stored entries are never recommended (the
    training matrix, usually). Batches keep the dense score block near :data:`SCORE_BATCH_BYTES`.
    """
    n_users, n_items = _model_shape(model)
    users = _check_users(users, n_users)
    k = _check_k(k)
    if exclude is not None:
        exclude = _check_matrix(exclude, "exclude", (n_users, n_items))
    batch_size = default_batch_size(n_items) if batch_size is None else _check_k(batch_size, "batch_size")
    out = np.empty((users.size, k), dtype=np.int64)
    for start in range(0, users.size, batch_size):
        batch = users[start : start + batch_size]
        scores = np.asarray(model.score(batch))
        if scores.shape != (batch.size, n_items):
            raise ValueError(
                f"{type(model).__name__}.score returned shape {scores.shape} for {batch.size} users, "
                f"expected ({batch.size}, {n_items})"
            )
        out[start : start + batch.size] = top_k(scores, k, None if exclude is None else exclude[batch])
    return out


def evaluate_lists(
    recommended,
    train,
    test,
    k: int = 10,
    *,
    users=None,
    relevance_threshold: float | None = None,
    return_per_user: bool = False,
    map_denominator: MapDenominator = "min_k_relevant",
) -> dict:
    """Top-``k`` quality of given item lists against ``test``: the one scorer of lists, whatever made them.

    ``recommended`` holds one row per user of ``users`` (default: every row of ``test``, in
    order): item indices, best first, ``-1`` for an empty slot, at least ``k`` columns (the
    first ``k`` are scored). ``train`` is the users x items matrix the lists were made from: its
    item counts are the popularity figures (nothing is removed from the lists here; a source that
    must not repeat training items leaves them out itself, as :func:`recommend` does). ``test``
    (same shape) holds the held-out interactions: all stored entries relevant, or those
    ``>= relevance_threshold``. Users without a relevant test item are left out of every figure.

    Returns the means ``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``hit_rate@k``,
    ``mrr@k`` (definitions in :mod:`recsys.metrics`; ``map_denominator`` is passed to
    :func:`recsys.metrics.ranking_metrics`), plus, over the same users' lists:
    ``coverage@k`` (fraction of the catalogue recommended to someone), ``mean_popularity@k``
    (average number of training interactions of a recommended item), ``mean_popularity_norm@k``
    (the same as a fraction of users), and ``n_users``. With ``return_per_user=True`` the dict
    also holds ``"per_user"``: ``users``, ``recommended`` and one array per metric, row-aligned.
    """
    test = check_interactions(test, "test")
    train = check_interactions(train, "train")
    if train.shape != test.shape:
        raise ValueError(f"train has shape {train.shape} but test has {test.shape}; build both with one IdMap")
    k = _check_k(k)
    users = _check_users(users, test.shape[0])
    recommended = np.asarray(recommended)
    if recommended.ndim != 2 or recommended.shape[0] != users.size or recommended.shape[1] < k:
        raise ValueError(
            f"recommended has shape {recommended.shape}, expected (len(users), at least k) = ({users.size}, {k}): "
            "one row of k items per user (-1 marks an empty slot)"
        )
    recommended = recommended[:, :k]
    relevant = relevance_matrix(test, relevance_threshold)
    keep = np.diff(relevant.indptr)[users] > 0
    if not keep.any():
        raise ValueError(
            "nothing to evaluate: no evaluated user has a relevant test item"
            + (f" (none rated >= {relevance_threshold})" if relevance_threshold is not None else "")
        )
    users, recommended = users[keep], recommended[keep]
    per_user = ranking_metrics(recommended, relevant[users], k, map_denominator=map_denominator)

    n_users, n_items = test.shape
    result: dict = {f"{name}@{k}": value for name, value in mean_metrics(per_user).items()}
    popularity = item_popularity(train)
    result[f"coverage@{k}"] = catalogue_coverage(recommended, n_items)
    result[f"mean_popularity@{k}"] = mean_popularity(recommended, popularity)
    result[f"mean_popularity_norm@{k}"] = mean_popularity(recommended, popularity / max(n_users, 1))
    result["n_users"] = int(users.size)
    if return_per_user:
        result["per_user"] = {"users": users, "recommended": recommended, **per_user}
    return result


def evaluate_ranking(
    model,
    train,
    test,
    k: int = 10,
    relevance_threshold: float | None = None,
    users=None,
    batch_size: int | None = None,
    exclude_train: bool = True,
    return_per_user: bool = False,
    map_denominator: MapDenominator = "min_k_relevant",
) -> dict:
    """Top-``k`` ranking quality of ``model`` on ``test``, after removing ``train`` items.

    Ranks the users (all, or those in ``users``) with at least one relevant test item
    (:func:`recommend`, training items excluded unless ``exclude_train=False``) and scores their
    lists with :func:`evaluate_lists`: the same dict of metrics, with the same
    ``return_per_user`` and ``map_denominator``.
    """
    shape = _model_shape(model)
    train = _check_matrix(train, "train", shape)
    test = _check_matrix(test, "test", shape)
    k = _check_k(k)
    if not isinstance(exclude_train, (bool, np.bool_)):
        raise TypeError(f"exclude_train must be True or False, got {exclude_train!r}")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, Integral)):
        raise ValueError(f"batch_size must be an integer >= 1 or None, got {batch_size!r}")
    candidates = _check_users(users, shape[0])

    relevant = relevance_matrix(test, relevance_threshold)
    evaluated = candidates[np.diff(relevant.indptr)[candidates] > 0]
    if evaluated.size == 0:
        raise ValueError(
            "nothing to evaluate: no evaluated user has a relevant test item"
            + (f" (none rated >= {relevance_threshold})" if relevance_threshold is not None else "")
        )
    recommended = recommend(model, evaluated, k, exclude=train if exclude_train else None, batch_size=batch_size)
    return evaluate_lists(
        recommended,
        train,
        relevant,
        k,
        users=evaluated,
        return_per_user=return_per_user,
        map_denominator=map_denominator,
    )
