"""What the RaBitQ-Library adapters promise beyond the shared battery (tests/ann_conformance.py):
vectors under the library's 64 dimensions are padded without changing the ranking, ``ef`` below
``k`` is raised, the library's not-found slots become -1, cosine is ``l2`` on unit vectors, and
impossible parameters are refused with their name."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import bench, workloads
from recsys.ann.rabitq_index import RaBitQIVF, SymphonyQG

pytestmark = pytest.mark.skipif(SymphonyQG.available() is not None, reason=str(SymphonyQG.available()))


@pytest.fixture(scope="module")
def small():
    """1,000 items of 8 dimensions (padded to 64 inside), 50 queries, spread norms."""
    w = workloads.clustered(1000, 50, 8, 5, seed=4)
    return w, bench.ground_truth(w, 10)


def test_padded_dimensions_keep_the_inner_product_ranking(small):
    w, truth = small
    graph = SymphonyQG("ip", ef_construction=100).fit(w.items)
    graph.set_query_arguments(ef=1000)  # the whole catalogue: the float re-ranking decides
    assert bench.recall(graph.batch_query(w.queries, 10), truth, w, 10).mean() == 1.0
    ivf = RaBitQIVF("ip", nlist=8, nbits=32).fit(w.items)
    ivf.set_query_arguments(nprobe=8)
    assert bench.recall(ivf.batch_query(w.queries, 10), truth, w, 10).mean() >= 0.99


def test_ef_below_k_is_raised_to_k(small):
    w, _ = small
    index = SymphonyQG("ip").fit(w.items)
    index.set_query_arguments(ef=10)
    found = index.batch_query(w.queries[:3], 50)
    assert found.shape == (3, 50) and all(np.unique(row).size == 50 for row in found)
    np.testing.assert_array_equal(found[0], index.query(w.queries[0], 50))


def test_library_not_found_slots_become_minus_one(small):
    w, _ = small
    index = RaBitQIVF("ip", nlist=16).fit(w.items)
    index.set_query_arguments(nprobe=1)  # one cell of about 60 items, asked for 200
    for row in (index.query(w.queries[0], 200), index.batch_query(w.queries[:1], 200)[0]):
        real = row[row >= 0]
        assert 0 < real.size < 200 and (row[real.size :] == -1).all() and real.max() < w.n_items


def test_metrics_reach_the_library_as_declared(small):
    w, _ = small
    for cls in (SymphonyQG, RaBitQIVF):
        assert not cls("ip").transformed and cls.reproducible_build is False
        assert cls("ip").fit(w.items)._index.metric == "ip"
        assert cls("cosine").fit(w.items)._index.metric == "l2"  # on normalised vectors
        assert cls("l2").fit(w.items)._index.metric == "l2"


def test_threads_do_not_change_the_answers(small):
    w, _ = small
    for index, knob in (
        (SymphonyQG("ip").fit(w.items), {"ef": 40}),
        (RaBitQIVF("ip", nlist=16).fit(w.items), {"nprobe": 4}),
    ):
        index.set_query_arguments(**knob)
        serial = index.batch_query(w.queries, 10)
        np.testing.assert_array_equal(index.set_num_threads(2).batch_query(w.queries, 10), serial)


def test_memory_is_the_saved_index(small):
    w, _ = small
    raw = w.items.shape[0] * 64 * 4  # the padded float vectors
    assert SymphonyQG("ip").fit(w.items).memory_bytes() > raw  # vectors, codes of neighbours, links
    assert RaBitQIVF("ip", nlist=16, nbits=32).fit(w.items).memory_bytes() > raw  # keeps the vectors
    assert RaBitQIVF("ip", nlist=16, nbits=1).fit(w.items).memory_bytes() < raw / 4


@pytest.mark.parametrize(
    "cls, params, match",
    [
        (SymphonyQG, {"max_degree": 48}, "max_degree must be a multiple of 32"),
        (SymphonyQG, {"max_degree": 16}, "max_degree must be an integer >= 32"),
        (SymphonyQG, {"quantization_bits": 2}, "quantization_bits must be one of"),
        (SymphonyQG, {"init": "nndescent"}, "init must be one of"),
        (RaBitQIVF, {"nbits": 0}, "nbits must be an integer >= 1"),
        (RaBitQIVF, {"nbits": 16}, "nbits must be 1 to 9"),
        (RaBitQIVF, {"nlist": 0}, "nlist must be an integer >= 1"),
    ],
)
def test_impossible_parameters_are_refused_by_name(cls, params, match):
    with pytest.raises(ValueError, match=match):
        cls("ip", **params)


def test_catalogues_too_small_for_the_build_are_refused():
    X = np.random.default_rng(0).normal(size=(32, 8))
    with pytest.raises(ValueError, match="max_degree=32 neighbours per node need more than 32 items"):
        SymphonyQG("ip").fit(X)
    with pytest.raises(ValueError, match="nlist=64 cells need at least as many vectors; got 32"):
        RaBitQIVF("ip", nlist=64).fit(X)
    with pytest.raises(ValueError, match="ef must be an integer >= 1"):
        SymphonyQG("ip").set_query_arguments(ef=0)
