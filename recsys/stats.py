"""Descriptive statistics of a ratings table, and the intervals every chapter puts on comparisons.

Data summaries (first section): what notebook 01 shows before any model is fitted: how sparse
the matrix is, how few items take most ratings, and how activity spreads over time.

Intervals (second section): a mean over users is an estimate, so a difference between two models
is a claim only when its interval excludes zero. Per-user metrics (``per_user["ndcg"]`` of
:func:`recsys.evaluation.evaluate_lists` / ``evaluate_ranking(..., return_per_user=True)``) get a
bootstrap over users (:func:`bootstrap_mean`, :func:`paired_difference`, :func:`compare`,
:func:`comparison_table`); two models scored on the same users are compared *paired* (the same
resampled users for both), which removes the user-to-user spread they share. A handful of folds or
seeds (rating RMSE over 5 folds) gets a Student-t interval instead (:func:`interval_over_runs`,
:func:`paired_over_runs`): too few values for a bootstrap. :func:`leader` puts them together for
a chapter's "which model is best" line: the best mean, and every model it cannot be told from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.special
import scipy.stats

from recsys.checks import check_choice, check_fraction, check_integer, check_number, random_generator
from recsys.interactions import k_core

# --------------------------------------------------------------------------- data summaries


def summary(ratings: pd.DataFrame) -> dict[str, float]:
    """Counts, density and per-user/per-item activity of a ratings table."""
    n = len(ratings)
    if n == 0:
        raise ValueError("ratings is empty")
    users = ratings["user_id"].value_counts()
    items = ratings["item_id"].value_counts()
    density = n / (len(users) * len(items))
    times = pd.to_datetime(ratings["timestamp"], unit="s")
    return {
        "n_ratings": int(n),
        "n_users": int(len(users)),
        "n_items": int(len(items)),
        "density": float(density),
        "sparsity": float(1.0 - density),
        "ratings_per_user_median": float(users.median()),
        "ratings_per_user_mean": float(users.mean()),
        "ratings_per_user_min": int(users.min()),
        "ratings_per_item_median": float(items.median()),
        "ratings_per_item_mean": float(items.mean()),
        "items_with_one_rating": int((items == 1).sum()),
        "rating_mean": float(ratings["rating"].mean()),
        "rating_std": float(ratings["rating"].std()),
        "first_rating": str(times.min().date()),
        "last_rating": str(times.max().date()),
    }


def rank_counts(ids: pd.Series) -> np.ndarray:
    """Interaction counts per distinct id, sorted descending: the y-axis of a long-tail plot."""
    return np.sort(ids.value_counts().to_numpy())[::-1]


def top_share(counts: np.ndarray, fraction: float = 0.1) -> float:
    """Share of all interactions held by the top ``fraction`` of ids (by count)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    counts = np.sort(np.asarray(counts))[::-1]
    top = max(1, int(round(fraction * counts.size)))
    return float(counts[:top].sum() / counts.sum())


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of the counts: 0 when all are equal, near 1 when one id has everything."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        raise ValueError("gini needs at least one positive count")
    cum = np.cumsum(x)
    return float((n + 1 - 2 * (cum / cum[-1]).sum()) / n)


def ratings_over_time(ratings: pd.DataFrame, freq: str = "Q") -> pd.DataFrame:
    """Ratings, active users, new items and mean rating per period (``freq``: a pandas period alias, "M", "Q", "Y")."""
    times = pd.to_datetime(ratings["timestamp"], unit="s")
    frame = ratings.assign(period=times.dt.to_period(freq).dt.start_time)
    first_seen = frame.groupby("item_id")["period"].min()
    per = frame.groupby("period").agg(ratings=("rating", "size"), active_users=("user_id", "nunique"))
    per["new_items"] = first_seen.value_counts().reindex(per.index, fill_value=0)
    per["mean_rating"] = frame.groupby("period")["rating"].mean()
    return per


