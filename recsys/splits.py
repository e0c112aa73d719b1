"""Train/test splits of a ratings frame, each with an explicit policy for test rows nobody can score.

Splitters (each returns a :class:`Split`; ``kfold`` and ``ml100k_folds`` a list of them):

* :func:`random_holdout` -- a uniformly random share of the ratings is the test set.
* :func:`stratified_holdout` -- per user, a share of *that user's* ratings (Microsoft
  Recommenders' ``python_stratified_split``), so light and heavy users are tested alike.
* :func:`recommenders_split` -- Microsoft Recommenders' benchmark split (stratified by item).
* :func:`temporal_split` -- one global time cutoff: train is the past, test the future.
* :func:`leave_last_k` -- each user's last ``k`` ratings are the test set.
* :func:`user_temporal_holdout` -- per user, the latest share of *that user's* ratings is the
  test set: the per-user split of :func:`stratified_holdout`, without its leak of a user's
  future into their own training data.
* :func:`kfold` -- ``n_folds`` random folds whose test sets partition the ratings.
* :func:`given_n` -- cold start: some users keep only ``n`` training ratings.
* :func:`ml100k_folds` -- ML-100K's predefined u1..u5 folds, read from the release folder.

:func:`time_leakage` measures how much of a split's training data lies in the future of its
test ratings: 0 for a temporal split, about 0.5 for a random one.

The ``unseen`` policy. A collaborative model has no embedding for a user or an item that is
absent from the training set, so a test rating of one cannot be scored from the model alone.

* ``"drop"`` (default): such test rows move from ``test`` to ``Split.dropped``; the report
  counts them (``n_dropped_ratings``) and the distinct users and items that caused it
  (``n_dropped_users``, ``n_dropped_items``). The training set is never changed.
* ``"keep"``: they stay in ``test`` (a model then needs a fallback, see
  :meth:`recsys.interactions.IdMap.user_index` with ``unknown="mark"``); the report counts them
  as ``n_cold_test_users`` / ``n_cold_test_items``.

Invariants of every split: ``train``, ``test`` and ``dropped`` are disjoint row subsets of the
input (same index, same columns, input order) whose union is exactly the input, so no
(user, item) pair is on both sides; the same ``seed`` gives the same split; with ``"drop"``
every test user and item appears in train. Input with duplicate (user, item) pairs is refused:
run :func:`recsys.interactions.deduplicate` first.

Everything is vectorised (no Python loop per user): per-user orderings come from
:func:`_lex_order`, a lexicographic sort done as a few plain ``np.sort`` calls on packed int64
keys, which is much faster than ``np.lexsort`` or a pandas group-by at MovieLens-20M scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from recsys.checks import check_choice, check_fraction, check_integer, check_number, check_seed, to_jsonable

Unseen = Literal["drop", "keep"]
_UNSEEN = ("drop", "keep")
_RATING_DTYPES = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}


@dataclass(frozen=True, eq=False, repr=False)
class Split:
    """One train/test split plus the test rows removed by the ``unseen="drop"`` policy.

    ``train``, ``test`` and ``dropped`` are row subsets of the input ratings (original index
    kept). ``method`` and ``params`` record how the split was made, for the report.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    dropped: pd.DataFrame
    method: str = ""
    params: dict = field(default_factory=dict)
    unseen: str = "drop"

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test)

    @property
    def n_dropped_ratings(self) -> int:
        """Test ratings removed because their user or item is absent from train."""
        return len(self.dropped)

    @cached_property
    def _train_users(self) -> np.ndarray:
        return pd.unique(self.train["user_id"].to_numpy())

    @cached_property
    def _train_items(self) -> np.ndarray:
        return pd.unique(self.train["item_id"].to_numpy())

    @cached_property
    def n_dropped_users(self) -> int:
        """Distinct users of the dropped rows that have no training rating."""
        return _n_absent(self.dropped["user_id"], self._train_users)

    @cached_property
    def n_dropped_items(self) -> int:
        """Distinct items of the dropped rows that have no training rating."""
        return _n_absent(self.dropped["item_id"], self._train_items)

    @cached_property
    def n_cold_test_users(self) -> int:
        """Distinct test users without a training rating (0 under ``unseen="drop"``)."""
        return _n_absent(self.test["user_id"], self._train_users)

    @cached_property
    def n_cold_test_items(self) -> int:
        """Distinct test items without a training rating (0 under ``unseen="drop"``)."""
        return _n_absent(self.test["item_id"], self._train_items)

    @property
    def report(self) -> dict:
        """The split's sizes and what the unseen policy did, as a JSON-ready dict."""
        return {
            "method": self.method,
            **to_jsonable(self.params, fallback=repr),
            "unseen": self.unseen,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "n_dropped_ratings": self.n_dropped_ratings,
            "n_dropped_users": self.n_dropped_users,
            "n_dropped_items": self.n_dropped_items,
            "n_cold_test_users": self.n_cold_test_users,
            "n_cold_test_items": self.n_cold_test_items,
        }

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        text = f"Split({self.method}({args}): train={self.n_train:,}, test={self.n_test:,}"
        if self.unseen == "drop":
            text += (
                f", dropped={self.n_dropped_ratings:,} (unseen in train: {self.n_dropped_users:,} users,"
                f" {self.n_dropped_items:,} items)"
            )
        else:
            text += f", kept unseen in train: {self.n_cold_test_users:,} users, {self.n_cold_test_items:,} items"
        return text + ")"


