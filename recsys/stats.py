"""Descriptive statistics of a ratings table: size, sparsity, long tails, time.

These are what notebook 01 shows before any model is fitted: how sparse the matrix is, how few
items take most ratings, and how activity spreads over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.interactions import k_core


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