def k_core_table(ratings: pd.DataFrame, ks=(1, 2, 5, 10, 20)) -> pd.DataFrame:
    """What k-core filtering keeps for each k: users, items, ratings, and the share kept."""
    rows = []
    base = summary(ratings)
    for k in ks:
        core = k_core(ratings, k)
        rows.append(
            {
                "k": k,
                "users": core["user_id"].nunique(),
                "items": core["item_id"].nunique(),
                "ratings": len(core),
                "users_kept": core["user_id"].nunique() / base["n_users"],
                "items_kept": core["item_id"].nunique() / base["n_items"],
                "ratings_kept": len(core) / base["n_ratings"],
                "density": len(core) / max(1, core["user_id"].nunique() * core["item_id"].nunique()),
            }
        )
    return pd.DataFrame(rows).set_index("k")


def implicit_table(ratings: pd.DataFrame, thresholds=(None, 3.0, 3.5, 4.0, 4.5, 5.0)) -> pd.DataFrame:
    """For each positive threshold (None = every rating), how many positives, users and items remain."""
    rows = []
    for t in thresholds:
        kept = ratings if t is None else ratings[ratings["rating"] >= t]
        rows.append(
            {
                "threshold": "any rating" if t is None else f">= {t:g}",
                "positives": len(kept),
                "share_of_ratings": len(kept) / len(ratings),
                "users_with_a_positive": kept["user_id"].nunique(),
                "items_with_a_positive": kept["item_id"].nunique(),
            }
        )
    return pd.DataFrame(rows).set_index("threshold")


def user_active_days(ratings: pd.DataFrame) -> np.ndarray:
    """Days between each user's first and last rating (0 for a single session)."""
    span = ratings.groupby("user_id")["timestamp"].agg(["min", "max"])
    return ((span["max"] - span["min"]) / 86_400.0).to_numpy()


# --------------------------------------------------------------------------- intervals
#
# Bootstrap over units (users): resample the units with replacement, take the mean of each
# resample, read the interval off those means. Several rows (models, or their differences to a
# reference) are resampled with the *same* units, so their intervals are paired and reproducible.

#: Values one pass of the bootstrap gathers (resamples x units): 2**21 float64 (16 MB) plus as
#: many int64 indices, however many users there are. Resamples are drawn a chunk at a time; the
#: random stream does not depend on the chunk size, so neither do the intervals.
_CHUNK_ELEMENTS = 2**21

BootstrapMethod = Literal["percentile", "bca"]
_METHOD_NAMES = {"percentile": "percentile bootstrap", "bca": "BCa bootstrap"}


@dataclass(frozen=True)
class Interval:
    """An estimate with its ``confidence`` interval ``[low, high]``, from ``n`` units (users, folds) by ``method``."""

    estimate: float
    low: float
    high: float
    confidence: float
    n: int
    method: str

    @property
    def excludes_zero(self) -> bool:
        """True when 0 lies outside ``[low, high]``: for a difference, a detectable one."""
        return self.low > 0 or self.high < 0

    def format(self, digits: int = 4) -> str:
        """``"+0.0123 [+0.0040, +0.0205]"``: estimate and bounds, signed, with ``digits`` decimals."""
        d = check_integer("digits", digits, 0)
        return f"{self.estimate:+.{d}f} [{self.low:+.{d}f}, {self.high:+.{d}f}]"

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class Comparison:
    """Two models on the same units: the interval of ``mean(a - b)`` and a verdict naming a winner
    only when that interval excludes zero (see :func:`compare`)."""

    names: tuple[str, str]
    difference: Interval
    verdict: str

    @property
    def winner(self) -> str | None:
        """The name of the model with the higher mean, or None when the difference is not detectable."""
        if not self.difference.excludes_zero:
            return None
        return self.names[0] if self.difference.estimate > 0 else self.names[1]

    def __str__(self) -> str:
        return self.verdict


def _unit_values(name: str, values: Any, minimum: int = 2) -> np.ndarray:
    """``values`` as a 1-D float64 array of at least ``minimum`` finite numbers, one per unit."""
    array = np.asarray(values)
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must be an array of numbers, got dtype {array.dtype}")
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array with one value per unit, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: an interval needs at least {minimum} units")
    if array.size < minimum:
        raise ValueError(f"{name} has {array.size} value(s): an interval needs at least {minimum} units")
    array = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} holds {int(bad.sum())} non-finite value(s) (NaN or infinity), the first at position "
            f"{int(np.argmax(bad))}: leave units without a value (NaN = a user with no relevant item) out of every array alike"
        )
    return array


