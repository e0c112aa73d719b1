"""The experiment harness the notebooks share: turn splits into matrices, then fit, time and
evaluate many models the same way.

Models are passed as unfitted estimators in a ``{name: model}`` dict; each fold gets a fresh
``sklearn.base.clone``, so nothing leaks between folds. :func:`fit_and_evaluate` is the one loop
body (clone, feed what the model learns from, fit and time, score on the held-out part) that every
table, sweep and tuner here and in the sibling modules goes through. Each model declares what it learns from
(``learns_from``, see :mod:`recsys.models.base`): rating models get the ratings, the
implicit-feedback models the interactions as 1s (every rating is a positive unless a
``relevance_threshold`` says otherwise), by :func:`model_input`. Everything is scored by
:mod:`recsys.evaluation`; iterative models report validation quality per iteration through the
callback of :func:`ranking_callback`. Choosing hyperparameters lives in
:mod:`recsys.experiments.tuning`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from itertools import product
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from recsys import stats
from recsys.evaluation import evaluate_ranking, evaluate_ratings
from recsys.interactions import IdMap, binarize, to_csr
from recsys.models.base import FitCallback, Recommender
from recsys.progress import bar as progress_bar
from recsys.splits import Split


@dataclass(frozen=True)
class Matrices:
    """One split as model inputs, all indexed by the training ``idmap``.

    ``train`` and ``test`` are users x items CSRs of ratings; test rows whose user or item is not
    in ``idmap`` are left out of ``test`` but kept in ``test_triplets`` with index -1, so rating
    error can count them through the models' fallbacks.
    """

    idmap: IdMap
    train: sp.csr_matrix
    test: sp.csr_matrix
    test_triplets: tuple[np.ndarray, np.ndarray, np.ndarray]

    @classmethod
    def from_split(cls, split: Split) -> Matrices:
        idmap = IdMap.from_ratings(split.train)
        train = to_csr(split.train, idmap)
        # the unseen rows of a split: in `test` when it kept them, in `dropped` when it dropped them
        every_test = pd.concat([split.test, split.dropped]) if len(split.dropped) else split.test
        users, items = idmap.encode(every_test, unknown="mark")
        known = (users >= 0) & (items >= 0)
        ratings = every_test["rating"].to_numpy(dtype=np.float64)
        test = sp.csr_matrix((ratings[known], (users[known], items[known])), shape=idmap.shape)
        test.sort_indices()
        return cls(idmap, train, test, (users, items, ratings))


def fit_timed(model: Recommender, X: sp.csr_matrix, **fit_kwargs) -> float:
    """Fit ``model`` and return the wall-clock seconds it took."""
    start = time.perf_counter()
    model.fit(X, **fit_kwargs)
    return time.perf_counter() - start


def repeated_seconds(call, min_seconds: float = 1.0, min_repeats: int = 5) -> tuple[float, float, float, int]:
    """Median, minimum and maximum wall seconds of ``call()`` over warm repeats (one warm-up call
    first: imports, compilation, caches), as many as fill ``min_seconds`` and at least
    ``min_repeats``; and how many repeats were timed. The benchmarks' timer for whole fits."""
    call()
    times: list[float] = []
    while sum(times) < min_seconds or len(times) < min_repeats:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times)), float(np.max(times)), len(times)


def fit(prototype: Recommender, train: sp.csr_matrix, relevance_threshold: float | None = None) -> Recommender:
    """A fresh clone of ``prototype`` fitted on what it learns from (:func:`model_input`)."""
    model = clone(prototype)
    return model.fit(model_input(model, train, relevance_threshold))


#: What :func:`fit_and_evaluate` scores a fitted model by, or records per iteration while it trains.
Task = Literal["ranking", "rating"]


@dataclass
class Fit:
    """One run of :func:`fit_and_evaluate`: the fitted model, its fit time and its held-out scores."""

    model: Recommender  #: the fitted clone (the prototype is untouched)
    seconds: float  #: wall-clock seconds of ``fit`` (including any per-iteration recording)
    scores: dict = field(default_factory=dict)  #: :mod:`recsys.evaluation`'s scores on ``matrices.test``

    @property
    def history(self) -> list[dict]:
        """The fitted model's ``history_`` (empty for a model that keeps none)."""
        return list(getattr(self.model, "history_", None) or [])


