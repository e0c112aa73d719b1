"""Notebook 07's family study: every embedding family tuned, fitted and ranked on one protocol.

* :func:`family_study`: tune every :class:`Candidate` on validation data
  (:func:`recsys.experiments.tuning.tune`, early stopping for the models trained in epochs), fit
  the chosen models on the training part and rank them on the test part (:func:`fit_and_rank`,
  the protocol of :func:`recsys.experiments.ranking_table`), keeping the fitted models in a
  :class:`Study` for what follows;
* :func:`embedding_table` and :func:`projections`: each family's item vectors
  (:func:`item_vectors`), their geometry (dimension, norm spread), genre coherence and the
  norm-popularity correlation (:mod:`recsys.embeddings`), on the study's catalogue
  (:func:`catalogue_of`);
* :func:`sample_users`: a quick run's data.

Serving the study's vectors from ANN indexes is :func:`recsys.experiments.serving.serving_study`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from recsys import embeddings
from recsys.catalogue import Catalogue
from recsys.experiments import tuning
from recsys.experiments.harness import Matrices, rank_models
from recsys.experiments.tuning import Features, Tuned, first_values
from recsys.interactions import binarize
from recsys.metrics import item_popularity
from recsys.models.base import Recommender
from recsys.splits import Split, stratified_holdout

__all__ = [
    "Candidate",
    "Study",
    "catalogue_of",
    "embedding_table",
    "family_leaders",
    "family_study",
    "fit_and_rank",
    "item_vectors",
    "over_split_seeds",
    "projections",
    "sample_users",
]


def sample_users(data, n_users: int | None, seed: int = 0):
    """``data`` with the ratings of ``n_users`` random users only (``None`` or 0: unchanged), for quick runs."""
    if not n_users:
        return data
    users = np.unique(data.ratings["user_id"].to_numpy())
    if n_users >= users.size:
        return data
    chosen = np.random.default_rng(seed).choice(users, size=n_users, replace=False)
    ratings = data.ratings[data.ratings["user_id"].isin(chosen)].reset_index(drop=True)
    return dataclasses.replace(data, ratings=ratings)


# --------------------------------------------------------------------------------------------- #
# The study: tune, fit, rank.                                                                   #
# --------------------------------------------------------------------------------------------- #


@dataclass
class Candidate:
    """A model of the line-up: its prototype, its grid (first values = the default run) and side features."""

    model: Recommender
    grid: Mapping[str, Sequence] = field(default_factory=dict)
    features: Features | None = None
    family: str = ""
    epochs: bool | None = None  #: choose the epoch on validation too (None: when the model early-stops itself)


@dataclass
class Study:
    """One dataset's comparison: the split, the tuned and fitted models and their test ranking."""

    data: Any
    split: Split
    matrices: Matrices
    candidates: dict[str, Candidate]
    tuned: dict[str, Tuned]
    models: dict[str, Recommender]  #: fitted on the training part
    ranking: pd.DataFrame  #: test metrics (nDCG and recall with 95 % intervals) and fit seconds, one row per model
    per_user: dict[str, pd.DataFrame] = field(default_factory=dict)  #: {"ndcg@k": users x models}, for paired verdicts
    train_ratio: float = 0.75  #: the split's per-user training share (its kind: stratified_holdout)

    @property
    def train(self) -> sp.csr_matrix:
        """The training interactions as 1s (what the models learned from)."""
        return binarize(self.matrices.train)

    @property
    def test(self) -> sp.csr_matrix:
        """The test interactions as 1s (every test rating is relevant)."""
        return binarize(self.matrices.test)

    def chosen(self) -> dict[str, dict]:
        """The chosen hyperparameters of every tuned model (JSON-ready)."""
        return {name: _jsonable(t.params) for name, t in self.tuned.items()}

    def families(self) -> dict[str, str]:
        return {name: c.family for name, c in self.candidates.items()}


def _jsonable(params: Mapping) -> dict:
    out = {}
    for key, value in params.items():
        if isinstance(value, (np.integer,)):
            value = int(value)
        elif isinstance(value, (np.floating,)):
            value = float(value)
        out[key] = value
    return out


