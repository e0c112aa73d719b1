"""Cold items: one split and one scoring protocol, for every chapter that asks about new items.

A *cold* item has no training interaction at all: every rating of it is on the test side.
Notebooks 05 (content vectors and a hybrid) and 07 (a factorization machine with side features)
both ask what can be done for such items, and both answer with the functions here, so a model
scores the same on cold items in both chapters:

* :func:`cold_item_split` holds out a random share of the rated items entirely and splits the
  rest per user (notebook 03's protocol), over one fixed :class:`~recsys.interactions.IdMap`,
  so item features are built once for every split made with it: a :class:`ColdItemSplit`.
* :func:`evaluate_cold_start` ranks each user's **candidates**, named explicitly by the caller:
  ``"cold"`` (only the cold items compete: can a model order new items at all?), ``"warm"``
  (only the items with interactions) or ``"all"`` (both, mixed: do new items make it into a
  list?). Ties are broken at random (:func:`tie_broken_scores`), not by item index; the lists go
  through :func:`recsys.evaluation.evaluate_lists`, the scorer of every source of lists.
* :func:`cold_start_table` does it for many contenders: models fitted on the split's training
  matrix, or scorers such as :func:`side_feature_scorer` (a factorization machine trained on the
  warm items that places a cold item by its side features alone).
* :func:`tune_hybrid` chooses a hybrid's weight on a cold-item validation split carved from the
  training ratings only.

An experiments-level module: it imports the domain, evaluation and the experiment harness,
never the notebook machinery.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

from recsys import splits
from recsys.checks import check_choice, check_fraction, check_integer, check_seed
from recsys.evaluation import evaluate_lists, recommend
from recsys.experiments.harness import fit
from recsys.interactions import IdMap, binarize, to_csr
from recsys.models.base import Recommender
from recsys.models.content import HybridModel
from recsys.progress import bar as progress_bar

__all__ = [
    "CANDIDATES",
    "TIE_TOLERANCE",
    "ColdItemSplit",
    "ColdScorer",
    "cold_item_split",
    "cold_start_table",
    "evaluate_cold_start",
    "side_feature_scorer",
    "tie_broken_scores",
    "tune_hybrid",
]

#: The candidate sets :func:`evaluate_cold_start` ranks among: the warm items, the cold items, all of them.
CANDIDATES: tuple[str, ...] = ("warm", "cold", "all")

#: Scores within this share of a user's largest absolute score (over all items) are tied in :func:`evaluate_cold_start`.
TIE_TOLERANCE = 1e-9

#: ``scorer(split) -> (n_users, n_items)`` scores of every user for every item of ``split.idmap``:
#: a contender of :func:`cold_start_table` that is not a plain model (it fits itself on ``split.train``).
ColdScorer = Callable[["ColdItemSplit"], np.ndarray]


# --------------------------------------------------------------------------------------------
# the split


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

    def mask(self, candidates: str) -> np.ndarray:
        """Boolean mask of the items of a candidate set (``"warm"``, ``"cold"`` or ``"all"``)."""
        check_choice("candidates", candidates, CANDIDATES)
        return {"warm": self.warm, "cold": self.cold, "all": self.warm | self.cold}[candidates]

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


# --------------------------------------------------------------------------------------------
# the protocol


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
    """Precomputed scores behind the ``score(users)`` interface :func:`recsys.evaluation.recommend` expects."""

    def __init__(self, scores: np.ndarray) -> None:
        self.scores = scores
        self.n_users_, self.n_items_ = scores.shape

    def score(self, users) -> np.ndarray:
        return self.scores[np.asarray(users)]


def _check_candidates(candidates: Sequence[str]) -> list[str]:
    if isinstance(candidates, str):
        candidates = [candidates]
    candidates = list(candidates)
    if not candidates:
        raise ValueError(f"candidates is empty; name one or more of {CANDIDATES}")
    for name in candidates:
        check_choice("candidates", name, CANDIDATES)
    return candidates


def evaluate_cold_start(
    model: Recommender | np.ndarray,
    split: ColdItemSplit,
    *,
    candidates: Sequence[str],
    k: int = 10,
    relevance_threshold: float | None = None,
    seed: int | np.random.Generator | None = 0,
    return_per_user: bool = False,
) -> dict[str, dict]:
    """Ranking quality of a fitted model (or of its ``(n_users, n_items)`` scores) on a cold-item split.

    ``candidates`` names the candidate sets, each ranked on its own (there is no default: say
    which question is asked): ``"cold"`` ranks among the cold items only, ``"warm"`` among the
    warm items only, ``"all"`` among both. For each set, only its items are candidates and only
    the test entries on them are relevant (all of them, or those ``>= relevance_threshold``);
    the users evaluated are those with a relevant test item in the set; training items are
    excluded. Ties are broken at random per user (:func:`tie_broken_scores`, ``seed``), not by
    item index, so a model that knows nothing about the cold items (every collaborative model,
    and popularity) ranks them at random. The lists are scored by
    :func:`recsys.evaluation.evaluate_lists` on the set's columns, so ``coverage@k`` is the share
    of the *set's* items recommended to someone; and ``cold_share@k`` is the share of the
    recommended slots that hold a cold item (0 among warm items, 1 among cold items; among all
    items, how often new films make it into a list). Every user is scored once, as one dense
    users x items block. Returns ``{candidate set: metrics}``; with ``return_per_user=True`` each
    set's metrics also hold ``"per_user"`` (:func:`recsys.evaluation.evaluate_lists`'s).
    """
    candidates = _check_candidates(candidates)
    k = check_integer("k", k, 1)
    if isinstance(model, np.ndarray):
        scores = np.asarray(model, dtype=np.float64)
    else:
        scores = np.asarray(model.score(np.arange(model.n_users_)), dtype=np.float64)
    if scores.shape != split.idmap.shape:
        raise ValueError(f"the model scores {scores.shape} users x items; the split has {split.idmap.shape}")
    scores = tie_broken_scores(scores, seed)
    relevant_all = binarize(split.test, relevance_threshold)
    out = {}
    for name in candidates:
        columns = np.flatnonzero(split.mask(name))  # the set's items are the only candidates
        train, relevant = split.train[:, columns], relevant_all[:, columns]
        users = np.flatnonzero(np.diff(relevant.indptr) > 0)
        if users.size == 0:
            raise ValueError(f"nothing to evaluate: no user has a relevant test item among the {name} items")
        lists = recommend(_Scores(np.ascontiguousarray(scores[:, columns])), users, k, exclude=train)
        result = evaluate_lists(lists, train, relevant, k, users=users, return_per_user=return_per_user)
        shown = columns[lists[lists >= 0]]  # back to the split's item indices
        result[f"cold_share@{k}"] = float(split.cold[shown].mean()) if shown.size else float("nan")
        out[name] = result
    return out


def cold_start_table(
    contenders: Mapping[str, Recommender | ColdScorer],
    split: ColdItemSplit,
    *,
    candidates: Sequence[str],
    k: int = 10,
    relevance_threshold: float | None = None,
    fitted: Mapping[str, Recommender] | None = None,
    seed: int = 0,
    progress: bool = True,
    return_per_user: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[tuple[str, str], np.ndarray]]:
    """:func:`evaluate_cold_start` for every contender, ranked among the named ``candidates``.

    A contender is a model (fitted here on ``split.train`` through
    :func:`recsys.experiments.fit`, or given already fitted in ``fitted``) or a
    :data:`ColdScorer` (``scorer(split) -> scores``, e.g. :func:`side_feature_scorer`). One row
    per (model, candidates) with ``precision@k``, ``recall@k``, ``ndcg@k``, ``coverage@k``,
    ``mean_popularity@k``, ``cold_share@k`` and ``n_users``. With ``return_per_user=True`` also
    ``{(model, candidates): per-user nDCG@k}``: within one candidate set the same users, in the
    same order, for every model, so two models compare paired (:func:`recsys.stats.leader`).
    """
    candidates = _check_candidates(candidates)
    fitted = dict(fitted or {})
    keep = ("precision", "recall", "ndcg", "coverage", "mean_popularity", "cold_share")
    rows, per_user = [], {}
    for name, contender in progress_bar(contenders.items(), desc="cold start", enabled=progress):
        if name in fitted:
            scored = fitted[name]
        elif isinstance(contender, Recommender):
            scored = fitted[name] = fit(contender, split.train, relevance_threshold)
        elif callable(contender):
            scored = np.asarray(contender(split), dtype=np.float64)
        else:
            raise TypeError(f"contender {name!r} is neither a model nor a scorer(split): {type(contender).__name__}")
        results = evaluate_cold_start(
            scored,
            split,
            candidates=candidates,
            k=k,
            relevance_threshold=relevance_threshold,
            seed=seed,
            return_per_user=return_per_user,
        )
        for part, result in results.items():
            if return_per_user:
                per_user[(name, part)] = result["per_user"]["ndcg"]
            rows.append(
                {
                    "model": name,
                    "candidates": part,
                    **{f"{c}@{k}": result[f"{c}@{k}"] for c in keep},
                    "n_users": result["n_users"],
                }
            )
    table = pd.DataFrame(rows).set_index(["model", "candidates"])
    return (table, per_user) if return_per_user else table


def side_feature_scorer(
    prototype: Recommender, items: pd.DataFrame, users: pd.DataFrame | None = None, *, year_bin: int = 10
) -> ColdScorer:
    """A :data:`ColdScorer`: a factorization machine with side features that never sees a cold item.

    ``prototype`` is a :class:`~recsys.models.fm.FactorizationMachine`; a clone is given the side
    features of the split's users (``users``, e.g. age, gender, occupation) and of its warm items
    (``items``: genres and decade, :func:`recsys.models.fm.item_side_features`) and fitted on the
    warm items' columns of ``split.train`` only, so no cold item is even sampled as a negative.
    A warm item is scored as the model scores it; a cold item from its side features alone
    (:meth:`~recsys.models.fm.FactorizationMachine.item_vectors`: the sum of its genre and decade
    factors and biases, restricted to the features some warm item has). Items of neither kind
    score 0; they are never candidates.
    """
    from recsys.models.fm import FactorizationMachine, item_side_features, user_side_features

    if not isinstance(prototype, FactorizationMachine):
        raise TypeError(f"prototype must be a FactorizationMachine, got {type(prototype).__name__}")

    def scorer(split: ColdItemSplit) -> np.ndarray:
        warm, cold = np.flatnonzero(split.warm), np.flatnonzero(split.cold)
        warm_ids, cold_ids = split.idmap.item_ids[warm], split.idmap.item_ids[cold]
        warm_features, warm_names = item_side_features(items, warm_ids, year_bin=year_bin)
        model = clone(prototype).set_params(
            item_features=warm_features,
            user_features=user_side_features(users, split.idmap.user_ids)[0],
        )
        model = fit(model, split.train[:, warm])
        out = np.zeros(split.idmap.shape)
        out[:, warm] = model.score(np.arange(split.idmap.n_users))
        # the cold items' features, in the columns the warm items had (a period no warm film has is dropped)
        every, every_names = item_side_features(items, np.concatenate([warm_ids, cold_ids]), year_bin=year_bin)
        columns = [every_names.index(n) for n in warm_names]
        vectors, biases = model.item_vectors(every[warm.size :][:, columns])
        user_part = model.user_bias_[:, None] + model.global_mean_
        out[:, cold] = model.user_factors_ @ vectors.T + biases[None, :] + user_part
        return out

    return scorer


# --------------------------------------------------------------------------------------------
# a hybrid's weight


def tune_hybrid(
    prototype: HybridModel,
    weights: Sequence[float],
    train_ratings: pd.DataFrame,
    idmap: IdMap,
    *,
    cold_fraction: float = 0.2,
    train_ratio: float = 0.75,
    candidates: str = "all",
    k: int = 10,
    metric: str | None = None,
    seed: int = 0,
) -> tuple[float, pd.DataFrame]:
    """The hybrid weight with the best validation ``metric`` (default ``ndcg@k``), and every weight's scores.

    Sees the *training* ratings only: a cold-item validation split is carved from
    ``train_ratings`` (:func:`cold_item_split` with the same ``idmap`` and fractions, ``seed``),
    the hybrid's two parts are fitted once on its training side (the score is linear in the
    weight, so no weight needs a refit), and each weight is scored among its ``candidates``
    (default: all items, warm and cold mixed, the situation a deployed hybrid faces). Ties go to
    the first weight listed.
    """
    if not isinstance(prototype, HybridModel):
        raise TypeError(f"prototype must be a HybridModel, got {type(prototype).__name__}")
    weights = [float(w) for w in weights]
    if not weights:
        raise ValueError("weights is empty; give the hybrid weights to try")
    check_choice("candidates", candidates, CANDIDATES)
    k = check_integer("k", k, 1)
    metric = metric or f"ndcg@{k}"
    inner = cold_item_split(train_ratings, cold_fraction=cold_fraction, train_ratio=train_ratio, seed=seed, idmap=idmap)
    base = fit(clone(prototype).set_params(weight=weights[0]), inner.train)
    # the hybrid's score is linear in its weight: score(w) = w score(1) + (1 - w) score(0), exactly
    users = np.arange(base.n_users_)
    collaborative, content = (np.asarray(base.reweighted(w).score(users), dtype=np.float64) for w in (1.0, 0.0))
    rows = []
    for weight in weights:
        scores = weight * collaborative + (1.0 - weight) * content
        result = evaluate_cold_start(scores, inner, candidates=[candidates], k=k, seed=seed)[candidates]
        rows.append({"weight": weight, **{key: v for key, v in result.items() if key != "n_users"}})
    table = pd.DataFrame(rows).set_index("weight")
    if metric not in table.columns:
        raise ValueError(f"metric {metric!r} is not one of {list(table.columns)}")
    best = float(table.index[int(np.nanargmax(table[metric].to_numpy()))])
    return best, table
