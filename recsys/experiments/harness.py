"""The experiment harness the notebooks share: turn splits into matrices, then fit, time and
evaluate many models the same way.

Models are passed as unfitted estimators in a ``{name: model}`` dict; each fold gets a fresh
``sklearn.base.clone``, so nothing leaks between folds. Each model declares what it learns from
(``learns_from``, see :mod:`recsys.models.base`): rating models get the ratings, the
implicit-feedback models the interactions as 1s (every rating is a positive unless a
``relevance_threshold`` says otherwise), by :func:`model_input`. Everything is scored by
:mod:`recsys.evaluation`; iterative models report validation quality per iteration through the
callback of :func:`ranking_callback`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import product

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone

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


def fit(prototype: Recommender, train: sp.csr_matrix, relevance_threshold: float | None = None) -> Recommender:
    """A fresh clone of ``prototype`` fitted on what it learns from (:func:`model_input`)."""
    model = clone(prototype)
    return model.fit(model_input(model, train, relevance_threshold))


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
            model = clone(prototype)
            seconds = fit_timed(model, m.train)
            scores = evaluate_ratings(model, m.test_triplets if count_unseen else m.test)
            rows.append({"model": name, "fold": f, **scores, "fit_seconds": seconds})
            bar.update()
    bar.close()
    return pd.DataFrame(rows)


def summarise(table: pd.DataFrame, by: str = "model", order: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and standard deviation over folds of each numeric column, one row per ``by``."""
    numeric = table.drop(columns=[c for c in ("fold",) if c in table]).select_dtypes("number").columns
    out = table.groupby(by, sort=False)[list(numeric)].agg(["mean", "std"])
    out.columns = [f"{col}_{stat}" if stat == "std" else col for col, stat in out.columns]
    return out.reindex(order) if order is not None else out