def _paired_values(a: Any, b: Any, names: tuple[str, str] = ("a", "b")) -> tuple[np.ndarray, np.ndarray]:
    a, b = _unit_values(names[0], a), _unit_values(names[1], b)
    if a.shape != b.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must hold one value per unit for the same units in the same order: "
            f"{names[0]} has {a.size} values, {names[1]} has {b.size}"
        )
    return a, b


def _check_bootstrap(confidence: Any, n_resamples: Any, method: Any) -> tuple[float, int, str]:
    return (
        check_fraction("confidence", confidence),
        check_integer("n_resamples", n_resamples, 1),
        check_choice("method", method, _METHOD_NAMES),
    )


def _resampled_means(rows: np.ndarray, n_resamples: int, seed: Any) -> np.ndarray:
    """Means of every row of ``rows`` (rows x units) over ``n_resamples`` resamples of the units:
    (rows x resamples), the same resampled units for every row, drawn a chunk at a time."""
    n_rows, n = rows.shape
    rng = random_generator(seed, "seed")
    means = np.empty((n_rows, n_resamples))
    chunk = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        units = rng.integers(0, n, size=(stop - start, n))
        for row, values in enumerate(rows):  # row by row: the same sums whatever else is in the table
            means[row, start:stop] = values[units].mean(axis=1)
    return means


def _bca_levels(values: np.ndarray, estimate: float, means: np.ndarray, confidence: float) -> np.ndarray:
    """The two quantile levels of a BCa interval of the mean (Efron 1987).

    Bias correction ``z0`` from the share of resampled means below the estimate (ties count
    half); acceleration from the jackknife, which for a mean is the closed form
    ``sum(d**3) / (6 * sum(d**2) ** 1.5)`` with ``d = values - mean``.
    """
    below = np.mean(means < estimate) + 0.5 * np.mean(means == estimate)
    below = np.clip(below, 0.5 / means.size, 1 - 0.5 / means.size)
    z0 = scipy.special.ndtri(below)
    d = values - values.mean()
    spread = np.sum(d**2)
    acceleration = np.sum(d**3) / (6 * spread**1.5) if spread > 0 else 0.0
    z = z0 + scipy.special.ndtri(np.array([(1 - confidence) / 2, (1 + confidence) / 2]))
    # a * z approaches 1 only for extreme skew with a tiny alpha; the limit there is level 0 or 1
    return scipy.special.ndtr(z0 + z / np.maximum(1 - acceleration * z, 1e-12))


def _bootstrap(
    rows: np.ndarray, confidence: float, n_resamples: int, seed: Any, method: str, label: str = ""
) -> list[Interval]:
    """An interval of the mean of each row of ``rows`` (rows x units), all from the same resamples."""
    means = _resampled_means(rows, n_resamples, seed)
    intervals = []
    for values, row_means in zip(rows, means):
        estimate = float(values.mean())
        if method == "bca":
            levels = _bca_levels(values, estimate, row_means, confidence)
        else:
            levels = [(1 - confidence) / 2, (1 + confidence) / 2]
        low, high = np.quantile(row_means, levels)
        intervals.append(
            Interval(estimate, float(low), float(high), confidence, values.size, label + _METHOD_NAMES[method])
        )
    return intervals


def bootstrap_mean(
    values,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: BootstrapMethod = "percentile",
) -> Interval:
    """Bootstrap interval of the mean of ``values`` (one per unit: user, query) over the units.

    ``method="percentile"`` (default) reads the interval off the quantiles of the resampled means;
    ``"bca"`` corrects them for bias and skew (worth it for small or very skewed samples).
    Deterministic for a given ``seed``; memory stays bounded whatever the number of units.
    """
    values = _unit_values("values", values)
    confidence, n_resamples, method = _check_bootstrap(confidence, n_resamples, method)
    return _bootstrap(values[None, :], confidence, n_resamples, seed, method)[0]


def paired_difference(
    a,
    b,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: BootstrapMethod = "percentile",
) -> Interval:
    """Paired bootstrap interval of ``mean(a - b)``: ``a`` and ``b`` hold one value per unit for
    the *same* units in the same order (two models' per-user nDCG from one evaluation).

    Resampling users, not each model's values separately, keeps what the two share (some users
    are easy for every model), so the interval is much narrower than two separate ones suggest.
    """
    a, b = _paired_values(a, b)
    confidence, n_resamples, method = _check_bootstrap(confidence, n_resamples, method)
    return _bootstrap((a - b)[None, :], confidence, n_resamples, seed, method, "paired ")[0]


