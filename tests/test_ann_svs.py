"""What the SVS adapters promise beyond the shared battery: native inner product ranks vectors of
widely spread norms, serial builds repeat exactly, threads reach the library, memory is the size
of the arrays SVS stores, and LVQ refuses the bit pairs the wheel does not compile."""

from __future__ import annotations

import os

import numpy as np
import pytest

from recsys.ann import bench, workloads
from recsys.ann.svs_index import SVSVamana, SVSVamanaLVQ

pytest.importorskip("svs")


def _skip_without_lvq():
    reason = SVSVamanaLVQ.available()
    if reason:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def wide_norms():
    """3,000 items whose norms spread over about three orders of magnitude (log-normal, sigma 1)."""
    w = workloads.clustered(3000, 100, 16, 10, norm_sigma=1.0, seed=5)
    return w, bench.ground_truth(w, 10)


@pytest.mark.parametrize("adapter", [SVSVamana, SVSVamanaLVQ], ids=["float32", "lvq"])
def test_native_inner_product_rises_to_nearly_one_on_spread_norms(adapter, wide_norms):
    if adapter is SVSVamanaLVQ:
        _skip_without_lvq()
    w, truth = wide_norms
    index = adapter("ip", graph_max_degree=16, window_size=40).fit(w.items)
    assert not index.transformed
    recalls = []
    for window in (10, 40, 320):
        index.set_query_arguments(search_window_size=window)
        recalls.append(bench.recall(index.batch_query(w.queries, 10), truth, w, 10).mean())
    assert recalls == sorted(recalls) and recalls[-1] >= 0.99, recalls


@pytest.mark.parametrize("adapter", [SVSVamana, SVSVamanaLVQ], ids=["float32", "lvq"])
def test_serial_builds_repeat_exactly_and_threads_reach_the_index(adapter, wide_norms, tmp_path):
    if adapter is SVSVamanaLVQ:
        _skip_without_lvq()
    w, _ = wide_norms
    runs, graphs = [], []
    for run in range(2):
        index = adapter("ip", graph_max_degree=16, window_size=40).fit(w.items)
        index.set_query_arguments(search_window_size=20)
        runs.append(index.batch_query(w.queries, 10))
        folder = tmp_path / str(run)
        folder.mkdir()
        index._index.save(str(folder / "config"), str(folder / "graph"), str(folder / "data"))
        graph = next((folder / "graph").glob("*.svs")).read_bytes()
        graphs.append(graph[1024:])  # the 1 KiB header holds a fresh uuid
    np.testing.assert_array_equal(runs[0], runs[1])
    assert graphs[0] == graphs[1]
    assert index._index.num_threads == 1
    index.set_num_threads(2)
    assert index._index.num_threads == 2
    np.testing.assert_array_equal(index.batch_query(w.queries, 10), runs[0])


@pytest.mark.parametrize(
    "adapter, params",
    [
        (SVSVamana, {}),
        (SVSVamanaLVQ, {"primary": 8, "residual": 0}),
        (SVSVamanaLVQ, {"primary": 4, "residual": 8}),
        (SVSVamanaLVQ, {"primary": 4, "residual": 4}),
    ],
    ids=["float32", "lvq8", "lvq4x8", "lvq4x4"],
)
@pytest.mark.parametrize("dim", [16, 100])
def test_memory_is_what_svs_stores(adapter, params, dim, tmp_path):
    """The arrays counted by memory_bytes are the files index.save writes, less their 1 KiB headers
    (4-bit primaries included: SVS's Turbo layout pads them to a multiple of 128 dimensions)."""
    if adapter is SVSVamanaLVQ:
        _skip_without_lvq()
    X = np.random.default_rng(dim).standard_normal((400, dim)).astype(np.float32)
    index = adapter("ip", graph_max_degree=12, window_size=24, **params).fit(X)
    index._index.save(str(tmp_path / "config"), str(tmp_path / "graph"), str(tmp_path / "data"))
    files = [p for part in ("graph", "data") for p in (tmp_path / part).glob("*.svs")]
    stored = sum(os.path.getsize(p) - 1024 for p in files)
    assert index.memory_bytes() == stored


def test_lvq_bit_pairs_and_build_parameters_are_checked():
    with pytest.raises(ValueError, match="not 8x4"):
        SVSVamanaLVQ("ip", primary=8, residual=4)
    with pytest.raises(ValueError, match="primary must be one of"):
        SVSVamanaLVQ("ip", primary=2)
    with pytest.raises(ValueError, match="alpha"):
        SVSVamana("ip", alpha=0.0)
    with pytest.raises(TypeError, match="graph_max_degree"):
        SVSVamana("ip", graph_max_degree=8.5)
    assert SVSVamanaLVQ("l2", primary=8, residual=0).build_params == {
        "graph_max_degree": 32,
        "window_size": 64,
        "alpha": None,
        "primary": 8,
        "residual": 0,
    }


def test_lvq_is_refused_before_svs_is_asked_on_a_cpu_that_is_not_intel(monkeypatch):
    """On another vendor's CPU SVS's LVQ ends the process (exit status 1), so the adapter must
    refuse first; the float32 graph stays available."""
    from recsys.ann import svs_index
    from recsys.ann.base import LibraryUnavailable

    monkeypatch.setattr(svs_index, "_cpu_vendor", lambda: "AuthenticAMD")
    assert "Intel CPUs only" in SVSVamanaLVQ.available() and "AuthenticAMD" in SVSVamanaLVQ.available()
    with pytest.raises(LibraryUnavailable, match="Intel CPUs only"):
        SVSVamanaLVQ("ip").fit(np.ones((10, 4), dtype=np.float32))
    assert SVSVamana.available() is None
