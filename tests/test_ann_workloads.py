"""Workloads: seeded, validated, and a mixture that keeps the shape (norms, angles) of real factors."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import workloads


@pytest.fixture(scope="module")
def real():
    """Factor-like vectors: three clusters, log-normal norms with a tail of near-zero vectors."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 6)) * 2
    items = centres[rng.integers(0, 3, 900)] + rng.normal(size=(900, 6))
    items *= rng.lognormal(-1.0, 0.8, size=(900, 1))
    users = centres[rng.integers(0, 3, 300)] + rng.normal(size=(300, 6))
    return workloads.from_factors(items, users)


@pytest.fixture(scope="module")
def mixture(real):
    return workloads.fit_mixture(real.items, real.queries, item_components=6, user_components=2, seed=0)


def test_the_mixture_is_seeded(mixture):
    a, b = mixture.workload(500, 20, seed=1), mixture.workload(500, 20, seed=1)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.queries, b.queries)
    c = mixture.workload(500, 20, seed=2)
    assert not np.array_equal(a.items, c.items)
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert a.items.dtype == np.float32 and a.dim == 6 and a.metric == "ip"
    assert a.key()["kind"] == "mixture" and a.key()["item_components"] == 6


def test_the_mixture_matches_norms_and_angles_of_the_real_factors(real, mixture):
    synthetic = mixture.workload(3000, 300, seed=0)
    table = workloads.shape_table(real, synthetic, n_pairs=4000)
    assert table.loc["item norm", "ks"] < 0.05  # norms are resampled from the real ones
    assert table["matches"].all(), table


def test_the_shape_check_catches_a_wrong_shape(real):
    rng = np.random.default_rng(1)
    gaussian = workloads.Workload("gaussian", rng.normal(size=(900, 6)), rng.normal(size=(300, 6)))
    table = workloads.shape_table(real, gaussian, n_pairs=4000)
    assert not table.loc["item norm", "matches"]
    assert table.loc["item norm", "ks"] > 0.3


def test_without_norm_matching_the_gaussian_tail_is_lost(real):
    plain = workloads.fit_mixture(real.items, real.queries, item_components=3, user_components=2, match_norms=False)
    matched = workloads.fit_mixture(real.items, real.queries, item_components=3, user_components=2)
    ks_plain = workloads.shape_report(real, plain.workload(3000, 300), n_pairs=2000).loc["item norm", "ks"]
    ks_matched = workloads.shape_report(real, matched.workload(3000, 300), n_pairs=2000).loc["item norm", "ks"]
    assert ks_matched < ks_plain


def test_workloads_validate_and_subset():
    w = workloads.clustered(300, 10, 4, 3, seed=0)
    assert w.n_items == 300 and w.n_queries == 10
    small = w.subset(100)
    np.testing.assert_array_equal(small.items, w.items[:100])
    assert small.key()["n_items"] == 100 and small.fingerprint() != w.fingerprint()
    with pytest.raises(ValueError, match="n_items must be"):
        w.subset(301)
    with pytest.raises(ValueError, match="dimensions, expected 4"):
        workloads.Workload("bad", np.ones((3, 4)), np.ones((2, 5)))
    bad = np.ones((3, 4))
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        workloads.Workload("bad", bad, np.ones((2, 4)))
    with pytest.raises(ValueError, match="metric must be"):
        workloads.Workload("bad", np.ones((3, 4)), np.ones((2, 4)), metric="dot")


def test_from_factors_samples_queries_reproducibly():
    rng = np.random.default_rng(0)
    items, users = rng.normal(size=(50, 3)), rng.normal(size=(40, 3))
    a = workloads.from_factors(items, users, n_queries=10, seed=3)
    b = workloads.from_factors(items, users, n_queries=10, seed=3)
    np.testing.assert_array_equal(a.queries, b.queries)
    assert a.n_queries == 10 and workloads.from_factors(items, users).n_queries == 40
    with pytest.raises(ValueError, match="dimensions"):
        workloads.from_factors(items, users[:, :2])
