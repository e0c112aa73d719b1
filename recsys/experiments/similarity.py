"""What a similarity measure, and content-based vectors, do to recommendations (notebook 05's harness).

Two questions, both answered with :func:`recsys.evaluation.evaluate_ranking`, so every number is
measured the way notebook 03 measures ranking quality:

* **What does the measure cost?** :func:`measure_table` scores each fitted factor model's
  vectors (:meth:`~recsys.models.base.FactorModel.inner_product_factors`) by the dot product,
  cosine and Euclidean distance through :class:`recsys.similarity.MeasureScorer`, and reports
  ranking quality, catalogue coverage, the popularity and the vector length of what each measure
  recommends; :func:`overlaps` compares the measures' top-k lists user by user (Jaccard@k),
  :func:`item_overlaps` and :func:`more_like_this` do the same for item-to-item lists, and
  :func:`norm_popularity` relates item vector length to item popularity.
* **What can content do that interactions cannot?** :func:`cold_item_split` holds out a set of
  items *entirely* (all their ratings go to the test side; the rest is split per user as in
  notebook 03) over one fixed :class:`~recsys.interactions.IdMap`, so item features are built
  once for every split made with it; :func:`evaluate_parts` ranks among the warm items, among the
  cold items, and among all of them, ties broken at random (:func:`tie_broken_scores`);
  :func:`tune_hybrid` chooses a hybrid's weight on a cold-item validation split carved from the
  training ratings only.

An experiments-level module: it imports the domain, evaluation and the experiment harness,
never the notebook machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recsys import splits
from recsys.checks import check_choice, check_fraction, check_integer, check_seed
from recsys.evaluation import evaluate_ranking
from recsys.experiments.harness import fit_timed, model_input
from recsys.interactions import IdMap, binarize, to_csr
from recsys.metrics import item_popularity
from recsys.models.base import Recommender
from recsys.models.content import HybridModel
from recsys.progress import bar as progress_bar
from recsys.similarity import (
    MEASURES,
    MeasureScorer,
    jaccard,
    rank_correlation,
    similar_items,
    similarity,
    squared_distances,
)

__all__ = [
    "PARTS",
    "TIE_TOLERANCE",
    "ColdItemSplit",
    "cold_item_split",
    "cold_start_table",
    "evaluate_parts",
    "fit_models",
    "item_overlaps",
    "measure_table",
    "more_like_this",
    "norm_popularity",
    "overlaps",
    "tie_broken_scores",
    "tune_hybrid",
]

#: The candidate sets of :func:`evaluate_parts`.
PARTS: tuple[str, ...] = ("warm", "cold", "all")

#: Scores within this share of a user's largest absolute score (over all items) are tied in :func:`evaluate_parts`.
TIE_TOLERANCE = 1e-9


def fit_models(
    models: Mapping[str, Recommender],
    train: sp.csr_matrix,
    *,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> tuple[dict[str, Recommender], dict[str, float]]:
    """A fitted clone of every model on what it learns from (:func:`recsys.experiments.model_input`).

    Returns the fitted models and their fit times in seconds.
    """
    fitted, seconds = {}, {}
    for name, prototype in progress_bar(models.items(), desc="fitting", enabled=progress):
        model = clone(prototype)
        seconds[name] = fit_timed(model, model_input(model, train, relevance_threshold))
        fitted[name] = model
    return fitted, seconds


# --------------------------------------------------------------------------------------------
# measures


def measure_table(
    models: Mapping[str, Recommender],
    train: sp.csr_matrix,
    test: sp.csr_matrix,
    *,
    k: int = 10,
    measures: Sequence[str] = MEASURES,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """Ranking quality of every fitted factor model scored by every measure, on one split.

    Each model's ``inner_product_factors(ranking_only=True)`` are scored by ``measure``
    (:class:`~recsys.similarity.MeasureScorer`); training items are excluded and every test
    entry (or those ``>= relevance_threshold``) is relevant, as in notebook 03. Rows are indexed
    by (model, measure); columns are ``precision@k``, ``recall@k``, ``ndcg@k``, ``coverage@k``,
    ``mean_popularity@k`` (mean training count of a recommended item), ``mean_item_norm@k``
    (mean length of a recommended item's vector, relative to the mean length over the
    catalogue: 1 = an average item) and ``n_users``. Also returns the top-k lists,
    ``{(model, measure): (n_users, k)}``, row-aligned across measures.
    """
    for m in measures:
        check_choice("measure", m, MEASURES)
    relevant = binarize(test, relevance_threshold)
    rows, lists = [], {}
    steps = [(name, m) for name in models for m in measures]
    for name, measure in progress_bar(steps, desc="measures", enabled=progress):
        scorer = MeasureScorer(models[name], measure)
        result = evaluate_ranking(scorer, train, relevant, k=k, return_per_user=True)
        recommended = result.pop("per_user")["recommended"]
        norms = np.linalg.norm(scorer.item_vectors_, axis=1)
        shown = recommended[recommended >= 0]
        mean_norm = float(norms[shown].mean() / norms.mean()) if shown.size and norms.mean() > 0 else float("nan")
        rows.append(
            {
                "model": name,
                "measure": measure,
                **{key: result[f"{key}@{k}"] for key in ("precision", "recall", "ndcg", "coverage", "mean_popularity")},
                "mean_item_norm": mean_norm,
                "n_users": result["n_users"],
            }
        )
        lists[(name, measure)] = recommended
    table = pd.DataFrame(rows).set_index(["model", "measure"])
    table.columns = [f"{c}@{k}" if c != "n_users" else c for c in table.columns]
    return table, lists


def _pairs(measures: Sequence[str]) -> list[tuple[str, str]]:
    return list(combinations(measures, 2))


def overlaps(lists: Mapping[tuple[str, str], np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    """Per-user Jaccard overlap of the top-k lists of every pair of measures, per model.

    ``lists`` is :func:`measure_table`'s second value. Returns ``{model: {"dot vs cosine":
    (n_users,) array, ...}}``.
    """
    by_model: dict[str, dict[str, np.ndarray]] = {}
    for model, measure in lists:
        by_model.setdefault(model, {})[measure] = lists[(model, measure)]
    return {
        model: {f"{a} vs {b}": jaccard(per[a], per[b]) for a, b in _pairs(list(per))} for model, per in by_model.items()
    }


def item_overlaps(
    models: Mapping[str, Recommender],
    *,
    k: int = 10,
    measures: Sequence[str] = MEASURES,
    n_items: int | None = 1000,
    seed: int | np.random.Generator | None = 0,
) -> pd.DataFrame:
    """Mean Jaccard@k of the "more like this" lists of every pair of measures, per model.

    The lists are :func:`recsys.similarity.similar_items` on each model's item vectors
    (``inner_product_factors(ranking_only=True)``), for a random sample of ``n_items`` query
    items (the same for every model; ``None``: every item). One row per model, one column per pair.
    """
    if n_items is not None:
        n_items = check_integer("n_items", n_items, 1)
    rng = np.random.default_rng(check_seed("seed", seed))
    rows, queries = {}, None
    for name, model in models.items():
        V = np.asarray(model.inner_product_factors(ranking_only=True)[1], dtype=np.float64)
        if queries is None:
            every = np.arange(V.shape[0])
            sample = n_items is not None and n_items < every.size
            queries = np.sort(rng.choice(every, n_items, replace=False)) if sample else every
        lists = {m: similar_items(V, queries, k, m) for m in measures}
        rows[name] = {f"{a} vs {b}": float(jaccard(lists[a], lists[b]).mean()) for a, b in _pairs(measures)}
    return pd.DataFrame(rows).T


def more_like_this(
    model: Recommender,
    item: int,
    titles: Sequence[str],
    popularity: np.ndarray,
    *,
    k: int = 5,
    measures: Sequence[str] = MEASURES,
) -> pd.DataFrame:
    """The ``k`` items most like item index ``item`` by each measure, as one table (rows: measure, rank).

    Columns: ``title`` (from ``titles``, indexed like the model's items), the measure's
    ``score`` (the distance for ``"euclidean"``), the ``squared distance`` between the two item
    vectors, the neighbour's ``interactions`` (``popularity``) and its vector ``length``. Vectors
    are ``inner_product_factors(ranking_only=True)``.
    """
    V = np.asarray(model.inner_product_factors(ranking_only=True)[1], dtype=np.float64)
    item = check_integer("item", item, 0, V.shape[0] - 1)
    query = V[[item]]
    squared = squared_distances(query, V)[0]
    norms = np.linalg.norm(V, axis=1)
    rows = []
    for measure in measures:
        scores = similarity(query, V, measure)[0]
        for rank, j in enumerate(similar_items(V, [item], k, measure)[0], start=1):
            rows.append(
                {
                    "measure": measure,
                    "rank": rank,
                    "title": titles[j],
                    "score": -scores[j] if measure == "euclidean" else scores[j],
                    "squared distance": squared[j],
                    "interactions": int(popularity[j]),
                    "length": norms[j],
                }
            )
    return pd.DataFrame(rows).set_index(["measure", "rank"])


def norm_popularity(models: Mapping[str, Recommender], train: sp.csr_matrix) -> pd.DataFrame:
    """How item vector length follows popularity: Spearman's correlation of the two, per model.

    Lengths are those of ``inner_product_factors(ranking_only=True)`` item vectors, the vectors
    the measures see; popularity is the number of training interactions. Items nobody interacted
    with are left out (their vectors are whatever the initialisation left). Also reports the
    median length of the 100 most and of the 100 least popular items, relative to the median.
    """
    popularity = item_popularity(train)
    seen = np.flatnonzero(popularity > 0)
    order = seen[np.argsort(-popularity[seen], kind="stable")]
    top, bottom = order[:100], order[-100:]
    rows = {}
    for name, model in models.items():
        norms = np.linalg.norm(np.asarray(model.inner_product_factors(ranking_only=True)[1], dtype=np.float64), axis=1)
        median = float(np.median(norms[seen])) or float("nan")
        rows[name] = {
            "spearman": rank_correlation(norms[seen], popularity[seen]),
            "top100_norm": float(np.median(norms[top]) / median),
            "bottom100_norm": float(np.median(norms[bottom]) / median),
        }
    return pd.DataFrame(rows).T


# --------------------------------------------------------------------------------------------
# warm and cold items


@dataclass(frozen=True, eq=False)
class ColdItemSplit:
    """A split in which a set of items has no training interaction at all.

    All matrices share ``idmap`` (fixed by the caller, so item features built for it fit every
    split made with it). ``train``/``test`` are users x items CSRs of ratings; ``cold`` and
    ``warm`` are boolean masks over the items: cold items have test ratings only, warm ones were
    split per user; items of ``idmap`` that the split's ratings do not mention are neither.
    ``train_ratings`` keeps the raw training rows, to carve validation splits from.
    """

    idmap: IdMap
    train: sp.csr_matrix
    test: sp.csr_matrix
    cold: np.ndarray
    warm: np.ndarray
    train_ratings: pd.DataFrame = field(repr=False)
    params: dict = field(default_factory=dict)

    def mask(self, part: str) -> np.ndarray:
        """Boolean mask of the candidate items of ``part`` (``"warm"``, ``"cold"`` or ``"all"``)."""
        check_choice("part", part, PARTS)
        return {"warm": self.warm, "cold": self.cold, "all": self.warm | self.cold}[part]

    @property
    def report(self) -> dict:
        """Sizes: items, ratings and users on each side."""
        cold_test = self.test[:, self.cold]
        return {
            **self.params,
            "n_warm_items": int(self.warm.sum()),
            "n_cold_items": int(self.cold.sum()),
            "n_train": int(self.train.nnz),
            "n_test_warm": int(self.test.nnz - cold_test.nnz),
            "n_test_cold": int(cold_test.nnz),
            "n_users_with_cold_test": int(np.count_nonzero(np.diff(cold_test.tocsr().indptr))),
        }


def cold_item_split(
    ratings: pd.DataFrame,
    *,
    cold_fraction: float = 0.2,
    train_ratio: float = 0.75,
    seed: int | np.random.Generator | None = 0,
    idmap: IdMap | None = None,
) -> ColdItemSplit:
    """Hold out a random ``cold_fraction`` of the rated items entirely; split the rest per user.

    Every rating of a cold item goes to the test side. The ratings of the other (warm) items are
    split by :func:`recsys.splits.stratified_holdout` (``train_ratio`` of each user's ratings in
    training, notebook 03's protocol); test rows whose user or warm item has no training rating
    are dropped, as there. ``idmap`` (default: every user and item of ``ratings``) fixes the
    matrices' rows and columns; a rating whose user or item is not in it is an error.
    """
    cold_fraction = check_fraction("cold_fraction", cold_fraction)
    check_fraction("train_ratio", train_ratio)
    rng = np.random.default_rng(check_seed("seed", seed))
    idmap = IdMap.from_ratings(ratings) if idmap is None else idmap
    rated = np.unique(ratings["item_id"].to_numpy())
    n_cold = int(round(cold_fraction * rated.size))
    if not 0 < n_cold < rated.size:
        raise ValueError(f"cold_fraction={cold_fraction} of {rated.size} rated items leaves no cold or no warm item")
    cold_ids = np.sort(rng.choice(rated, size=n_cold, replace=False))
    is_cold = ratings["item_id"].isin(cold_ids).to_numpy()
    warm_split = splits.stratified_holdout(ratings[~is_cold], train_ratio, seed=rng)
    train_ratings = warm_split.train
    cold_test = ratings[is_cold]
    cold_test = cold_test[cold_test["user_id"].isin(train_ratings["user_id"].unique())]
    test_ratings = pd.concat([warm_split.test, cold_test])
    cold = np.zeros(idmap.n_items, dtype=bool)
    cold[idmap.item_index(cold_ids)] = True
    warm = np.zeros(idmap.n_items, dtype=bool)
    warm[idmap.item_index(train_ratings["item_id"].unique())] = True
    params = {
        "cold_fraction": cold_fraction,
        "train_ratio": train_ratio,
        "seed": seed if not isinstance(seed, np.random.Generator) else None,
    }
    return ColdItemSplit(
        idmap=idmap,
        train=to_csr(train_ratings, idmap),
        test=to_csr(test_ratings, idmap),
        cold=cold,
        warm=warm,
        train_ratings=train_ratings,
        params=params,
    )


def tie_broken_scores(scores: np.ndarray, seed: int | np.random.Generator | None = 0) -> np.ndarray:
    """``scores`` with near-ties made exact and every tie broken at random, per user; the order is otherwise kept.

    Each row is divided by its largest absolute value and rounded to multiples of
    :data:`TIE_TOLERANCE`, so round-off noise (an SVD's ~1e-16 on an all-zero column) becomes a
    tie instead of a ranking; then a random number in [0, 0.5) of one unit is added, which orders
    the members of each tie at random and cannot reorder two scores that differ. Without this,
    ties would be broken by item index, which on MovieLens follows the films' age and so their
    popularity: a model that knows nothing about a set of items would still "rank" them well.
    """
    scores = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(check_seed("seed", seed))
    scale = np.abs(scores).max(axis=1, keepdims=True)
    units = np.round(np.divide(scores, scale, out=np.zeros_like(scores), where=scale > 0) / TIE_TOLERANCE)
    return units + 0.5 * rng.random(scores.shape)


class _Scores:
    """Precomputed scores behind the ``score(users)`` interface :func:`evaluate_ranking` expects."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores
        self.n_users_, self.n_items_ = scores.shape

    def score(self, users) -> np.ndarray:
        return self.scores[np.asarray(users)]


def evaluate_parts(
    model: Recommender,
    split: ColdItemSplit,
    *,
    k: int = 10,
    parts: Sequence[str] = PARTS,
    relevance_threshold: float | None = None,
    seed: int | np.random.Generator | None = 0,
) -> dict[str, dict]:
    """Ranking quality of a fitted model among the warm items, among the cold items, and among all.

    For each part, only that part's items are candidates and only the test entries on them are
    relevant; the users evaluated are those with a relevant test item in the part. Ties are
    broken at random per user (:func:`tie_broken_scores`, ``seed``), not by item index, so a model
    that knows nothing about the cold items (every collaborative model, and popularity) ranks
    them at random. The metrics are :func:`~recsys.evaluation.evaluate_ranking`'s on the part's
    columns, so ``coverage@k`` is the share of the *part's* items recommended to someone; and
    ``cold_share@k`` is the share of the recommended slots that hold a cold item (0 on the warm
    part, 1 on the cold part; on all items, how often new films make it into a list). Every user
    is scored once, as one dense users x items block.
    """
    scores = np.asarray(model.score(np.arange(model.n_users_)), dtype=np.float64)
    if scores.shape != split.idmap.shape:
        raise ValueError(f"the model scores {scores.shape} users x items; the split has {split.idmap.shape}")
    scores = tie_broken_scores(scores, seed)
    relevant_all = binarize(split.test, relevance_threshold)
    out = {}
    for part in parts:
        columns = np.flatnonzero(split.mask(part))  # the part's items are the only candidates
        result = evaluate_ranking(
            _Scores(np.ascontiguousarray(scores[:, columns])),
            split.train[:, columns],
            relevant_all[:, columns],
            k=k,
            return_per_user=True,
        )
        recommended = result.pop("per_user")["recommended"]
        shown = columns[recommended[recommended >= 0]]  # back to the split's item indices
        result[f"coverage@{k}"] = float(np.unique(shown).size / max(columns.size, 1))
        result[f"cold_share@{k}"] = float(split.cold[shown].mean()) if shown.size else float("nan")
        out[part] = result
    return out


def cold_start_table(
    models: Mapping[str, Recommender],
    split: ColdItemSplit,
    *,
    k: int = 10,
    parts: Sequence[str] = PARTS,
    relevance_threshold: float | None = None,
    fitted: Mapping[str, Recommender] | None = None,
    seed: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """:func:`evaluate_parts` for every model (fitted here on ``split.train``, or given in ``fitted``).

    One row per (model, part) with ``precision@k``, ``recall@k``, ``ndcg@k``, ``coverage@k``,
    ``mean_popularity@k``, ``cold_share@k`` and ``n_users``.
    """
    fitted = dict(fitted or {})
    keep = ("precision", "recall", "ndcg", "coverage", "mean_popularity", "cold_share")
    rows = []
    for name, prototype in progress_bar(models.items(), desc="cold start", enabled=progress):
        if name not in fitted:
            model = clone(prototype)
            model.fit(model_input(model, split.train, relevance_threshold))
            fitted[name] = model
        results = evaluate_parts(
            fitted[name], split, k=k, parts=parts, relevance_threshold=relevance_threshold, seed=seed
        )
        for part, result in results.items():
            rows.append(
                {
                    "model": name,
                    "part": part,
                    **{f"{c}@{k}": result[f"{c}@{k}"] for c in keep},
                    "n_users": result["n_users"],
                }
            )
    return pd.DataFrame(rows).set_index(["model", "part"])


def tune_hybrid(
    prototype: HybridModel,
    weights: Sequence[float],
    train_ratings: pd.DataFrame,
    idmap: IdMap,
    *,
    cold_fraction: float = 0.2,
    train_ratio: float = 0.75,
    part: str = "all",
    k: int = 10,
    metric: str | None = None,
    seed: int = 0,
) -> tuple[float, pd.DataFrame]:
    """The hybrid weight with the best validation ``metric`` (default ``ndcg@k``), and every weight's scores.

    Sees the *training* ratings only: a cold-item validation split is carved from
    ``train_ratings`` (:func:`cold_item_split` with the same ``idmap`` and fractions, ``seed``),
    the hybrid's two parts are fitted once on its training side (the score is linear in the
    weight, so no weight needs a refit), and each weight is scored on its ``part`` (default: all
    items, warm and cold mixed, the situation a deployed hybrid faces). Ties go to the first
    weight listed.
    """
    if not isinstance(prototype, HybridModel):
        raise TypeError(f"prototype must be a HybridModel, got {type(prototype).__name__}")
    weights = [float(w) for w in weights]
    if not weights:
        raise ValueError("weights is empty; give the hybrid weights to try")
    check_choice("part", part, PARTS)
    k = check_integer("k", k, 1)
    metric = metric or f"ndcg@{k}"
    inner = cold_item_split(train_ratings, cold_fraction=cold_fraction, train_ratio=train_ratio, seed=seed, idmap=idmap)
    base = clone(prototype).set_params(weight=weights[0])
    base.fit(model_input(base, inner.train))
    # the hybrid's score is linear in its weight: score(w) = w score(1) + (1 - w) score(0), exactly
    users = np.arange(base.n_users_)
    collaborative, content = (np.asarray(base.reweighted(w).score(users), dtype=np.float64) for w in (1.0, 0.0))
    rows = []
    for weight in weights:
        scores = _Scores(weight * collaborative + (1.0 - weight) * content)
        result = evaluate_parts(scores, inner, k=k, parts=[part], seed=seed)[part]
        rows.append({"weight": weight, **{key: v for key, v in result.items() if key != "n_users"}})
    table = pd.DataFrame(rows).set_index("weight")
    if metric not in table.columns:
        raise ValueError(f"metric {metric!r} is not one of {list(table.columns)}")
    best = float(table.index[int(np.nanargmax(table[metric].to_numpy()))])
    return best, table
