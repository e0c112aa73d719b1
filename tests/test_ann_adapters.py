"""Every ANN adapter behind one interface: exact ones are exact (ties included), approximate ones
reach a stated recall at their most accurate setting and improve as their knob rises, metrics and
the MIPS transform are served as declared, and bad input fails clearly."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.ann import bench, registry, workloads
from recsys.ann.base import ANNIndex, LibraryUnavailable
from recsys.ann.exact import BruteForce, top_k_rows
from recsys.ann.lsh import RandomHyperplaneLSH

#: Per adapter: build parameters for a 2,000-item clustered set, the accuracy knob from coarse to
#: fine, and the recall@10 its finest point must reach.
SETTINGS = {
    "exact-numpy": ({}, [{}], 1.0),
    "faiss-flat": ({}, [{}], 1.0),
    "hnswlib": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98),
    "hnswlib-mips": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 80}, {"ef": 400}], 0.95),
    "nmslib-hnsw": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98),
    "nmslib-hnsw-mips": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 80}, {"ef": 400}], 0.95),
    "faiss-hnsw": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.95),
    "faiss-hnsw-sq8": ({"M": 8, "ef_construction": 40}, [{"ef": 10, "k_factor": 1}, {"ef": 200, "k_factor": 4}], 0.95),
    "usearch": ({"M": 8, "ef_construction": 40}, [{"ef": 10}, {"ef": 40}, {"ef": 200}], 0.98),
    "annoy": ({"n_trees": 10}, [{"search_k": 50}, {"search_k": 500}, {"search_k": 5000}], 0.98),
    "annoy-dot": ({"n_trees": 10}, [{"search_k": 50}, {"search_k": 500}, {"search_k": 5000}], 0.98),
    "numpy-lsh": ({"tables": 8, "bits": 8}, [{"probes": 1}, {"probes": 8}, {"probes": 128}], 0.95),
    "faiss-lsh": ({"n_bits": 128}, [{"k_factor": 1}, {"k_factor": 10}, {"k_factor": 100}], 0.95),
    "faiss-pq": ({"m": 4}, [{"k_factor": 1}, {"k_factor": 10}, {"k_factor": 50}], 0.98),
    "faiss-ivf": ({"nlist": 32}, [{"nprobe": 1}, {"nprobe": 4}, {"nprobe": 16}], 0.98),
    "faiss-ivfpq": ({"nlist": 32, "m": 4}, [{"nprobe": 1, "k_factor": 10}, {"nprobe": 16, "k_factor": 10}], 0.95),
    "faiss-ivfpqfs": ({"nlist": 32, "m": 4}, [{"nprobe": 1, "k_factor": 10}, {"nprobe": 16, "k_factor": 10}], 0.95),
    "scann": (
        {"num_leaves": 40},
        [{"leaves_to_search": 1, "reorder": 30}, {"leaves_to_search": 20, "reorder": 100}],
        0.95,
    ),
}


#: The most accurate point for cosine, where it differs: 4-bit codes of unit vectors are coarser.
COSINE_POINT = {"faiss-ivfpqfs": {"nprobe": 32, "k_factor": 50}}


def test_every_adapter_has_test_settings():
    assert set(SETTINGS) == set(registry.ADAPTERS)


@pytest.fixture(scope="module")
def clustered():
    w = workloads.clustered(2000, 100, 16, 10, seed=3)
    return w, bench.ground_truth(w, 10)


def _skip_if_unavailable(name):
    reason = registry.get(name).available()
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("name", list(SETTINGS))
def test_adapter_reaches_its_recall_and_improves_with_its_knob(name, clustered):
    _skip_if_unavailable(name)
    w, truth = clustered
    build, knob, target = SETTINGS[name]
    index = registry.make(name, "ip", **build).fit(w.items)
    recalls = []
    for point in knob:
        if point:
            index.set_query_arguments(**point)
        recalls.append(bench.recall(index.batch_query(w.queries, 10), truth, w, 10).mean())
    assert recalls[-1] >= target, (name, recalls)
    assert recalls[-1] >= recalls[0] and (recalls[-1] > recalls[0] or recalls[0] >= 0.99), (name, recalls)
    assert index.memory_bytes() > 0 and index.build_seconds_ >= 0
    # one query per call gives the batch's answers (ScaNN's batched path may pick other leaves)
    single = np.vstack([index.query(q, 10) for q in w.queries[:20]])
    np.testing.assert_array_equal(single, index.batch_query(w.queries[:20], 10))


@pytest.mark.parametrize("name", list(SETTINGS))
def test_inner_product_is_native_or_transformed_as_declared(name, clustered):
    _skip_if_unavailable(name)
    w, _ = clustered
    cls = registry.get(name)
    index = cls("ip", **SETTINGS[name][0])
    assert index.transformed == ("ip" not in cls.native_metrics)
    if index.transformed:
        assert index.label == f"{name}(ip: MIPS->{cls.transform_space})" and index.space == cls.transform_space
        index.fit(w.items)
        assert index.max_norm_ == pytest.approx(np.linalg.norm(w.items, axis=1).max(), rel=1e-6)
    else:
        assert index.label == f"{name}(ip)" and index.space == "ip"


@pytest.mark.parametrize("name", [n for n, cls in registry.ADAPTERS.items() if "cosine" in cls.supported_metrics])
def test_cosine_mode_ranks_by_angle_not_inner_product(name, clustered):
    _skip_if_unavailable(name)
    w, _ = clustered
    cos = workloads.Workload("cos", w.items, w.queries, "cosine")
    cos_truth = bench.ground_truth(cos, 10)
    build, knob, _ = SETTINGS[name]
    index = registry.make(name, "cosine", **build).fit(w.items)
    point = COSINE_POINT.get(name, knob[-1])
    if point:
        index.set_query_arguments(**point)
    found = index.batch_query(w.queries, 10)
    assert bench.recall(found, cos_truth, cos, 10).mean() >= 0.9
    # on vectors with spread norms the two rankings differ: cosine mode must not return the ip top-10
    ip_truth = bench.ground_truth(w, 10)
    assert bench.recall(found, ip_truth, w, 10).mean() < 0.9


def test_exact_adapters_are_exact_with_ties():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(30, 4))
    items = np.vstack([base, base[:10], base[:10]])  # items 30-49 tie with items 0-9
    queries = rng.normal(size=(8, 4))
    index = BruteForce("ip").fit(items)
    scores = queries @ items.T
    for k in (1, 5, 12):
        found = index.batch_query(queries, k)
        for q, row in enumerate(found):
            expected = sorted(range(items.shape[0]), key=lambda i: (-scores[q, i], i))[:k]
            assert list(row) == expected  # ties: the smaller index first, also at the k-th place
    w = workloads.Workload("ties", items, queries)
    truth = bench.ground_truth(w, 12)
    for name in ("exact-numpy", "faiss-flat"):
        if registry.get(name).available():
            continue
        found = registry.make(name, "ip").fit(items).batch_query(queries, 12)
        assert bench.recall(found, truth, w, 12).mean() == 1.0


def test_top_k_rows_resolves_a_tie_at_the_kth_place_by_index():
    scores = np.array([[1.0, 3.0, 2.0, 2.0, 2.0, 0.0]])
    assert top_k_rows(scores, 2).tolist() == [[1, 2]]
    assert top_k_rows(scores, 3).tolist() == [[1, 2, 3]]
    assert top_k_rows(-np.zeros((1, 5)), 2).tolist() == [[0, 1]]


def test_exact_l2_and_cosine_match_brute_force():
    rng = np.random.default_rng(1)
    items, queries = rng.normal(size=(200, 6)), rng.normal(size=(10, 6))
    d = ((queries[:, None, :] - items[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(BruteForce("l2").fit(items).batch_query(queries, 5), np.argsort(d, axis=1)[:, :5])
    cos = (queries @ items.T) / np.linalg.norm(items, axis=1)[None]
    np.testing.assert_array_equal(
        BruteForce("cosine").fit(items).batch_query(queries, 5), np.argsort(-cos, axis=1)[:, :5]
    )


@pytest.mark.parametrize("name", ["exact-numpy", "hnswlib", "numpy-lsh", "faiss-ivf"])
def test_bad_input_gives_clear_errors(name):
    _skip_if_unavailable(name)
    rng = np.random.default_rng(2)
    items = rng.normal(size=(300, 8)).astype(np.float32)
    index = registry.make(name, "ip", **({"nlist": 4} if name == "faiss-ivf" else {}))
    with pytest.raises(RuntimeError, match="not built yet"):
        index.query(items[0], 5)
    with pytest.raises(ValueError, match="holds no vectors"):
        registry.make(name, "ip").fit(np.empty((0, 8)))
    bad = items.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        registry.make(name, "ip").fit(bad)
    index.fit(items)
    with pytest.raises(ValueError, match="dimensions, expected 8"):
        index.query(np.ones(7), 5)
    with pytest.raises(ValueError, match="larger than the catalogue"):
        index.query(items[0], 301)
    with pytest.raises(ValueError, match="NaN"):
        index.batch_query(bad[:5], 3)
    with pytest.raises(ValueError, match="one vector"):
        index.query(items[:2], 3)
    with pytest.raises(ValueError, match="no query argument"):
        index.set_query_arguments(bogus=1)


def test_unsupported_metric_and_unknown_method_are_clear():
    with pytest.raises(ValueError, match="serves metric"):
        RandomHyperplaneLSH("l2")
    with pytest.raises(ValueError, match="unknown ANN method 'hnsw'.*hnswlib"):
        registry.make("hnsw")
    with pytest.raises(ValueError, match="metric must be one of"):
        BruteForce("dot")


def test_a_missing_library_is_reported_with_its_pip_package(monkeypatch):
    class Missing(ANNIndex):
        name = "missing"
        library = "surely_not_installed_lib"
        pip_name = "surely-not-installed"

    reason = Missing.available()
    assert reason and "pip install surely-not-installed" in reason
    with pytest.raises(LibraryUnavailable, match="surely-not-installed"):
        Missing("ip").fit(np.ones((3, 2)))
    table = registry.availability(["exact-numpy"])
    assert bool(table.loc["exact-numpy", "available"]) and table.loc["exact-numpy", "reason"] == ""


def test_lsh_probes_the_least_certain_bits_first_and_grows_its_candidates():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(3000, 12)).astype(np.float32)
    lsh = RandomHyperplaneLSH("cosine", tables=4, bits=8, random_state=1).fit(X)
    q = rng.normal(size=12).astype(np.float32)
    projection = (q / np.linalg.norm(q)) @ lsh.planes_
    codes = lsh.probe_codes(projection, 5)
    own = lsh.hash((q / np.linalg.norm(q))[None, :])[0]
    np.testing.assert_array_equal(codes[:, 0], own)
    margins = np.abs(projection.reshape(4, 8))
    for t in range(4):
        flipped = codes[t, 1] ^ codes[t, 0]  # the first probe flips the single least certain bit
        assert flipped == 1 << int(np.argmin(margins[t]))
        assert len(set(codes[t])) == 5
    qn = q / np.linalg.norm(q)
    small, large = lsh.candidates(qn, 1), lsh.candidates(qn, 16)
    assert set(small) <= set(large) and large.size > small.size
    # candidates of the own buckets are exactly the items sharing the query's code in some table
    item_codes = lsh.hash(X / np.linalg.norm(X, axis=1, keepdims=True))
    np.testing.assert_array_equal(small, np.flatnonzero((item_codes == own[None, :]).any(axis=1)))


def test_graph_builds_on_one_thread_repeat_exactly(clustered):
    w, _ = clustered
    for name in ("hnswlib", "annoy", "numpy-lsh"):
        if registry.get(name).available():
            continue
        build, knob, _ = SETTINGS[name]
        runs = []
        for _ in range(2):
            index = registry.make(name, "ip", **build).fit(w.items)
            index.set_query_arguments(**knob[0])
            runs.append(index.batch_query(w.queries, 10))
        np.testing.assert_array_equal(runs[0], runs[1])


def test_require_sets_the_import_environment_first(monkeypatch):
    import sys

    from recsys.ann import base

    monkeypatch.delenv("RECSYS_TEST_IMPORT_ENV", raising=False)
    monkeypatch.setitem(base.IMPORT_ENVIRONMENT, "colorsys", {"RECSYS_TEST_IMPORT_ENV": "set"})
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    base.require("colorsys")
    import os

    assert os.environ["RECSYS_TEST_IMPORT_ENV"] == "set"
    assert base.IMPORT_ENVIRONMENT["faiss"] == {"OMP_WAIT_POLICY": "PASSIVE"}


def test_norm_ranges_split_the_giant_bucket_of_the_mips_transform(clustered):
    w, truth = clustered
    items = w.items * np.random.default_rng(0).lognormal(0, 1.0, size=(w.n_items, 1)).astype(np.float32)
    spread = workloads.Workload("spread", items, w.queries)
    plain = RandomHyperplaneLSH("ip", tables=4, bits=8, norm_ranges=1).fit(items)
    ranged = RandomHyperplaneLSH("ip", tables=4, bits=8, norm_ranges=8).fit(items)
    assert ranged._counts.max() < plain._counts.max()  # short items no longer share one bucket
    assert ranged.label == "numpy-lsh(ip: 8 norm ranges, MIPS->cosine)" and plain.label.endswith("MIPS->cosine)")
    assert set(np.unique(ranged.range_of_)) == set(range(8))
    ranged.set_query_arguments(probes=64)
    assert bench.recall(ranged.batch_query(w.queries, 10), bench.ground_truth(spread, 10), spread, 10).mean() > 0.9


def test_importing_the_wing_sets_passive_openmp_waiting_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = "import os, recsys.ann; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "PASSIVE"
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "OMP_WAIT_POLICY": "ACTIVE"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "ACTIVE"
