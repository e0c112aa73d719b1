"""What notebook 07 needs beyond the shared harness: tuning with early stopping, the family study, figures.

* :func:`tune_early_stopped`: grid search on a validation split carved from the training part,
  where every iterative model trains with early stopping on validation nDCG (or RMSE for a
  rating model), so the number of epochs is chosen with the other hyperparameters;
* :func:`family_study`: tune every candidate, fit the chosen models on the training part, and
  rank them on the test part (the protocol of :func:`recsys.experiments.ranking_table`), keeping
  the fitted models for what follows;
* :func:`embedding_table` and :func:`projections`: each family's item vectors, their geometry
  (dimension, norm spread), genre coherence and the norm-popularity correlation
  (:mod:`recsys.embeddings`);
* :func:`serving_study`: each family's vectors served from ANN indexes (:mod:`recsys.ann`):
  recall@k against queries per second, and the nDCG of the lists at a target recall against
  exact scoring (:mod:`recsys.experiments.serving`);
* the chapter's figures (:func:`plot_curves`, :func:`plot_maps`, :func:`plot_serving`,
  :func:`plot_two_hop`).

Like the rest of :mod:`recsys.notebook`, this imports the domain and is never imported by it.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from recsys import embeddings, experiments
from recsys.evaluation import evaluate_ranking
from recsys.interactions import IdMap, binarize
from recsys.metrics import item_popularity
from recsys.models.base import Recommender
from recsys.progress import bar as progress_bar
from recsys.splits import Split, stratified_holdout

#: ``features(idmap) -> {parameter: value}``: side information built for one split's index space.
Features = Callable[[IdMap], Mapping]

__all__ = [
    "Candidate",
    "Study",
    "Tuned",
    "sample_users",
    "embedding_table",
    "family_study",
    "fit_and_rank",
    "plot_curves",
    "plot_maps",
    "plot_serving",
    "plot_two_hop",
    "projections",
    "serving_study",
    "tune_early_stopped",
]


# --------------------------------------------------------------------------------------------- #
# Tuning with early stopping.                                                                   #
# --------------------------------------------------------------------------------------------- #


@dataclass
class Tuned:
    """The outcome of :func:`tune_early_stopped` for one model."""

    model: Recommender  #: unfitted, with the chosen hyperparameters (``iterations`` = the best epoch)
    params: dict  #: the chosen hyperparameters
    table: pd.DataFrame  #: one row per grid point: validation metric, best epoch, fit seconds
    history: list[dict] = field(default_factory=list)  #: the chosen point's per-epoch history
    metric: str = ""  #: the validation entry that chose
    stopped_early: bool = False  #: the chosen point stopped before its epoch budget


def _iterative(model: Recommender) -> bool:
    return "early_stopping" in model.get_params()


def tune_early_stopped(
    prototype: Recommender,
    grid: Mapping[str, Sequence],
    split: Split,
    *,
    k: int = 10,
    seed: int = 0,
    patience: int | None = None,
    features: Features | None = None,
    progress: bool = True,
) -> Tuned:
    """Pick the grid point (and, for iterative models, the epoch) with the best validation score.

    The validation split is :func:`recsys.experiments.validation_split` of ``split`` (its test
    part is never looked at). Models that learn from positives are scored by validation
    ``ndcg@k`` through :func:`recsys.experiments.ranking_callback`, rating models by
    ``val_rmse``. A model with an ``early_stopping`` hyperparameter trains each grid point with
    early stopping on that entry (``patience`` overrides the model's own) and the chosen
    ``iterations`` is the best epoch; other models are fitted once per point and scored by their
    last iteration. ``features`` builds side information (e.g. a factorization machine's feature
    matrices) for the validation split's index space; the returned model carries none, so set the
    outer split's yourself. An empty grid evaluates the prototype as it is.
    """
    inner = experiments.validation_split(split, seed=seed)
    m = experiments.Matrices.from_split(inner)
    ratings = prototype.learns_from == "ratings"
    metric = "val_rmse" if ratings else f"val_ndcg@{k}"
    sign = -1.0 if ratings else 1.0
    extra = dict(features(m.idmap)) if features is not None else {}
    names = list(grid)
    points = [dict(zip(names, values)) for values in product(*(grid[n] for n in names))]
    rows, histories, stopped = [], [], []
    for point in progress_bar(points, desc=f"tuning {type(prototype).__name__}", enabled=progress):
        model = clone(prototype).set_params(**point, **extra)
        iterative = _iterative(model)
        if iterative:
            model.set_params(early_stopping=metric)
            if patience is not None:
                model.set_params(patience=patience)
        X = experiments.model_input(model, m.train)
        start = time.perf_counter()
        if ratings:
            model.fit(X, validation=m.test)
            history = list(getattr(model, "history_", None) or [])
        else:
            callback = experiments.ranking_callback(X, m.test, k=k)
            if "callback" in inspect.signature(model.fit).parameters:
                model.fit(X, callback=callback)
                history = list(model.history_)
            else:  # a one-shot model without a callback: score it once
                model.fit(X)
                history = [{"iteration": 1, **callback(model, 1)}]
        seconds = time.perf_counter() - start
        scored = [h for h in history if h.get(metric) is not None]
        best = max(scored, key=lambda h: sign * h[metric]) if iterative else scored[-1]
        rows.append({**point, metric: best[metric], "best_iteration": best["iteration"], "fit_seconds": seconds})
        histories.append(history)
        stopped.append(iterative and len(history) < model.iterations)
    table = pd.DataFrame(rows)
    choice = int(np.argmax(sign * table[metric].to_numpy()))
    params = dict(points[choice])
    chosen = clone(prototype).set_params(**params)
    if _iterative(chosen):
        params["iterations"] = int(table["best_iteration"].iloc[choice])
        chosen.set_params(iterations=params["iterations"], early_stopping=None)
    if names:
        table = table.set_index(names)
    return Tuned(chosen, params, table, histories[choice], metric, bool(stopped[choice]))


def sample_users(data, n_users: int | None, seed: int = 0):
    """``data`` with the ratings of ``n_users`` random users only (``None`` or 0: unchanged), for quick runs."""
    import dataclasses

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


@dataclass
class Study:
    """One dataset's comparison: the split, the tuned and fitted models and their test ranking."""

    data: Any
    split: Split
    matrices: experiments.Matrices
    candidates: dict[str, Candidate]
    tuned: dict[str, Tuned]
    models: dict[str, Recommender]  #: fitted on the training part
    ranking: pd.DataFrame  #: test metrics and fit seconds, one row per model

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


def first_values(grid: Mapping[str, Sequence]) -> dict[str, list]:
    """The one-point grid of each list's first value: the default run's hyperparameters."""
    return {key: list(values)[:1] for key, values in grid.items()}


def fit_and_rank(
    models: Mapping[str, Recommender], split: Split, *, k: int = 10, progress: bool = True
) -> tuple[dict[str, Recommender], pd.DataFrame]:
    """:func:`recsys.experiments.ranking_table`'s protocol, keeping the fitted models.

    Each model is cloned, fitted on what it learns from (:func:`recsys.experiments.model_input`),
    timed, and scored on the test part with its training items excluded; every test rating is
    relevant. Returns ``(fitted models, table)``.
    """
    m = experiments.Matrices.from_split(split)
    relevant = binarize(m.test)
    fitted, rows = {}, []
    for name, prototype in progress_bar(models.items(), desc="ranking models", enabled=progress):
        model = clone(prototype)
        seconds = experiments.fit_timed(model, experiments.model_input(model, m.train))
        with threadpool_limits(1, "blas"):  # as during the fits' validation callbacks
            scores = evaluate_ranking(model, m.train, relevant, k=k)
        rows.append({"model": name, **scores, "fit_seconds": seconds})
        fitted[name] = model
    return fitted, pd.DataFrame(rows).set_index("model")


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
    positive). With ``tune=False`` each grid shrinks to its first values, so only the epochs are
    chosen (by early stopping on validation); ``tune=True`` searches the whole grid.
    """
    split = stratified_holdout(data.ratings, train_ratio, seed=seed)
    matrices = experiments.Matrices.from_split(split)
    tuned, prototypes = {}, {}
    for name, candidate in candidates.items():
        grid = candidate.grid if tune else first_values(candidate.grid)
        tuned[name] = tune_early_stopped(
            candidate.model,
            grid,
            split,
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
    models, ranking = fit_and_rank(prototypes, split, k=k, progress=progress)
    return Study(data, split, matrices, dict(candidates), tuned, models, ranking)


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
) -> pd.DataFrame:
    """Geometry of each model's item vectors, one row per model.

    Columns: ``dim``, ``norm_cv`` (coefficient of variation of the item norms: how unequal the
    lengths are, which decides how much maximum inner-product search differs from cosine
    search), ``norm_pop_spearman`` (rank correlation of norm with training popularity,
    :func:`recsys.embeddings.norm_popularity_correlation`), and ``genre_coherence``, ``genre_baseline``,
    ``genre_lift`` (share of an item's ``k`` cosine neighbours sharing a genre, against
    popularity-matched random neighbours: :func:`recsys.embeddings.genre_coherence`). Coherence is
    measured among the ``top`` most popular items (``None``: all), which keeps the n_items-wide
    EASE vectors affordable and compares every family on the same films.
    """
    with threadpool_limits(1, "blas"):
        return _embedding_table(study, names, k, top, seed)


def _embedding_table(study: Study, names: Sequence[str], k: int, top: int | None, seed: int) -> pd.DataFrame:
    catalogue = catalogue_of(study)
    pool = None if top is None else catalogue.most_popular(min(top, len(catalogue)))
    rows = []
    for name in names:
        V = item_vectors(study.models[name])
        norms = np.linalg.norm(V, axis=1)
        relation = embeddings.norm_popularity_correlation(V, catalogue.popularity)
        coherence = embeddings.genre_coherence(V, catalogue, k=k, candidates=pool, seed=seed)
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
    return pd.DataFrame(rows).set_index("model")


def catalogue_of(study: Study) -> embeddings.Catalogue:
    """The study's items (titles, genres, training popularity) aligned with the models' item indices."""
    return embeddings.Catalogue.from_items(study.data.items, study.matrices.idmap, item_popularity(study.train))


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


# --------------------------------------------------------------------------------------------- #
# Serving from ANN indexes.                                                                     #
# --------------------------------------------------------------------------------------------- #


def serving_study(
    study: Study,
    names: Sequence[str],
    methods: Sequence[str],
    *,
    grids: Mapping[str, Mapping] | None = None,
    k: int = 10,
    recall: float = 0.95,
    time_budget: float = 60.0,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Each model's vectors (inner-product form) behind each ANN method: speed, recall, list quality.

    For every model, its :meth:`~recsys.models.base.FactorModel.inner_product_factors` (ranking
    form, float32) become a workload (items = catalogue, the evaluated users = queries) and every
    method's grid runs on it (:func:`recsys.ann.bench.run`). Each operating point then serves
    every user's top ``k`` with the training items removed (:func:`recsys.experiments.serving.cost_of_approximation`)
    at its operating point: the fastest setting reaching ``recall``.

    Returns ``(points, quality, summary)``: the benchmark rows (recall@k, QPS, ...) with a
    ``model`` column; the list quality of exact scoring and of each operating point (nDCG@k,
    ``ndcg_loss`` against exact scoring of the same vectors); and per (model, method) the
    operating point's recall, QPS, nDCG and the exact nDCG (NaN where the grid never reaches it).
    """
    from recsys.experiments import serving as retrieval
    from recsys.ann import bench

    # one BLAS thread: the per-user exact queries are small products, which a multi-threaded BLAS
    # runs several times slower than one thread on a busy machine
    with threadpool_limits(1, "blas"):
        return _serving_study(study, names, methods, grids, k, recall, time_budget, progress, retrieval, bench)


