"""What the glass and voyager adapters promise beyond the shared battery (tests/ann_conformance.py).

voyager: its inner-product space builds its graph on Bachrach et al.'s transform of the items, and
the adapter inserts the items longest first, which is what makes that graph search well on
recommender-shaped vectors. glass: its searcher copies out ``k`` slots of a pool it may not have
filled, so the adapter answers -1 past what the graph lets a search reach; its one-query and batched
paths agree even when ``ef < k``; float16 storage refuses coordinates it cannot hold. Both: a
serial build repeats exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import workloads
from recsys.ann.ground_truth import ground_truth, recall


@pytest.fixture(scope="module")
def spread():
    """The battery's 2,000 clustered items (d = 16, log-normal norms), 100 queries, exact top-10."""
    w = workloads.clustered(2000, 100, 16, 10, seed=3)
    return w, ground_truth(w, 10)


def test_voyager_inserting_the_longest_items_first_is_what_makes_inner_product_work(spread):
    pytest.importorskip("voyager")
    from recsys.ann.voyager_index import Voyager

    w, truth = spread
    found = {}
    for order in ("norm", "given"):
        index = Voyager("ip", M=8, ef_construction=40, order=order).fit(w.items)
        index.set_query_arguments(ef=10)
        found[order] = recall(index.batch_query(w.queries, 10), truth, w, 10).mean()
    # measured: 0.99 longest first, 0.57 in the catalogue's order (hnswlib's plain graph: 0.99)
    assert found["norm"] >= 0.95 and found["norm"] > found["given"] + 0.2, found


def test_glass_smallest_reach_of_a_graph():
    from recsys.ann.glass_index import _smallest_reach

    ring = np.array([[1, -1], [2, -1], [3, -1], [0, -1]])
    assert _smallest_reach(ring) == 4
    # items 0 and 1 link into the cycle 2 -> 3 -> 4 -> 2 and nothing links back to them
    funnel = np.array([[2, 1], [3, -1], [3, -1], [4, -1], [2, -1]])
    assert _smallest_reach(funnel) == 3
    # two cycles, one feeding the other: a search starting in the second reaches only its 2 items
    two = np.array([[1, 3], [2, -1], [0, -1], [4, -1], [3, -1]])
    assert _smallest_reach(two) == 2


def test_glass_answers_minus_one_past_what_its_graph_reaches(spread):
    pytest.importorskip("glass")
    from recsys.ann.glass_index import GlassHNSW

    w, _ = spread
    index = GlassHNSW("ip", R=16, L=40).fit(w.items)
    # short items link to long ones and few links lead back: an inner-product graph reaches
    # fewer items than the catalogue holds (measured: 955 of 2,000)
    assert 10 < index.reach_ < w.n_items
    k = index.reach_ + 50
    for found in (index.batch_query(w.queries[:3], k), np.vstack([index.query(q, k) for q in w.queries[:3]])):
        head = found[:, : index.reach_]
        assert (head >= 0).all() and all(np.unique(row).size == row.size for row in head)
        assert (found[:, index.reach_ :] == -1).all()
    # an l2 graph links both ways: (nearly) every item is reachable (measured: 1,999 of 2,000)
    assert GlassHNSW("l2", R=16, L=40).fit(w.items).reach_ >= 0.99 * w.n_items


def test_glass_one_query_and_batch_agree_when_ef_is_below_k(spread):
    pytest.importorskip("glass")
    from recsys.ann.glass_index import GlassHNSW

    w, _ = spread
    index = GlassHNSW("ip", R=16, L=40).fit(w.items).set_num_threads(2)
    index.set_query_arguments(ef=5)
    batch = index.batch_query(w.queries, 50)
    np.testing.assert_array_equal(batch, np.vstack([index.query(q, 50) for q in w.queries]))
    assert (batch >= 0).all()


def test_glass_float16_refuses_coordinates_beyond_its_range(spread):
    pytest.importorskip("glass")
    from recsys.ann.glass_index import GlassHNSW

    w, _ = spread
    with pytest.raises(ValueError, match="float16"):
        GlassHNSW("ip", R=16, L=40, quant="FP16").fit(w.items * 1e5)
    index = GlassHNSW("ip", R=16, L=40, quant="FP16").fit(w.items)
    assert index.memory_bytes() < GlassHNSW("ip", R=16, L=40).fit(w.items).memory_bytes()
    with pytest.raises(ValueError, match="quant must be one of"):
        GlassHNSW("ip", quant="SQ8U")
    with pytest.raises(ValueError, match="R must be even"):
        GlassHNSW("ip", R=15)


@pytest.mark.parametrize("name", ["glass", "voyager"])
def test_serial_builds_repeat_exactly_and_more_threads_than_cores_are_safe(name, spread):
    from recsys.ann import registry

    adapter = registry.get(name)
    if adapter.available():
        pytest.skip(adapter.available())
    w, _ = spread
    case = adapter.conformance
    runs = []
    for _ in range(2):
        index = registry.make(name, "ip", **case.build).fit(w.items)
        index.set_query_arguments(**case.knob[0])
        runs.append((index.batch_query(w.queries, 10), index.memory_bytes()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    index.set_num_threads(64)  # glass keeps one search pool per core: the adapter caps its threads
    np.testing.assert_array_equal(index.batch_query(w.queries, 10), runs[0][0])