def fit_and_rank(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    k: int = 10,
    progress: bool = True,
    return_per_user: bool = False,
    seed: int = 0,
) -> tuple[dict[str, Recommender], pd.DataFrame] | tuple[dict[str, Recommender], pd.DataFrame, dict]:
    """:func:`recsys.experiments.ranking_table`'s protocol, keeping the fitted models.

    Each model goes through :func:`recsys.experiments.harness.fit_and_evaluate`: cloned, fitted
    on what it learns from (:func:`recsys.experiments.model_input`), timed, and scored on the
    test part with its training items excluded; every test rating is relevant. The table has
    nDCG and recall with their 95 % bootstrap intervals over users (as ``ranking_table``'s).
    Returns ``(fitted models, table)``, and the per-user frames third with ``return_per_user``.
    """
    # scored on one BLAS thread, as during the fits' validation callbacks
    fitted, table, per_user = rank_models(models, split, k=k, blas_threads=1, progress=progress, seed=seed)
    return (fitted, table, per_user) if return_per_user else (fitted, table)


def family_study(
    data,
    candidates: Mapping[str, Candidate],
    *,
    train_ratio: float = 0.75,
    seed: int = 42,
    k: int = 10,
    tune: bool = False,
    patience: int | None = None,
    progress: bool = True,
) -> Study:
    """Tune (on validation), fit (on train) and rank (on test) every candidate on one dataset.

    The split is :func:`recsys.splits.stratified_holdout` of ``data.ratings`` (every rating a
    positive). Every candidate goes through :func:`recsys.experiments.tuning.tune` on the
    validation split carved from the training part: by validation ``ndcg@k``, the study's measure,
    except that a rating model trained in epochs (the embedding network) stops on its own
    validation RMSE. With ``tune=False`` each grid shrinks to its first values, so only the epochs
    are chosen (by early stopping on validation); ``tune=True`` searches the whole grid.
    """
    split = stratified_holdout(data.ratings, train_ratio, seed=seed)
    matrices = Matrices.from_split(split)
    tuned, prototypes = {}, {}
    for name, candidate in candidates.items():
        grid = candidate.grid if tune else first_values(candidate.grid)
        by_epoch_on_ratings = tuning.early_stopped(candidate.model) and candidate.model.learns_from == "ratings"
        tuned[name] = tuning.tune(
            candidate.model,
            grid,
            split,
            metric="rmse" if by_epoch_on_ratings else f"ndcg@{k}",
            k=k,
            seed=seed,
            patience=patience,
            features=candidate.features,
            progress=progress,
        )
        model = tuned[name].model
        if candidate.features is not None:
            model = model.set_params(**candidate.features(matrices.idmap))
        prototypes[name] = model
    models, ranking, per_user = fit_and_rank(prototypes, split, k=k, progress=progress, return_per_user=True)
    return Study(data, split, matrices, dict(candidates), tuned, models, ranking, per_user, train_ratio)


def family_leaders(study: Study, metric: str, *, skip: Sequence[str] = ()) -> list[str]:
    """The model with the highest mean per-user test ``metric`` (a key of ``study.per_user``,
    ``"ndcg@10"`` say) in each family, families in line-up order, those in ``skip`` left out.

    Ties go to the model first in the line-up. A leader is only the highest mean: whether it is
    detectably ahead of the rest of its family is :func:`recsys.stats.leader`'s question.
    """
    if metric not in study.per_user:
        raise KeyError(f"the study keeps per-user values of {sorted(study.per_user)}, not {metric!r}")
    means = study.per_user[metric].mean()
    leaders = {}
    for name, family in study.families().items():
        if family in skip:
            continue
        if family not in leaders or means[name] > means[leaders[family]]:
            leaders[family] = name
    return list(leaders.values())


def over_split_seeds(
    study: Study, names: Sequence[str], seeds: Sequence[int], *, k: int = 10, progress: bool = True
) -> dict[str, pd.DataFrame]:
    """The named models, with the hyperparameters (and epochs) chosen in ``study``, refitted and
    ranked on other draws of its split: ``stratified_holdout(data.ratings, study.train_ratio,
    seed=s)`` for each ``s`` in ``seeds``.

    Returns ``{"ndcg@k": ..., "recall@k": ...}``, each a seeds x models frame of mean test values,
    for a paired comparison over the draws (:func:`recsys.stats.leader` with ``over="runs"``): one
    split's users say how precise a difference is on that split; several draws say whether it
    survives another choice of held-out ratings. A model with side features gets them rebuilt for
    each draw's index space.
    """
    unknown = [name for name in names if name not in study.models]
    if unknown:
        raise KeyError(f"no model(s) {unknown} in the study; it has {sorted(study.models)}")
    if not seeds:
        raise ValueError("seeds must name at least one seed of the split")
    rows: dict[str, dict[int, dict[str, float]]] = {f"ndcg@{k}": {}, f"recall@{k}": {}}
    for seed in seeds:
        split = stratified_holdout(study.data.ratings, study.train_ratio, seed=int(seed))
        idmap = Matrices.from_split(split).idmap
        prototypes = {}
        for name in names:
            model = study.models[name]
            features = study.candidates[name].features if name in study.candidates else None
            prototypes[name] = model if features is None else clone(model).set_params(**features(idmap))
        _, table = fit_and_rank(prototypes, split, k=k, progress=progress)
        for metric in rows:
            rows[metric][int(seed)] = table[metric].to_dict()
    return {
        metric: pd.DataFrame.from_dict(by_seed, orient="index")[list(names)].rename_axis("seed")
        for metric, by_seed in rows.items()
    }


