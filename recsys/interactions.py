"""Interaction matrices: the id <-> index mapping, sparse user x item matrices, implicit feedback, k-cores.

Raw MovieLens ids stay in DataFrames; models work on contiguous indices ``0..n-1``. :class:`IdMap`
is the one place that translates between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.checks import check_integer, check_number

Unknown = Literal["raise", "mark"]


class UnknownIdError(KeyError):
    """Raised when a raw id is not in an :class:`IdMap`."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


def _lookup(known: np.ndarray, raw: np.ndarray, what: str, unknown: Unknown) -> np.ndarray:
    if unknown not in ("raise", "mark"):
        raise ValueError(f"unknown must be 'raise' or 'mark', got {unknown!r}")
    raw = np.asarray(raw)
    if known.size == 0:
        pos = np.zeros(raw.shape, dtype=np.int64)
        found = np.zeros(raw.shape, dtype=bool)
    else:
        pos = np.searchsorted(known, raw)
        pos_clipped = np.minimum(pos, known.size - 1)
        found = known[pos_clipped] == raw
        pos = pos_clipped
    if not found.all():
        if unknown == "raise":
            missing = np.unique(raw[~found])
            shown = ", ".join(str(m) for m in missing[:5]) + (" ..." if missing.size > 5 else "")
            raise UnknownIdError(f"{missing.size} unknown {what} id(s): {shown}")
    return np.where(found, pos, -1).astype(np.int64)


@dataclass(frozen=True)
class IdMap:
    """Raw user and item ids <-> contiguous indices.

    ``user_ids[j]`` is the raw id of user index ``j`` (ids are sorted, so the mapping is
    deterministic). Build it from the *training* ratings; test rows then map through it.
    """

    user_ids: np.ndarray
    item_ids: np.ndarray

    def __post_init__(self) -> None:
        # The lookups binary-search the ids, so they must be sorted and unique.
        for name in ("user_ids", "item_ids"):
            ids = np.asarray(getattr(self, name))
            if ids.ndim != 1 or (ids.size > 1 and not np.all(ids[1:] > ids[:-1])):
                raise ValueError(f"IdMap.{name} must be a 1-D array of sorted, unique ids")
            object.__setattr__(self, name, ids)

    @classmethod
    def from_ratings(cls, ratings: pd.DataFrame) -> IdMap:
        """The map of every user and item that appears in ``ratings``."""
        _check_id_columns(ratings)
        return cls(
            user_ids=np.unique(ratings["user_id"].to_numpy()),
            item_ids=np.unique(ratings["item_id"].to_numpy()),
        )

    @property
    def n_users(self) -> int:
        return int(self.user_ids.size)

    @property
    def n_items(self) -> int:
        return int(self.item_ids.size)

    @property
    def shape(self) -> tuple[int, int]:
        """The (n_users, n_items) shape of matrices built with this map."""
        return (self.n_users, self.n_items)

    def user_index(self, raw_ids, unknown: Unknown = "raise") -> np.ndarray:
        """Indices of raw user ids. ``unknown="mark"`` gives -1 for ids not in the map."""
        return _lookup(self.user_ids, raw_ids, "user", unknown)

    def item_index(self, raw_ids, unknown: Unknown = "raise") -> np.ndarray:
        """Indices of raw item ids. ``unknown="mark"`` gives -1 for ids not in the map."""
        return _lookup(self.item_ids, raw_ids, "item", unknown)

    def encode(self, ratings: pd.DataFrame, unknown: Unknown = "raise") -> tuple[np.ndarray, np.ndarray]:
        """(user indices, item indices) of every row of ``ratings``."""
        return (
            self.user_index(ratings["user_id"].to_numpy(), unknown),
            self.item_index(ratings["item_id"].to_numpy(), unknown),
        )


def _check_id_columns(ratings, values: str | None = None) -> None:
    """``ratings`` is a DataFrame with ``user_id``, ``item_id`` (no missing ids) and ``values``."""
    if not isinstance(ratings, pd.DataFrame):
        raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
    needed = ["user_id", "item_id"] + ([values] if values is not None else [])
    missing = [c for c in needed if c not in ratings.columns]
    if missing:
        raise ValueError(f"ratings lacks column(s) {missing}; it has {list(ratings.columns)}")
    for column in ("user_id", "item_id"):
        n_missing = int(ratings[column].isna().sum())
        if n_missing:
            raise ValueError(f"ratings[{column!r}] holds {n_missing} missing id(s); every row needs a user and an item")


def to_csr(
    ratings: pd.DataFrame,
    idmap: IdMap | None = None,
    values: str | None = "rating",
    dtype=np.float32,
) -> sp.csr_matrix:
    """A users x items CSR matrix of ``ratings`` (rows and columns follow ``idmap``).

    ``values`` names the column to store (``"rating"``), or ``None`` to store 1 for every
    interaction. Stored entries are exactly the observed pairs; explicit zeros are kept, so a
    rating of 0 still counts as observed. Rows with ids unknown to ``idmap`` raise
    :class:`UnknownIdError`; duplicate (user, item) pairs raise ``ValueError``.
    """
    _check_id_columns(ratings, values)
    if idmap is None:
        idmap = IdMap.from_ratings(ratings)
    users, items = idmap.encode(ratings)
    data = np.ones(len(ratings), dtype=dtype) if values is None else ratings[values].to_numpy(dtype=dtype)
    if not np.isfinite(data).all():
        bad = np.flatnonzero(~np.isfinite(data))
        raise ValueError(
            f"ratings[{values!r}] holds {bad.size} NaN or infinite value(s) (first at row {ratings.index[bad[0]]}); "
            "drop or fill them before building the matrix"
        )
    coo = sp.coo_matrix((data, (users, items)), shape=idmap.shape)
    matrix = sp.csr_matrix(coo)  # sums duplicates: detect them by the number of stored entries
    if matrix.nnz != len(ratings):
        raise ValueError(
            f"ratings hold {len(ratings) - matrix.nnz} duplicate (user, item) pair(s); "
            "use recsys.interactions.deduplicate() first"
        )
    matrix.sort_indices()
    return matrix


