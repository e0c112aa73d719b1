"""A synthetic ratings dataset with a planted low-rank model, shaped like MovieLens.

Every rating follows the model the notebooks fit::

    r_ui = clip(round_step(mu + b_u + b_i + p_u . q_i + eps)),   eps ~ N(0, noise_std^2)

with Gaussian user and item factors and biases, so a notebook can check what a model recovers
against :class:`~recsys.datasets.dataset.SyntheticTruth`. Which (user, item) pairs are observed
follows MovieLens-like long tails: item popularity and user activity are Zipf weights
``rank^-exponent`` (ranks shuffled over the ids), and each user rates within a window of time.

The defaults give ratings with mean ~3.5 and standard deviation ~1 on the 1..5 star scale (like
MovieLens), of which the low-rank part ``p_u . q_i`` has a standard deviation of 0.6 whatever the
``rank``: a real signal, but one that biases alone cannot explain.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recsys.checks import check_integer, check_non_negative, check_number, check_seed, is_real
from recsys.datasets.dataset import Dataset, SyntheticTruth

#: The first possible rating time (2000-01-01T00:00:00Z) and the length of the whole period.
START_TIME = 946_684_800
TIME_SPAN = 5 * 365 * 86_400
#: Standard deviation of ``p_u . q_i`` when ``factor_std`` is left to its default.
INTERACTION_STD = 0.6
#: Grids of at most this many (user, item) pairs are sampled exactly in one pass (memory-bound).
_GRID_LIMIT = 1 << 22
_MAX_ROUNDS = 60
_CHUNK = 1 << 20


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    n_ratings: int = 20_000,
    rank: int = 8,
    *,
    rating_scale: tuple[float, float] = (1.0, 5.0),
    rating_step: float | None = 1.0,
    noise_std: float = 0.5,
    factor_std: float | None = None,
    user_bias_std: float = 0.4,
    item_bias_std: float = 0.45,
    global_mean: float | None = None,
    popularity_exponent: float = 0.8,
    activity_exponent: float = 0.6,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """A ``Dataset`` named ``"synthetic"`` with exactly ``n_ratings`` distinct (user, item) pairs.

    Args:
        n_users, n_items: size of the catalogue; raw ids are ``1..n_users`` and ``1..n_items``.
        n_ratings: number of distinct observed pairs (at most ``n_users * n_items``).
        rank: dimension of the planted factors (0 = biases only).
        rating_scale: (lowest, highest) rating; values outside are clipped.
        rating_step: ratings are rounded to ``lowest + k * rating_step``; ``None`` or 0 keeps
            them continuous (then ``Dataset.rating_step`` is 0.0).
        noise_std: standard deviation of the Gaussian noise added before rounding.
        factor_std: standard deviation of every factor entry; default ``(0.36 / rank) ** 0.25``,
            so ``p_u . q_i`` has standard deviation 0.6 for any rank.
        user_bias_std, item_bias_std: standard deviations of the Gaussian biases.
        global_mean: ``mu``; default ``lowest + 0.625 * (highest - lowest)`` (3.5 on 1..5).
        popularity_exponent: Zipf exponent of item popularity (0 = uniform; 0.8 puts about half
            the ratings on the top 10% of items, like MovieLens).
        activity_exponent: Zipf exponent of user activity (0.6: the top 10% of users give
            roughly 35-40% of the ratings).
        seed: seed of the numpy ``Generator`` behind every random draw. Each component (factors,
            biases, pairs, timestamps, noise) has its own child stream, so changing ``rank`` or
            ``noise_std`` keeps the same observed pairs and timestamps.

    Pairs are drawn with probability proportional to ``w_u * w_i`` without replacement, so the
    most popular pairs saturate instead of repeating. Timestamps:
    each user has an active window inside five years starting 2000-01-01 (many short windows,
    a few long ones) and rates at uniform times within it. ``truth`` holds the planted model for
    every user and item, including those who ended up with no rating.
    """
    n_users = check_integer("n_users", n_users, 1)
    n_items = check_integer("n_items", n_items, 1)
    n_ratings = check_integer("n_ratings", n_ratings, 1)
    rank = check_integer("rank", rank, 0)
    lo, hi = _check_scale(rating_scale)
    step = _check_step(rating_step, lo, hi)
    for name, value in (
        ("noise_std", noise_std),
        ("user_bias_std", user_bias_std),
        ("item_bias_std", item_bias_std),
        ("popularity_exponent", popularity_exponent),
        ("activity_exponent", activity_exponent),
    ):
        check_non_negative(**{name: value})
    if factor_std is None:
        factor_std = (INTERACTION_STD**2 / rank) ** 0.25 if rank > 0 else 0.0
    check_non_negative(factor_std=factor_std)
    if global_mean is None:
        global_mean = lo + 0.625 * (hi - lo)
    else:
        check_number("global_mean", global_mean)
    if n_ratings > n_users * n_items:
        raise ValueError(
            f"n_ratings={n_ratings:,} exceeds the n_users * n_items = {n_users * n_items:,} "
            "possible distinct (user, item) pairs"
        )
    # One independent stream per component, so that changing e.g. ``rank`` or ``noise_std``
    # leaves the observed pairs, the timestamps and everything else unchanged.
    streams = np.random.default_rng(check_seed("seed", seed)).spawn(8)
    rng_pu, rng_qi, rng_bu, rng_bi, rng_pairs, rng_time, rng_noise, rng_year = streams

    # The planted model, for every user and item.
    user_factors = rng_pu.normal(0.0, factor_std, size=(n_users, rank))
    item_factors = rng_qi.normal(0.0, factor_std, size=(n_items, rank))
    user_bias = rng_bu.normal(0.0, user_bias_std, size=n_users)
    item_bias = rng_bi.normal(0.0, item_bias_std, size=n_items)

    # Long-tailed weights: Zipf over ranks, ranks shuffled over the ids.
    log_wu = -float(activity_exponent) * np.log1p(rng_pairs.permutation(n_users).astype(np.float64))
    log_wi = -float(popularity_exponent) * np.log1p(rng_pairs.permutation(n_items).astype(np.float64))

    keys = _sample_pairs(rng_pairs, log_wu, log_wi, n_ratings)  # sorted u * n_items + i
    users = keys // n_items
    items = keys - users * n_items

    # Ratings from the planted model, in chunks to bound memory.
    values = np.empty(n_ratings, dtype=np.float64)
    for start in range(0, n_ratings, _CHUNK):
        u, i = users[start : start + _CHUNK], items[start : start + _CHUNK]
        values[start : start + _CHUNK] = np.einsum("ij,ij->i", user_factors[u], item_factors[i])
    values += global_mean + user_bias[users] + item_bias[items]
    values += rng_noise.normal(0.0, noise_std, size=n_ratings) if noise_std > 0 else 0.0
    np.clip(values, lo, hi, out=values)
    if step:
        values = lo + np.round((values - lo) / step) * step
        np.clip(values, lo, hi, out=values)

    timestamps = _timestamps(rng_time, users, n_users)
    ratings = pd.DataFrame(
        {
            "user_id": users + 1,
            "item_id": items + 1,
            "rating": values.astype(np.float32),
            "timestamp": timestamps,
        },
        copy=False,  # the arrays are fresh; skip pandas' consolidating copy
    )
    item_ids = np.arange(1, n_items + 1, dtype=np.int64)
    end_year = pd.Timestamp(START_TIME + TIME_SPAN, unit="s").year
    years = np.maximum(end_year - np.floor(rng_year.exponential(12.0, size=n_items)).astype(np.int64), 1920)
    items_frame = pd.DataFrame(
        {
            "title": [f"Item {i}" for i in item_ids],
            "year": pd.array(years, dtype="Int64"),
            "genres": [[] for _ in range(n_items)],
        },
        index=pd.Index(item_ids, name="item_id"),
    )
    truth = SyntheticTruth(
        user_ids=np.arange(1, n_users + 1, dtype=np.int64),
        item_ids=item_ids,
        user_factors=user_factors,
        item_factors=item_factors,
        user_bias=user_bias,
        item_bias=item_bias,
        global_mean=float(global_mean),
        noise_std=float(noise_std),
    )
    return Dataset(
        name="synthetic",
        ratings=ratings,
        items=items_frame,
        users=None,
        rating_scale=(lo, hi),
        rating_step=float(step) if step else 0.0,
        path=None,
        truth=truth,
    )


def _sample_pairs(rng: np.random.Generator, log_wu: np.ndarray, log_wi: np.ndarray, n: int) -> np.ndarray:
    """Sorted keys ``u * n_items + i`` of ``n`` distinct pairs, drawn by weight ``w_u * w_i``.

    Grids of up to ``_GRID_LIMIT`` pairs: Gumbel top-k over every pair, i.e. exact successive
    sampling without replacement, at any density. Larger grids: draw pairs with replacement
    (multinomial counts per user and per item, items shuffled), deduplicate the keys by sorting
    and top up until ``n`` distinct pairs are found; the surplus of the last round is
    dropped at random.
    """
    n_users, n_items = log_wu.size, log_wi.size
    grid = n_users * n_items
    if grid <= _GRID_LIMIT:
        scores = rng.gumbel(size=grid)
        scores += (log_wu[:, None] + log_wi[None, :]).ravel()
        chosen = np.argpartition(scores, grid - n)[grid - n :] if n < grid else np.arange(grid)
        return np.sort(chosen.astype(np.int64))

    p_u, p_i = _probabilities(log_wu), _probabilities(log_wi)
    users = np.arange(n_users, dtype=np.int64)
    items = np.arange(n_items, dtype=np.int64)
    kept = np.empty(0, dtype=np.int64)  # sorted distinct keys
    new_fraction = 1.0  # estimated share of fresh draws that are new pairs
    for _ in range(_MAX_ROUNDS):
        deficit = n - kept.size
        size = min(int(deficit / new_fraction * 1.05) + 64, 8 * n + 64)
        u = np.repeat(users, rng.multinomial(size, p_u))
        i = np.repeat(items, rng.multinomial(size, p_i))
        rng.shuffle(i)  # u is sorted; shuffling i makes the pairs independent draws
        new = _sorted_unique(u * n_items + i)
        if kept.size:
            pos = np.minimum(np.searchsorted(kept, new), kept.size - 1)
            new = new[kept[pos] != new]
        new_fraction = max(new.size / size, 1e-3)
        if new.size >= deficit:
            if new.size > deficit:
                new = rng.choice(new, deficit, replace=False)
            return np.sort(np.concatenate([kept, new]))
        kept = np.sort(np.concatenate([kept, new]))
    raise ValueError(
        f"could not draw n_ratings={n:,} distinct pairs in {_MAX_ROUNDS} rounds (got {kept.size:,}); "
        "the popularity_exponent / activity_exponent are too steep for this density: lower them or n_ratings "
        f"(grids up to {_GRID_LIMIT:,} pairs are sampled exactly at any density)"
    )


def _sorted_unique(keys: np.ndarray) -> np.ndarray:
    """``np.unique(keys)`` via an in-place sort (numpy 2.x's hash-based unique is slower here)."""
    keys.sort()
    keep = np.empty(keys.size, dtype=bool)
    keep[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=keep[1:])
    return keys[keep]


def _probabilities(log_w: np.ndarray) -> np.ndarray:
    w = np.exp(log_w - log_w.max())
    return w / w.sum()


def _timestamps(rng: np.random.Generator, users: np.ndarray, n_users: int) -> np.ndarray:
    """Unix seconds: every user rates uniformly inside an own window within the period.

    Window lengths are lognormal (median about a day, a long tail of users active for years),
    starts uniform over what is left of the period, as in MovieLens where most users rate in one
    or two sessions.
    """
    length = np.minimum(rng.lognormal(np.log(86_400.0), 2.5, size=n_users), TIME_SPAN)
    begin = START_TIME + rng.random(n_users) * (TIME_SPAN - length)
    t = begin[users] + rng.random(users.size) * length[users]
    return np.floor(t).astype(np.int64)


def _check_scale(rating_scale) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in rating_scale)
    except (TypeError, ValueError):
        raise ValueError(f"rating_scale must be a pair (lowest, highest), got {rating_scale!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"rating_scale must be finite with lowest < highest, got {rating_scale!r}")
    return lo, hi


def _check_step(rating_step, lo: float, hi: float) -> float:
    if rating_step is None or (is_real(rating_step) and rating_step == 0):
        return 0.0
    if not is_real(rating_step) or not math.isfinite(rating_step) or rating_step < 0:
        raise ValueError(f"rating_step must be a number > 0, or None/0 for continuous ratings, got {rating_step!r}")
    n_steps = (hi - lo) / rating_step
    if abs(n_steps - round(n_steps)) > 1e-9 * max(1.0, n_steps):
        raise ValueError(
            f"rating_step={rating_step!r} does not divide rating_scale {(lo, hi)}: "
            "the highest rating must be lowest + k * rating_step"
        )
    return float(rating_step)
