"""The workload-difficulty statistics, and the mixture generator held to the real vectors' difficulty."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import difficulty, workloads
from recsys.ann.workloads import Workload


def test_lid_of_points_spread_uniformly_in_a_ball_is_their_dimension():
    rng = np.random.default_rng(0)
    for d in (2, 5, 12):
        # radii of uniform points in a d-ball around the query: r = U^(1/d)
        radii = np.sort(rng.random((4000, 20)) ** (1.0 / d), axis=1)
        assert np.median(difficulty.lid_mle(radii)) == pytest.approx(d, rel=0.12)


def test_hubness_counts_the_items_in_any_list_and_the_top_item():
    truth = np.array([[0, 1], [0, 2], [0, 1], [3, 0]])
    share, top = difficulty.hubness(truth, n_items=10, k=2)
    assert share == pytest.approx(0.4) and top == pytest.approx(1.0)
    assert difficulty.hubness(truth, n_items=10, k=1) == (pytest.approx(0.2), pytest.approx(0.75))


def test_contrast_is_near_one_when_every_item_is_as_close_and_large_when_neighbours_stand_out():
    rng = np.random.default_rng(1)
    queries = rng.normal(size=(20, 8))
    flat = Workload("flat", rng.normal(size=(2000, 8)) * 1e-3 + 1.0, queries)  # all items alike
    contrast, _ = difficulty.contrast_and_lid(flat, k=10)
    assert contrast == pytest.approx(1.0, abs=0.02)
    planted = rng.normal(size=(2000, 8))
    planted[:200] = np.repeat(queries, 10, axis=0) * 5.0  # every query has 10 items far ahead
    standing, _ = difficulty.contrast_and_lid(Workload("planted", planted, queries), k=10)
    assert standing > 1.3


def test_difficulty_is_deterministic_and_refuses_other_metrics():
    rng = np.random.default_rng(2)
    work = Workload("w", rng.normal(size=(3000, 16)), rng.normal(size=(50, 16)))
    first, second = difficulty.difficulty(work), difficulty.difficulty(work)
    assert first == second and list(first) == list(difficulty.TOLERANCES)
    assert all(0.0 <= first[name] <= 1.0 for name in first if name.startswith(("IVF", "HNSW")))
    with pytest.raises(ValueError, match="inner-product"):
        difficulty.difficulty(Workload("w", work.items, work.queries, "l2"))
    with pytest.raises(ValueError, match="same size"):
        difficulty.validation_table(work, work.subset(2000))


def test_within_reads_absolute_and_ratio_tolerances():
    assert difficulty.within("HNSW ip ef=10", 0.9, 0.9 + 0.039)
    assert not difficulty.within("HNSW ip ef=10", 0.9, 0.9 - 0.041)
    assert difficulty.within("local intrinsic dimension", 30.0, 30.0 * 1.24)
    assert not difficulty.within("local intrinsic dimension", 30.0, 30.0 / 1.26)


@pytest.fixture(scope="module")
def real_and_mixture():
    from recsys.experiments import serving

    embeddings = serving.real_embeddings("ml-latest-small", factors=64, seed=42)
    return embeddings, embeddings.workload(), serving.mixture_for(embeddings, seed=42)


@pytest.mark.slow
def test_the_mixture_is_as_hard_for_ann_as_the_real_vectors_at_the_real_size(real_and_mixture):
    """The generator of notebook 06, at the real catalogue's size: a change that breaks any statistic fails here."""
    _, real, mixture = real_and_mixture
    samples = [mixture.workload(real.n_items, real.n_queries, seed=s) for s in range(6)]
    table = difficulty.validation_table(real, samples)
    assert table["holds"].all(), table[~table["holds"]].to_string()
    # the real vectors themselves, pinned loosely: what the tolerances were set against
    assert 0.85 < table.loc["IVF MIPS->l2 nprobe=32", "real"] and 0.95 < table.loc["HNSW ip ef=40", "real"]
    assert 0.02 < table.loc["items in any top-k", "real"] < 0.10


@pytest.mark.slow
def test_a_generator_without_clusters_or_norms_fails_the_check(real_and_mixture):
    embeddings, real, _ = real_and_mixture
    plain = workloads.fit_mixture(
        embeddings.item_vectors, embeddings.user_vectors, item_components=1, user_components=1, match_norms=False
    )
    table = difficulty.validation_table(real, [plain.workload(real.n_items, real.n_queries, seed=0)])
    failing = set(table.index[~table["holds"]])
    assert {"items in any top-k", "HNSW ip ef=40", "IVF ip nprobe=2"} <= failing
