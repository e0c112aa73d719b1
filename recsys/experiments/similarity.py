"""What a similarity measure does to recommendations (notebook 05's measure studies).

Every number is measured with :func:`recsys.evaluation.evaluate_ranking`, the way notebook 03
measures ranking quality:

* :func:`measure_table` scores each fitted factor model's vectors
  (:meth:`~recsys.models.base.FactorModel.inner_product_factors`) by the dot product, cosine and
  Euclidean distance through :class:`recsys.similarity.MeasureScorer`, and reports ranking
  quality, catalogue coverage, the popularity and the vector length of what each measure
  recommends;
* :func:`overlaps` compares the measures' top-k lists user by user (Jaccard@k),
  :func:`item_overlaps` and :func:`more_like_this` do the same for item-to-item lists;
* :func:`norm_popularity_table` relates item vector length to item popularity, one row per model.

The chapter's other question, what content can do for items nobody has rated, is answered by
:mod:`recsys.experiments.cold_start`, which notebook 07 shares. An experiments-level module: it
imports the domain, evaluation and the experiment harness, never the notebook machinery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys import stats
from recsys.checks import check_choice, check_integer, check_seed
from recsys.evaluation import evaluate_ranking
from recsys.interactions import binarize
from recsys.metrics import item_popularity
from recsys.models.base import Recommender
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
    "item_overlaps",
    "measure_leaders",
    "measure_table",
    "more_like_this",
    "norm_popularity_table",
    "overlaps",
]


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
    return_per_user: bool = False,
) -> tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]] | tuple[pd.DataFrame, dict, dict]:
    """Ranking quality of every fitted factor model scored by every measure, on one split.

    Each model's ``inner_product_factors(ranking_only=True)`` are scored by ``measure``
    (:class:`~recsys.similarity.MeasureScorer`); training items are excluded and every test
    entry (or those ``>= relevance_threshold``) is relevant, as in notebook 03. Rows are indexed
    by (model, measure); columns are ``precision@k``, ``recall@k``, ``ndcg@k``, ``coverage@k``,
    ``mean_popularity@k`` (mean training count of a recommended item), ``mean_item_norm@k``
    (mean length of a recommended item's vector, relative to the mean length over the
    catalogue: 1 = an average item) and ``n_users``. Also returns the top-k lists,
    ``{(model, measure): (n_users, k)}``, row-aligned across measures, and with
    ``return_per_user=True`` a third dict, ``{(model, measure): per-user nDCG@k}`` over the same
    users in the same order, for paired comparisons (:func:`measure_leaders`).
    """
    for m in measures:
        check_choice("measure", m, MEASURES)
    relevant = binarize(test, relevance_threshold)
    rows, lists, per_user = [], {}, {}
    steps = [(name, m) for name in models for m in measures]
    for name, measure in progress_bar(steps, desc="measures", enabled=progress):
        scorer = MeasureScorer(models[name], measure)
        result = evaluate_ranking(scorer, train, relevant, k=k, return_per_user=True)
        users = result.pop("per_user")
        recommended = users["recommended"]
        per_user[(name, measure)] = users["ndcg"]
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
    return (table, lists, per_user) if return_per_user else (table, lists)


def measure_leaders(per_user: Mapping[tuple[str, str], np.ndarray], metric: str = "nDCG") -> dict[str, stats.Leader]:
    """For each model, :func:`recsys.stats.leader` of its measures: the measure with the highest
    mean, and each other measure's paired bootstrap difference from it over the same users. A
    measure is the model's best only when the leader has no ties (``Leader.winner``)."""
    models = list(dict.fromkeys(model for model, _ in per_user))
    if not models:
        raise ValueError("per_user is empty: pass measure_table(..., return_per_user=True)'s third result")
    return {
        model: stats.leader(
            {m: v for (name, m), v in per_user.items() if name == model}, f"{metric} of {model}", kind="measure"
        )
        for model in models
    }


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


def norm_popularity_table(models: Mapping[str, Recommender], train: sp.csr_matrix) -> pd.DataFrame:
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
