"""The 2-D versions of the four families that notebook 06 draws: each does what its picture says."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import teaching


@pytest.fixture
def points():
    return np.random.default_rng(0).normal(size=(120, 2))


def test_rp_tree_leaves_partition_the_points_and_contain_them(points):
    from matplotlib.path import Path

    tree = teaching.rp_tree(points, leaf_size=10, seed=1)
    members = np.concatenate([m for _, m in tree.leaves])
    assert sorted(members.tolist()) == list(range(120))
    assert all(m.size <= 10 for _, m in tree.leaves)
    for polygon, m in tree.leaves:
        assert Path(polygon).contains_points(points[m], radius=1e-9).all()
    assert len(tree.splits) == len(tree.leaves) - 1
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        teaching.rp_tree(np.ones((5, 3)))


def test_product_quantizer_scores_codes_by_table_lookups(points):
    pq = teaching.ProductQuantizer(n_subspaces=2, n_centroids=4, seed=0).fit(points)
    codes = pq.encode(points)
    assert codes.shape == (120, 2) and codes.max() < 4
    recon = pq.decode(codes)
    assert len(np.unique(recon, axis=0)) <= 16
    q = np.array([0.3, -1.2])
    np.testing.assert_allclose(pq.scores(q, codes), recon @ q)
    assert pq.distance_table(q).shape == (2, 4)
    # each piece goes to its nearest centroid
    d = np.abs(points[:, :1] - pq.codebooks_[0].T)
    np.testing.assert_array_equal(codes[:, 0], d.argmin(axis=1))


def test_nsw_graph_is_two_way_and_greedy_search_only_moves_closer(points):
    graph = teaching.navigable_small_world(points, M=3, seed=0)
    assert all(a in graph[b] for a in range(120) for b in graph[a])
    assert all(len(n) >= 3 for n in graph[1:]) or min(len(n) for n in graph) >= 1
    query = np.array([2.0, 2.0])
    path = teaching.greedy_search(points, graph, query, entry=0)
    d = ((points[path] - query) ** 2).sum(axis=1)
    assert (np.diff(d) < 0).all()
    end = path[-1]
    assert all(((points[n] - query) ** 2).sum() >= d[-1] for n in graph[end])  # a local minimum


def test_kmeans_finds_planted_centres():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.05, size=(50, 2)) for c in ([0, 0], [3, 3], [0, 3])])
    C = teaching.kmeans(X, 3, seed=0)
    found = sorted(map(tuple, np.round(C)))
    assert found == [(0.0, 0.0), (0.0, 3.0), (3.0, 3.0)]


def test_leaf_of_finds_the_leaf_holding_a_point(points):
    tree = teaching.rp_tree(points, leaf_size=10, seed=1)
    for i in (0, 17, 99):
        assert i in teaching.leaf_of(tree, points[i])
    assert teaching.leaf_of(tree, [1e6, 1e6]).size == 0


def _skewed(n=3000, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.lognormal(0.0, 0.8, size=(n, 1))  # lengths spread like popularity
    return X, rng.normal(size=(40, d))


def test_norm_scan_finds_the_exact_top_k_and_reads_less():
    X, Q = _skewed()
    shares = []
    for q in Q:
        scan = teaching.norm_scan(q, X, 10)
        scores = X @ q
        assert list(scan.top) == list(np.lexsort((np.arange(len(X)), -scores))[:10])
        assert np.all(np.diff(scan.bound) <= 0) and np.all(np.diff(scan.kth_best[9:]) >= 0)
        assert np.isnan(scan.kth_best[:9]).all()
        # the stop is where the bound first falls below the k-th best so far, and not before
        assert scan.stop == len(X) or scan.bound[scan.stop] < scan.kth_best[scan.stop - 1]
        assert np.all(scan.bound[10 : scan.stop] >= scan.kth_best[9 : scan.stop - 1])
        shares.append(scan.share_read)
    assert np.median(shares) < 0.5  # skewed lengths: the scan stops early


def test_norm_scan_stops_by_bisection_equal_the_scan():
    X, Q = _skewed(seed=1)
    stops = teaching.norm_scan_stops(Q, X, 5)
    assert stops.dtype == np.int64
    assert list(stops) == [teaching.norm_scan(q, X, 5).stop for q in Q]


def test_norm_scan_stops_right_after_the_long_items_that_fill_the_list():
    # ten items far longer than the rest, all pointing along the query: the bound stops after them
    rng = np.random.default_rng(0)
    W = np.vstack([np.tile([100.0, 0.0], (10, 1)), rng.standard_normal((200, 2))])
    assert list(teaching.norm_scan_stops(np.array([[1.0, 0.0]]), W, 10)) == [10]
    assert teaching.norm_scan(np.array([1.0, 0.0]), W, 10).share_read == pytest.approx(10 / 210)


def test_norm_scan_reads_everything_when_no_item_is_longer():
    # equal lengths: the bound never falls, every item is read (and ties resolve by index)
    X = np.tile(np.eye(4), (5, 1))
    scan = teaching.norm_scan(np.array([1.0, 0, 0, 0]), X, 3)
    assert scan.stop == len(X) and list(scan.top) == [0, 4, 8]
    assert list(teaching.norm_scan_stops(np.array([[1.0, 0, 0, 0]]), X, 3)) == [len(X)]


def test_norm_scan_rejects_bad_shapes_and_k():
    X, Q = _skewed(n=50)
    with pytest.raises(ValueError, match="dimension"):
        teaching.norm_scan(Q[0][:3], X, 5)
    with pytest.raises(ValueError, match="k"):
        teaching.norm_scan_stops(Q, X, 51)