def _serving_study(study, names, methods, grids, k, recall, time_budget, progress, retrieval, bench):
    points, qualities, summary = [], [], []
    for name in names:
        model = study.models[name]
        U, V = model.inner_product_factors(ranking_only=True)
        real = retrieval.RealEmbeddings(
            name,
            model,
            study.train,
            study.test,
            np.ascontiguousarray(U, dtype=np.float32),
            np.ascontiguousarray(V, dtype=np.float32),
            {"dataset": study.data.name, "model": name},
        )
        workload = real.workload(name)
        result = bench.run(workload, methods, grids=grids, k=k, time_budget=time_budget, progress=progress)
        table = result.results.assign(model=name)
        table = table[table["family"] != "exact"] if "family" in table else table
        # the lists are served at each method's operating point only (serving every user's list
        # at every point of a sweep costs more than the sweep)
        chosen = bench.operating_points(table, recall, by=("method",))
        quality = retrieval.cost_of_approximation(real, chosen, k=k, progress=progress).assign(model=name)
        points.append(table)
        qualities.append(quality)
        exact = quality[quality["method"] == "exact"].iloc[0]
        norms = np.linalg.norm(V, axis=1)
        for method in methods:
            rows = quality[quality["method"] == method]
            fast = chosen[chosen["method"] == method]
            entry = {
                "model": name,
                "method": method,
                "dim": V.shape[1],
                "norm_cv": float(norms.std() / norms.mean()) if norms.mean() > 0 else float("nan"),
                f"exact_ndcg@{k}": float(exact[f"ndcg@{k}"]),
                "recall": float("nan"),
                "qps": float("nan"),
                f"ndcg@{k}": float("nan"),
                "ndcg_loss": float("nan"),
            }
            if len(fast):
                best = fast.loc[fast["qps"].idxmax()]
                match = rows[(rows["build"] == best["build"]) & (rows["query"] == best["query"])]
                entry.update(recall=float(best["recall"]), qps=float(best["qps"]), query=best["query"])
                if len(match):
                    entry[f"ndcg@{k}"] = float(match.iloc[0][f"ndcg@{k}"])
                    entry["ndcg_loss"] = float(match.iloc[0]["ndcg_loss"])
            summary.append(entry)
    return (
        pd.concat(points, ignore_index=True),
        pd.concat(qualities, ignore_index=True),
        pd.DataFrame(summary),
    )