def ranking_table(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    k: int = 10,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Top-``k`` ranking quality and fit time of every model on one split: one row per model.

    Relevant test items are every test rating (``relevance_threshold=None``), or those at or
    above the threshold; implicit-feedback models learn from the training interactions as 1s
    under the same rule. Each user's training items are excluded from their recommendations.
    """
    m = Matrices.from_split(split)
    relevant = binarize(m.test, relevance_threshold)
    rows = []
    for name, prototype in progress_bar(models.items(), desc="ranking models", enabled=progress):
        model = clone(prototype)
        seconds = fit_timed(model, model_input(model, m.train, relevance_threshold))
        scores = evaluate_ranking(model, m.train, relevant, k=k)
        rows.append({"model": name, **scores, "fit_seconds": seconds})
    return pd.DataFrame(rows).set_index("model")


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
        model = clone(prototype).set_params(**dict(zip(names, values)))
        seconds = fit_timed(model, m.train)
        rows.append({**dict(zip(names, values)), **evaluate_ratings(model, m.test_triplets), "fit_seconds": seconds})
    return pd.DataFrame(rows)


def histories(
    models: Mapping[str, Recommender],
    split: Split,
    *,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> dict[str, list[dict]]:
    """Each model's ``history_`` when fitted with the split's test part as the held-out data.

    Rating models record ``val_rmse`` per iteration (from ``fit(..., validation=...)``);
    models that learn from positives record ``val_ndcg@10`` and ``val_precision@10`` through
    :func:`ranking_callback`. Pass a split carved from training data
    (:func:`validation_split`) when the curves are to choose anything.
    """
    m = Matrices.from_split(split)
    out = {}
    for name, prototype in progress_bar(models.items(), desc="convergence", enabled=progress):
        model = clone(prototype)
        X = model_input(model, m.train, relevance_threshold)
        if model.learns_from == "ratings":
            model.fit(X, validation=m.test)
        else:
            model.fit(X, callback=ranking_callback(X, m.test, relevance_threshold=relevance_threshold))
        out[name] = list(model.history_)
    return out


def validation_split(split: Split, *, train_ratio: float = 0.75, seed: int = 0) -> Split:
    """A per-user stratified split *of the training part* of ``split``, for choosing hyperparameters.

    The test part of ``split`` stays untouched until the chosen model is scored on it once.
    """
    from recsys.splits import stratified_holdout

    return stratified_holdout(split.train, train_ratio, seed=seed)


def tune_ranking(
    prototype: Recommender,
    grid: Mapping[str, Sequence],
    split: Split,
    *,
    k: int = 10,
    metric: str | None = None,
    relevance_threshold: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> tuple[dict, pd.DataFrame]:
    """Pick the grid point with the best validation ``metric`` (default ``ndcg@k``).

    The validation split is carved from ``split.train`` (:func:`validation_split`), so the test
    set is never looked at. Returns the best parameters and the table of every grid point.
    """
    metric = metric or f"ndcg@{k}"
    inner = validation_split(split, seed=seed)
    names = list(grid)
    points = [dict(zip(names, values)) for values in product(*(grid[n] for n in names))]
    models = {str(point): clone(prototype).set_params(**point) for point in points}
    table = ranking_table(models, inner, k=k, relevance_threshold=relevance_threshold, progress=progress)
    best = points[int(np.nanargmax(table[metric].to_numpy()))]
    if len(names) == 1:
        table.index = pd.Index([p[names[0]] for p in points], name=names[0])
    else:
        table.index = pd.MultiIndex.from_tuples([tuple(p.values()) for p in points], names=names)
    return best, table


def tune_rating(
    prototype: Recommender,
    grid: Mapping[str, Sequence],
    folds: Sequence[Split],
    *,
    validation_size: float = 0.2,
    seed: int = 0,
    progress: bool = True,
) -> tuple[dict, pd.DataFrame]:
    """Pick the grid point with the lowest *validation* RMSE, averaged over ``folds``.

    In each fold, a random ``validation_size`` of the *training* ratings is held out
    (:func:`recsys.splits.random_holdout`, unseen ids kept and scored by the fallbacks, as in
    :func:`rating_table`); each grid point is fitted on the rest and scored on it. The fold's test
    ratings play no part in the choice.

    Returns the best parameters and a table with one row per grid point: ``val_rmse`` (the
    criterion, mean over folds) and ``test_rmse``, the same grid point refitted on the whole
    training part and scored on the test part. ``test_rmse`` is reported, never used: the
    difference between the test RMSE of the validation choice and the best ``test_rmse`` in the
    table is what tuning on the test folds would have (optimistically) gained.
    """
    from recsys.splits import random_holdout

    names = list(grid)
    if not names:
        raise ValueError("grid is empty: give at least one hyperparameter with a list of values")
    points = [dict(zip(names, values)) for values in product(*(grid[n] for n in names))]
    val = np.zeros((len(points), len(folds)))
    test = np.zeros_like(val)
    bar = progress_bar(total=len(points) * len(folds), desc=f"{type(prototype).__name__} tuning", enabled=progress)
    for f, split in enumerate(folds):
        inner = Matrices.from_split(random_holdout(split.train, validation_size, seed=seed + f, unseen="keep"))
        outer = Matrices.from_split(split)
        for p, point in enumerate(points):
            model = clone(prototype).set_params(**point)
            model.fit(inner.train)
            val[p, f] = evaluate_ratings(model, inner.test_triplets)["rmse"]
            model = clone(prototype).set_params(**point)
            model.fit(outer.train)
            test[p, f] = evaluate_ratings(model, outer.test_triplets)["rmse"]
            bar.update()
    bar.close()
    table = pd.DataFrame(
        {
            "val_rmse": val.mean(axis=1),
            "val_rmse_std": val.std(axis=1, ddof=1) if len(folds) > 1 else 0.0,
            "test_rmse": test.mean(axis=1),
        }
    )
    if len(names) == 1:
        table.index = pd.Index([p[names[0]] for p in points], name=names[0])
    else:
        table.index = pd.MultiIndex.from_tuples([tuple(p.values()) for p in points], names=names)
    best = points[int(np.argmin(val.mean(axis=1)))]
    return best, table


def early_stopping(
    prototype: Recommender,
    split: Split,
    *,
    k: int = 10,
    metric: str | None = None,
    relevance_threshold: float | None = None,
    seed: int = 0,
) -> tuple[int, list[float]]:
    """The number of iterations at which ``prototype`` peaks on validation data, and the curve.

    The model is fitted once on :func:`validation_split` of ``split`` (carved from the training
    part) with :func:`ranking_callback`; the iteration with the best ``metric`` (default
    ``val_ndcg@k``) is returned with the per-iteration values. Refit with
    ``set_params(iterations=best)`` on the whole training part: early stopping without the test set.
    """
    metric = metric or f"val_ndcg@{k}"
    inner = Matrices.from_split(validation_split(split, seed=seed))
    model = clone(prototype)
    X = model_input(model, inner.train, relevance_threshold)
    model.fit(X, callback=ranking_callback(X, inner.test, k=k, relevance_threshold=relevance_threshold))
    curve = [float(h[metric]) for h in model.history_]
    return int(np.argmax(curve)) + 1, curve


def tune_all(
    candidates: Mapping[str, tuple[Recommender, Mapping[str, Sequence]]],
    split: Split,
    *,
    k: int = 10,
    seed: int = 0,
    enabled: bool = True,
    progress: bool = True,
) -> tuple[dict[str, Recommender], dict[str, pd.DataFrame]]:
    """:func:`tune_ranking` for each ``name: (prototype, grid)``; returns the tuned models and tables.

    With ``enabled=False`` every model takes the first value of each grid list (no fitting); an
    empty grid means the model is used as it is.
    """
    chosen, tables = {}, {}
    for name, (prototype, grid) in candidates.items():
        if enabled and grid:
            best, tables[name] = tune_ranking(prototype, grid, split, k=k, seed=seed, progress=progress)
        else:
            best = {key: values[0] for key, values in grid.items()}
        chosen[name] = clone(prototype).set_params(**best)
    return chosen, tables


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
            model = clone(prototype)
            times[name].append(fit_timed(model, model_input(model, m.train, relevance_threshold)))
            history = getattr(model, "history_", None)
            iterations[name] = len(history) if history else None
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
