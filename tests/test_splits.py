"""Tests of recsys.splits: the invariants of every splitter (property tests), exact sizes, ML-100K folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys import splits
from recsys.datasets import ChecksumError
from recsys.splits import (
    Split,
    kfold,
    leave_last_k,
    ml100k_folds,
    random_holdout,
    stratified_holdout,
    temporal_split,
    time_leakage,
)

DTYPES = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}


def frame(rows, index=None) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(DTYPES), index=index).astype(DTYPES)


@st.composite
def rating_frames(draw, min_rows: int = 2) -> pd.DataFrame:
    """Small ratings frames: distinct pairs, sparse or huge raw ids, tied timestamps, shuffled index."""
    n_users = draw(st.integers(1, 7))
    n_items = draw(st.integers(1 if n_users > 1 else 2, 7))
    pairs = draw(
        st.lists(
            st.tuples(st.integers(0, n_users - 1), st.integers(0, n_items - 1)),
            min_size=min_rows,
            max_size=n_users * n_items,
            unique=True,
        )
    )
    n = len(pairs)
    big = draw(st.booleans())  # huge ids exercise the factorised path
    user_base, item_base = (2**40, -(2**41)) if big else (1, 1000)
    times = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))  # few values: many ties
    stars = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    index = draw(st.permutations(range(100, 100 + n)))
    rows = [(user_base + 3 * u, item_base + 7 * i, s, 10**9 + t) for (u, i), s, t in zip(pairs, stars, times)]
    return frame(rows, index=index)


def check_split(split: Split, ratings: pd.DataFrame, unseen: str) -> None:
    """The invariants every split satisfies."""
    parts = [split.train, split.test, split.dropped]
    for part in parts:
        assert list(part.columns) == list(ratings.columns)
        assert (part.dtypes == ratings.dtypes).all()
    # disjoint, and together exactly the input (rows unchanged, original index kept)
    labels = np.concatenate([p.index.to_numpy() for p in parts])
    assert len(labels) == len(set(labels)) == len(ratings)
    together = pd.concat(parts).loc[ratings.index]
    pd.testing.assert_frame_equal(together, ratings)
    # each part keeps the input order
    for part in parts:
        positions = ratings.index.get_indexer(part.index)
        assert (np.diff(positions) > 0).all()
    # no (user, item) pair on both sides
    train_pairs = set(zip(split.train["user_id"], split.train["item_id"]))
    assert not train_pairs & set(zip(split.test["user_id"], split.test["item_id"]))
    train_users, train_items = set(split.train["user_id"]), set(split.train["item_id"])
    if unseen == "drop":
        assert set(split.test["user_id"]) <= train_users
        assert set(split.test["item_id"]) <= train_items
        unseen_rows = ~split.dropped["user_id"].isin(train_users) | ~split.dropped["item_id"].isin(train_items)
        assert unseen_rows.all()
        assert split.n_dropped_users == len(set(split.dropped["user_id"]) - train_users)
        assert split.n_dropped_items == len(set(split.dropped["item_id"]) - train_items)
        assert split.n_cold_test_users == split.n_cold_test_items == 0
    else:
        assert split.dropped.empty and split.n_dropped_ratings == 0
        assert split.n_cold_test_users == len(set(split.test["user_id"]) - train_users)
        assert split.n_cold_test_items == len(set(split.test["item_id"]) - train_items)
    report = split.report
    assert (report["n_train"], report["n_test"], report["n_dropped_ratings"]) == (
        len(split.train),
        len(split.test),
        len(split.dropped),
    )
    assert report["unseen"] == unseen
    assert f"train={len(split.train):,}" in repr(split)


def same(a: list[Split], b: list[Split]) -> bool:
    """Whether two lists of splits put every row on the same side."""
    return all(
        getattr(x, part).index.equals(getattr(y, part).index)
        for x, y in zip(a, b, strict=True)
        for part in ("train", "test", "dropped")
    )


# name -> (ratings, seed, unseen) -> list of splits
SPLITTERS = {
    "random_holdout": lambda r, seed, unseen: [random_holdout(r, test_size=0.3, seed=seed, unseen=unseen)],
    "stratified_holdout": lambda r, seed, unseen: [stratified_holdout(r, train_ratio=0.6, seed=seed, unseen=unseen)],
    "stratified_min3": lambda r, seed, unseen: [stratified_holdout(r, 0.5, seed=seed, min_ratings=3, unseen=unseen)],
    "temporal_split": lambda r, seed, unseen: [temporal_split(r, test_size=0.25, unseen=unseen)],
    "leave_last_k": lambda r, seed, unseen: [leave_last_k(r, k=1, unseen=unseen)],
    "leave_last_2": lambda r, seed, unseen: [leave_last_k(r, k=2, unseen=unseen)],
    "kfold": lambda r, seed, unseen: kfold(r, n_folds=min(3, len(r)), seed=seed, unseen=unseen),
}
RANDOM = ("random_holdout", "stratified_holdout", "kfold")


@pytest.mark.parametrize("name", list(SPLITTERS))
@given(ratings=rating_frames(), seed=st.integers(0, 2**32 - 1), unseen=st.sampled_from(["drop", "keep"]))
@settings(max_examples=40, deadline=None)
def test_every_split_keeps_the_invariants(name, ratings, seed, unseen):
    make = SPLITTERS[name]
    result = make(ratings, seed, unseen)
    for split in result:
        check_split(split, ratings, unseen)
    assert same(result, make(ratings, seed, unseen))  # same seed, same split
    assert same(result, make(ratings.copy(), seed, unseen))


@pytest.mark.parametrize("name", RANDOM)
def test_different_seeds_give_different_splits(name):
    rng = np.random.default_rng(0)
    keys = rng.choice(40 * 30, size=400, replace=False)
    ratings = frame([(k // 30, k % 30, 3.0, t) for k, t in zip(keys, rng.integers(0, 10**6, 400))])
    results = [SPLITTERS[name](ratings, seed, "keep") for seed in range(4)]
    for a, b in zip(results, results[1:]):
        assert not same(a, b)


@pytest.mark.parametrize("name", list(SPLITTERS))
def test_duplicate_pairs_are_refused(name):
    ratings = frame([(1, 1, 3.0, 1), (1, 2, 4.0, 2), (2, 1, 5.0, 3), (1, 2, 2.0, 4)])
    with pytest.raises(ValueError, match=r"duplicate .*user_id=1, item_id=2.*recsys.interactions.deduplicate"):
        SPLITTERS[name](ratings, 0, "drop")


def test_bad_input_frames_are_refused():
    with pytest.raises(TypeError, match="DataFrame"):
        random_holdout([(1, 2, 3.0, 4)])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['item_id'\]"):
        random_holdout(pd.DataFrame({"user_id": [1, 2]}))
    with pytest.raises(ValueError, match="timestamp"):
        leave_last_k(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2]}))
    with pytest.raises(ValueError, match="empty"):
        kfold(frame([]))


@pytest.mark.parametrize(
    "call, name, error",
    [
        (lambda r: random_holdout(r, test_size=0.0), "test_size", ValueError),
        (lambda r: random_holdout(r, test_size=1.0), "test_size", ValueError),
        (lambda r: random_holdout(r, test_size=1.5), "test_size", ValueError),
        (lambda r: random_holdout(r, test_size=True), "test_size", TypeError),
        (lambda r: random_holdout(r, test_size=0.99), "test_size", ValueError),  # would leave train empty
        (lambda r: stratified_holdout(r, train_ratio=1.0), "train_ratio", ValueError),
        (lambda r: stratified_holdout(r, train_ratio=-0.1), "train_ratio", ValueError),
        (lambda r: stratified_holdout(r, min_ratings=0), "min_ratings", ValueError),
        (lambda r: temporal_split(r, test_size=0.0), "test_size", ValueError),
        (lambda r: temporal_split(r, test_size=0.2, cutoff=5), "not both", ValueError),
        (lambda r: temporal_split(r, cutoff=0), "cutoff", ValueError),
        (lambda r: temporal_split(r, cutoff=10**12), "cutoff", ValueError),
        (lambda r: temporal_split(r, cutoff="2001"), "cutoff", TypeError),
        (lambda r: leave_last_k(r, k=0), "k must", ValueError),
        (lambda r: leave_last_k(r, k=1.5), "k must", TypeError),
        (lambda r: kfold(r, n_folds=1), "n_folds", ValueError),
        (lambda r: kfold(r, n_folds=50), "n_folds", ValueError),
        (lambda r: random_holdout(r, unseen="ignore"), "unseen", ValueError),
        (lambda r: kfold(r, unseen=None), "unseen", ValueError),
        (lambda r: time_leakage(random_holdout(r), scope="item"), "scope", ValueError),
    ],
)
def test_bad_parameters_are_named(call, name, error):
    ratings = frame([(u, i, 3.0, 10 * u + i) for u in range(1, 5) for i in range(1, 5)])
    with pytest.raises(error, match=name):
        call(ratings)


# ----------------------------------------------------------------------------------- stratified


def test_stratified_sizes_follow_microsoft_recommenders_rounding():
    counts = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 10, 7: 7}
    rows = [(u, i, 3.0, i) for u, n in counts.items() for i in range(n)]
    split = stratified_holdout(frame(rows), train_ratio=0.75, seed=3, unseen="keep")
    n_train = split.train.groupby("user_id").size().reindex(list(counts), fill_value=0)
    # python_stratified_split keeps the r-th of n in train iff r / n <= ratio: floor(0.75 n);
    # here at least one per user stays in train.
    expected = {u: max(1, sum(r / n <= 0.75 for r in range(1, n + 1))) for u, n in counts.items()}
    assert expected == {1: 1, 2: 1, 3: 2, 4: 3, 5: 3, 6: 7, 7: 5}
    assert n_train.to_dict() == expected
    assert split.n_test == sum(counts.values()) - sum(expected.values())
    assert split.n_cold_test_users == 0  # every user kept a training rating


def test_stratified_keeps_light_users_in_train():
    rows = [(1, i, 3.0, i) for i in range(2)] + [(2, i, 3.0, i) for i in range(8)]
    split = stratified_holdout(frame(rows), train_ratio=0.5, min_ratings=3, unseen="keep")
    assert (split.train["user_id"] == 1).sum() == 2
    assert (split.train["user_id"] == 2).sum() == 4 and (split.test["user_id"] == 2).sum() == 4


def test_stratified_choice_is_uniform_within_a_user():
    rows = [(1, i, 3.0, i) for i in range(4)]
    hits = np.zeros(4)
    for seed in range(400):
        split = stratified_holdout(frame(rows), train_ratio=0.5, seed=seed, unseen="keep")
        np.add.at(hits, split.test["item_id"].to_numpy(), 1)
    assert hits.sum() == 800
    assert np.all(np.abs(hits / 400 - 0.5) < 0.1)


# ----------------------------------------------------------------------------------- leave-last-k


def test_leave_last_k_picks_the_latest_with_ties_by_item_id():
    rows = [
        (1, 10, 3.0, 500),
        (1, 11, 3.0, 900),
        (1, 12, 3.0, 900),  # same second as item 11: the larger id counts as later
        (1, 13, 3.0, 100),
        (2, 10, 3.0, 50),  # user 2 has one rating: stays in train
        (3, 10, 3.0, 7),
        (3, 13, 3.0, 8),
    ]
    ratings = frame(rows)
    one = leave_last_k(ratings, k=1, unseen="keep")
    assert sorted(zip(one.test["user_id"], one.test["item_id"])) == [(1, 12), (3, 13)]
    assert one.n_cold_test_items == 1  # nobody else rated item 12
    dropped = leave_last_k(ratings, k=1)
    assert dropped.dropped["item_id"].tolist() == [12] and dropped.test["item_id"].tolist() == [13]
    two = leave_last_k(ratings, k=2, unseen="keep")
    assert sorted(zip(two.test["user_id"], two.test["item_id"])) == [(1, 11), (1, 12)]
    assert set(two.train["user_id"]) == {1, 2, 3}


@given(ratings=rating_frames(), k=st.integers(1, 3))
@settings(max_examples=40, deadline=None)
def test_leave_last_k_test_follows_train_per_user(ratings, k):
    split = leave_last_k(ratings, k=k, unseen="keep")
    counts = ratings["user_id"].value_counts()
    assert split.test["user_id"].value_counts().to_dict() == {u: k for u, c in counts.items() if c > k}
    for user, test in split.test.groupby("user_id"):
        train = split.train[split.train["user_id"] == user]
        assert min(zip(test["timestamp"], test["item_id"])) > max(zip(train["timestamp"], train["item_id"]))


# ----------------------------------------------------------------------------------- temporal


@given(ratings=rating_frames(), test_size=st.floats(0.05, 0.5))
@settings(max_examples=40, deadline=None)
def test_temporal_train_precedes_test(ratings, test_size):
    split = temporal_split(ratings, test_size=test_size, unseen="keep")
    later = split.test
    assert len(later) == int(np.ceil(test_size * len(ratings)))  # exact size, ties included
    assert split.train["timestamp"].max() <= later["timestamp"].min()
    assert split.params["cutoff"] == later["timestamp"].min()
    assert time_leakage(split) == 0.0


def test_temporal_cutoff_and_boundary_ties():
    rows = [(1, 1, 3.0, 100), (3, 1, 3.0, 200), (2, 2, 3.0, 300), (1, 2, 3.0, 200), (2, 1, 3.0, 200)]
    ratings = frame(rows)
    by_cutoff = temporal_split(ratings, cutoff=200, unseen="keep")
    assert by_cutoff.train["timestamp"].tolist() == [100]
    assert by_cutoff.n_test == 4
    # three ratings share second 200; the test set takes the last by (user, item)
    by_size = temporal_split(ratings, test_size=0.4, unseen="keep")
    assert sorted(zip(by_size.test["user_id"], by_size.test["item_id"])) == [(2, 2), (3, 1)]


# ----------------------------------------------------------------------------------- kfold


@given(ratings=rating_frames(), n_folds=st.integers(2, 5), seed=st.integers(0, 1000))
@settings(max_examples=40, deadline=None)
def test_kfold_test_sets_partition_the_ratings(ratings, n_folds, seed):
    if n_folds > len(ratings):
        n_folds = len(ratings)
    folds = kfold(ratings, n_folds=n_folds, seed=seed)
    assert len(folds) == n_folds
    tested = np.concatenate([np.concatenate([f.test.index, f.dropped.index]) for f in folds])
    assert sorted(tested) == sorted(ratings.index)
    sizes = [f.n_test + f.n_dropped_ratings for f in folds]
    assert max(sizes) - min(sizes) <= 1
    assert all(f.n_train == len(ratings) - s for f, s in zip(folds, sizes))


# ----------------------------------------------------------------------------------- time leakage


def test_time_leakage_on_a_hand_made_split():
    train = frame([(1, 1, 3.0, 10), (1, 2, 3.0, 30), (2, 1, 3.0, 40), (2, 2, 3.0, 50)])
    test = frame([(1, 3, 3.0, 20), (2, 3, 3.0, 60)])
    split = Split(train=train, test=test, dropped=test.iloc[:0])
    # test at t=20: 3 of 4 training ratings are newer; at t=60: none
    assert time_leakage(split) == pytest.approx((3 / 4 + 0) / 2)
    # per user: user 1 has 1 of 2 newer, user 2 none of 2
    assert time_leakage(split, scope="user") == pytest.approx((1 / 2 + 0) / 2)
    assert np.isnan(time_leakage(Split(train=train, test=test.iloc[:0], dropped=test.iloc[:0])))


def test_time_leakage_separates_the_protocols():
    rng = np.random.default_rng(1)
    keys = rng.choice(60 * 80, size=2000, replace=False)
    # users active in overlapping windows, as in MovieLens
    times = (keys // 80) * 1000 + rng.permutation(2000) * 20
    ratings = frame([(k // 80, k % 80, 3.0, t) for k, t in zip(keys, times)])
    random = random_holdout(ratings, seed=0)
    assert 0.4 < time_leakage(random) < 0.6 and 0.35 < time_leakage(random, "user") < 0.65
    last = leave_last_k(ratings, k=2)
    assert time_leakage(last, "user") == 0.0 and 0.1 < time_leakage(last) < time_leakage(random)
    assert time_leakage(temporal_split(ratings), "user") == 0.0


# ----------------------------------------------------------------------------------- the fast sort


@st.composite
def key_arrays(draw) -> list[np.ndarray]:
    """1-4 non-negative integer keys of one length; narrow ones share a pass, 2**61 forces the fallback."""
    n = draw(st.integers(1, 60))
    highs = draw(st.lists(st.sampled_from([1, 3, 31, 2**20, 2**40, 2**61]), min_size=1, max_size=4))
    return [np.array(draw(st.lists(st.integers(0, hi), min_size=n, max_size=n)), dtype=np.int64) for hi in highs]


@given(key_arrays())
@settings(max_examples=80, deadline=None)
def test_lex_order_matches_numpy_lexsort(arrays):
    n = arrays[0].size
    expected = np.lexsort((np.arange(n),) + tuple(reversed(arrays)))
    np.testing.assert_array_equal(splits._lex_order(*arrays), expected)


# ----------------------------------------------------------------------------------- ML-100K folds


def write_fold_files(folder: Path, ratings: pd.DataFrame, fold_of: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(1, 6):
        ratings[fold_of != f].to_csv(folder / f"u{f}.base", sep="\t", header=False, index=False)
        ratings[fold_of == f].to_csv(folder / f"u{f}.test", sep="\t", header=False, index=False)


def test_ml100k_folds_on_hand_made_files(tmp_path):
    ratings = frame([(u, i, float(1 + (u + i) % 5), 881250949 + 10 * u + i) for u in range(1, 6) for i in range(1, 5)])
    ratings.loc[19, "item_id"] = 99  # an item only fold 5 tests
    fold_of = np.arange(len(ratings)) % 5 + 1
    write_fold_files(tmp_path / "ml-100k", ratings, fold_of)
    with pytest.raises(ChecksumError, match="u1.base"):  # hand-made files are not the release's
        ml100k_folds(tmp_path / "ml-100k")
    for folder in (tmp_path / "ml-100k", tmp_path):  # the release folder, or the folder holding it
        folds = ml100k_folds(folder, verify=False)
        assert [s.params["fold"] for s in folds] == ["u1", "u2", "u3", "u4", "u5"]
        assert (folds[4].n_dropped_ratings, folds[4].n_dropped_items) == (1, 1)
        assert folds[4].dropped["item_id"].tolist() == [99]
        assert sum(s.n_dropped_ratings for s in folds[:4]) == 0
    keep = ml100k_folds(tmp_path / "ml-100k", unseen="keep", verify=False)
    assert keep[4].n_test == 4 and keep[4].n_cold_test_items == 1


def test_ml100k_folds_refuse_a_modified_fold_file(tmp_path, shared_datasets_dir):
    import shutil

    copy = tmp_path / "ml-100k"
    shutil.copytree(shared_datasets_dir / "ml-100k", copy)
    lines = (copy / "u3.test").read_text().splitlines(keepends=True)
    (copy / "u3.test").write_text("".join(lines[:-1]))  # one rating lost
    with pytest.raises(ChecksumError, match="u3.test"):
        ml100k_folds(copy)


def test_ml100k_folds_names_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="u1.base"):
        ml100k_folds(tmp_path)


def read_plain(path: Path) -> np.ndarray:
    return pd.read_csv(path, sep="\t", header=None).to_numpy(dtype=np.int64)


def test_ml100k_folds_match_the_release_files(shared_datasets_dir):
    folder = shared_datasets_dir / "ml-100k"
    folds = ml100k_folds(folder)
    assert len(folds) == 5
    everything = read_plain(folder / "u.data")
    tested = []
    for f, split in enumerate(folds, start=1):
        base, test = read_plain(folder / f"u{f}.base"), read_plain(folder / f"u{f}.test")
        assert len(test) == 20_000 == split.n_test + split.n_dropped_ratings
        assert split.train.dtypes.to_dict() == DTYPES
        np.testing.assert_array_equal(split.train.to_numpy(dtype=np.int64), base)
        test_side = pd.concat([split.test, split.dropped]).sort_index()
        np.testing.assert_array_equal(test_side.to_numpy(dtype=np.int64), test)
        check_split(split, pd.concat([split.train, test_side]), "drop")
        assert split.n_dropped_ratings > 0 and split.n_dropped_users == 0  # only items go unseen
        tested.append(test)
    # the five test files partition u.data
    as_set = lambda a: set(map(tuple, a.tolist()))  # noqa: E731
    assert as_set(np.concatenate(tested)) == as_set(everything) and sum(map(len, tested)) == len(everything)


def test_given_n_keeps_n_training_ratings_for_the_same_test_users():
    rng = np.random.default_rng(5)
    pairs = rng.choice(60 * 50, size=1200, replace=False)
    frame = pd.DataFrame(
        {
            "user_id": pairs // 50,
            "item_id": pairs % 50,
            "rating": np.float32(3.0),
            "timestamp": rng.integers(0, 10**6, 1200),
        }
    )
    test_users = None
    for n in (0, 1, 3, 5):
        split = splits.given_n(frame, n, user_fraction=0.25, seed=9)
        assert split.n_train + split.n_test + split.n_dropped_ratings == len(frame)
        users = set(split.test["user_id"])
        if test_users is None:
            test_users = users
        assert users == test_users  # the same users for every n
        per_user = split.train[split.train["user_id"].isin(users)].groupby("user_id").size()
        assert (per_user.reindex(sorted(users), fill_value=0) == n).all()
    assert splits.given_n(frame, 0, user_fraction=0.25, seed=9).n_cold_test_users == len(test_users)
    with pytest.raises(ValueError, match="n"):
        splits.given_n(frame, -1)
    with pytest.raises(ValueError, match="more than n"):
        splits.given_n(frame, 10_000)


def test_recommenders_split_stratifies_by_item_like_microsoft_recommenders():
    rows = [(u, i, 4.0, u) for i in range(1, 9) for u in range(1, i + 1)]  # item i has i ratings
    ratings = frame(rows)
    split = splits.recommenders_split(ratings, 0.75, seed=3)
    train_counts = split.train["item_id"].value_counts().reindex(range(1, 9), fill_value=0)
    # the r-th of n ratings goes to train iff r / n <= 0.75: floor(0.75 n) of them
    assert train_counts.tolist() == [int(np.floor(0.75 * n + 1e-9)) for n in range(1, 9)]
    assert split.unseen == "keep" and split.n_dropped_ratings == 0
    assert 1 in split.test["item_id"].to_numpy() and 1 not in split.train["item_id"].to_numpy()
    assert split.n_train + split.n_test == len(ratings)
    by_user = splits.recommenders_split(ratings, 0.75, seed=3, by="user")
    assert by_user.params["by"] == "user"
    with pytest.raises(ValueError, match="by"):
        splits.recommenders_split(ratings, 0.75, by="time")


def test_user_temporal_holdout_tests_each_users_latest_ratings():
    """The per-user split by time: each user's test ratings are no older than their training
    ones (per-user leakage 0), with stratified_holdout's shares, and deterministic."""
    rng = np.random.default_rng(4)
    pairs = rng.choice(40 * 60, size=900, replace=False)
    ratings = pd.DataFrame(
        {
            "user_id": pairs // 60,
            "item_id": pairs % 60,
            "rating": np.ones(900, dtype="float32"),
            "timestamp": rng.integers(881_250_949, 881_250_949 + 10**6, 900),
        }
    )
    split = splits.user_temporal_holdout(ratings, 0.75, unseen="keep")
    random = splits.stratified_holdout(ratings, 0.75, seed=0, unseen="keep")
    assert split.n_train == random.n_train and split.n_test == random.n_test  # the same shares per user
    for user, test in split.test.groupby("user_id"):
        train = split.train[split.train["user_id"] == user]
        assert test["timestamp"].min() >= train["timestamp"].max()
    assert splits.time_leakage(split, "user") == 0.0 and splits.time_leakage(random, "user") > 0.3
    assert split.test.equals(splits.user_temporal_holdout(ratings, 0.75, unseen="keep").test)
    assert splits.make_split("user_temporal", ratings, test_size=0.25, unseen="keep").test.equals(split.test)
    with pytest.raises(ValueError, match="train_ratio"):
        splits.user_temporal_holdout(ratings, 1.5)