# --------------------------------------------------------------------------------------------- #
# Figures.                                                                                      #
# --------------------------------------------------------------------------------------------- #


def plot_curves(axes, tuned: Mapping[str, Tuned], *, k: int = 10, title: str = "") -> None:
    """Training loss (left) and validation nDCG@k (right) per epoch; a dot marks the chosen epoch."""
    from recsys.notebook.plotting import styled

    loss_ax, val_ax = axes
    for i, (name, result) in enumerate(tuned.items()):
        history = [h for h in result.history if "train_loss" in h]
        if len(history) < 2:
            continue
        style = styled(i)
        style.pop("marker", None)
        epochs = [h["iteration"] for h in history]
        first = history[0]["train_loss"]
        loss_ax.plot(epochs, [h["train_loss"] / first for h in history], label=name, **style)
        metric = result.metric
        val_ax.plot(epochs, [h.get(metric, np.nan) for h in history], label=name, **style)
        best = result.params.get("iterations")
        if best is not None:
            value = next(h[metric] for h in history if h["iteration"] == best)
            val_ax.plot([best], [value], "o", color=val_ax.lines[-1].get_color(), markersize=6)
    loss_ax.set(xlabel="epoch", ylabel="training loss / first epoch's", title=f"{title}training loss")
    val_ax.set(xlabel="epoch", ylabel=f"validation nDCG@{k}", title=f"{title}validation nDCG@{k} (dot: chosen epoch)")
    val_ax.legend()