def fit_and_evaluate(
    prototype: Recommender,
    matrices: Matrices,
    *,
    params: Mapping | None = None,
    evaluate: Task | None = "ranking",
    record: Task | None = None,
    k: int = 10,
    relevance_threshold: float | None = None,
    count_unseen: bool = True,
    blas_threads: int | None = None,
    return_per_user: bool = False,
) -> Fit:
    """The harness's loop body: clone, feed what the model learns from, fit and time, score.

    A clone of ``prototype`` (with ``params`` set) is fitted on :func:`model_input` of
    ``matrices.train``. ``record`` makes the fit record the held-out part per iteration in
    ``history_``: ``"rating"`` passes ``validation=matrices.test`` (``val_rmse``), ``"ranking"``
    passes :func:`ranking_callback` (``val_ndcg@k``, ``val_precision@k``). ``evaluate`` then scores
    the fitted model on ``matrices.test``: ``"ranking"`` by
    :func:`recsys.evaluation.evaluate_ranking` (training items excluded; relevant: every held-out
    rating or those ``>= relevance_threshold``), ``"rating"`` by
    :func:`recsys.evaluation.evaluate_ratings` (every held-out rating with ``count_unseen``, through
    the model's fallbacks; else the kept ones only), ``None`` not at all. ``blas_threads`` caps
    BLAS during the scoring (the fits' own validation callbacks score single-threaded).
    ``return_per_user`` keeps a ranking evaluation's per-user values in ``scores["per_user"]``.
    """
    model = clone(prototype)
    if params:
        model.set_params(**params)
    X = model_input(model, matrices.train, relevance_threshold)
    fit_kwargs: dict = {}
    if record == "rating":
        fit_kwargs["validation"] = matrices.test
    elif record == "ranking":
        fit_kwargs["callback"] = ranking_callback(X, matrices.test, k=k, relevance_threshold=relevance_threshold)
    elif record is not None:
        raise ValueError(f"record must be 'ranking', 'rating' or None, got {record!r}")
    seconds = fit_timed(model, X, **fit_kwargs)
    if evaluate is None:
        return Fit(model, seconds)
    if evaluate not in ("ranking", "rating"):
        raise ValueError(f"evaluate must be 'ranking', 'rating' or None, got {evaluate!r}")
    with threadpool_limits(blas_threads, "blas") if blas_threads is not None else nullcontext():
        if evaluate == "rating":
            scores = evaluate_ratings(model, matrices.test_triplets if count_unseen else matrices.test)
        else:
            scores = evaluate_ranking(
                model,
                matrices.train,
                binarize(matrices.test, relevance_threshold),
                k=k,
                return_per_user=return_per_user,
            )
    return Fit(model, seconds, scores)