# --------------------------------------------------------------------------------------------
# splitters


def random_holdout(
    ratings: pd.DataFrame, test_size: float = 0.2, seed: int | np.random.Generator | None = 0, unseen: Unseen = "drop"
) -> Split:
    """A uniformly random ``ceil(test_size * n)`` ratings as the test set (scikit-learn's rounding)."""
    check_fraction("test_size", test_size)
    _check_unseen(unseen)
    codes = _Codes.of(ratings)
    n = codes.n
    n_test = _n_test(test_size, n)
    rng = np.random.default_rng(check_seed("seed", seed))
    test = np.zeros(n, dtype=bool)
    test[rng.permutation(n)[:n_test]] = True
    return _make_split(ratings, codes, ~test, "random_holdout", {"test_size": test_size, "seed": seed}, unseen)


def stratified_holdout(
    ratings: pd.DataFrame,
    train_ratio: float = 0.75,
    seed: int | np.random.Generator | None = 0,
    min_ratings: int = 1,
    unseen: Unseen = "drop",
) -> Split:
    """Per user, a random ``train_ratio`` share of the user's ratings in train, the rest in test.

    Rounding follows Microsoft Recommenders' ``python_stratified_split``: the user's ratings are
    put in random order and the ``r``-th of ``n_u`` goes to train iff ``r / n_u <= train_ratio``,
    i.e. ``floor(train_ratio * n_u)`` ratings in train. Unlike that function, every user keeps
    at least one rating in train (there, users with ``n_u < 1 / train_ratio`` go wholly to
    test, where they cannot be scored), and users with fewer than ``min_ratings`` ratings stay
    wholly in train instead of being removed, so every input rating lands on one side.
    """
    check_fraction("train_ratio", train_ratio)
    min_ratings = check_integer("min_ratings", min_ratings, 1)
    _check_unseen(unseen)
    codes = _Codes.of(ratings)
    rng = np.random.default_rng(check_seed("seed", seed))
    noise = rng.integers(0, 1 << 32, size=codes.n, dtype=np.int64)
    rank, count = _rank_in_group(codes.users, noise)  # rank 1..count, in random order
    train = (rank / count <= train_ratio) | (rank == 1) | (count < min_ratings)
    params = {"train_ratio": train_ratio, "seed": seed, "min_ratings": min_ratings}
    return _make_split(ratings, codes, train, "stratified_holdout", params, unseen)