def plot_maps(axes, coordinates: Mapping[str, np.ndarray], groups: np.ndarray, popularity: np.ndarray, title: str = ""):
    """One scatter per model of its 2-D item map, coloured by genre group, sized by popularity."""
    labels = [g for g in pd.unique(groups) if g != "other"] + (["other"] if "other" in set(groups) else [])
    colours = {g: f"C{j}" for j, g in enumerate(labels)}
    colours["other"] = "lightgrey"
    size = 4 + 30 * (np.log1p(popularity) / max(np.log1p(popularity).max(), 1e-12)) ** 2
    for ax, (name, xy) in zip(np.ravel(axes), coordinates.items()):
        for label in reversed(labels):
            mask = groups == label
            ax.scatter(xy[mask, 0], xy[mask, 1], s=size[mask], c=colours[label], alpha=0.7, linewidths=0, label=label)
        ax.set(title=f"{title}{name}", xticks=[], yticks=[])
    handles = [
        __import__("matplotlib").lines.Line2D([], [], marker="o", ls="", color=colours[g], label=g) for g in labels
    ]
    np.ravel(axes)[0].figure.legend(handles=handles, loc="outside lower center", ncols=min(len(labels), 6))


def plot_serving(axes, points: pd.DataFrame, names: Sequence[str], *, k: int = 10, title: str = "") -> None:
    """Recall@k against queries per second (log), one panel per ANN method, one line per model."""
    from recsys.notebook.plotting import styled

    methods = list(pd.unique(points["method"]))
    for ax, method in zip(np.ravel(axes), methods):
        for i, name in enumerate(names):
            rows = points[(points["method"] == method) & (points["model"] == name)].sort_values("recall")
            if len(rows):
                ax.plot(rows["recall"], rows["qps"], label=name, **styled(i))
        ax.set(yscale="log", xlabel=f"recall@{k}", ylabel="queries per second (log)", title=f"{title}{method}")
        ax.axvline(0.95, color="grey", lw=0.8, ls=":")
    np.ravel(axes)[0].legend()


