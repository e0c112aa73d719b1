"""Every ranking model on equal terms: the same splits, the same tuning budget, intervals over draws.

Reproducibility studies of the field (Dacrema et al., RecSys 2019; Rendle et al., RecSys 2022)
found that simple baselines, tuned as carefully as the new model, often match it. A fair table
needs three things this module provides:

* **the same splits** for every model: a :class:`Protocol` draws one (per-user random 75/25, Microsoft
  Recommenders' item-stratified split, per-user temporal), once per seed when it is random;
* **the same tuning budget**: on each draw, every model is tuned on validation data carved from
  that draw's training part (:func:`recsys.experiments.tuning.tune`) over at most ``budget`` points
  of its grid (:func:`recsys.experiments.tuning.budget_points`: the defaults and a seeded sample),
  epochs chosen by early stopping where a model trains in epochs; the test part is never looked at
  before the chosen models are scored on it;
* **intervals that say what another draw would do**: each model's test nDCG and recall averaged
  over the draws with a Student-t interval over them, and every model's paired difference from a
  reference over the same draws (:func:`recsys.stats.paired_over_runs`); with one draw, bootstrap
  intervals over its users (:func:`recsys.stats.paired_difference`).

:func:`run_leaderboard` returns a :class:`Board` (every draw's test table, chosen hyperparameters
and per-user values); :func:`board_table` and :func:`board_differences` summarise it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recsys import stats
from recsys.checks import check_integer, to_jsonable
from recsys.experiments import tuning
from recsys.experiments.families import Candidate
from recsys.experiments.harness import Matrices, rank_models, rating_table, summarise
from recsys.splits import Split, recommenders_split, stratified_holdout, user_temporal_holdout

__all__ = [
    "FAMILIES",
    "GRIDS",
    "PROTOCOLS",
    "RATING_GRIDS",
    "Board",
    "Protocol",
    "board_differences",
    "board_table",
    "group_gap",
    "line_up",
    "line_up_table",
    "rating_board",
    "rating_line_up",
    "run_leaderboard",
]


@dataclass(frozen=True)
class Protocol:
    """How a draw of the split is made: ``split(ratings, seed)``; ``random`` is False for a split
    that does not depend on the seed (one draw is all there is)."""

    name: str
    split: Callable[[pd.DataFrame, int], Split]
    random: bool = True


#: The splits of the leaderboard, by name.
PROTOCOLS: dict[str, Protocol] = {
    "per-user 75/25": Protocol("per-user 75/25", lambda ratings, seed: stratified_holdout(ratings, 0.75, seed=seed)),
    "item-stratified 75/25 (Microsoft Recommenders)": Protocol(
        "item-stratified 75/25 (Microsoft Recommenders)",
        lambda ratings, seed: recommenders_split(ratings, 0.75, seed=seed, by="item"),
    ),
    "per-user temporal 75/25": Protocol(
        "per-user temporal 75/25", lambda ratings, seed: user_temporal_holdout(ratings, 0.75), random=False
    ),
}


#: Every ranking model's grid (first values: its defaults, the point every budget includes).
#: Values around the ones the literature tunes (Dacrema et al. 2019 for the neighbourhood models
#: and SLIM; Rendle et al. 2022 for iALS; Steck 2019 for EASE; notebook 07 for the others). iALS's
#: first values are the best of a 5 x 5 scan of ``regularization`` and ``unobserved_weight`` at 128
#: factors on the *validation* part of ML-100K's per-user split (seed 42), never its test part.
GRIDS: dict[str, dict[str, list]] = {
    "popularity": {},
    "item-kNN": {"neighbours": [100, 50, 200, 400], "shrink": [10.0, 0.0, 50.0, 200.0]},
    "user-kNN": {"neighbours": [100, 50, 200, 400], "shrink": [10.0, 0.0, 50.0, 200.0]},
    "P3alpha": {"alpha": [1.0, 0.5, 0.8, 1.2], "neighbours": [100, 50, 200], "normalize": [False, True]},
    "RP3beta": {"alpha": [1.0, 0.5, 0.8, 1.2], "beta": [0.5, 0.2, 0.3, 0.4, 0.6], "neighbours": [100, 50, 200]},
    "SLIM": {"alpha": [0.01, 0.001, 0.003, 0.03], "l1_ratio": [0.1, 0.01, 0.5]},
    "EASE": {"regularization": [300.0, 100.0, 200.0, 500.0, 800.0]},
    "PureSVD": {"factors": [20, 10, 50, 100, 200]},
    "implicit ALS": {"factors": [200, 64, 128], "regularization": [30.0, 10.0, 100.0], "alpha": [3.0, 1.0, 10.0]},
    "iALS": {
        "factors": [128, 64, 256],
        "regularization": [0.03, 0.01, 0.1, 0.003],
        "unobserved_weight": [0.1, 0.03, 0.3, 1.0],
    },
    "BPR": {"factors": [64, 128], "learning_rate": [0.05, 0.01, 0.1], "regularization": [0.001, 0.01]},
    "Mult-VAE": {"hidden": [200, 600], "factors": [100, 200], "regularization": [0.0, 0.01], "anneal_epochs": [20, 60]},
    "LightGCN": {"factors": [128, 64], "regularization": [0.003, 0.001, 0.01], "init_std": [0.2, 0.5]},
    "FM": {"factors": [64, 128], "regularization": [0.03, 0.01, 0.1]},
}

#: Each model's family, for tables and figures.
FAMILIES: dict[str, str] = {
    "popularity": "baseline",
    "item-kNN": "neighbourhood",
    "user-kNN": "neighbourhood",
    "P3alpha": "graph walk",
    "RP3beta": "graph walk",
    "SLIM": "linear",
    "EASE": "linear",
    "PureSVD": "MF",
    "implicit ALS": "MF",
    "iALS": "MF",
    "BPR": "MF",
    "Mult-VAE": "neural",
    "LightGCN": "neural",
    "FM": "neural",
}


def line_up(
    names: Sequence[str] | None = None,
    *,
    grids: Mapping[str, Mapping[str, Sequence]] | None = None,
    max_epochs: int = 100,
    seed: int = 0,
) -> dict[str, Candidate]:
    """The leaderboard's ranking models (``names``, default: all of :data:`GRIDS`, in its order),
    each with its grid (``grids`` replaces a model's whole grid). Models trained in epochs get
    ``max_epochs`` and choose their epoch on validation (early stopping; BPR, which does not stop
    itself, is scored on validation after every epoch and the best epoch kept, as notebook 03 does).
    Seeds are ``seed``; SLIM fits its columns on every core."""
    from recsys.models import (
        BPR,
        EASE,
        IALS,
        SLIM,
        FactorizationMachine,
        ImplicitALS,
        ItemKNN,
        LightGCN,
        MultVAE,
        P3Alpha,
        Popularity,
        PureSVD,
        RP3Beta,
        UserKNN,
    )

    epochs = check_integer("max_epochs", max_epochs, 1)
    prototypes = {
        "popularity": lambda: Popularity(),
        "item-kNN": lambda: ItemKNN(),
        "user-kNN": lambda: UserKNN(),
        "P3alpha": lambda: P3Alpha(),
        "RP3beta": lambda: RP3Beta(),
        "SLIM": lambda: SLIM(num_threads=0),
        "EASE": lambda: EASE(),
        "PureSVD": lambda: PureSVD(centering="none", random_state=seed),
        "implicit ALS": lambda: ImplicitALS(iterations=15, random_state=seed),
        "iALS": lambda: IALS(iterations=16, random_state=seed),
        "BPR": lambda: BPR(iterations=epochs, random_state=seed),
        "Mult-VAE": lambda: MultVAE(iterations=epochs, random_state=seed),
        "LightGCN": lambda: LightGCN(iterations=epochs, random_state=seed),
        "FM": lambda: FactorizationMachine(iterations=epochs, batch_size=8192, learning_rate=0.02, random_state=seed),
    }
    names, grids = _chosen(names, grids, GRIDS, "leaderboard model")
    return {
        name: Candidate(
            prototypes[name](),
            grids[name],
            family=FAMILIES[name],
            epochs=True if name == "BPR" else None,
        )
        for name in names
    }


#: The rating models' grids (first values: their defaults), for :func:`rating_board`.
RATING_GRIDS: dict[str, dict[str, list]] = {
    "global mean": {},
    "biases": {"user_damping": [5.0, 2.0, 10.0, 25.0], "item_damping": [2.0, 5.0, 10.0, 25.0]},
    "ALS": {"factors": [50, 20, 100], "regularization": [13.0, 5.0, 10.0, 20.0]},
    "SVD-impute": {"factors": [100, 50, 20], "shrinkage": [13.0, 5.0, 20.0]},
    "SGD": {"factors": [100, 50, 200], "regularization": [0.02, 0.05, 0.1], "iterations": [20, 50]},
    "BPMF": {"factors": [10, 5, 20]},
}


def rating_line_up(
    names: Sequence[str] | None = None, *, grids: Mapping[str, Mapping[str, Sequence]] | None = None, seed: int = 0
) -> dict[str, Candidate]:
    """The rating models of notebook 03 (``names``, default all of :data:`RATING_GRIDS`) with their grids."""
    from recsys.models import ALS, BPMF, SGD, BiasModel, GlobalMean, SVDImpute

    prototypes = {
        "global mean": lambda: GlobalMean(),
        "biases": lambda: BiasModel(),
        "ALS": lambda: ALS(random_state=seed),
        "SVD-impute": lambda: SVDImpute(random_state=seed),
        "SGD": lambda: SGD(random_state=seed),
        "BPMF": lambda: BPMF(samples=100, burn_in=20, random_state=seed),
    }
    names, grids = _chosen(names, grids, RATING_GRIDS, "rating model")
    return {name: Candidate(prototypes[name](), grids[name]) for name in names}


def _chosen(names, grids, defaults: Mapping[str, Mapping], kind: str) -> tuple[list[str], dict[str, dict]]:
    """The models asked for (default: every one of ``defaults``) and each one's grid (``grids``
    replacing the default); an unknown name, asked for or given a grid, is refused."""
    names = list(defaults) if names is None else list(names)
    grids = dict(grids or {})
    unknown = sorted((set(names) | set(grids)) - set(defaults))
    if unknown:
        raise KeyError(f"no {kind} {unknown}; the models are {list(defaults)}")
    return names, {name: dict(grids.get(name, defaults[name])) for name in names}


def rating_board(
    folds: Sequence[Split],
    candidates: Mapping[str, Candidate],
    *,
    budget: int,
    seed: int = 0,
    validation_size: float = 0.2,
    tune_folds: int | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, dict]]:
    """Every rating model tuned with the same ``budget`` of grid points on validation data carved at
    random from the training parts of the first ``tune_folds`` folds (default: all; one choice for
    every fold, by mean validation RMSE; the test folds are never looked at), then fitted on each
    fold's training part and scored on its test part. Returns the summary (mean RMSE and MAE with
    their Student-t intervals over folds, fit seconds), the per-fold table and the chosen
    hyperparameters."""
    budget = check_integer("budget", budget, 1)
    if not folds:
        raise ValueError("folds must hold at least one split")
    tuned_on = list(folds)[: check_integer("tune_folds", tune_folds, 1, len(folds))] if tune_folds else list(folds)
    models, chosen = {}, {}
    for name, candidate in candidates.items():
        points = tuning.budget_points(candidate.grid, budget, seed=seed) if candidate.grid else {}
        tuned = tuning.tune(
            candidate.model,
            points,
            tuned_on,
            metric="rmse",
            validation="random",
            validation_size=validation_size,
            epochs=False,
            seed=seed,
            progress=progress,
        )
        models[name], chosen[name] = tuned.model, to_jsonable(tuned.params)
    per_fold = rating_table(models, folds, progress=progress)
    summary = summarise(per_fold, order=list(models), intervals=["rmse", "mae"])
    return summary, per_fold, chosen


@dataclass
class Board:
    """One protocol's leaderboard: per draw (seed), the test table and what was chosen."""

    protocol: str
    budget: int
    k: int
    tables: dict[int, pd.DataFrame]  #: seed -> one row per model: test metrics, intervals over users, fit seconds
    chosen: dict[int, dict[str, dict]]  #: seed -> model -> chosen hyperparameters
    per_user: dict[int, dict[str, pd.DataFrame]] = field(default_factory=dict)  #: seed -> metric -> users x models
    tuning_points: dict[int, dict[str, int]] = field(default_factory=dict)  #: seed -> model -> points tried

    @property
    def seeds(self) -> list[int]:
        return list(self.tables)

    @property
    def models(self) -> list[str]:
        return list(next(iter(self.tables.values())).index)

    def per_draw(self, metric: str) -> pd.DataFrame:
        """Draws x models: each model's mean test ``metric`` (a column of the tables) on each draw."""
        return pd.DataFrame({seed: table[metric] for seed, table in self.tables.items()}).T.rename_axis("seed")


