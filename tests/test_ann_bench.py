"""The benchmark harness: recall as ann-benchmarks counts it, exact and cached ground truth, the
grid runner (budgets, skips, threads, tidy rows), frontiers and operating points, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from recsys.ann import bench, difficulty, grids, registry, workloads
from recsys.ann import platform as bench_platform
from recsys.ann.base import ANNIndex


def _workload(items, queries, metric="ip"):
    return workloads.Workload("hand", np.asarray(items, float), np.asarray(queries, float), metric)


def test_recall_counts_ties_with_the_kth_item_as_hits():
    # items 0, 1 and 2 all score 2.0 for the query: any two of them are a perfect top-2
    items = [[2.0, 0.0], [2.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.5, 0.0]]
    items[2] = [2.0, 1.0]  # item 2 scores 2.0 too (<(1, 0), (2, 1)> = 2)
    w = _workload(items, [[1.0, 0.0]])
    truth = bench.ground_truth(w, 2)
    assert truth.scores[0].tolist() == [2.0, 2.0]
    for found in ([0, 1], [1, 2], [2, 0]):
        assert bench.recall(np.array([found]), truth, w, 2)[0] == 1.0
    assert bench.recall(np.array([[0, 3]]), truth, w, 2)[0] == 0.5  # item 3 scores 1.0 < 2.0
    assert bench.recall(np.array([[0, -1]]), truth, w, 2)[0] == 0.5  # -1 = nothing found: a miss
    assert bench.recall(np.array([[0, 0]]), truth, w, 2)[0] == 0.5  # an item twice counts once
    # a near-tie within float rounding is a hit; a real gap is not
    near = _workload([[1.0, 0.0], [1.0 - 1e-12, 0.0], [0.9, 0.0]], [[1.0, 0.0]])
    t = bench.ground_truth(near, 1)
    assert bench.recall(np.array([[1]]), t, near, 1)[0] == 1.0
    assert bench.recall(np.array([[2]]), t, near, 1)[0] == 0.0
    assert bench.recall(np.array([[2]]), t, near, 1, epsilon=0.2)[0] == 1.0


def test_recall_rejects_bad_shapes_and_ids():
    w = _workload(np.eye(3), np.eye(3)[:2])
    truth = bench.ground_truth(w, 2)
    with pytest.raises(ValueError, match="found must be"):
        bench.recall(np.zeros((3, 2), int), truth, w, 2)
    with pytest.raises(ValueError, match="catalogue size"):
        bench.recall(np.array([[0, 7], [1, 2]]), truth, w, 2)
    with pytest.raises(ValueError, match="k must be"):
        bench.recall(np.zeros((2, 2), int), truth, w, 3)


@pytest.mark.parametrize("metric", ["ip", "cosine", "l2"])
def test_ground_truth_is_exact_for_every_metric(metric):
    rng = np.random.default_rng(0)
    items = rng.normal(size=(500, 8)) * rng.lognormal(0, 0.7, size=(500, 1))
    items[100:110] = items[:10]  # exact ties
    queries = rng.normal(size=(40, 8))
    w = _workload(items, queries, metric)
    truth = bench.ground_truth(w, 15)
    full = bench.exact_scores(w.items, w.queries, np.tile(np.arange(500), (40, 1)), metric)
    expected = np.sort(full, axis=1)[:, ::-1][:, :15]
    np.testing.assert_allclose(truth.scores, expected, rtol=1e-12)
    np.testing.assert_allclose(np.take_along_axis(full, truth.ids, axis=1), truth.scores, rtol=1e-12)


def test_ground_truth_proof_check_falls_back_on_float32_near_ties():
    rng = np.random.default_rng(5)
    base = rng.normal(size=(1, 4))
    items = np.vstack([base + 1e-9 * rng.normal(size=(200, 4)), rng.normal(size=(300, 4)) * 0.1])
    w = _workload(items, base)
    truth = bench.ground_truth(w, 5)
    full = bench.exact_scores(w.items, w.queries, np.arange(500)[None, :], "ip")[0]
    np.testing.assert_array_equal(truth.ids[0], np.lexsort((np.arange(500), -full))[:5])


def test_ground_truth_is_cached_by_its_parameters(tmp_path):
    w = workloads.clustered(300, 20, 4, 3, seed=1)
    first = bench.ground_truth(w, 5, cache_dir=tmp_path)
    again = bench.ground_truth(w, 5, cache_dir=tmp_path)
    assert not first.cached and again.cached
    np.testing.assert_array_equal(first.ids, again.ids)
    deeper = bench.ground_truth(w, 7, cache_dir=tmp_path)
    other = bench.ground_truth(workloads.clustered(300, 20, 4, 3, seed=2), 5, cache_dir=tmp_path)
    assert not deeper.cached and not other.cached
    assert len(list(tmp_path.glob("ground-truth-*.npz"))) == 3


def test_run_measures_every_point_and_pins_threads(tmp_path):
    w = workloads.clustered(1500, 60, 8, 6, seed=0)
    methods = ["exact-numpy", "numpy-lsh"] + [m for m in ("hnswlib", "faiss-ivf") if not registry.get(m).available()]
    quick = {**grids.QUICK_GRIDS, "faiss-ivf": {"build": [{"nlist": 16}], "query": {"nprobe": [1, 4, 16]}}}
    result = bench.run(
        w, methods, grids=quick, time_budget=60, timing_queries=30, repeats=1, progress=False, cache_dir=tmp_path
    )
    table = result.results
    assert list(table.columns) == bench.RESULT_COLUMNS
    assert set(table["method"]) == set(methods)
    exact = table[table["method"] == "exact-numpy"].iloc[0]
    assert exact["recall"] == 1.0 and exact["recall_single"] == 1.0 and exact["consistent"]
    assert (table["qps"] > 0).all() and (table["p99_ms"] >= table["p50_ms"]).all()
    assert (table["build_threads"] == 1).all() and (table["memory_bytes"] > 0).all()
    assert table["n_timed"].between(20, 30).all() and table["reproducible"].all()
    lsh = table[table["method"] == "numpy-lsh"]["recall"].to_numpy()
    assert (np.diff(lsh) >= 0).all()
    assert json.loads(table["build"].iloc[-1]) is not None
    paths = bench.write_results(result, tmp_path / "out")
    assert pd.read_csv(paths["results"]).shape[0] == len(table)
    saved = json.loads(paths["json"].read_text())
    assert saved["settings"]["k"] == 10 and len(saved["results"]) == len(table)


def test_run_skips_missing_libraries_and_spent_budgets(monkeypatch):
    class Missing(ANNIndex):
        name = "missing-lib"
        family = "graph"
        library = "surely_not_installed_lib"
        pip_name = "surely-not-installed"

    monkeypatch.setitem(registry.ADAPTERS, "missing-lib", Missing)
    w = workloads.clustered(400, 10, 4, 3, seed=0)
    slow = {
        "numpy-lsh": {"build": [{"tables": 2, "bits": 4}, {"tables": 4, "bits": 4}], "query": {"probes": [1, 2, 4]}}
    }
    result = bench.run(
        w,
        ["missing-lib", "numpy-lsh"],
        grids={**slow, "missing-lib": {"build": [{}], "query": [{}]}},
        time_budget=1e-9,
        timing_queries=5,
        repeats=1,
        progress=False,
    )
    assert "surely-not-installed" in result.skipped["missing-lib"]
    budget = [name for name, reason in result.skipped.items() if "time budget" in reason]
    assert len(budget) == 2 and all(name.startswith("numpy-lsh {") for name in budget)
    assert result.results.empty


def test_run_stops_raising_the_knob_once_recall_is_used_up():
    w = workloads.clustered(400, 10, 4, 3, seed=0)
    grid = {"numpy-lsh": {"build": [{"tables": 8, "bits": 2}], "query": {"probes": [1, 2, 3, 4]}}}
    result = bench.run(w, ["numpy-lsh"], grids=grid, stop_recall=0.999, timing_queries=5, repeats=1, progress=False)
    assert result.results["recall"].iloc[-1] >= 0.999 and len(result.results) < 4


def test_one_point_measures_a_query_point_the_sweep_stops_before():
    rng = np.random.default_rng(3)
    items = rng.normal(size=(600, 8)) * rng.lognormal(0.0, 0.6, size=(600, 1))  # norms spread, as recommenders'
    w = workloads.Workload("skewed", items, rng.normal(size=(20, 8)), "ip")
    grid = {"norm-pruned": {"build": [{"bucket_size": 64}], "query": {"epsilon": [0.5, 0.0]}}}
    swept = bench.run(w, ["norm-pruned"], grids=grid, stop_recall=0.0, timing_queries=5, repeats=1, progress=False)
    assert len(swept.results) == 1  # the sweep stopped after its first point: epsilon 0 never measured
    row = bench.one_point(w, "norm-pruned", {"epsilon": 0.0}, grids=grid, timing_queries=5, repeats=1, progress=False)
    assert row["recall"] == 1.0 and row["query"] == json.dumps({"epsilon": 0.0}) and row["qps"] > 0
    with pytest.raises(ValueError, match="unknown ANN method"):
        bench.one_point(w, "surely-not-a-method", {"epsilon": 0.0})


def _table(rows):
    base = {
        "workload": "w",
        "n_items": 100,
        "n_queries": 10,
        "k": 10,
        "build": "{}",
        "label": "",
        "batch_qps": 1.0,
        "build_s": 1.0,
        "memory_bytes": 1000,
        "bytes_per_item": 10.0,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_frontier_operating_points_and_best():
    t = _table(
        [
            {"method": "a", "family": "graph", "recall": 0.80, "qps": 900, "query": '{"ef": 1}'},
            {"method": "a", "family": "graph", "recall": 0.95, "qps": 500, "query": '{"ef": 2}'},
            {"method": "a", "family": "graph", "recall": 0.90, "qps": 400, "query": '{"ef": 3}'},  # dominated
            {"method": "a", "family": "graph", "recall": 0.99, "qps": 100, "query": '{"ef": 4}'},
            {"method": "b", "family": "quantization", "recall": 0.96, "qps": 700, "query": '{"nprobe": 1}'},
            {
                "method": "b",
                "family": "quantization",
                "recall": 0.85,
                "qps": 600,
                "query": '{"nprobe": 2}',
            },  # dominated
            {"method": "x", "family": "exact", "recall": 1.0, "qps": 10, "query": "{}", "batch_qps": 50.0},
        ]
    )
    f = bench.pareto_frontier(t)
    assert f[f["method"] == "a"]["qps"].tolist() == [900, 500, 100]
    assert f[f["method"] == "b"]["qps"].tolist() == [700]
    points = bench.operating_points(t, 0.95)
    assert points.set_index("method")["qps"].to_dict() == {"b": 700, "a": 500, "x": 10}
    assert bench.best(t, 0.95)["method"] == "b"
    assert bench.best(t, 0.95, family="graph")["query"] == '{"ef": 2}'
    with pytest.raises(LookupError, match="no configuration"):
        bench.best(t, 0.999, family="quantization")
    speed = bench.speedup_table(t, (0.95,))
    assert speed.loc[("w", 0.95, "b"), "speedup_vs_exact"] == 70.0
    assert speed.loc[("w", 0.95, "b"), "speedup_vs_batch"] == 14.0
    strict = bench.speedup_table(t, (0.99,))
    assert strict.loc[("w", 0.99, "a"), "qps"] == 100
    assert np.isnan(strict.loc[("w", 0.99, "b"), "qps"]) and strict.loc[("w", 0.99, "b"), "recall"] == 0.96
    summary = bench.family_summary(t, 0.99)
    assert (
        summary.loc["quantization", "best"] == "none reaches it (b)"
        and summary.loc["quantization", "max_recall"] == 0.96
    )
    assert summary.loc["graph", "x one-query exact"] == 10.0


def test_scaling_exponents_read_a_power_law():
    t = pd.DataFrame(
        {
            "method": ["m"] * 3 + ["e"] * 3,
            "n_items": [1e4, 1e5, 1e6] * 2,
            "qps": [1e4, 1e4 / 10**0.3, 1e4 / 10**0.6, 1e3, 1e2, 1e1],
        }
    )
    slopes = bench.scaling_exponents(t, "qps")
    assert slopes["m"] == pytest.approx(-0.3) and slopes["e"] == pytest.approx(-1.0)


def test_index_from_a_results_row_rebuilds_that_configuration():
    row = {"method": "numpy-lsh", "build": '{"tables": 3, "bits": 5}', "query": '{"probes": 4}'}
    index = bench.index_from(row)
    assert index.tables == 3 and index.bits == 5 and index.query_arguments == {"probes": 4}


def test_grids_expand_products_and_explicit_points():
    builds, queries = grids.expand({"build": [{"M": 8}], "query": {"ef": [1, 2], "k_factor": [3]}})
    assert builds == [{"M": 8}] and queries == [{"ef": 1, "k_factor": 3}, {"ef": 2, "k_factor": 3}]
    assert grids.expand({"build": {}, "query": [{"a": 1}]}) == ([{}], [{"a": 1}])
    with pytest.raises(ValueError, match="a grid is"):
        grids.expand({"query": {}})
    with pytest.raises(ValueError, match="must be a list"):
        grids.expand({"build": [{}], "query": {"ef": 5}})
    assert set(grids.GRIDS) == set(registry.ADAPTERS) == set(grids.QUICK_GRIDS)
    for name, grid in grids.GRIDS.items():
        builds, queries = grids.expand(grid)
        for build in builds:
            registry.make(name, "ip", **build)  # every build point is a valid constructor call


def test_library_builds_names_every_library():
    table = bench.library_builds(inspect_binaries=False)
    assert set(table.index) == {
        *("faiss", "hnswlib", "nmslib", "annoy", "usearch", "scann"),
        *("glass", "voyager", "ngt", "rabitqlib", "svs"),
    }
    if not registry.get("faiss-flat").available():
        assert "run-time dispatch" in table.loc["faiss", "simd"]


def test_faiss_simd_level_switches_and_restores():
    if registry.get("faiss-flat").available():
        pytest.skip("faiss is not installed")
    import faiss

    before = faiss.SIMDConfig.get_level_name()
    with bench.faiss_simd_level("NONE"):
        assert faiss.SIMDConfig.get_level_name() == "NONE"
    assert faiss.SIMDConfig.get_level_name() == before
    with pytest.raises(ValueError, match="cannot run at SIMD level"), bench.faiss_simd_level("ARM_SVE"):
        pass


def test_command_line_prints_the_frontier_and_writes_results(tmp_path, monkeypatch, capsys):
    from recsys import __main__ as cli
    from recsys.experiments import serving as retrieval

    w = workloads.clustered(600, 40, 8, 4, seed=0)
    fake = retrieval.RealEmbeddings(
        "real (toy)", None, None, None, w.queries, w.items, {"dataset": "toy", "model": "toy"}
    )
    monkeypatch.setattr(retrieval, "real_embeddings", lambda dataset: fake)
    fast_builds = bench.library_builds
    monkeypatch.setattr(bench, "library_builds", lambda: fast_builds(inspect_binaries=False))
    code = cli.main(
        [
            "ann",
            "--workload",
            "mixture",
            "--n-items",
            "2000",
            "--n-queries",
            "50",
            "--methods",
            "exact-numpy,numpy-lsh",
            "--grid",
            "quick",
            "--out",
            str(tmp_path),
            "--quiet",
            "--time-budget",
            "30",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Pareto frontier" in out and "numpy-lsh" in out and "load average" in out
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "frontier.csv").is_file()
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["settings"]["workload"]["n_items"] == 2000 and "library_builds" in saved
    assert cli.main(["ann", "--methods", "hnsw", "--out", str(tmp_path)]) == 2
    assert "unknown ANN method" in capsys.readouterr().err


def _load_script(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def toy_embeddings(monkeypatch):
    from recsys.experiments import serving as retrieval

    w = workloads.clustered(600, 40, 8, 4, seed=0)
    fake = retrieval.RealEmbeddings(
        "real (toy)", None, None, None, w.queries, w.items, {"dataset": "toy", "model": "toy"}
    )
    monkeypatch.setattr(retrieval, "real_embeddings", lambda *args, **kwargs: fake)
    return fake


def test_benchmark_script_ann_targets_runs_small(toy_embeddings, tmp_path, capsys):
    script = _load_script("ann_targets")
    out = tmp_path / "targets.json"
    summary = script.main(
        [
            "--n-items",
            "2000",
            "--n-queries",
            "30",
            "--methods",
            "exact-numpy,numpy-lsh,norm-pruned",
            "--quick",
            "--cache",
            str(tmp_path / "cache"),
            "--json",
            str(out),
            "--repeats",
            "2",
        ]
    )
    assert summary["n_items"] == 2000 and summary["best_method"].startswith(("numpy-lsh", "norm-pruned"))
    low, high = summary["speedup_vs_exact_range"]  # the headline with its spread over the passes
    assert low <= summary["speedup_vs_exact"] <= high and summary["n_passes"] == 2 * summary["n_builds"]
    assert json.loads(out.read_text())["summary"]["speedup_vs_exact"] == pytest.approx(summary["speedup_vs_exact"])
    exact_point = summary["norm_pruned_exact"]  # timed in its own run: the sweep stops before epsilon 0
    assert exact_point["recall"] == 1.0 and exact_point["speedup_vs_exact"] > 0
    printed = capsys.readouterr().out
    assert "targets on 10^6 items" in printed and "norm-pruned at epsilon 0 (exact" in printed


def test_benchmark_script_ann_simd_runs_small(toy_embeddings, tmp_path):
    if registry.get("faiss-hnsw").available():
        pytest.skip("faiss is not installed")
    script = _load_script("ann_simd")
    table = script.main(["--n-items", "1500", "--n-queries", "30", "--cache", str(tmp_path), "--no-inspect"])
    assert {"NONE", "AVX2"} <= set(table["simd"]) or set(table["simd"]) == {"NONE"}
    for method, rows in table.groupby("method"):
        assert rows["recall"].nunique() == 1, method  # the kernels change, the answers do not


def test_bench_re_exports_every_public_name_of_the_benchmark_modules():
    from recsys.ann import ground_truth, platform, results, running

    modules = (ground_truth, running, results, platform)
    public = {name for module in modules for name in module.__all__}
    assert public == set(bench.__all__)
    for module in modules:
        for name in module.__all__:
            assert getattr(bench, name) is getattr(module, name), name


def test_ground_truth_cache_key_names_the_workload_its_vectors_and_the_depth():
    w = workloads.clustered(300, 20, 4, 3, seed=1)
    key = bench.cache_key(w, 5)
    assert key["depth"] == 5 and key["version"] == bench.GROUND_TRUTH_VERSION
    assert key["fingerprint"] == w.fingerprint() and key == bench.cache_key(w, 5) != bench.cache_key(w, 6)
    assert bench.DEFAULT_EPSILON == 1e-6


def test_the_ground_truth_cache_is_keyed_on_every_item_and_survives_damage(tmp_path):
    w = workloads.clustered(5000, 20, 4, 3, seed=1)
    first = bench.ground_truth(w, 5, cache_dir=tmp_path)
    assert not first.cached and bench.ground_truth(w, 5, cache_dir=tmp_path).cached
    # change one item that a 1-in-5 sample of the catalogue would not look at: a new key, a new truth
    best = int(first.ids[0, 0])
    changed_row = best + 1 if (best + 1) % 5 else best + 2
    items = w.items.copy()
    items[changed_row] = w.queries[0] * 1000  # now the best item of query 0 by far
    changed = workloads.Workload(w.name, items, w.queries, w.metric, dict(w.params))
    assert changed.fingerprint() != w.fingerprint()
    again = bench.ground_truth(changed, 5, cache_dir=tmp_path)
    assert not again.cached and again.ids[0, 0] == changed_row
    # a damaged entry is named in a warning and recomputed, never read as good
    entries = sorted(tmp_path.glob("ground-truth-*.npz"))
    assert len(entries) == 2 and not list(tmp_path.glob("*.tmp*"))  # no temporary file left behind
    for entry in entries:
        entry.write_bytes(entry.read_bytes()[:100])  # truncated
    with pytest.warns(UserWarning, match="ground-truth cache .* is damaged"):
        recomputed = bench.ground_truth(w, 5, cache_dir=tmp_path)
    assert not recomputed.cached and np.array_equal(recomputed.ids, first.ids)
    assert bench.ground_truth(w, 5, cache_dir=tmp_path).cached  # and written back whole


def test_faiss_simd_levels_start_without_simd():
    if registry.get("faiss-flat").available():
        pytest.skip("faiss is not installed")
    levels = bench.faiss_simd_levels()
    assert levels[0] == "NONE" and set(levels) <= set(bench_platform.SIMD_LEVELS)


def test_timing_goes_round_the_queries_until_enough_calls_or_seconds():
    w = workloads.clustered(500, 12, 8, 4, seed=1)  # 12 queries
    table = bench.run(
        w, ["exact-numpy"], timing_queries=100, max_timing_seconds=60, repeats=1, max_load=None, progress=False
    ).results
    row = table.iloc[0]
    assert row["n_timed"] == 100  # 100 calls from 12 queries, not 12
    assert row["recall_single"] == 1.0 and row["consistent"]  # answers: one per distinct query
    short = bench.run(
        w, ["exact-numpy"], timing_queries=10_000, max_timing_seconds=1e-9, repeats=1, max_load=None, progress=False
    ).results
    assert short["n_timed"].iloc[0] == 20  # the time limit stops it, after 20 calls at least


def test_a_busy_machine_is_waited_for_then_marked(monkeypatch):
    from recsys.ann import running

    loads = iter([3.0, 3.0, 0.5] + [0.5] * 100)
    slept = []
    monkeypatch.setattr(running, "_load", lambda: next(loads))
    monkeypatch.setattr(running.time, "sleep", lambda s: slept.append(s))
    w = workloads.clustered(300, 5, 8, 3, seed=0)
    settings = dict(timing_queries=20, repeats=1, progress=False)
    quiet = bench.run(w, ["exact-numpy"], max_load=1.5, quiet_wait=60, **settings)
    assert slept == [5.0, 5.0] and bool(quiet.results["quiet"].iloc[0])  # waited until the load fell
    assert quiet.settings["max_load"] == 1.5 and "cores" in quiet.settings["cpu"]
    monkeypatch.setattr(running, "_load", lambda: 3.0)
    slept.clear()
    busy = bench.run(w, ["exact-numpy"], max_load=1.5, quiet_wait=12, **settings)
    assert sum(slept) == 12 and not busy.results["quiet"].iloc[0]  # the wait budget is spent once, then marked
    unchecked = bench.run(w, ["exact-numpy"], max_load=None, **settings)
    assert unchecked.results["quiet"].iloc[0] is None
    assert bench.default_max_load() >= 1.25
    with pytest.raises(ValueError, match="max_load"):
        bench.run(w, ["exact-numpy"], max_load=0, **settings)


def test_cpu_description_names_the_model_and_its_simd_flags():
    text = "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nflags\t\t: fpu sse4_2 avx avx2 fma\n"
    described = bench.cpu_description(text)
    assert described.startswith("AMD EPYC 7B13 (") and "avx2 fma" in described and "no avx512f" in described
    assert "avx512f avx512bw" in bench.cpu_description(text.replace("fma", "fma avx512f avx512bw"))
    assert "SIMD flags unknown" in bench.cpu_description("")


def test_benchmark_script_mixture_sensitivity_runs_small(toy_embeddings, tmp_path, capsys):
    import scipy.sparse as sp

    n_users, n_items = toy_embeddings.user_vectors.shape[0], toy_embeddings.item_vectors.shape[0]
    toy_embeddings.test = sp.csr_matrix(
        (np.ones(n_users), (np.arange(n_users), np.arange(n_users))), (n_users, n_items)
    )
    script = _load_script("mixture_sensitivity")
    out = tmp_path / "sensitivity.json"
    summary = script.main(
        ["--components", "2", "4", "--n-items", "2000", "--n-queries", "30", "--samples", "1"]
        + ["--methods", "exact-numpy,numpy-lsh", "--quick", "--cache", str(tmp_path / "cache"), "--json", str(out)]
    )
    table = pd.DataFrame(summary["table"])
    assert sorted(set(table["components"])) == [2, 4] and set(table["method"]) == {"exact-numpy", "numpy-lsh"}
    exact = table[table["method"] == "exact-numpy"]
    assert (exact["recall_095"] == 1.0).all() and (exact["qps_095"] > 0).all()
    assert set(summary["validation"]) == {2, 4} and len(summary["validation"][2]) == len(difficulty.TOLERANCES)
    assert json.loads(out.read_text())["n_items"] == 2000
    printed = capsys.readouterr().out
    assert "statistics hold at the real size" in printed and "QPS at recall@10 >= 0.95" in printed
    with pytest.raises(SystemExit):
        script.main(["--components", "0"])


def test_native_vs_transformed_sets_each_pair_side_by_side():
    table = pd.DataFrame(
        {
            "method": ["a", "a", "b", "b", "c"],
            "build": ["{}"] * 5,
            "query": ['{"k": 1}', '{"k": 2}', '{"k": 2}', '{"k": 3}', '{"k": 1}'],
            "recall": [0.8, 0.95, 0.85, 0.97, 0.5],
            "qps": [1000.0, 500.0, 900.0, 250.0, 10.0],
        }
    )
    pairs = bench.native_vs_transformed(table, [("a", "b"), ("c", "b")], recall=0.9)
    ab = pairs.loc[("a", "b")]
    assert ab["native_qps"] == 500.0 and ab["transformed_qps"] == 250.0 and ab["ratio"] == 2.0
    assert ab["shared"] == {'{} | {"k": 2}': (0.95, 0.85)}
    cb = pairs.loc[("c", "b")]
    assert np.isnan(cb["native_qps"]) and cb["native_best_recall"] == 0.5 and cb["shared"] == {}


def _unrepeatable_class():
    """A random sketch drawn afresh at every build (like ScaNN's k-means): recall varies by build."""
    from itertools import count

    from recsys.ann.base import ANNIndex

    seeds = count()

    class Unrepeatable(ANNIndex):
        name = "unrepeatable-sketch"
        family = "quantization"
        native_metrics = ("ip",)
        query_params = ("k_factor",)
        reproducible_build = False
        grid = {"build": [{}], "query": {"k_factor": [1, 8]}}

        def _fit(self, X):
            rng = np.random.default_rng(next(seeds))
            self._P = rng.standard_normal((X.shape[1], 2))
            self._X, self._S, self._f = X, X @ self._P, 1

        def _set_query_arguments(self, k_factor=1):
            self._f = k_factor

        def _query(self, q, k):
            width = min(self._X.shape[0], k * self._f)
            candidates = np.argsort(-(self._S @ (q @ self._P)), kind="stable")[:width]
            return candidates[np.argsort(-(self._X[candidates] @ q), kind="stable")[:k]]

    return Unrepeatable


def test_builds_that_do_not_repeat_are_measured_several_times_and_summarised():
    Unrepeatable = _unrepeatable_class()
    w = workloads.clustered(800, 30, 8, 4, seed=3)
    settings = dict(timing_queries=20, repeats=1, max_load=None, progress=False, stop_recall=None)
    table = bench.run(w, [Unrepeatable, "exact-numpy"], build_repeats=3, **settings).results
    sketch = table[table["method"] == "unrepeatable-sketch"]
    assert len(sketch) == 2 and (sketch["n_builds"] == 3).all() and not sketch["reproducible"].any()
    assert (sketch["recall_min"] <= sketch["recall"]).all() and (sketch["recall"] <= sketch["recall_max"]).all()
    assert (sketch["recall_min"] < sketch["recall_max"]).any()  # three different sketches, three recalls
    assert (sketch["qps_min"] <= sketch["qps"]).all() and (sketch["qps"] <= sketch["qps_max"]).all()
    exact = table[table["method"] == "exact-numpy"].iloc[0]  # a repeatable build is built once
    assert exact["n_builds"] == 1 and exact["recall_min"] == exact["recall_max"] == exact["recall"] == 1.0
    with pytest.raises(ValueError, match="build_repeats"):
        bench.run(w, ["exact-numpy"], build_repeats=0, **settings)


def test_a_headline_speedup_is_timed_against_exact_search_over_builds_and_passes():
    Unrepeatable = _unrepeatable_class()
    registry.register(Unrepeatable)
    try:
        w = workloads.clustered(1500, 40, 8, 4, seed=3)
        timing = dict(timing_queries=30, max_timing_seconds=0.05, max_load=None)
        point = {"method": "unrepeatable-sketch", "build": "{}", "query": '{"k_factor": 4}'}
        passes = bench.speedup_over_repeats(w, point, baseline="exact-numpy", builds=3, repeats=2, **timing)
    finally:
        registry.unregister("unrepeatable-sketch")
    assert len(passes) == 6 and sorted(passes["build_no"].unique()) == [0, 1, 2]
    assert passes.groupby("build_no")["recall"].nunique().eq(1).all()  # one recall per build ...
    assert passes["recall"].nunique() > 1  # ... and different sketches, different recalls
    assert np.allclose(passes["speedup_vs_exact"], passes["qps"] / passes["exact_qps"])
    assert np.allclose(passes["speedup_vs_batch"], passes["qps"] / passes["exact_batch_qps"])
    assert (passes["exact_method"] == "exact-numpy").all() and passes["quiet"].isna().all()
    spread = bench.speedup_spread(passes)
    assert spread["n_builds"] == 3 and spread["n_passes"] == 6
    for key in ("speedup_vs_exact", "speedup_vs_batch", "qps"):
        assert spread[key]["min"] <= spread[key]["median"] <= spread[key]["max"]
    assert spread["recall_min"] < spread["recall_max"]
    repeatable = {"method": "numpy-lsh", "build": '{"tables": 4, "bits": 6}', "query": '{"probes": 2}'}
    once = bench.speedup_over_repeats(w, repeatable, baseline="faiss-flat", builds=3, repeats=2, **timing)
    assert once["build_no"].unique().tolist() == [0] and len(once) == 2  # a repeatable build is built once
    with pytest.raises(ValueError, match="exact method"):
        bench.speedup_over_repeats(w, repeatable, baseline="hnswlib", **timing)
    with pytest.raises(ValueError, match="no passes"):
        bench.speedup_spread(passes.iloc[:0])


def test_scaling_exponents_use_only_sizes_where_the_target_is_reached():
    sizes = [1e4, 1e5, 1e6]
    t = pd.DataFrame(
        {
            "method": ["m"] * 3 + ["n"] * 3 + ["e"] * 3,
            "family": ["graph"] * 6 + ["exact"] * 3,
            "n_items": sizes * 3,
            "recall": [0.96] * 3 + [0.97, 0.96, 0.5] + [1.0] * 3,
            "qps": [1e4, 1e4 / 10**0.3, 1e4 / 10**0.6, 1e4, 1e3, 1e4, 1e3, 1e2, 1e1],
            "build_s": [1.0, 10.0, 100.0] * 3,
            "memory_bytes": [1.0, 10.0, 100.0] * 3,
        }
    )
    summary = bench.scaling_summary(t, [0.95])
    assert summary.loc["m", "qps @ 0.95"] == pytest.approx(-0.3) and summary.loc["m", "sizes @ 0.95"] == 3
    # n reaches 0.95 at two sizes only: no fitted exponent (two points are a ratio, not a law)
    assert np.isnan(summary.loc["n", "qps @ 0.95"]) and summary.loc["n", "sizes @ 0.95"] == 2
    assert summary.loc["e", "qps @ exact"] == pytest.approx(-1.0)
    local = bench.local_slopes(t, 0.95)
    assert list(local.columns) == ["10,000-100,000", "100,000-1,000,000"]
    assert local.loc["m"].tolist() == pytest.approx([-0.3, -0.3])
    assert local.loc["n", "10,000-100,000"] == pytest.approx(-1.0) and np.isnan(local.loc["n", "100,000-1,000,000"])
    assert local.loc["e"].tolist() == pytest.approx([-1.0, -1.0])
    assert np.isnan(bench.scaling_exponents(t[t["method"] == "m"].iloc[:1], "qps").get("m", np.nan))


def test_the_load_threshold_is_auto_none_or_a_positive_number():
    assert bench.resolve_max_load("auto") == bench.default_max_load() >= 1.25
    assert bench.resolve_max_load(None) is None and bench.resolve_max_load(2.5) == 2.5
    for bad in ("busy", 0, -1.0):
        with pytest.raises(ValueError, match="max_load"):
            bench.resolve_max_load(bad)


def test_a_forest_is_checked_against_ranking_as_many_random_items():
    t = pd.DataFrame(
        {
            "method": ["annoy"] * 3 + ["hnswlib"],
            "n_items": [10_000] * 4,
            "build": ['{"n_trees": 10}'] * 3 + ["{}"],
            "query": ['{"search_k": 1000}', '{"search_k": 20000}', '{"search_k": -1}', '{"ef": 10}'],
            "recall": [0.3, 1.0, 0.2, 0.9],
        }
    )
    out = bench.sampling_baseline(t)
    assert out["search_k"].tolist() == [1000, 20000]  # the default budget and other knobs are left out
    assert out["random_recall"].tolist() == pytest.approx([0.1, 1.0])  # a budget beyond the catalogue: 1
    assert out["lift"].tolist() == pytest.approx([3.0, 1.0])
    # the expectation is right: ranking 1,000 random items of 10,000 finds a tenth of the true top 10
    rng = np.random.default_rng(0)
    found = [np.isin(np.arange(10), rng.choice(10_000, 1000, replace=False)).mean() for _ in range(2000)]
    assert np.mean(found) == pytest.approx(0.1, abs=0.01)


def test_norm_pruned_is_a_frontier_method_not_the_exact_reference():
    """norm-pruned is exact at epsilon 0 but approximate above it: its points go on the frontier as
    the "pruning" family, and the exact reference (the baseline of every speed-up) stays brute force."""
    w = workloads.clustered(3000, 40, 8, 6, seed=2)
    grid = {
        "norm-pruned": {"build": [{"bucket_size": 128, "directions": 8}], "query": [{"epsilon": e} for e in (0.9, 0.0)]}
    }
    table = bench.run(
        w,
        ["exact-numpy", "norm-pruned"],
        grids=grid,
        stop_recall=None,
        timing_queries=20,
        repeats=1,
        max_load=None,
        progress=False,
    ).results
    pruned = table[table["method"] == "norm-pruned"].set_index("query")
    assert set(pruned["family"]) == {"pruning"}
    assert pruned.loc['{"epsilon": 0.0}', "recall"] == 1.0
    assert bench.exact_reference(table).loc[w.name, "exact_method"] == "exact-numpy"
    assert "pruning" in bench.family_summary(table, 0.5).index
    assert bench.best(table, 1.0)["method"] == "norm-pruned"
