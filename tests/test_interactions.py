"""Tests of recsys.interactions: the id map, CSR matrices, deduplication, implicit feedback, k-cores."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.interactions import IdMap, UnknownIdError, deduplicate, k_core, to_csr, to_implicit


def frame(rows, columns=("user_id", "item_id", "rating", "timestamp")) -> pd.DataFrame:
    """A ratings frame with the standard dtypes from a list of tuples."""
    df = pd.DataFrame(rows, columns=list(columns))
    dtypes = {"user_id": np.int64, "item_id": np.int64, "rating": np.float32, "timestamp": np.int64}
    return df.astype({c: dtypes[c] for c in df.columns})


@pytest.fixture
def small() -> pd.DataFrame:
    return frame([(7, 100, 4.0, 10), (7, 300, 0.0, 11), (3, 100, 5.0, 12), (42, 200, 2.5, 13)])


# ----------------------------------------------------------------------------------- IdMap


def test_idmap_from_ratings_is_sorted_and_complete(small):
    idmap = IdMap.from_ratings(small)
    np.testing.assert_array_equal(idmap.user_ids, [3, 7, 42])
    np.testing.assert_array_equal(idmap.item_ids, [100, 200, 300])
    assert idmap.shape == (3, 3) and idmap.n_users == 3 and idmap.n_items == 3


@given(st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=50))
@settings(max_examples=60, deadline=None)
def test_idmap_round_trip(raw):
    raw = np.array(raw, dtype=np.int64)
    ratings = pd.DataFrame({"user_id": raw, "item_id": raw[::-1]})
    idmap = IdMap.from_ratings(ratings)
    users, items = idmap.encode(ratings)
    np.testing.assert_array_equal(idmap.user_ids[users], raw)
    np.testing.assert_array_equal(idmap.item_ids[items], raw[::-1])
    # indices are contiguous 0..n-1 and follow the order of the raw ids
    assert set(users.tolist()) == set(range(idmap.n_users))
    np.testing.assert_array_equal(np.sign(np.diff(users)), np.sign(np.diff(raw)))


def test_unknown_ids_raise_with_a_message(small):
    idmap = IdMap.from_ratings(small)
    with pytest.raises(UnknownIdError, match=r"2 unknown user id\(s\): 5, 99") as info:
        idmap.user_index([3, 99, 5, 99])
    assert isinstance(info.value, KeyError)
    assert not str(info.value).startswith("'")  # shown plainly, not quoted like a KeyError
    with pytest.raises(UnknownIdError, match="unknown item id"):
        idmap.item_index([100, 101])


def test_unknown_ids_can_be_marked(small):
    idmap = IdMap.from_ratings(small)
    np.testing.assert_array_equal(idmap.user_index([42, 5, 3, 1000], unknown="mark"), [2, -1, 0, -1])
    np.testing.assert_array_equal(idmap.item_index([99, 300], unknown="mark"), [-1, 2])
    empty = IdMap(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    np.testing.assert_array_equal(empty.user_index([1, 2], unknown="mark"), [-1, -1])
    with pytest.raises(UnknownIdError):
        empty.user_index([1])


def test_bad_unknown_policy_is_refused_even_when_all_ids_are_known(small):
    idmap = IdMap.from_ratings(small)
    with pytest.raises(ValueError, match="unknown must be 'raise' or 'mark'"):
        idmap.user_index([3], unknown="ignore")


def test_idmap_refuses_unsorted_or_repeated_ids():
    with pytest.raises(ValueError, match="user_ids must be .* sorted, unique"):
        IdMap(np.array([3, 1, 2]), np.array([1]))
    with pytest.raises(ValueError, match="item_ids"):
        IdMap(np.array([1]), np.array([1, 1]))


# ----------------------------------------------------------------------------------- to_csr


def test_to_csr_shape_values_and_explicit_zeros(small):
    m = to_csr(small)
    assert isinstance(m, sp.csr_matrix) and m.dtype == np.float32 and m.has_sorted_indices
    assert m.shape == (3, 3)
    # users [3, 7, 42] x items [100, 200, 300]
    expected = np.array([[5.0, 0.0, 0.0], [4.0, 0.0, 0.0], [0.0, 2.5, 0.0]])
    np.testing.assert_array_equal(m.toarray(), expected)
    # the rating 0.0 of (7, 300) is a stored entry: it was observed
    assert m.nnz == len(small) == 4
    assert m[1, 2] == 0.0 and 2 in m[1].indices


def test_to_csr_follows_a_given_idmap_and_can_store_ones(small):
    idmap = IdMap(np.array([3, 7, 42, 50]), np.array([50, 100, 200, 300]))
    m = to_csr(small, idmap, values=None, dtype=np.float64)
    assert m.shape == (4, 4) and m.dtype == np.float64
    np.testing.assert_array_equal(m.toarray()[:, 0], 0)  # item 50 nobody rated
    np.testing.assert_array_equal(m.toarray()[3], 0)  # user 50 rated nothing
    np.testing.assert_array_equal(m.data, np.ones(4))
    assert m[1, 3] == 1.0  # (7, 300) stored as 1 although its rating is 0


def test_to_csr_refuses_duplicates_and_unknown_ids(small):
    doubled = pd.concat([small, small.iloc[[1]].assign(rating=np.float32(3.0))])
    with pytest.raises(ValueError, match=r"1 duplicate .*deduplicate"):
        to_csr(doubled)
    train_map = IdMap.from_ratings(small.iloc[:2])
    with pytest.raises(UnknownIdError):
        to_csr(small, train_map)


# ----------------------------------------------------------------------------------- deduplicate


def test_deduplicate_keeps_the_latest_by_timestamp_whatever_the_row_order():
    df = frame([(1, 10, 2.0, 50), (1, 10, 5.0, 70), (1, 10, 3.0, 60), (2, 10, 4.0, 1), (1, 20, 1.0, 5)])
    for order in itertools.permutations(range(len(df))):
        shuffled = df.iloc[list(order)]
        last = deduplicate(shuffled)
        assert len(last) == 3
        assert last.set_index(["user_id", "item_id"]).loc[(1, 10), "rating"] == 5.0
        first = deduplicate(shuffled, keep="first")
        assert first.set_index(["user_id", "item_id"]).loc[(1, 10), "rating"] == 2.0
        assert not last.duplicated(["user_id", "item_id"]).any()


def test_deduplicate_leaves_distinct_pairs_alone(small):
    pd.testing.assert_frame_equal(deduplicate(small), small)


# ----------------------------------------------------------------------------------- to_implicit


def test_to_implicit_threshold_is_inclusive(small):
    positives = to_implicit(small, relevance_threshold=4.0)
    assert sorted(zip(positives["user_id"], positives["item_id"])) == [(3, 100), (7, 100)]
    assert positives["rating"].dtype == np.float32 and (positives["rating"] == 1.0).all()
    assert len(to_implicit(small, relevance_threshold=4.5)) == 1
    everything = to_implicit(small, relevance_threshold=None)
    assert len(everything) == len(small) and (everything["rating"] == 1.0).all()
    # the input is not modified
    assert small["rating"].tolist() == [4.0, 0.0, 5.0, 2.5]


# ----------------------------------------------------------------------------------- k_core


def brute_force_core(pairs: set[tuple[int, int]], user_k: int, item_k: int) -> set[tuple[int, int]]:
    """The largest set of pairs, induced by some users x items, where everyone meets the threshold."""
    users = sorted({u for u, _ in pairs})
    items = sorted({i for _, i in pairs})
    best: set[tuple[int, int]] = set()
    for nu in range(len(users) + 1):
        for us in itertools.combinations(users, nu):
            for ni in range(len(items) + 1):
                for its in itertools.combinations(items, ni):
                    kept = {(u, i) for (u, i) in pairs if u in us and i in its}
                    ok = all(sum(1 for (a, _) in kept if a == u) >= user_k for u in us) and all(
                        sum(1 for (_, b) in kept if b == i) >= item_k for i in its
                    )
                    if ok and len(kept) > len(best):
                        best = kept
    return best


@given(
    st.sets(st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=16),
    st.integers(0, 3),
    st.integers(0, 3),
)
@settings(max_examples=40, deadline=None)
def test_k_core_is_the_largest_subset_meeting_the_thresholds(pairs, user_k, item_k):
    df = frame([(u, i, 1.0, 0) for u, i in sorted(pairs)])
    core = k_core(df, user_k=user_k, item_k=item_k)
    got = set(zip(core["user_id"], core["item_id"]))
    # a fixed point: every remaining user and item meets its threshold
    assert (core["user_id"].value_counts() >= user_k).all()
    assert (core["item_id"].value_counts() >= item_k).all()
    assert got == brute_force_core(set(pairs), user_k, item_k)


def test_k_core_needs_several_rounds():
    # item 30 and user 4 have one rating each; removing them leaves user 3 with one rating
    df = frame(
        [(1, 10, 1, 0), (1, 20, 1, 0), (2, 10, 1, 0), (2, 20, 1, 0), (3, 20, 1, 0), (3, 30, 1, 0), (4, 10, 1, 0)]
    )
    core = k_core(df, k=2)
    assert sorted(zip(core["user_id"], core["item_id"])) == [(1, 10), (1, 20), (2, 10), (2, 20)]
    assert len(k_core(df, k=3)) == 0
    assert len(k_core(df, user_k=1, item_k=3)) == 6  # only item 30 goes


@pytest.mark.parametrize(
    "kwargs, error",
    [({"k": -1}, ValueError), ({"k": 2.5}, TypeError), ({"user_k": -2}, ValueError), ({"item_k": 1.5}, TypeError)],
)
def test_k_core_refuses_bad_thresholds(small, kwargs, error):
    name = next(iter(kwargs))
    with pytest.raises(error, match=name):
        k_core(small, **kwargs)


# ------------------------------------------------------------------------------------------------
# check_interactions: one rule for every matrix the package accepts


def _dense():
    return np.array([[4.0, 0.0, 3.0], [0.0, 0.0, 5.0]])


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil", "dok", "bsr", "dia", "csr_array", "coo_array"])
def test_every_sparse_format_is_accepted_and_canonicalised(fmt):
    from recsys.interactions import check_interactions

    dense = _dense()
    X = getattr(sp, fmt)(dense) if fmt.endswith("_array") else sp.csr_matrix(dense).asformat(fmt)
    out = check_interactions(X)
    assert isinstance(out, sp.csr_matrix) and out.has_sorted_indices
    np.testing.assert_array_equal(out.toarray(), dense)


@pytest.mark.parametrize("fmt", ["coo", "csr", "csc"])
def test_repeated_entries_are_refused_never_summed(fmt):
    from recsys.interactions import check_interactions

    coo = sp.coo_matrix((np.array([4.0, 4.0, 3.0]), (np.array([0, 0, 1]), np.array([1, 1, 2]))), shape=(2, 3))
    X = coo if fmt == "coo" else sp.csr_matrix((coo.data, (coo.row, coo.col)), shape=coo.shape)
    if fmt != "coo":  # build a CSR/CSC that really stores the pair twice
        X = sp.csr_matrix((np.array([4.0, 4.0, 3.0]), np.array([1, 1, 2]), np.array([0, 2, 3])), shape=(2, 3))
        X = X if fmt == "csr" else X.T.tocsc().T
    with pytest.raises(ValueError, match="1 repeated .*deduplicate"):
        check_interactions(X)


def test_non_numeric_or_non_finite_matrices_are_refused():
    from recsys.interactions import check_interactions

    with pytest.raises(TypeError, match="scipy.sparse"):
        check_interactions(_dense())
    bad = sp.csr_matrix(_dense())
    bad.data[0] = np.inf
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        check_interactions(bad, "train")