def recommenders_split(
    ratings: pd.DataFrame,
    train_ratio: float = 0.75,
    seed: int | np.random.Generator | None = 0,
    by: Literal["item", "user"] = "item",
) -> Split:
    """Microsoft Recommenders' benchmark split: ``python_stratified_split(ratio, filter_by=by)``.

    Their MovieLens benchmark notebook stratifies by *item*: each item's ratings in random order,
    the ``r``-th of ``n`` in train iff ``r / n <= train_ratio``. Unlike :func:`stratified_holdout`
    nothing guarantees a group a training rating, so an item rated once goes wholly to test and is
    unseen in train; the split keeps such rows (``unseen="keep"``), as theirs does, and a
    collaborative model simply cannot recommend those items. Use it to compare with their published
    numbers on their protocol.
    """
    check_fraction("train_ratio", train_ratio)
    check_choice("by", by, ("item", "user"))
    codes = _Codes.of(ratings)
    rng = np.random.default_rng(check_seed("seed", seed))
    noise = rng.integers(0, 1 << 32, size=codes.n, dtype=np.int64)
    groups = codes.items if by == "item" else codes.users
    rank, count = _rank_in_group(groups, noise)
    train = rank / count <= train_ratio
    params = {"train_ratio": train_ratio, "seed": seed, "by": by}
    return _make_split(ratings, codes, train, "recommenders_split", params, "keep")


def temporal_split(
    ratings: pd.DataFrame,
    test_size: float | None = None,
    *,
    cutoff: int | None = None,
    unseen: Unseen = "drop",
) -> Split:
    """One global time cutoff: every training rating is no newer than every test rating.

    Give ``test_size`` (default 0.2) or ``cutoff`` (a Unix timestamp), not both.
    With ``test_size``, the ratings are ordered by (timestamp, user_id, item_id) and the last
    ``ceil(test_size * n)`` form the test set: the size is exact, and ratings sharing the
    boundary second are split deterministically by user and then item id. With ``cutoff``,
    ratings with ``timestamp >= cutoff`` are the test set. The cutoff used is in ``params``.
    """
    _check_unseen(unseen)
    codes = _Codes.of(ratings, need_time=True)
    ts = codes.timestamps
    if cutoff is not None:
        if test_size is not None:
            raise ValueError(f"give test_size or cutoff, not both (got test_size={test_size!r}, cutoff={cutoff!r})")
        check_number("cutoff", cutoff)
        train = ts < cutoff
        if train.all() or not train.any():
            raise ValueError(
                f"cutoff={cutoff!r} leaves the {'test' if train.all() else 'training'} set empty: "
                f"timestamps run from {ts.min()} to {ts.max()}"
            )
        params = {"cutoff": cutoff}
    else:
        test_size = 0.2 if test_size is None else test_size
        check_fraction("test_size", test_size)
        n_test = _n_test(test_size, codes.n)
        order = _lex_order(_sort_key(ts), codes.users, codes.items)
        train = np.ones(codes.n, dtype=bool)
        train[order[codes.n - n_test :]] = False
        params = {"test_size": test_size, "cutoff": int(ts[order[codes.n - n_test]])}
    return _make_split(ratings, codes, train, "temporal_split", params, unseen)


def leave_last_k(ratings: pd.DataFrame, k: int = 1, unseen: Unseen = "drop") -> Split:
    """Each user's last ``k`` ratings by timestamp are the test set.

    Ratings at the same second are ordered by item id (the larger id counts as later). Users
    with ``k`` or fewer ratings stay wholly in train: testing them would leave nothing to learn
    them from. So every test user has training ratings; only items can be unseen.
    """
    k = check_integer("k", k, 1)
    _check_unseen(unseen)
    codes = _Codes.of(ratings, need_time=True)
    rank, count = _rank_in_group(codes.users, _sort_key(codes.timestamps), codes.items)
    train = (rank <= count - k) | (count <= k)
    return _make_split(ratings, codes, train, "leave_last_k", {"k": k}, unseen)


def user_temporal_holdout(ratings: pd.DataFrame, train_ratio: float = 0.75, unseen: Unseen = "drop") -> Split:
    """Per user, the earliest ``train_ratio`` share of the user's ratings in train, the latest in test.

    The same shares as :func:`stratified_holdout` (``floor(train_ratio * n_u)`` ratings in train,
    at least one), chosen by time instead of at random: no test rating of a user is older than
    one of their own training ratings, so the per-user time leakage
    (:func:`time_leakage` with ``scope="user"``) is 0. Other users' later ratings still train the
    model (the global leakage is not 0). Ratings at the same second are ordered by item id.
    Deterministic: there is nothing random to seed.
    """
    check_fraction("train_ratio", train_ratio)
    _check_unseen(unseen)
    codes = _Codes.of(ratings, need_time=True)
    rank, count = _rank_in_group(codes.users, _sort_key(codes.timestamps), codes.items)
    train = (rank / count <= train_ratio) | (rank == 1)
    return _make_split(ratings, codes, train, "user_temporal_holdout", {"train_ratio": train_ratio}, unseen)