def deduplicate(ratings: pd.DataFrame, keep: Literal["first", "last"] = "last") -> pd.DataFrame:
    """One row per (user, item) pair: the latest (``keep="last"``) or earliest rating by timestamp."""
    ordered = ratings.sort_values("timestamp", kind="stable") if "timestamp" in ratings else ratings
    return ordered.drop_duplicates(["user_id", "item_id"], keep=keep).sort_index()


def to_implicit(ratings: pd.DataFrame, relevance_threshold: float | None = 4.0) -> pd.DataFrame:
    """Explicit ratings -> implicit positives: the rows with ``rating >= relevance_threshold``.

    ``relevance_threshold=None`` keeps every rating (any interaction is a positive), the protocol
    of Microsoft Recommenders' MovieLens benchmarks. The ``rating`` column is set to 1.
    """
    if relevance_threshold is not None:
        check_number("relevance_threshold", relevance_threshold)
    kept = ratings if relevance_threshold is None else ratings[ratings["rating"] >= relevance_threshold]
    return kept.assign(rating=np.float32(1.0))


def k_core(ratings: pd.DataFrame, k: int = 5, user_k: int | None = None, item_k: int | None = None) -> pd.DataFrame:
    """The largest subset where every user has >= ``user_k`` and every item >= ``item_k`` ratings.

    Removing sparse items can push a user under the threshold and vice versa, so the filter is
    repeated until nothing changes. ``k`` sets both thresholds unless they are given.
    """
    user_k = k if user_k is None else user_k
    item_k = k if item_k is None else item_k
    for name, value in (("k", k), ("user_k", user_k), ("item_k", item_k)):
        check_integer(name, value, 0)
    current = ratings
    while True:
        user_counts = current["user_id"].map(current["user_id"].value_counts())
        item_counts = current["item_id"].map(current["item_id"].value_counts())
        keep = (user_counts >= user_k) & (item_counts >= item_k)
        if keep.all():
            return current
        current = current[keep]


def row_indices(X: sp.csr_matrix) -> np.ndarray:
    """The row (user) index of every stored entry of the CSR ``X``, in storage order (int64)."""
    return np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))


def entries(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) index arrays (int64) of the stored entries of the CSR ``X``, in storage order."""
    return row_indices(X), X.indices.astype(np.int64)


def _duplicate_count(X) -> int:
    """How many stored entries of a sparse matrix repeat an earlier (row, column) pair."""
    coo = X.tocoo()  # keeps repeated pairs (no summing) for COO, CSR, CSC and BSR input
    keys = coo.row.astype(np.int64) * max(coo.shape[1], 1) + coo.col.astype(np.int64)
    return int(keys.size - np.unique(keys).size)


def check_interactions(X, name: str = "X") -> sp.csr_matrix:
    """``X`` as a CSR matrix with float32/float64 data and sorted indices, or a clear error.

    Every function that takes a users x items matrix (models, evaluation, metrics) goes through
    this one check, so they accept the same inputs and fail the same way:

    * any scipy sparse format (CSR, CSC, COO, LIL, DOK, BSR, DIA, and the ``*_array`` classes) is
      accepted and converted to CSR with sorted indices;
    * a matrix holding the same (user, item) pair more than once is **refused**, everywhere:
      scipy would silently *sum* the repeats (two ratings of 4 becoming one of 8), and no single
      merge rule is right for ratings and counts alike; deduplicate the ratings frame first
      (:func:`deduplicate`);
    * NaN or infinite values are refused; stored zeros are kept (a 0-star rating is a rating).
    """
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse users x items matrix, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    may_repeat = X.format in ("coo", "bsr") or (X.format in ("csr", "csc") and not X.has_canonical_format)
    if may_repeat:
        repeated = _duplicate_count(X)
        if repeated:
            raise ValueError(
                f"{name} holds {repeated} repeated (user, item) entr{'y' if repeated == 1 else 'ies'}; recsys never "
                "sums or drops them silently: deduplicate the ratings first (recsys.interactions.deduplicate)"
            )
    X = sp.csr_matrix(X)
    if X.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
            raise TypeError(f"{name} must hold numbers, got dtype {X.dtype}")
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X.data)):
        bad = int(np.count_nonzero(~np.isfinite(X.data)))
        raise ValueError(f"{name} holds {bad} NaN or infinite value(s)")
    if not X.has_sorted_indices:
        X = X.copy()
        X.sort_indices()
    return X


def binarize(X, relevance_threshold: float | None = None) -> sp.csr_matrix:
    """The stored entries of ``X`` as 1s (a float32 CSR): all of them, or those ``>= relevance_threshold``.

    This is how ratings become implicit positives for the models that learn from positives
    (``learns_from = "positives"``, see :mod:`recsys.models.base`), and how test ratings become
    the relevant items of a ranking evaluation. With ``relevance_threshold=None`` every stored
    entry counts (explicit zeros included, as in :func:`to_csr`).
    """
    X = check_interactions(X)
    if relevance_threshold is None:
        keep = np.ones(X.nnz, dtype=bool)
    else:
        check_number("relevance_threshold", relevance_threshold)
        keep = X.data >= relevance_threshold
    rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[keep]
    indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=X.shape[0]), out=indptr[1:])
    data = np.ones(int(keep.sum()), dtype=np.float32)
    return sp.csr_matrix((data, X.indices[keep], indptr), shape=X.shape)
