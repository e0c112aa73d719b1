"""Notebook 06 (approximate search) runs through papermill with tiny sizes and records its results."""

from __future__ import annotations

import json

import pytest
from notebook_runs import TINY_06, small_run

from recsys.ann import difficulty, registry
from recsys.notebook import runner
from recsys.notebook.results import flatten

pytestmark = pytest.mark.notebook

TINY_06_LEADERS = (
    "exact-numpy",
    "hnswlib",
    "scann",
    "glass",
    "voyager",
    "ngt-onng",
    "svs-vamana",
    "svs-vamana-lvq",
    "symphonyqg",
    "rabitq-ivf",
    "norm-pruned",
)


def _run(tmp_path, **overrides):
    runs = runner.run(
        only=["06"],
        parameters={**TINY_06, "cache_dir": str(tmp_path / "cache"), **overrides},
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    return runs[0]


@pytest.mark.xdist_group("nb06")
def test_nb06_ann_recall_latency_tiny(tmp_path_factory):
    run = small_run("06", tmp_path_factory)
    assert run.ok, run.error
    results = json.loads(run.results_file.read_text())["results"]
    available = {name for name in registry.ADAPTERS if registry.get(name).available() is None}
    for workload in ("real", "mixture"):
        recall = results[workload]["recall"]
        assert recall["exact-numpy"] == {"{} | {}": 1.0}
        families = {registry.get(m).family for m in recall} | {
            registry.get(m).family for m in results[workload]["reaches"]
        }
        assert {"exact", "graph", "tree", "lsh", "quantization"} <= families
        assert all(0 <= r <= 1 for points in recall.values() for r in points.values())
    assert set(results["shape"]) == {
        "item norm",
        "query norm",
        "item-item cosine",
        "item-item cosine, longer half",
        "query-item cosine",
    }
    cost = results["cost"]
    exact = cost["exact {} {}"]
    assert exact["ann_recall"] == 1.0 and exact["served_recall"] == 1.0 and 0 < exact["ndcg@10"] <= 1
    flat = flatten(cost)  # row names with dots nest: read the leaves
    lows = {key.rsplit(".", 1)[0]: v for key, v in flat.items() if key.endswith(".ndcg_loss_low")}
    highs = {key.rsplit(".", 1)[0]: v for key, v in flat.items() if key.endswith(".ndcg_loss_high")}
    assert len(lows) > 5 and lows.keys() == highs.keys() and all(lows[key] <= highs[key] for key in lows)
    headline = results["headline"]
    assert headline["best_method"] in available
    assert 0 <= headline["quiet_share"] <= 1
    for ratio in ("speedup_vs_exact", "speedup_vs_batch"):  # a median with its range over builds and passes
        assert 0 < headline[ratio]["min"] <= headline[ratio]["median"] <= headline[ratio]["max"]
    assert len(results["headline_passes"]) == headline["n_passes"] == 2 * headline["n_builds"]
    assert results["run_info"]["commit"] and "cores" in results["run_info"]["cpu"]
    validation = results["validation"]
    assert set(validation) == set(difficulty.TOLERANCES)
    assert all(isinstance(row["holds"], bool) and row["min"] <= row["max"] for row in validation.values())
    for name in ("nmslib-hnsw-mips", "faiss-ivf-ip", "faiss-ivf", "faiss-ivfpqfs-ip", "annoy-dot", "annoy"):
        assert name in results["mips"]["recall"] or name not in available, name
    assert results["scaling"]["exponents"] and "local_slopes" in results["scaling"]
    graph_builds = {
        build for points in results["graphs"]["recall"].values() for build in (p.split(" | ")[0] for p in points)
    }
    assert len(graph_builds) == 2  # every build of the graph study measured
    ease = results["ease"]  # EASE served through its rank-r factorisation: the rank's cost, then the index's
    assert list(ease["rank_cost"]) == ["4", "8"]
    assert all(r["ndcg_loss_low"] <= r["ndcg_loss"] <= r["ndcg_loss_high"] for r in ease["rank_cost"].values())
    assert ease["recall"]["hnswlib"] and ease["cost"]["exact {} {}"]["served_recall"] == 1.0
    pruning = results["pruning"]  # norm pruning: exact on the real vectors, its share read by size
    assert pruning["equals_brute_force"] is True
    assert list(pruning["by_size"]) == ["1000", "2000", "3000"]
    assert all(0 < v <= 1 for row in pruning["by_size"].values() for v in row.values())
    assert set(pruning["real"]) == {"length bound, item by item", "norm-pruned (buckets and cones)"}
    assert (
        results["mixture"]["recall"]["norm-pruned"]['{"bucket_size": 256, "directions": 16} | {"epsilon": 0.0}'] == 1.0
    )
    leaders = {m for m in TINY_06_LEADERS if m in available}
    repeating = {m for m in leaders if registry.get(m).reproducible_build}  # the others: tolerance-free facts
    assert set(results["leaders"]["recall"]) == repeating and set(results["leaders"]["reaches"]) == leaders - repeating
    assert len(run.figures) >= 11


def test_nb06_bad_parameter_fails_in_the_first_cell(tmp_path):
    run = _run(tmp_path, methods=["hnswlib", "no-such-index"])
    assert not run.ok and "ParameterError" in run.error and "methods" in run.error


def test_nb06_mips_pairs_must_be_native_then_transformed(tmp_path):
    run = _run(tmp_path, mips_pairs=[["faiss-ivf", "faiss-ivf-ip"]])  # the wrong way round
    assert not run.ok and "ParameterError" in run.error and "mips_pairs" in run.error