def kfold(
    ratings: pd.DataFrame, n_folds: int = 5, seed: int | np.random.Generator | None = 0, unseen: Unseen = "drop"
) -> list[Split]:
    """``n_folds`` random folds of (nearly) equal size; fold ``f``'s test set is the ``f``-th fold.

    The test sets (with their dropped rows) partition the ratings: each rating is tested once.
    """
    n_folds = check_integer("n_folds", n_folds, 2)
    _check_unseen(unseen)
    codes = _Codes.of(ratings)
    if n_folds > codes.n:
        raise ValueError(f"n_folds={n_folds} exceeds the number of ratings ({codes.n})")
    rng = np.random.default_rng(check_seed("seed", seed))
    fold = np.empty(codes.n, dtype=np.int64)
    fold[rng.permutation(codes.n)] = np.arange(codes.n) % n_folds
    return [
        _make_split(ratings, codes, fold != f, "kfold", {"n_folds": n_folds, "fold": f, "seed": seed}, unseen)
        for f in range(n_folds)
    ]


def given_n(
    ratings: pd.DataFrame,
    n: int,
    *,
    user_fraction: float = 0.2,
    seed: int | np.random.Generator | None = 0,
    unseen: Unseen = "keep",
) -> Split:
    """Cold-start protocol ("given-n", Breese et al. 1998): test users keep only ``n`` ratings in train.

    A random ``user_fraction`` of the users with more than ``n`` ratings become test users; each
    keeps ``n`` random ratings in train and has the rest in test. Everyone else is wholly in train.
    The test users and each user's order depend only on ``seed``, not on ``n``, so splits for
    several ``n`` form a curve over the same users. ``n=0`` makes the test users brand new
    (like Eve in notebook 02): keep ``unseen="keep"`` (the default here) so they are scored by
    the models' fallbacks instead of being dropped.
    """
    n = check_integer("n", n, 0)
    check_fraction("user_fraction", user_fraction)
    _check_unseen(unseen)
    codes = _Codes.of(ratings)
    rng = np.random.default_rng(check_seed("seed", seed))
    user_noise = rng.random(codes.n_users)
    rating_noise = rng.integers(0, 1 << 32, size=codes.n, dtype=np.int64)
    counts = np.bincount(codes.users, minlength=codes.n_users)
    eligible = np.flatnonzero(counts > n)
    if eligible.size == 0:
        raise ValueError(f"no user has more than n={n} ratings")
    n_test_users = max(1, int(round(user_fraction * eligible.size)))
    chosen = np.zeros(codes.n_users, dtype=bool)
    chosen[eligible[np.argsort(user_noise[eligible], kind="stable")[:n_test_users]]] = True
    rank, _ = _rank_in_group(codes.users, rating_noise)
    train = ~chosen[codes.users] | (rank <= n)
    params = {"n": n, "user_fraction": user_fraction, "seed": seed}
    return _make_split(ratings, codes, train, "given_n", params, unseen)


def ml100k_folds(path, unseen: Unseen = "drop", *, verify: bool = True) -> list[Split]:
    """ML-100K's predefined five folds, from ``u1.base``/``u1.test`` ... ``u5.base``/``u5.test``.

    ``path`` is the extracted ``ml-100k`` folder (a folder holding it, or a ``Dataset`` whose
    ``path`` is it, also works); the files are read and checked by
    :func:`recsys.datasets.movielens.read_ml100k_folds`. The frames get the standard dtypes, train keeps the file's row numbers as index and test
    continues after them. The five test files partition the 100,000 ratings; some test items
    of each fold never occur in its ``.base`` file, which the ``unseen`` policy handles.
    """
    from recsys.datasets.movielens import read_ml100k_folds

    _check_unseen(unseen)
    splits = []
    for f, (base, test) in enumerate(read_ml100k_folds(path, verify=verify), start=1):
        test.index = pd.RangeIndex(len(base), len(base) + len(test))
        both = pd.concat([base, test])
        codes = _Codes.of(both)
        train = np.zeros(len(both), dtype=bool)
        train[: len(base)] = True
        splits.append(_make_split(both, codes, train, "ml100k_folds", {"fold": f"u{f}"}, unseen))
    return splits