# --------------------------------------------------------------------------------------------- #
# Embedding geometry.                                                                           #
# --------------------------------------------------------------------------------------------- #


def item_vectors(model: Recommender) -> np.ndarray:
    """A model's item embedding: ``item_factors_`` (for EASE, the columns of ``B``)."""
    return np.asarray(model.item_factors_, dtype=np.float64)


def embedding_table(
    study: Study,
    names: Sequence[str],
    *,
    k: int = 10,
    top: int | None = 1000,
    seed: int = 0,
    return_per_item: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Geometry of each model's item vectors, one row per model.

    Columns: ``dim``, ``norm_cv`` (coefficient of variation of the item norms: how unequal the
    lengths are, which decides how much maximum inner-product search differs from cosine
    search), ``norm_pop_spearman`` (rank correlation of norm with training popularity,
    :func:`recsys.embeddings.norm_popularity_correlation`), and ``genre_coherence``, ``genre_baseline``,
    ``genre_lift`` (share of an item's ``k`` cosine neighbours sharing a genre, against
    popularity-matched random neighbours: :func:`recsys.embeddings.genre_coherence`). Coherence is
    measured among the ``top`` most popular items (``None``: all), which keeps the n_items-wide
    EASE vectors affordable and compares every family on the same films.

    With ``return_per_item``, also an items x models frame of each film's coherence minus its
    baseline share (the same films for every model), for a paired comparison of the models over
    films (:func:`recsys.stats.leader`): a higher lift in the table is not a detectable one.
    """
    with threadpool_limits(1, "blas"):
        table, excess = _embedding_table(study, names, k, top, seed)
    return (table, excess) if return_per_item else table


def _embedding_table(
    study: Study, names: Sequence[str], k: int, top: int | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    catalogue = catalogue_of(study)
    pool = None if top is None else catalogue.most_popular(min(top, len(catalogue)))
    rows, excess = [], {}
    for name in names:
        V = item_vectors(study.models[name])
        norms = np.linalg.norm(V, axis=1)
        relation = embeddings.norm_popularity_correlation(V, catalogue.popularity)
        coherence = embeddings.genre_coherence(V, catalogue, k=k, candidates=pool, seed=seed)
        excess[name] = coherence["per_item"]["coherence"] - coherence["per_item"]["baseline"]
        rows.append(
            {
                "model": name,
                "family": study.candidates[name].family if name in study.candidates else "",
                "dim": V.shape[1],
                "norm_cv": float(norms.std() / norms.mean()) if norms.mean() > 0 else float("nan"),
                "norm_pop_spearman": relation["spearman"],
                "genre_coherence": coherence["coherence"],
                "genre_baseline": coherence["baseline"],
                "genre_lift": coherence["lift"],
            }
        )
    return pd.DataFrame(rows).set_index("model"), pd.DataFrame(excess)


def catalogue_of(study: Study) -> Catalogue:
    """The study's items (titles, genres, training popularity) aligned with the models' item indices."""
    return Catalogue.from_items(study.data.items, study.matrices.idmap, item_popularity(study.train))


def projections(
    study: Study, names: Sequence[str], *, method: str = "tsne", top: int = 1000, seed: int = 0, max_iter: int = 1000
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """2-D coordinates of the ``top`` most popular items in each model's space, and those items.

    :func:`recsys.embeddings.project` (cosine t-SNE with ``max_iter`` iterations, or PCA).
    """
    catalogue = catalogue_of(study)
    items = catalogue.most_popular(min(top, len(catalogue)))
    coordinates = {}
    for name in names:
        V = item_vectors(study.models[name])[items]
        coordinates[name] = embeddings.project(
            V, method, seed=seed, perplexity=min(30.0, (len(items) - 1) / 3), max_iter=max_iter
        )
    return coordinates, items
