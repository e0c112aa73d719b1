"""The conformance battery every ANN adapter passes (LensKit's habit: one battery, subclassed).

A test class subclasses :class:`AdapterConformance` and gives an ``adapter`` fixture (the class
under test); the battery reads everything else from the class itself: its declarations, its
grids, and its small case (:class:`recsys.ann.base.Conformance`). ``tests/test_ann_adapters.py``
runs it over every adapter of ``recsys.ann``; ``tests/test_ann_toy_adapter.py`` over a library
defined in that one file. The battery checks that:

* the class declares what it is (name, family, metrics, requirement, grids whose every build is a
  valid constructor call and whose every query point names its query knobs);
* its finest knob point reaches the recall it states and recall does not fall as the knob rises,
  one query per call gives the batch's answers, and it reports memory and build time;
* inner product is served natively or through the MIPS transform, as declared;
* cosine mode ranks by angle, not by inner product;
* bad input fails with the interface's clear errors.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import grids, workloads
from recsys.ann.base import FAMILIES, METRICS, ANNIndex, Conformance, requirement_name
from recsys.ann.ground_truth import ground_truth, recall


def _skip_if_unavailable(adapter: type[ANNIndex]) -> None:
    reason = adapter.available()
    if reason:
        pytest.skip(reason)


class AdapterConformance:
    """Subclass it with an ``adapter`` fixture returning the adapter class under test."""

    @pytest.fixture(scope="class")
    @classmethod
    def clustered(cls):
        """2,000 items, 100 queries, d = 16, 10 clusters, and their exact top-10 (inner product)."""
        w = workloads.clustered(2000, 100, 16, 10, seed=3)
        return w, ground_truth(w, 10)

    def test_declares_what_it_is(self, adapter):
        assert issubclass(adapter, ANNIndex)
        assert isinstance(adapter.name, str) and adapter.name and adapter.name != "base"
        assert adapter.family in FAMILIES
        assert set(adapter.supported_metrics) <= set(METRICS) and adapter.supported_metrics
        assert set(adapter.native_metrics) <= set(adapter.supported_metrics)
        assert "ip" in adapter.native_metrics or adapter.transform_space in ("l2", "cosine")
        assert (adapter.library is None) == (adapter.requirement is None), "a library needs its pip requirement"
        if adapter.requirement:
            assert requirement_name(adapter.requirement) == adapter.pip_name
        assert isinstance(adapter.conformance, Conformance), f"{adapter.name} declares no conformance case"
        for grid in (adapter.grid, adapter.quick_grid):
            assert grid is not None, f"{adapter.name} declares no grid and quick_grid"
            builds, queries = grids.expand(grid)
            for build in builds:
                adapter("ip", **build)  # every build point is a valid constructor call
            for point in queries:
                assert set(point) <= set(adapter.query_params), (point, adapter.query_params)

    def test_reaches_its_recall_and_improves_with_its_knob(self, adapter, clustered):
        _skip_if_unavailable(adapter)
        w, truth = clustered
        case = adapter.conformance
        index = adapter("ip", **case.build).fit(w.items)
        recalls = []
        for point in case.knob:
            if point:
                index.set_query_arguments(**point)
            recalls.append(recall(index.batch_query(w.queries, 10), truth, w, 10).mean())
        assert recalls[-1] >= case.recall, (adapter.name, recalls)
        assert recalls[-1] >= recalls[0] and (recalls[-1] > recalls[0] or recalls[0] >= 0.99), (adapter.name, recalls)
        assert index.memory_bytes() > 0 and index.build_seconds_ >= 0
        # one query per call gives the batch's answers (where the library says its batched path
        # can rank near-ties differently, nearly the same items)
        single = np.vstack([index.query(q, 10) for q in w.queries[:20]])
        batch = index.batch_query(w.queries[:20], 10)
        if adapter.batch_equals_single:
            np.testing.assert_array_equal(single, batch)
        else:
            shared = np.mean([np.intersect1d(a, b).size / 10 for a, b in zip(single, batch)])
            assert shared >= 0.9, (adapter.name, shared)

    def test_inner_product_is_native_or_transformed_as_declared(self, adapter, clustered):
        _skip_if_unavailable(adapter)
        w, _ = clustered
        index = adapter("ip", **adapter.conformance.build)
        assert index.transformed == ("ip" not in adapter.native_metrics)
        if index.transformed:
            assert index.label == f"{adapter.name}(ip: MIPS->{adapter.transform_space})"
            assert index.space == adapter.transform_space
            index.fit(w.items)
            assert index.max_norm_ == pytest.approx(np.linalg.norm(w.items, axis=1).max(), rel=1e-6)
        else:
            assert index.label == f"{adapter.name}(ip)" and index.space == "ip"

    def test_cosine_mode_ranks_by_angle_not_inner_product(self, adapter, clustered):
        if "cosine" not in adapter.supported_metrics:
            pytest.skip(f"{adapter.name} does not serve cosine")
        _skip_if_unavailable(adapter)
        w, ip_truth = clustered
        cos = workloads.Workload("cos", w.items, w.queries, "cosine")
        case = adapter.conformance
        index = adapter("cosine", **case.build).fit(w.items)
        point = case.cosine_point if case.cosine_point is not None else case.knob[-1]
        if point:
            index.set_query_arguments(**point)
        found = index.batch_query(w.queries, 10)
        assert recall(found, ground_truth(cos, 10), cos, 10).mean() >= 0.9
        # on vectors with spread norms the two rankings differ: cosine mode must not return the ip top-10
        assert recall(found, ip_truth, w, 10).mean() < 0.9

    def test_not_found_is_minus_one_in_both_paths(self, adapter):
        """Asked for nearly the whole catalogue at its coarsest setting, an index may find fewer
        items: its answer lists the items it found, each once, then -1, in the one-query and the
        batched path alike (a padded slot read as an item would serve item 0 to users)."""
        _skip_if_unavailable(adapter)
        rng = np.random.default_rng(0)
        X, Q = rng.standard_normal((300, 8)), rng.standard_normal((5, 8))
        case = adapter.conformance
        index = adapter("ip", **case.build).fit(X)
        if case.knob[0]:
            index.set_query_arguments(**case.knob[0])
        k = X.shape[0] - 1
        for path, found in (("single", np.vstack([index.query(q, k) for q in Q])), ("batch", index.batch_query(Q, k))):
            for row in found:
                real = row[row >= 0]
                assert np.unique(real).size == real.size, (adapter.name, path, "an item twice")
                assert (row[real.size :] == -1).all(), (adapter.name, path, "-1 before a found item")

    def test_vectors_of_no_dimension_are_refused_and_zero_vectors_tie(self, adapter):
        """Vectors of 0 dimensions abort faiss's IVF indexes (the process dies) and break nmslib
        and PQ deep inside: refused by the interface. A zero *vector* is legitimate (a user with
        no ratings, Eve): under cosine every item ties with it, and every adapter answers with
        valid, distinct items, in both paths, without NaN errors."""
        _skip_if_unavailable(adapter)
        case = adapter.conformance
        with pytest.raises(ValueError, match="0 dimensions; an index needs at least one"):
            adapter("ip", **case.build).fit(np.zeros((50, 0), dtype=np.float32))
        if "cosine" not in adapter.supported_metrics:
            return
        rng = np.random.default_rng(0)
        X, Q = rng.standard_normal((300, 8)), rng.standard_normal((3, 8))
        X[5] = 0.0
        Q[1] = 0.0
        index = adapter("cosine", **case.build).fit(X)
        for found in (index.batch_query(Q, 5), np.vstack([index.query(q, 5) for q in Q])):
            assert found.shape == (3, 5)
            for row in found:
                real = row[row >= 0]
                assert ((real >= 0) & (real < 300)).all() and np.unique(real).size == real.size

    def test_vectors_that_would_overflow_float32_are_refused(self, adapter, clustered):
        """Finite vectors whose squares overflow float32 abort some libraries (the process dies):
        the interface refuses them, naming the row, before the library sees them."""
        _skip_if_unavailable(adapter)
        w, _ = clustered
        huge = w.items.copy()
        huge[7] *= 1e20
        with pytest.raises(ValueError, match="row 7 has norm"):
            adapter("ip", **adapter.conformance.build).fit(huge)
        index = adapter("ip", **adapter.conformance.build).fit(w.items)
        with pytest.raises(ValueError, match="row 1 has norm"):
            index.batch_query(huge[6:9], 3)

    def test_bad_input_gives_clear_errors(self, adapter, clustered):
        _skip_if_unavailable(adapter)
        w, _ = clustered
        build = adapter.conformance.build
        index = adapter("ip", **build)
        with pytest.raises(RuntimeError, match="not built yet"):
            index.query(w.items[0], 5)
        with pytest.raises(ValueError, match="holds no vectors"):
            adapter("ip", **build).fit(np.empty((0, w.dim)))
        bad = w.items.copy()
        bad[3, 2] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            adapter("ip", **build).fit(bad)
        index.fit(w.items)
        with pytest.raises(ValueError, match=f"dimensions, expected {w.dim}"):
            index.query(np.ones(w.dim - 1), 5)
        with pytest.raises(ValueError, match="larger than the catalogue"):
            index.query(w.items[0], w.n_items + 1)
        with pytest.raises(ValueError, match="NaN"):
            index.batch_query(bad[:5], 3)
        with pytest.raises(ValueError, match="one vector"):
            index.query(w.items[:2], 3)
        with pytest.raises(ValueError, match="no query argument"):
            index.set_query_arguments(bogus=1)
