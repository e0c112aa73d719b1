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
from recsys.experiments.harness import Matrices, rank_models
from recsys.splits import Split, recommenders_split, stratified_holdout, user_temporal_holdout

__all__ = ["PROTOCOLS", "Board", "Protocol", "board_differences", "board_table", "run_leaderboard"]


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