def run_leaderboard(
    data,
    candidates: Mapping[str, Candidate],
    protocol: Protocol | str,
    seeds: Sequence[int],
    *,
    budget: int,
    k: int = 10,
    progress: bool = True,
) -> Board:
    """Tune every candidate on each draw's validation data with at most ``budget`` grid points,
    fit the chosen model on the draw's training part and rank it on its test part.

    The validation part is :func:`recsys.experiments.tuning.validation_split` of the training
    part (per user, 25 %), the choice by validation ``ndcg@k`` (a model trained in epochs also
    chooses its epoch there). A protocol that is not random runs one draw, whatever ``seeds``.
    """
    if isinstance(protocol, str):
        if protocol not in PROTOCOLS:
            raise KeyError(f"unknown protocol {protocol!r}; the protocols are {sorted(PROTOCOLS)}")
        protocol = PROTOCOLS[protocol]
    budget = check_integer("budget", budget, 1)
    seeds = [int(check_integer("seed", s, 0)) for s in seeds]
    if not seeds:
        raise ValueError("seeds must name at least one draw of the split")
    if not candidates:
        raise ValueError("candidates must name at least one model")
    if not protocol.random:
        seeds = seeds[:1]
    tables, chosen, per_user, tried = {}, {}, {}, {}
    for seed in seeds:
        split = protocol.split(data.ratings, seed)
        idmap = Matrices.from_split(split).idmap
        prototypes, chosen[seed], tried[seed] = {}, {}, {}
        for name, candidate in candidates.items():
            points = tuning.budget_points(candidate.grid, budget, seed=seed) if candidate.grid else {}
            tuned = tuning.tune(
                candidate.model,
                points,
                split,
                metric=f"ndcg@{k}",
                k=k,
                seed=seed,
                epochs=candidate.epochs,
                features=candidate.features,
                progress=progress,
            )
            model = tuned.model
            if candidate.features is not None:
                model = model.set_params(**candidate.features(idmap))
            prototypes[name] = model
            chosen[seed][name] = to_jsonable(tuned.params)
            tried[seed][name] = len(tuned.table)
        _, tables[seed], per_user[seed] = rank_models(
            prototypes, split, k=k, blas_threads=1, progress=progress, seed=seed
        )
    return Board(protocol.name, budget, k, tables, chosen, per_user, tried)