def time_leakage(split: Split, scope: Literal["global", "user"] = "global") -> float:
    """How much of the training data lies in the future of the test ratings (0 = none).

    For each test rating at time ``t``: the share of training ratings newer than ``t``, among
    all of them (``scope="global"``) or among the same user's (``scope="user"``); the result is
    the mean over test ratings (those of users without training ratings are skipped under
    ``"user"``). A temporal split scores 0 under both; a random holdout about 0.5 under both;
    leave-last-k 0 per user but well above 0 globally, since other users' later ratings are in
    train. ``nan`` if there is nothing to average.
    """
    if scope not in ("global", "user"):
        raise ValueError(f"scope must be 'global' or 'user', got {scope!r}")
    train_ts = split.train["timestamp"].to_numpy()
    test_ts = split.test["timestamp"].to_numpy()
    if test_ts.size == 0 or train_ts.size == 0:
        return float("nan")
    if scope == "global":
        newer = train_ts.size - np.searchsorted(np.sort(train_ts), test_ts, side="right")
        return float(np.mean(newer / train_ts.size))
    users = pd.factorize(np.concatenate([split.train["user_id"].to_numpy(), split.test["user_id"].to_numpy()]))[0]
    times = _sort_key(np.concatenate([train_ts, test_ts]))
    span = int(times.max()) + 1
    if (int(users.max()) + 2) * span >= 1 << 62:  # dense-rank the times so the keys fit
        times = np.unique(times, return_inverse=True)[1].astype(np.int64)
        span = int(times.max()) + 1
    keys = users * span + times
    n_train = train_ts.size
    train_keys = np.sort(keys[:n_train])
    test_users = users[n_train:]
    user_start = np.searchsorted(train_keys, test_users * span, side="left")
    user_end = np.searchsorted(train_keys, (test_users + 1) * span, side="left")
    not_newer_end = np.searchsorted(train_keys, keys[n_train:], side="right")
    total = user_end - user_start
    known = total > 0
    if not known.any():
        return float("nan")
    return float(np.mean((user_end - not_newer_end)[known] / total[known]))


#: The split kinds :func:`make_split` knows, for notebook parameters.
KINDS = ("random", "stratified", "user_temporal", "temporal", "leave_last_k", "kfold")


def make_split(
    kind: str,
    ratings: pd.DataFrame,
    *,
    test_size: float = 0.2,
    seed: int = 0,
    k: int = 1,
    unseen: Unseen = "drop",
) -> Split:
    """One split by name, so a notebook parameter can choose it.

    ``test_size`` is the test share for ``random`` and ``temporal``, one minus the per-user train
    ratio for ``stratified`` and ``user_temporal``, and ``1 / n_folds`` for ``kfold`` (whose first fold is returned);
    ``k`` is used by ``leave_last_k``.
    """
    if kind == "random":
        return random_holdout(ratings, test_size, seed, unseen)
    if kind == "stratified":
        check_fraction("test_size", test_size)
        return stratified_holdout(ratings, 1.0 - test_size, seed, unseen=unseen)
    if kind == "user_temporal":
        check_fraction("test_size", test_size)
        return user_temporal_holdout(ratings, 1.0 - test_size, unseen=unseen)
    if kind == "temporal":
        return temporal_split(ratings, test_size, unseen=unseen)
    if kind == "leave_last_k":
        return leave_last_k(ratings, k, unseen)
    if kind == "kfold":
        return kfold(ratings, kfold_count(test_size), seed, unseen)[0]
    raise ValueError(f"unknown split kind {kind!r}; known: {', '.join(KINDS)}")


def kfold_count(test_size: float) -> int:
    """The number of folds :func:`make_split` uses for ``kind="kfold"``: ``round(1 / test_size)``,
    at least 2 (``test_size=0.25`` gives 4 folds, ``0.2`` gives 5)."""
    check_fraction("test_size", test_size)
    return max(2, round(1.0 / test_size))


