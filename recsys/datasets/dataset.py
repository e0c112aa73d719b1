"""The one dataset type every loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

#: Columns of :attr:`Dataset.ratings`, in order.
RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")


@dataclass(frozen=True)
class SyntheticTruth:
    """The planted model behind a synthetic dataset.

    Row ``j`` of ``user_factors`` belongs to raw user id ``user_ids[j]`` (likewise for items), so a
    notebook can compare what a model learned with what was planted.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray
    user_factors: np.ndarray
    item_factors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    global_mean: float
    noise_std: float


@dataclass(frozen=True)
class Dataset:
    """Ratings plus metadata of one release.

    Attributes:
        name: the release name, e.g. ``"ml-100k"``.
        ratings: one row per rating with columns ``user_id`` (int64), ``item_id`` (int64),
            ``rating`` (float32) and ``timestamp`` (int64, Unix seconds). Raw MovieLens ids.
        items: one row per item, indexed by ``item_id``, with ``title`` (str), ``year``
            (nullable Int64) and ``genres`` (list of str); it may list items nobody rated.
        users: one row per user, indexed by ``user_id``, where the release has demographics
            (ML-100K, ML-1M), else ``None``.
        rating_scale: (lowest, highest) rating the release allows.
        rating_step: the granularity of ratings (1.0 or 0.5).
        path: the folder the files were read from, if any (ML-100K's predefined folds live there).
        truth: the planted factors, for ``synthetic`` only.
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None
    rating_scale: tuple[float, float]
    rating_step: float = 1.0
    path: Path | None = None
    truth: SyntheticTruth | None = field(default=None, repr=False)

    @property
    def n_users(self) -> int:
        """Number of distinct users with at least one rating."""
        return int(self.ratings["user_id"].nunique())

    @property
    def n_items(self) -> int:
        """Number of distinct items with at least one rating."""
        return int(self.ratings["item_id"].nunique())

    def __repr__(self) -> str:
        return (
            f"Dataset(name={self.name!r}, ratings={len(self.ratings):,}, users={self.n_users:,}, "
            f"rated_items={self.n_items:,}, scale={self.rating_scale})"
        )
