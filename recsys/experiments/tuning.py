"""The one tuner: hyperparameters (and epochs) chosen on validation data carved from training data.

Every chapter that chooses anything goes through :func:`tune`:

* **where it looks**: :func:`validation_split` carves a validation part out of each split's
  *training* part (per user, as the top-N protocol splits, or uniformly at random, as the rating
  folds do); the test part is never turned into a matrix, let alone scored;
* **what it compares**: every point of a grid, fitted on the rest of the training part and
  scored on the validation part by a ranking metric (``ndcg@k`` by default for models that learn
  from positives) or a rating metric (``rmse`` by default for rating models), averaged over folds;
* **early stopping**: for models that train for epochs, each grid point is fitted once with its
  validation score recorded after every epoch (:func:`recsys.experiments.ranking_callback`, or
  the model's own ``val_rmse``); its score is that of its best epoch, and the chosen
  ``iterations`` is the best epoch of the chosen point. Models with an ``early_stopping``
  hyperparameter also stop training once ``patience`` epochs pass without a better score.

:func:`scores_on_test` is the one thing here that reads a test part: what each grid point would
score there, to *report* what choosing on the test set would have (optimistically) gained. It
never feeds a choice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone

from recsys.checks import check_integer
from recsys.experiments.harness import Matrices, fit_and_evaluate
from recsys.interactions import IdMap
from recsys.models.base import Recommender
from recsys.progress import bar as progress_bar
from recsys.splits import Split, random_holdout, stratified_holdout

#: ``features(idmap) -> {parameter: value}``: side information built for one split's index space.
Features = Callable[[IdMap], Mapping]

#: Metrics where lower is better; every other metric is maximised.
LOWER_IS_BETTER = ("rmse", "mae")

__all__ = [
    "Features",
    "Tuned",
    "budget_points",
    "early_stopped",
    "first_values",
    "grid_points",
    "scores_on_test",
    "tune",
    "validation_split",
]


def validation_split(
    split: Split,
    *,
    how: Literal["per-user", "random"] = "per-user",
    size: float = 0.25,
    seed: int = 0,
) -> Split:
    """A validation split carved from the *training part* of ``split``, for choosing hyperparameters.

    ``"per-user"``: each user's training ratings split ``1 - size`` / ``size``
    (:func:`recsys.splits.stratified_holdout`, the top-N protocol); ``"random"``: a uniformly
    random ``size`` of them held out with unseen users and items kept
    (:func:`recsys.splits.random_holdout`, the rating folds' protocol). The test part of ``split``
    stays untouched until the chosen model is scored on it once.
    """
    if how == "per-user":
        return stratified_holdout(split.train, 1.0 - size, seed=seed)
    if how == "random":
        return random_holdout(split.train, size, seed=seed, unseen="keep")
    raise ValueError(f"how must be 'per-user' or 'random', got {how!r}")


def grid_points(grid: Mapping[str, Sequence]) -> list[dict]:
    """Every combination of a ``{hyperparameter: values}`` grid, the last name varying fastest."""
    names = list(grid)
    return [dict(zip(names, values)) for values in product(*(grid[n] for n in names))]


def budget_points(grid: Mapping[str, Sequence], budget: int, seed: int = 0) -> list[dict]:
    """At most ``budget`` points of a grid, for tuning every model with the same budget: all of
    them when the grid has no more, else its first point (the defaults) and ``budget - 1`` others
    drawn at random without replacement (seeded), in grid order."""
    budget = check_integer("budget", budget, 1)
    points = grid_points(grid)
    if len(points) <= budget:
        return points
    rng = np.random.default_rng(seed)
    others = np.sort(rng.choice(np.arange(1, len(points)), size=budget - 1, replace=False))
    return [points[0]] + [points[i] for i in others]


def first_values(grid: Mapping[str, Sequence]) -> dict[str, list]:
    """The one-point grid of each list's first value: a chapter's defaults when it does not search."""
    return {key: list(values)[:1] for key, values in grid.items()}


def early_stopped(model: Recommender) -> bool:
    """Whether ``model`` stops training on a validation score itself (an ``early_stopping`` hyperparameter)."""
    return "early_stopping" in model.get_params()


@dataclass
class Tuned:
    """The outcome of :func:`tune` for one model."""

    model: Recommender  #: unfitted, with the chosen hyperparameters (``iterations`` = the best epoch)
    params: dict  #: the chosen hyperparameters
    table: pd.DataFrame  #: one row per grid point: validation score (and its spread, best epoch), fit seconds
    history: list[dict] = field(default_factory=list)  #: the chosen point's per-epoch history (first fold)
    metric: str = ""  #: the validation entry that chose (``val_ndcg@10``, ``val_rmse``...)
    stopped_early: bool = False  #: the chosen point stopped before its epoch budget

    @property
    def best(self) -> float:
        """The chosen point's validation score."""
        values = self.table[self.metric].to_numpy()
        return float(np.nanmin(values) if _lower_is_better(self.metric) else np.nanmax(values))


def _lower_is_better(metric: str) -> bool:
    return metric.removeprefix("val_") in LOWER_IS_BETTER


def _index(points: list[dict], names: list[str]) -> pd.Index | None:
    if not names:
        return None
    if len(names) == 1:
        return pd.Index([p[names[0]] for p in points], name=names[0])
    return pd.MultiIndex.from_tuples([tuple(p[n] for n in names) for p in points], names=names)


def tune(
    prototype: Recommender,
    grid: Mapping[str, Sequence] | Sequence[Mapping],
    split: Split | Sequence[Split],
    *,
    metric: str | None = None,
    k: int = 10,
    validation: Literal["per-user", "random"] = "per-user",
    validation_size: float = 0.25,
    epochs: bool | None = None,
    patience: int | None = None,
    features: Features | None = None,
    relevance_threshold: float | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Tuned:
    """Pick the grid point (and, for models trained in epochs, the epoch) with the best validation score.

    ``split`` is one split or several folds. In fold ``f`` the validation part is
    :func:`validation_split` of its training part (``how=validation``, ``size=validation_size``,
    ``seed + f``); the test parts are never looked at. ``metric`` is a key of
    :func:`recsys.evaluation.evaluate_ranking` (``ndcg@k``, ``precision@k``, ...; maximised) or of
    :func:`recsys.evaluation.evaluate_ratings` (``rmse``, ``mae``; minimised); by default ``rmse``
    for a rating model and ``ndcg@k`` for one that learns from positives. A point's score is its
    mean over folds (``val_<metric>``, with ``val_<metric>_std`` for several folds).

    ``epochs`` (default: the model has an ``early_stopping`` hyperparameter) chooses the epoch too:
    each point is fitted once with the validation score recorded after every epoch, the ``early_stopping``
    hyperparameter (if any) set to that score (``patience`` overrides the model's own), and scored
    by its best epoch; the chosen ``iterations`` is that epoch. Otherwise each point is fitted and
    then scored. Early stopping chooses on one validation split (one ``split``), by ``ndcg@k``,
    ``precision@k`` or ``rmse``. ``features`` builds side information (e.g. a factorization
    machine's feature matrices) for each validation split's index space; the returned model carries
    none, so set the outer split's yourself. An empty grid scores the prototype as it is. ``grid``
    may also be a list of explicit points (dicts setting the same hyperparameters), as
    :func:`budget_points` draws them.
    """
    folds = [split] if isinstance(split, Split) else list(split)
    if not folds:
        raise ValueError("split: give a split or a non-empty list of folds to tune on")
    metric = metric or ("rmse" if prototype.learns_from == "ratings" else f"ndcg@{k}")
    task = "rating" if metric in LOWER_IS_BETTER else "ranking"
    key = f"val_{metric}"
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    by_epoch = early_stopped(prototype) if epochs is None else bool(epochs)
    if by_epoch:
        recorded = ("rmse",) if task == "rating" else (f"ndcg@{k}", f"precision@{k}")
        if metric not in recorded:
            raise ValueError(f"early stopping reads the per-epoch validation record: metric must be one of {recorded}")
        if len(folds) > 1:
            raise ValueError("early stopping chooses the epoch on one validation split: pass one split, not folds")
    if isinstance(grid, Mapping):
        names, points = list(grid), grid_points(grid)
    else:  # explicit points (an equal-budget sample of a grid, say)
        points = [dict(point) for point in grid]
        names = list(dict.fromkeys(name for point in points for name in point))
        if any(list(point) != names for point in points):
            raise ValueError(f"every explicit grid point must set the same hyperparameters in one order, got {points}")
    scores = np.full((len(points), len(folds)), np.nan)
    seconds = np.zeros_like(scores)
    best_epoch = np.zeros(len(points), dtype=np.int64)
    histories: list[list[dict]] = []
    stopped: list[bool] = []
    bar = progress_bar(total=len(points) * len(folds), desc=f"tuning {type(prototype).__name__}", enabled=progress)
    for f, fold in enumerate(folds):
        inner = Matrices.from_split(validation_split(fold, how=validation, size=validation_size, seed=seed + f))
        extra = dict(features(inner.idmap)) if features is not None else {}
        for p, point in enumerate(points):
            params = {**point, **extra}
            if by_epoch and early_stopped(prototype):
                params["early_stopping"] = key
                if patience is not None:
                    params["patience"] = patience
            run = fit_and_evaluate(
                prototype,
                inner,
                params=params,
                evaluate=None if by_epoch else task,
                record=task if by_epoch else None,
                k=k,
                relevance_threshold=relevance_threshold,
            )
            seconds[p, f] = run.seconds
            if by_epoch:
                scored = [h for h in run.history if h.get(key) is not None]
                if not scored:
                    raise RuntimeError(
                        f"{type(prototype).__name__} recorded no {key} per epoch: it cannot be early-stopped"
                    )
                best = max(scored, key=lambda h: sign * h[key])
                scores[p, f], best_epoch[p] = best[key], best["iteration"]
                stopped.append(len(run.history) < run.model.get_params().get("iterations", len(run.history)))
            else:
                scores[p, f] = run.scores[metric]
                stopped.append(False)
            if f == 0:
                histories.append(run.history)
            bar.update()
    bar.close()
    mean = scores.mean(axis=1)
    table = pd.DataFrame({key: mean})
    if len(folds) > 1:
        table[f"{key}_std"] = scores.std(axis=1, ddof=1)
    if by_epoch:
        table["best_iteration"] = best_epoch
    table["fit_seconds"] = seconds.mean(axis=1)
    index = _index(points, names)
    if index is not None:
        table.index = index
    choice = int(np.nanargmax(sign * mean))
    params = dict(points[choice])
    chosen = clone(prototype).set_params(**params)
    if by_epoch:
        params["iterations"] = int(best_epoch[choice])
        chosen.set_params(iterations=params["iterations"])
        if early_stopped(chosen):
            chosen.set_params(early_stopping=None)
    return Tuned(chosen, params, table, histories[choice], key, bool(stopped[choice]))


def scores_on_test(
    prototype: Recommender,
    grid: Mapping[str, Sequence],
    split: Split | Sequence[Split],
    *,
    metric: str | None = None,
    k: int = 10,
    relevance_threshold: float | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Each grid point refitted on the whole training part and scored on the *test* part: reported, never used.

    One column, ``test_<metric>`` (mean over folds), indexed like :func:`tune`'s table. The test
    score of the validation choice minus the best test score in this table is what tuning on the
    test set would have (optimistically) gained; :func:`tune` itself never calls this.
    """
    folds = [split] if isinstance(split, Split) else list(split)
    metric = metric or ("rmse" if prototype.learns_from == "ratings" else f"ndcg@{k}")
    task = "rating" if metric in LOWER_IS_BETTER else "ranking"
    names = list(grid)
    points = grid_points(grid)
    scores = np.zeros((len(points), len(folds)))
    bar = progress_bar(total=scores.size, desc=f"{type(prototype).__name__} on test", enabled=progress)
    for f, fold in enumerate(folds):
        outer = Matrices.from_split(fold)
        for p, point in enumerate(points):
            run = fit_and_evaluate(
                prototype, outer, params=point, evaluate=task, k=k, relevance_threshold=relevance_threshold
            )
            scores[p, f] = run.scores[metric]
            bar.update()
    bar.close()
    return pd.DataFrame({f"test_{metric}": scores.mean(axis=1)}, index=_index(points, names))


#: Constructor arguments that are settings of the computation, not hyperparameters of the model.
_NOT_HYPERPARAMETERS = frozenset(
    {
        "random_state",
        "num_threads",
        "dtype",
        "calculate_training_loss",
        "solver",
        "use_cg",
        "verify_negative_samples",
        "eval_every",
        "rating_range",
    }
)


def _same(value, default) -> bool:
    try:
        return type(value) is type(default) and bool(value == default)
    except (TypeError, ValueError):  # arrays and other values without a plain ==
        return value is default


def _shown(value) -> str:
    if isinstance(value, BaseEstimator):
        return type(value).__name__
    return f"{value:g}" if isinstance(value, float) else str(value)


def protocol_table(models: Mapping[str, Recommender], tuned: Mapping[str, Iterable[str]] | None = None) -> pd.DataFrame:
    """How every hyperparameter of each model was set, for the disclosure beside a results table.

    One row per model: ``chosen on validation`` (the names in ``tuned[model]``, picked by
    :func:`tune` in the chapter), ``set by the chapter`` (other arguments that differ from the
    class default, with their values), ``library defaults kept`` (with their values) and
    ``defaults from`` (the class's :attr:`~recsys.models.base.Recommender.defaults_source`, or
    "not recorded"): a default picked on the test folds a chapter reports on makes that number
    optimistic, and the reader must be told. Settings of the computation (seeds, threads, dtype,
    solvers) are left out.
    """
    tuned = dict(tuned or {})
    unknown = sorted(set(tuned) - set(models))
    if unknown:
        raise ValueError(f"tuned names model(s) {unknown} that are not in models {list(models)}")
    rows = []
    for name, model in models.items():
        params = model.get_params(deep=False)
        chosen = list(tuned.get(name, ()))
        missing = [p for p in chosen if p not in params]
        if missing:
            raise ValueError(f"tuned[{name!r}] names {missing}, which {type(model).__name__} does not take")
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(model).__init__).parameters.values()
            if p.default is not inspect.Parameter.empty
        }
        free = [p for p in params if p not in chosen and p not in _NOT_HYPERPARAMETERS]
        kept = [p for p in free if p in defaults and _same(params[p], defaults[p])]
        set_here = [p for p in free if p not in kept]
        rows.append(
            {
                "model": name,
                "chosen on validation": ", ".join(f"{p}={_shown(params[p])}" for p in chosen) or "-",
                "set by the chapter": ", ".join(f"{p}={_shown(params[p])}" for p in set_here) or "-",
                "library defaults kept": ", ".join(f"{p}={_shown(params[p])}" for p in kept) or "-",
                "defaults from": (type(model).defaults_source or "not recorded") if kept else "-",
            }
        )
    return pd.DataFrame(rows).set_index("model")