def fit_models(
    models: Mapping[str, Recommender],
    train: sp.csr_matrix,
    *,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> tuple[dict[str, Recommender], dict[str, float]]:
    """A fitted clone of every model on what it learns from (:func:`model_input`), and its fit time.

    Returns ``({name: fitted model}, {name: seconds})``.
    """
    fitted, seconds = {}, {}
    for name, prototype in progress_bar(models.items(), desc="fitting", enabled=progress):
        model = clone(prototype)
        seconds[name] = fit_timed(model, model_input(model, train, relevance_threshold))
        fitted[name] = model
    return fitted, seconds


def model_input(model: Recommender, train: sp.csr_matrix, relevance_threshold: float | None = None) -> sp.csr_matrix:
    """What ``model`` learns from, by its declared ``learns_from``: the ratings, or 1s.

    ``"positives"`` models get every training rating as a 1 (or those ``>= relevance_threshold``).
    A model that declares nothing is an error, not a guess.
    """
    kind = getattr(model, "learns_from", None)
    if kind == "ratings":
        return train
    if kind == "positives":
        return binarize(train, relevance_threshold)
    raise TypeError(
        f"{type(model).__name__} does not declare what it learns from: set the class attribute "
        "learns_from = 'ratings' or 'positives' (see recsys.models.base)"
    )


def ranking_callback(
    train: sp.csr_matrix, validation: sp.csr_matrix, *, k: int = 10, relevance_threshold: float | None = None
) -> FitCallback:
    """A fit callback recording validation ``ndcg@k`` and ``precision@k`` after every iteration.

    ``train`` holds the items to exclude from each user's list (the training matrix), ``validation``
    the held-out ratings (relevant: all, or those ``>= relevance_threshold``). Pass it as
    ``model.fit(X, callback=...)`` to any iterative model; the history entries gain
    ``val_ndcg@k`` and ``val_precision@k``.
    """
    relevant = binarize(validation, relevance_threshold)

    def callback(model, iteration):
        scores = evaluate_ranking(model, train, relevant, k=k)
        return {f"val_ndcg@{k}": scores[f"ndcg@{k}"], f"val_precision@{k}": scores[f"precision@{k}"]}

    return callback


def rating_table(
    models: Mapping[str, Recommender],
    folds: Sequence[Split],
    *,
    count_unseen: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """RMSE, MAE and fit time of every rating model on every fold: one row per (model, fold).

    With ``count_unseen`` every test rating counts, including those of users or items unseen in
    training, predicted by the model's fallback (Surprise's protocol); otherwise only the test
    ratings the split kept.
    """
    rows = []
    bar = progress_bar(total=len(models) * len(folds), desc="rating models", enabled=progress)
    for f, split in enumerate(folds):
        m = Matrices.from_split(split)
        for name, prototype in models.items():
            run = fit_and_evaluate(prototype, m, evaluate="rating", count_unseen=count_unseen)
            rows.append({"model": name, "fold": f, **run.scores, "fit_seconds": run.seconds})
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def summarise(
    table: pd.DataFrame,
    by: str = "model",
    order: Sequence[str] | None = None,
    *,
    intervals: Sequence[str] = (),
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Mean and standard deviation over folds of each numeric column, one row per ``by``.

    Each column named in ``intervals`` also gets its Student-t interval of the mean over the folds
    (``{column}_low``, ``{column}_high``: :func:`recsys.stats.interval_over_runs`), the
    uncertainty to print beside a mean of a handful of folds.
    """
    numeric = table.drop(columns=[c for c in ("fold",) if c in table]).select_dtypes("number").columns
    out = table.groupby(by, sort=False)[list(numeric)].agg(["mean", "std"])
    out.columns = [f"{col}_{stat}" if stat == "std" else col for col, stat in out.columns]
    for column in intervals:
        if column not in numeric:
            raise KeyError(f"intervals names column {column!r}, which the table does not have (it has {list(numeric)})")
        bounds = {
            name: stats.interval_over_runs(group[column].to_numpy(), confidence)
            for name, group in table.groupby(by, sort=False)
        }
        out[f"{column}_low"] = [bounds[name].low for name in out.index]
        out[f"{column}_high"] = [bounds[name].high for name in out.index]
    return out.reindex(order) if order is not None else out


def per_fold(table: pd.DataFrame, column: str, by: str = "model") -> dict[str, np.ndarray]:
    """``{model: its values of column, fold by fold}`` from a per-fold table (:func:`rating_table`):
    the paired per-run values :func:`recsys.stats.leader` compares with ``over="runs"``."""
    if column not in table or "fold" not in table:
        raise KeyError(f"the table needs columns 'fold' and {column!r}, it has {list(table.columns)}")
    wide = table.pivot(index="fold", columns=by, values=column)
    if wide.isna().any().any():
        raise ValueError(f"not every {by} has a value of {column!r} on every fold: pairing needs the same folds")
    return {name: wide[name].to_numpy() for name in table[by].drop_duplicates()}


def ranking_table(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    progress: bool = True,
    intervals: Sequence[str] = ("ndcg", "recall"),
    return_per_user: bool = False,
    seed: int = 0,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Top-``k`` ranking quality and fit time of every model on one split: one row per model.

    Relevant test items are every test rating (``relevance_threshold=None``), or those at or
    above the threshold; implicit-feedback models learn from the training interactions as 1s
    under the same rule. Each user's training items are excluded from their recommendations.

    Each metric named in ``intervals`` (``"ndcg"``, ``"recall"``, ``"precision"``, ``"map"``...)
    gets its 95 % bootstrap interval over the evaluated users (``ndcg@10_low``, ``ndcg@10_high``;
    :func:`recsys.stats.bootstrap_mean` with ``seed``). With ``return_per_user=True`` the result is
    ``(table, per_user)``: ``per_user[metric]`` a users x models frame of the per-user values (the
    same users for every model), for paired comparisons (:func:`recsys.stats.leader`).
    """
    _, table, per_user = rank_models(
        models, split, k=k, relevance_threshold=relevance_threshold, progress=progress, intervals=intervals, seed=seed
    )
    return (table, per_user) if return_per_user else table


def rank_models(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    blas_threads: int | None = None,
    progress: bool = True,
    intervals: Sequence[str] = ("ndcg", "recall"),
    seed: int = 0,
) -> tuple[dict[str, Recommender], pd.DataFrame, dict[str, pd.DataFrame]]:
    """The one loop behind :func:`ranking_table` and :func:`recsys.experiments.families.fit_and_rank`:
    every model through :func:`fit_and_evaluate` on ``split``; returns ``(fitted models, table with
    interval columns, per-user frames)``. ``blas_threads`` caps BLAS during the scoring."""
    m = Matrices.from_split(split)
    fitted, rows, values = {}, [], {}
    for name, prototype in progress_bar(models.items(), desc="ranking models", enabled=progress):
        run = fit_and_evaluate(
            prototype,
            m,
            k=k,
            relevance_threshold=relevance_threshold,
            blas_threads=blas_threads,
            return_per_user=True,
        )
        scores = dict(run.scores)
        values[name] = scores.pop("per_user")
        rows.append({"model": name, **scores, "fit_seconds": run.seconds})
        fitted[name] = run.model
    table = pd.DataFrame(rows).set_index("model")
    per_user = per_user_tables(values, k)
    add_interval_columns(table, per_user, intervals, k, seed=seed)
    return fitted, table, per_user


def score_fitted(
    fitted: Mapping[str, Recommender],
    matrices: Matrices,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    intervals: Sequence[str] = ("ndcg",),
    seed: int = 0,
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Test ranking quality of models already fitted on ``matrices.train``, with intervals.

    The scoring half of :func:`ranking_table` (training items excluded; relevant: every test
    rating, or those ``>= relevance_threshold``), for when the chapter needs the fitted models
    themselves (their vectors, say). Returns ``(table, per_user)``: one row per model with
    ``{metric}@k``, and ``_low``/``_high`` for each metric in ``intervals``; ``per_user`` as
    :func:`ranking_table`'s, for paired comparisons.
    """
    if not fitted:
        raise ValueError("fitted must name at least one fitted model")
    relevant = binarize(matrices.test, relevance_threshold)
    rows, values = [], {}
    for name, model in fitted.items():
        scores = dict(evaluate_ranking(model, matrices.train, relevant, k=k, return_per_user=True))
        values[name] = scores.pop("per_user")
        rows.append({"model": name, **scores})
    table = pd.DataFrame(rows).set_index("model")
    per_user = per_user_tables(values, k)
    add_interval_columns(table, per_user, intervals, k, seed=seed)
    return table, per_user


def per_user_tables(values: Mapping[str, Mapping[str, np.ndarray]], k: int) -> dict[str, pd.DataFrame]:
    """``{"ndcg@k": users x models frame, ...}`` from each model's ``per_user`` dict of
    :func:`recsys.evaluation.evaluate_ranking` (the same users, in the same order, for every model)."""
    first = next(iter(values.values()))
    users = first["users"]
    for name, v in values.items():
        if not np.array_equal(v["users"], users):
            raise ValueError(
                f"model {name!r} was evaluated on other users than the first: pairing needs the same users"
            )
    metrics = [key for key in first if key not in ("users", "recommended")]
    return {
        f"{metric}@{k}": pd.DataFrame(
            {name: v[metric] for name, v in values.items()}, index=pd.Index(users, name="user")
        )
        for metric in metrics
    }


def add_interval_columns(
    table: pd.DataFrame, per_user: Mapping[str, pd.DataFrame], intervals: Sequence[str], k: int, *, seed: int = 0
) -> pd.DataFrame:
    """Add ``{metric}@k_low`` and ``_high`` to ``table`` (one row per model) for each metric named in
    ``intervals``: the 95 % bootstrap interval over the users (:func:`recsys.stats.bootstrap_mean`)."""
    for metric in intervals:
        column = f"{metric}@{k}"
        if column not in per_user:
            raise ValueError(
                f"intervals names {metric!r}; the per-user metrics are {[c.split('@')[0] for c in per_user]}"
            )
        bounds = {name: stats.bootstrap_mean(per_user[column][name].to_numpy(), seed=seed) for name in table.index}
        table[f"{column}_low"] = [bounds[name].low for name in table.index]
        table[f"{column}_high"] = [bounds[name].high for name in table.index]
    return table


def sweep(
    prototype: Recommender,
    grid: Mapping[str, Sequence],
    split: Split,
    *,
    progress: bool = True,
) -> pd.DataFrame:
    """Validation RMSE (and fit time) of ``prototype`` at every point of a parameter grid."""
    m = Matrices.from_split(split)
    names = list(grid)
    rows = []
    points = list(product(*(grid[n] for n in names)))
    for values in progress_bar(points, desc=f"{type(prototype).__name__} sweep", enabled=progress):
        point = dict(zip(names, values))
        run = fit_and_evaluate(prototype, m, params=point, evaluate="rating")
        rows.append({**point, **run.scores, "fit_seconds": run.seconds})
    return pd.DataFrame(rows)


def histories(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> dict[str, list[dict]]:
    """Each model's ``history_`` when fitted with the split's test part as the held-out data.

    Rating models record ``val_rmse`` per iteration (from ``fit(..., validation=...)``);
    models that learn from positives record ``val_ndcg@k`` and ``val_precision@k`` through
    :func:`ranking_callback`. Pass a split carved from training data
    (:func:`recsys.experiments.tuning.validation_split`) when the curves are to choose anything.
    """
    m = Matrices.from_split(split)
    out = {}
    for name, prototype in progress_bar(models.items(), desc="convergence", enabled=progress):
        watched = "rating" if prototype.learns_from == "ratings" else "ranking"
        run = fit_and_evaluate(
            prototype, m, evaluate=None, record=watched, k=k, relevance_threshold=relevance_threshold
        )
        out[name] = list(run.model.history_)
    return out


def timing_table(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    repeats: int = 3,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Median fit time of every model over ``repeats`` fits, and the time per iteration.

    Iterations are read from the fitted model's ``history_`` (epochs or ALS sweeps); models
    without one (closed-form fits) show none. The fits interleave across models so that a busy
    moment of the machine does not land on one model only.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats!r}")
    m = Matrices.from_split(split)
    times: dict[str, list[float]] = {name: [] for name in models}
    iterations: dict[str, int | None] = {}
    for _ in progress_bar(range(repeats), desc="timing", enabled=progress):
        for name, prototype in models.items():
            run = fit_and_evaluate(prototype, m, evaluate=None, relevance_threshold=relevance_threshold)
            times[name].append(run.seconds)
            iterations[name] = len(run.history) if run.history else None
    rows = []
    for name in models:
        median = statistics.median(times[name])
        n_iter = iterations[name]
        rows.append(
            {
                "model": name,
                "fit_seconds_median": median,
                "fit_seconds_min": min(times[name]),
                "iterations": n_iter,
                "seconds_per_iteration": median / n_iter if n_iter else None,
            }
        )
    return pd.DataFrame(rows).set_index("model")