def board_table(
    board: Board, metrics: Sequence[str] = ("ndcg", "recall", "coverage", "mean_popularity")
) -> pd.DataFrame:
    """One row per model: each metric's mean over the draws with its 95 % interval (Student-t over
    the draws; with one draw, the bootstrap interval over its users for nDCG and recall, none for
    the catalogue-wide figures), the median fit seconds, and the hyperparameters chosen on the
    first draw (``chosen``) with how many draws chose them."""
    k = board.k
    rows = {}
    for name in board.models:
        row: dict = {}
        for metric in metrics:
            column = f"{metric}@{k}"
            values = board.per_draw(column)[name].to_numpy(dtype=float)
            if len(values) >= 2:
                interval = stats.interval_over_runs(values)
                row[column], row[f"{column}_low"], row[f"{column}_high"] = (
                    interval.estimate,
                    interval.low,
                    interval.high,
                )
            else:
                table = board.tables[board.seeds[0]]
                row[column] = float(values[0])
                low, high = f"{column}_low", f"{column}_high"
                row[low] = float(table.loc[name, low]) if low in table else np.nan
                row[high] = float(table.loc[name, high]) if high in table else np.nan
        row["fit_seconds"] = float(np.median([board.tables[s].loc[name, "fit_seconds"] for s in board.seeds]))
        first = board.chosen[board.seeds[0]][name]
        row["chosen"] = ", ".join(f"{key}={value}" for key, value in first.items()) or "(defaults)"
        row["same_choice"] = f"{sum(board.chosen[s][name] == first for s in board.seeds)}/{len(board.seeds)}"
        rows[name] = row
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def board_differences(board: Board, reference: str, metric: str = "ndcg") -> pd.DataFrame:
    """Every other model's paired difference from ``reference`` in mean test ``metric@k``: over the
    draws (Student-t) when there are several, else over the one draw's users (bootstrap). Columns
    ``difference``, ``low``, ``high``, ``detectable`` (the interval excludes zero), ``over``."""
    column = f"{metric}@{board.k}"
    if reference not in board.models:
        raise KeyError(f"no model {reference!r} on the board; it has {board.models}")
    rows = {}
    several = len(board.seeds) >= 2
    for name in board.models:
        if name == reference:
            continue
        if several:
            draws = board.per_draw(column)
            interval = stats.paired_over_runs(draws[name].to_numpy(), draws[reference].to_numpy())
        else:
            users = board.per_user[board.seeds[0]][column]
            interval = stats.paired_difference(users[name].to_numpy(), users[reference].to_numpy())
        rows[name] = {
            "difference": interval.estimate,
            "low": interval.low,
            "high": interval.high,
            "detectable": bool(interval.excludes_zero),
            "over": f"{len(board.seeds)} draws" if several else f"{len(board.per_user[board.seeds[0]][column])} users",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def line_up_table(candidates: Mapping[str, Candidate], budget: int) -> pd.DataFrame:
    """One row per model: its family, how many points its grid has, how many the budget tries
    (the defaults and a seeded sample, never more than the grid), and its defaults."""
    budget = check_integer("budget", budget, 1)
    rows = {}
    for name, candidate in candidates.items():
        size = len(tuning.grid_points(candidate.grid)) if candidate.grid else 1
        first = {key: list(values)[0] for key, values in candidate.grid.items()}
        rows[name] = {
            "family": candidate.family,
            "grid points": size,
            "tried per draw": min(size, budget),
            "defaults": ", ".join(f"{key}={value}" for key, value in first.items()) or "(none to tune)",
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def group_gap(board: Board, group: Sequence[str], others: Sequence[str], metric: str = "ndcg") -> dict:
    """The best model of ``group`` (highest mean test ``metric@k`` over the draws) against the best of
    ``others``: their names and means, the paired difference (group's best minus others' best) with
    its 95 % interval (over the draws when there are several, else over the users of the one draw),
    and whether it excludes zero. Names not on the board are ignored; each side needs one."""
    column = f"{metric}@{board.k}"
    means = board.per_draw(column).mean()
    sides = []
    for names in (group, others):
        present = [name for name in names if name in means.index]
        if not present:
            raise ValueError(f"none of {list(names)} is on the board; it has {board.models}")
        sides.append(means[present].idxmax())
    best, rival = sides
    difference = board_differences(board, rival, metric).loc[best]
    return {
        "best": best,
        "best_mean": float(means[best]),
        "rival": rival,
        "rival_mean": float(means[rival]),
        "difference": float(difference["difference"]),
        "low": float(difference["low"]),
        "high": float(difference["high"]),
        "detectable": bool(difference["detectable"]),
        "over": difference["over"],
    }