def summary_table(splits: dict[str, Split]) -> pd.DataFrame:
    """One row per named split: sizes, what the unseen policy dropped, and time leakage."""
    rows = []
    for name, split in splits.items():
        total = split.n_train + split.n_test + split.n_dropped_ratings
        rows.append(
            {
                "split": name,
                "train": split.n_train,
                "test": split.n_test,
                "test_share": split.n_test / total,
                "dropped_ratings": split.n_dropped_ratings,
                "dropped_share": split.n_dropped_ratings / total,
                "cold_users": split.n_dropped_users + split.n_cold_test_users,
                "cold_items": split.n_dropped_items + split.n_cold_test_items,
                "test_users": int(split.test["user_id"].nunique()),
                "leakage_global": time_leakage(split, "global"),
                "leakage_user": time_leakage(split, "user"),
            }
        )
    return pd.DataFrame(rows).set_index("split")


def held_out_shares(splits: Mapping[str, Split], total: int | None = None) -> pd.DataFrame:
    """What each named split trains on and holds out, as shares of ``total`` ratings.

    One row per split: ``train``, ``test``, their shares of ``total`` (default: the split's own
    train + test + dropped ratings) and the median test ratings per test user. Pass the ratings of
    the whole data set as ``total`` to compare a validation split carved from training with the
    test split around it: the validation split trains on less and holds fewer ratings per user
    as relevant, which by itself tends to lower the precision and nDCG measured on it.
    """
    if total is not None:
        total = check_integer("total", total, 1)
    rows = []
    for name, split in splits.items():
        n = total if total is not None else split.n_train + split.n_test + split.n_dropped_ratings
        per_user = split.test.groupby("user_id").size()
        rows.append(
            {
                "split": name,
                "train": split.n_train,
                "train_share": split.n_train / n,
                "test": split.n_test,
                "test_share": split.n_test / n,
                "median_test_per_user": float(per_user.median()) if len(per_user) else float("nan"),
            }
        )
    return pd.DataFrame(rows).set_index("split")


# --------------------------------------------------------------------------------------------
# helpers


@dataclass(frozen=True)
class _Codes:
    """Non-negative integer codes of the id columns (order-preserving), checked for duplicates."""

    users: np.ndarray
    items: np.ndarray
    n_users: int
    n_items: int
    timestamps: np.ndarray | None

    @property
    def n(self) -> int:
        return self.users.size

    @classmethod
    def of(cls, ratings, need_time: bool = False) -> _Codes:
        if not isinstance(ratings, pd.DataFrame):
            raise TypeError(f"ratings must be a pandas DataFrame, got {type(ratings).__name__}")
        needed = ["user_id", "item_id"] + (["timestamp"] if need_time else [])
        missing = [c for c in needed if c not in ratings.columns]
        if missing:
            raise ValueError(f"ratings lacks column(s) {missing}; it has {list(ratings.columns)}")
        if len(ratings) == 0:
            raise ValueError("ratings is empty: there is nothing to split")
        users, n_users = _dense_codes(ratings["user_id"].to_numpy())
        items, n_items = _dense_codes(ratings["item_id"].to_numpy())
        timestamps = None
        if need_time:
            timestamps = ratings["timestamp"].to_numpy()
            if not (np.issubdtype(timestamps.dtype, np.number) and np.all(np.isfinite(timestamps))):
                raise ValueError("ratings['timestamp'] must hold finite numbers")
        _check_no_duplicates(users, items, n_items, ratings)
        return cls(users, items, n_users, n_items, timestamps)


