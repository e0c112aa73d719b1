"""Every ANN adapter behind one interface: the shared battery (tests/ann_conformance.py) over each
adapter of the package (declarations and grids, stated recall, knobs, metrics and the MIPS
transform, clear errors), registration and packaging, and what single adapters promise: exact
ones are exact (ties included), LSH probes in order, graph builds repeat."""

from __future__ import annotations

import numpy as np
import pytest
from ann_conformance import AdapterConformance

from recsys.ann import bench, registry, workloads
from recsys.ann.base import FAMILIES, ANNIndex, LibraryUnavailable, requirement_name
from recsys.ann.exact import BruteForce
from recsys.ann.hnswlib_index import HnswLib
from recsys.ann.lsh import RandomHyperplaneLSH
from recsys.similarity import top_k_rows

#: The adapters of the package (a test may register others, like tests/test_ann_toy_adapter.py).
OWN = {name: cls for name, cls in registry.ADAPTERS.items() if cls.__module__.startswith("recsys.ann.")}


class TestEveryAdapter(AdapterConformance):
    """The shared battery (tests/ann_conformance.py) over every adapter of recsys.ann."""

    @pytest.fixture(params=list(OWN.values()), ids=list(OWN))
    def adapter(self, request):
        return request.param


@pytest.fixture(scope="module")
def clustered():
    w = workloads.clustered(2000, 100, 16, 10, seed=3)
    return w, bench.ground_truth(w, 10)


def test_every_module_of_the_wing_is_infrastructure_or_registers_adapters():
    modules = {cls.__module__ for cls in OWN.values()}
    assert modules == set(registry.adapter_modules()), "an adapter module registers nothing, or one is not imported"
    assert len(OWN) == 29


def test_the_ann_extra_is_the_adapters_requirements():
    import tomllib

    from recsys.paths import REPO_ROOT

    extra = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["ann"]
    declared = {cls.requirement for cls in OWN.values() if cls.requirement}
    assert set(extra) == declared, f"pyproject.toml's ann extra should be: {sorted(declared)}"


def test_registration_checks_the_class_and_keeps_the_table_order():
    families = [cls.family for cls in registry.ADAPTERS.values()]
    assert families == sorted(families, key=FAMILIES.index)  # exact first, then by family
    with pytest.raises(TypeError, match="subclass of recsys.ann.base.ANNIndex"):
        registry.register(object)

    class Nameless(ANNIndex):
        pass

    with pytest.raises(ValueError, match="must set its own name"):
        registry.register(Nameless)

    class Odd(ANNIndex):
        name = "odd"
        family = "hashing"

    with pytest.raises(ValueError, match="family must be one of"):
        registry.register(Odd)

    class Impostor(ANNIndex):
        name = "hnswlib"
        family = "graph"

    with pytest.raises(ValueError, match="two adapters are called 'hnswlib'"):
        registry.register(Impostor)
    assert registry.get("hnswlib") is HnswLib
    assert registry.resolve(HnswLib) is HnswLib and registry.resolve("hnswlib") is HnswLib
    with pytest.raises(TypeError, match="a name or a subclass"):
        registry.resolve(dict)


def test_a_requirement_names_the_pip_package():
    assert registry.get("faiss-ivf").pip_name == "faiss-cpu" and registry.get("scann").pip_name == "scann"
    assert requirement_name("scann>=1.3; sys_platform == 'linux'") == "scann"
    with pytest.raises(ValueError, match="not a pip requirement"):
        requirement_name(">=1")


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
        case = registry.get(name).conformance
        runs = []
        for _ in range(2):
            index = registry.make(name, "ip", **case.build).fit(w.items)
            index.set_query_arguments(**case.knob[0])
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


def test_inverted_files_share_one_cell_rule():
    """faiss's and RaBitQ's inverted files size their cells by one rule (grids.auto_nlist), so their
    points compare at every catalogue size: the power of two nearest 2 sqrt(n), at most n / 8."""
    from recsys.ann.grids import auto_nlist

    assert [auto_nlist(n) for n in (1, 8, 100, 10_000, 100_000, 1_000_000)] == [1, 1, 12, 256, 512, 2048]
    import recsys.ann.faiss_indexes as faiss_indexes
    import recsys.ann.rabitq_index as rabitq_index

    assert faiss_indexes.auto_nlist is auto_nlist and rabitq_index.auto_nlist is auto_nlist