def plot_two_hop(ax, X: sp.csr_matrix, user: int, *, max_users: int = 24, seed: int = 0, labels=None) -> dict:
    """One user's 2-hop neighbourhood in the user-item graph, edges weighted as LightGCN weighs them.

    Centre: the user; middle ring: their items (1 hop); outer ring: up to ``max_users`` other users
    of those items (2 hops). Each edge's width is ``1 / sqrt(|N(u)| |N(i)|)``, its weight in one
    propagation step, so popular items (many neighbours) pass on less of each neighbour. Returns
    the counts drawn.
    """
    rng = np.random.default_rng(seed)
    X = sp.csr_matrix(X)
    du = np.diff(X.indptr)
    di = np.asarray((X != 0).sum(axis=0)).ravel()
    items = X[user].indices
    XT = sp.csr_matrix(X.T)
    neighbours = np.unique(np.concatenate([XT[i].indices for i in items]) if items.size else np.zeros(0, int))
    neighbours = neighbours[neighbours != user]
    shown = np.sort(rng.choice(neighbours, size=min(max_users, neighbours.size), replace=False))
    angle_i = np.linspace(0, 2 * np.pi, items.size, endpoint=False)
    item_xy = {i: (np.cos(a), np.sin(a)) for i, a in zip(items, angle_i)}
    angle_u = np.linspace(0, 2 * np.pi, max(shown.size, 1), endpoint=False) + np.pi / max(shown.size, 1)
    user_xy = {v: (2.2 * np.cos(a), 2.2 * np.sin(a)) for v, a in zip(shown, angle_u)}
    weight = lambda u, i: 1.0 / np.sqrt(du[u] * di[i])  # noqa: E731
    scale = 6.0 / max(weight(user, i) for i in items) if items.size else 1.0
    for i in items:
        ax.plot([0, item_xy[i][0]], [0, item_xy[i][1]], color="C0", lw=scale * weight(user, i), alpha=0.8, zorder=1)
    shown_set = set(shown.tolist())
    for i in items:
        for v in XT[i].indices:
            if v in shown_set:
                (x0, y0), (x1, y1) = item_xy[i], user_xy[v]
                ax.plot([x0, x1], [y0, y1], color="C1", lw=scale * weight(v, i), alpha=0.5, zorder=0)
    ax.scatter([0], [0], s=260, c="C3", zorder=3, label="the user")
    if items.size:
        ax.scatter(
            *np.array([item_xy[i] for i in items]).T,
            s=12 + 4 * np.sqrt(di[items]),
            c="C0",
            zorder=2,
            label="their items (1 hop)",
        )
    if shown.size:
        ax.scatter(
            *np.array([user_xy[v] for v in shown]).T, s=40, c="C1", zorder=2, label="users of those items (2 hops)"
        )
    if labels is not None:
        for i in items:
            ax.annotate(labels[i], item_xy[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set(xticks=[], yticks=[], aspect="equal")
    ax.legend(loc="upper left", fontsize=8)
    return {"items": int(items.size), "two_hop_users": int(neighbours.size), "shown_users": int(shown.size)}