def _dense_codes(ids: np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes preserving the order of the ids; the ids themselves when small and >= 0."""
    if np.issubdtype(ids.dtype, np.integer) and ids.size:
        lo, hi = int(ids.min()), int(ids.max())
        if lo >= 0 and hi < 4 * ids.size + (1 << 20):
            return ids.astype(np.int64, copy=False), hi + 1
    codes, uniques = pd.factorize(ids, sort=True)
    if (codes < 0).any():
        raise ValueError("ratings has missing (NaN/None) user or item ids")
    return codes.astype(np.int64, copy=False), len(uniques)


def _check_no_duplicates(users: np.ndarray, items: np.ndarray, n_items: int, ratings: pd.DataFrame) -> None:
    keys = users * n_items + items
    keys.sort()
    dup = keys[1:] == keys[:-1]
    if dup.any():
        key = int(keys[1:][dup][0])
        row = np.flatnonzero((users == key // n_items) & (items == key % n_items))[0]
        user, item = ratings["user_id"].iloc[row], ratings["item_id"].iloc[row]
        raise ValueError(
            f"ratings hold {int(dup.sum())} duplicate (user, item) pair(s), e.g. user_id={user}, "
            f"item_id={item}; keep one rating per pair with recsys.interactions.deduplicate() first"
        )


def _make_split(
    ratings: pd.DataFrame, codes: _Codes, train: np.ndarray, method: str, params: dict, unseen: str
) -> Split:
    """Apply the unseen policy to the complement of ``train`` and package the three parts."""
    test = ~train
    dropped = np.zeros_like(test)
    if unseen == "drop":
        seen_users = np.bincount(codes.users[train], minlength=codes.n_users) > 0
        seen_items = np.bincount(codes.items[train], minlength=codes.n_items) > 0
        dropped = test & ~(seen_users[codes.users] & seen_items[codes.items])
        test &= ~dropped
    return Split(
        train=ratings[train],
        test=ratings[test],
        dropped=ratings[dropped],
        method=method,
        params=params,
        unseen=unseen,
    )


def _lex_order(*keys: np.ndarray) -> np.ndarray:
    """Row order sorting by ``keys[0]``, then ``keys[1]``, ...; remaining ties by row position.

    Keys are non-negative integer arrays. Same result as ``np.lexsort((positions, *keys[::-1]))``
    (the reference path, used when a key is too wide), computed as a least-significant-key-first
    radix sort: each pass packs (key, rank so far) into one int64 and uses a plain ``np.sort``.
    """
    n = keys[0].size
    pos_bits = max(int(n - 1).bit_length(), 1)
    widths = [max(int(k.max()).bit_length(), 1) if k.size else 1 for k in keys]
    if any(w + pos_bits > 63 for w in widths):
        return np.lexsort((np.arange(n),) + tuple(reversed(keys)))
    order = np.arange(n, dtype=np.int64)  # rows in the order of the keys seen so far
    rank = order.copy()  # rank[row] = its position in that order
    mask = (1 << pos_bits) - 1
    i = len(keys)
    while i > 0:
        # pack as many of the next-least-significant keys as fit beside the rank
        j, used = i, pos_bits
        while j > 0 and used + widths[j - 1] <= 63:
            j -= 1
            used += widths[j]
        packed = np.zeros(n, dtype=np.int64)
        for key, width in zip(keys[j:i], widths[j:i]):
            packed <<= width
            packed |= key
        packed <<= pos_bits
        packed |= rank
        packed.sort()
        order = order[packed & mask]
        rank[order] = np.arange(n, dtype=np.int64)
        i = j
    return order


def _rank_in_group(groups: np.ndarray, *keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rank 1..count of each row within its group by ``keys``, size of its group)."""
    order = _lex_order(groups, *keys)
    counts = np.bincount(groups)
    starts = np.cumsum(counts) - counts
    rank = np.empty(groups.size, dtype=np.int64)
    rank[order] = np.arange(groups.size, dtype=np.int64) - starts[groups[order]] + 1
    return rank, counts[groups]


def _sort_key(values: np.ndarray) -> np.ndarray:
    """Non-negative int64 codes with the order of ``values`` (offsets for integers, ranks otherwise)."""
    if np.issubdtype(values.dtype, np.integer):
        lo = int(values.min())
        if int(values.max()) - lo < 1 << 62:
            return values.astype(np.int64) - lo
    return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()


def _n_test(test_size: float, n: int) -> int:
    n_test = math.ceil(test_size * n)
    if n_test >= n:
        raise ValueError(
            f"test_size={test_size!r} of {n} rating(s) leaves the training set empty; "
            "use a smaller test_size or more ratings"
        )
    return n_test


def _n_absent(ids: pd.Series, present: np.ndarray) -> int:
    values = pd.unique(ids.to_numpy())
    return int((~np.isin(values, present)).sum())


def _check_unseen(unseen) -> None:
    check_choice("unseen", unseen, _UNSEEN)