def paired_rmse_difference(
    errors_a,
    errors_b,
    units,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
) -> Interval:
    """Paired bootstrap interval of ``RMSE(a) - RMSE(b)``, resampling whole units (users).

    ``errors_a`` and ``errors_b`` are two models' errors (prediction minus truth) on the same
    ratings, in the same order; ``units`` names each rating's unit. An RMSE is not a mean over
    users (a user with many ratings weighs more), so each resample recomputes both RMSEs from the
    resampled users' squared errors and rating counts; resampling users rather than ratings keeps
    each user's ratings together, as they were drawn.
    """
    a = np.asarray(errors_a, dtype=np.float64).ravel()
    b = np.asarray(errors_b, dtype=np.float64).ravel()
    units = np.asarray(units).ravel()
    if not (a.size == b.size == units.size) or a.size == 0:
        raise ValueError(
            f"errors_a, errors_b and units must be non-empty and of one length, got {a.size}, {b.size}, {units.size}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("errors_a and errors_b must be finite")
    confidence, n_resamples, _ = _check_bootstrap(confidence, n_resamples, "percentile")
    codes = np.unique(units, return_inverse=True)[1]
    if codes.max() < 1:
        raise ValueError("units must name at least two units to resample")
    rows = np.vstack([np.bincount(codes, weights=a * a), np.bincount(codes, weights=b * b), np.bincount(codes)])
    means = _resampled_means(rows.astype(np.float64), n_resamples, seed)
    differences = np.sqrt(means[0] / means[2]) - np.sqrt(means[1] / means[2])
    estimate = float(np.sqrt(rows[0].sum() / rows[2].sum()) - np.sqrt(rows[1].sum() / rows[2].sum()))
    low, high = np.quantile(differences, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(estimate, float(low), float(high), confidence, int(rows.shape[1]), "paired percentile bootstrap")


def agreement_verdict(estimate: float, low: float, high: float, tolerance: float) -> str:
    """Whether two measurements agree within ``tolerance``, judged on the interval of their
    difference (an equivalence test): agreement is shown only when the whole interval lies inside
    ``[-tolerance, tolerance]``; a difference whose estimate is past the tolerance is outside it;
    anything else is not settled at this precision. One clause a chapter prints."""
    check_number("tolerance", tolerance, 0, exclusive=True)
    if not low <= estimate <= high:
        raise ValueError(f"the estimate {estimate!r} must lie within its interval [{low!r}, {high!r}]")
    if -tolerance <= low and high <= tolerance:
        return f"they agree: the whole interval lies within the tolerance of {tolerance:g}"
    if abs(estimate) > tolerance:
        return f"they DISAGREE: the difference is past the tolerance of {tolerance:g}"
    return f"not settled: the difference is within the tolerance of {tolerance:g} but its interval reaches past it"


def compare(
    a,
    b,
    names: tuple[str, str] = ("A", "B"),
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: BootstrapMethod = "percentile",
    digits: int = 3,
) -> Comparison:
    """:func:`paired_difference` of ``a`` and ``b`` with a verdict sentence.

    ``"A higher: +0.012 [+0.004, +0.020]"`` when the interval of ``mean(a - b)`` excludes zero
    (the interval is always of ``a - b``, so it is negative when B is higher), otherwise
    ``"no detectable difference: +0.001 [-0.006, +0.008]"``. "Higher" states the direction only:
    for an error such as RMSE, higher is worse.
    """
    if not isinstance(names, (tuple, list)) or not all(isinstance(n, str) for n in names):
        raise TypeError(f"names must be a pair of strings, got {names!r}")
    if len(names) != 2 or names[0] == names[1]:
        raise ValueError(f"names must be two different strings, got {names!r}")
    digits = check_integer("digits", digits, 0)
    difference = paired_difference(a, b, confidence=confidence, n_resamples=n_resamples, seed=seed, method=method)
    text = difference.format(digits)
    if difference.excludes_zero:
        verdict = f"{names[0] if difference.estimate > 0 else names[1]} higher: {text}"
    else:
        verdict = f"no detectable difference: {text}"
    return Comparison(tuple(names), difference, verdict)


def comparison_table(
    per_unit: Mapping[str, Any],
    *,
    reference: str | None = None,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
    method: BootstrapMethod = "percentile",
) -> pd.DataFrame:
    """One row per model: its mean over units with the bootstrap interval (``mean``, ``low``, ``high``).

    ``per_unit`` maps each model's name to its per-unit values, all for the same units in the same
    order. With ``reference`` (one of those names), the paired difference ``model - reference``
    is added (``difference``, ``difference_low``, ``difference_high``) and ``detectable``: True
    when that interval excludes zero (the reference's own row: 0 and False). Every model, and every
    difference, is resampled with the same units, so a row equals :func:`bootstrap_mean` /
    :func:`paired_difference` called with the same ``seed``. The settings are in ``frame.attrs``.
    """
    if not isinstance(per_unit, Mapping):
        raise TypeError(f"per_unit must be a mapping of model name -> per-unit values, got {type(per_unit).__name__}")
    if not per_unit:
        raise ValueError("per_unit is empty: pass at least one model's per-unit values")
    names = list(per_unit)
    columns = [_unit_values(f"per_unit[{name!r}]", per_unit[name]) for name in names]
    for name, column in zip(names[1:], columns[1:]):
        if column.shape != columns[0].shape:
            raise ValueError(
                f"per_unit[{name!r}] has {column.size} values but per_unit[{names[0]!r}] has {columns[0].size}: "
                "every model needs one value per unit, for the same units in the same order"
            )
    if reference is not None:
        check_choice("reference", reference, names)
    confidence, n_resamples, method = _check_bootstrap(confidence, n_resamples, method)
    rows = np.stack(columns)
    if reference is not None:
        rows = np.concatenate([rows, rows - rows[names.index(reference)]])
    intervals = _bootstrap(rows, confidence, n_resamples, seed, method)
    models, differences = intervals[: len(names)], intervals[len(names) :]
    frame = pd.DataFrame(
        {"mean": [i.estimate for i in models], "low": [i.low for i in models], "high": [i.high for i in models]},
        index=pd.Index(names, name="model"),
    )
    if reference is not None:
        frame["difference"] = [i.estimate for i in differences]
        frame["difference_low"] = [i.low for i in differences]
        frame["difference_high"] = [i.high for i in differences]
        frame["detectable"] = [i.excludes_zero for i in differences]
    frame.attrs.update(
        confidence=confidence,
        n_units=int(rows.shape[1]),
        n_resamples=n_resamples,
        seed=seed,
        method=_METHOD_NAMES[method],
        reference=reference,
    )
    return frame


def _t_interval(values: np.ndarray, confidence: float, method: str) -> Interval:
    mean = float(np.mean(values))
    sem = float(scipy.stats.sem(values))
    if sem == 0:  # every run agrees: scipy refuses a zero scale
        low = high = mean
    else:
        low, high = scipy.stats.t.interval(confidence, values.size - 1, loc=mean, scale=sem)
    return Interval(mean, float(low), float(high), confidence, int(values.size), method)


def interval_over_runs(values, confidence: float = 0.95) -> Interval:
    """Student-t interval of the mean of a handful of runs (folds, seeds): ``mean ± t * sd / sqrt(n)``.

    For too few values to bootstrap (RMSE over 5 folds); it assumes the runs' values are roughly
    normal and independent (folds sharing training data are not quite, so read it as a guide).
    """
    values = _unit_values("values", values)
    return _t_interval(values, check_fraction("confidence", confidence), "t")


def paired_over_runs(a, b, confidence: float = 0.95) -> Interval:
    """Student-t interval of ``mean(a - b)`` over runs both models share (the same folds or seeds, in order)."""
    a, b = _paired_values(a, b)
    return _t_interval(a - b, check_fraction("confidence", confidence), "paired t")


# ------------------------------------------------------------------------------- the leader


@dataclass(frozen=True)
class Leader:
    """The best model by its mean, and how every other one compares with it (see :func:`leader`).

    ``means`` holds each model's mean (with its interval), ``differences`` each other model's
    paired ``model - best`` interval; ``ties`` lists, best first, the models whose difference is
    not detectable (the interval includes zero). A winner exists only when ``ties`` is empty.
    """

    metric: str
    best: str
    means: dict[str, Interval]
    differences: dict[str, Interval]
    higher_is_better: bool
    kind: str = "model"  #: what is compared ("model", "measure"...), for the sentence

    @property
    def ties(self) -> list[str]:
        """The models not detectably different from the best, in order of their means."""
        return [name for name, d in self.differences.items() if not d.excludes_zero]

    @property
    def winner(self) -> str | None:
        """The best model when it is detectably ahead of every other one; None otherwise."""
        return None if self.ties else self.best

    def sentence(self, digits: int = 4) -> str:
        """One line a chapter prints: the best, with its interval, and either that it is ahead of
        every other model (the closest one's paired difference) or which ones it cannot be told
        from (each with its paired difference)."""
        d = check_integer("digits", digits, 0)
        best = self.means[self.best]
        way = "highest" if self.higher_is_better else "lowest"
        head = f"{way} {self.metric}: {self.best} {best.estimate:.{d}f} [{best.low:.{d}f}, {best.high:.{d}f}]"
        if not self.differences:
            return head
        if self.ties:
            listed = "; ".join(f"{name} {self.differences[name].format(d)}" for name in self.ties)
            return f"{head}; no detectable difference from {listed}"
        closest = next(iter(self.differences))
        return f"{head}; ahead of every other {self.kind} (closest: {closest}, {self.differences[closest].format(d)})"

    def __str__(self) -> str:
        return self.sentence()


def leader(
    per_unit: Mapping[str, Any],
    metric: str = "mean",
    *,
    higher_is_better: bool = True,
    over: Literal["users", "runs"] = "users",
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int | np.random.Generator | None = 0,
    kind: str = "model",
) -> Leader:
    """The model with the best mean over shared units, and each other model's paired difference.

    ``per_unit`` maps each model to its values for the same units in the same order (or is a
    units x models DataFrame, as :func:`recsys.experiments.ranking_table` returns): per-user
    values (``over="users"``, a paired bootstrap, :func:`comparison_table`) or per-fold / per-seed
    values (``over="runs"``, a paired Student t, :func:`paired_over_runs`). ``higher_is_better``
    says which way is best (False for an error such as RMSE). The differences are ordered from
    the closest model to the farthest; the :class:`Leader`'s sentence names a winner only when
    every one of them excludes zero. ``kind`` names what is compared in that sentence.
    """
    if isinstance(per_unit, pd.DataFrame):  # units x models, as ranking_table's per_user frames
        per_unit = {str(name): per_unit[name].to_numpy() for name in per_unit.columns}
    if not isinstance(per_unit, Mapping) or not per_unit:
        raise ValueError(
            "per_unit must be a non-empty mapping (or a units x models DataFrame) of model name -> per-unit values"
        )
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise TypeError(f"higher_is_better must be True or False, got {higher_is_better!r}")
    check_choice("over", over, ("users", "runs"))
    names = list(per_unit)
    values = {name: _unit_values(f"per_unit[{name!r}]", per_unit[name]) for name in names}
    sign = 1.0 if higher_is_better else -1.0
    best = max(names, key=lambda name: sign * values[name].mean())
    if over == "users":
        table = comparison_table(values, reference=best, confidence=confidence, n_resamples=n_resamples, seed=seed)
        method = table.attrs["method"]
        means = {
            name: Interval(row["mean"], row["low"], row["high"], confidence, table.attrs["n_units"], method)
            for name, row in table.iterrows()
        }
        differences = {
            name: Interval(
                row["difference"], row["difference_low"], row["difference_high"], confidence,
                table.attrs["n_units"], "paired " + method,
            )
            for name, row in table.iterrows()
            if name != best
        }  # fmt: skip
    else:
        means = {name: interval_over_runs(v, confidence) for name, v in values.items()}
        differences = {name: paired_over_runs(values[name], values[best], confidence) for name in names if name != best}
    order = sorted(differences, key=lambda name: sign * -differences[name].estimate)
    return Leader(metric, best, means, {name: differences[name] for name in order}, bool(higher_is_better), str(kind))
