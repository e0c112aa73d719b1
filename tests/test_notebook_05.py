"""Notebook 05 (similarity measures) runs through papermill with small parameters and records sane results."""

from __future__ import annotations

import json

import pytest
from notebook_runs import SMALL_05, small_run

from recsys.notebook import runner

pytestmark = pytest.mark.notebook


def _run(tmp_path, **overrides):
    runs = runner.run(
        only=["05"],
        parameters=overrides,
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    return runs[0]


@pytest.mark.xdist_group("nb05")
def test_nb05_similarity_measures_small(tmp_path_factory):
    # the ML-100K sections run in the default run (CI sets MOVIELENS_DIR), not in this quick one
    run = small_run("05", tmp_path_factory)
    assert run.ok, run.error
    results = json.loads(run.results_file.read_text())["results"]
    # the classic picture and the unit sphere
    assert results["abc"]["distinct_orders"] == 3
    assert results["abc"]["orders"] == {"dot": "A > C > B", "cosine": "C > B > A", "euclidean": "B > C > A"}
    for pair, stats in results["unit_agreement"].items():
        assert stats["min_rank_correlation"] == pytest.approx(1.0) and stats["identical_top_k"] == 1.0, pair
    # every model and measure on 03's protocol
    models = {"biased ALS", "implicit ALS", "PureSVD", "BPR"}
    measures = results["measures"]["ml-latest-small"]
    assert set(measures) == models and all(set(m) == {"dot", "cosine", "euclidean"} for m in measures.values())
    assert all(0 <= s["ndcg@10"] <= 1 and 0 <= s["coverage@10"] <= 1 for m in measures.values() for s in m.values())
    assert set(results["trained_for"].values()) == {"dot"}
    winners = results["winners"]["ml-latest-small"]
    assert set(winners) == models and all(w is None or w in ("dot", "cosine", "euclidean") for w in winners.values())
    for name, winner in winners.items():  # a named winner is the measure with the highest mean
        if winner is not None:
            assert measures[name][winner]["ndcg@10"] == max(s["ndcg@10"] for s in measures[name].values())
    overlap = results["overlap"]["ml-latest-small"]
    assert all(0 <= v["mean"] <= 1 for pairs in overlap.values() for v in pairs.values())
    # content and hybrid, warm and cold
    cold = results["cold_start"]["ml-latest-small"]
    assert {"popularity", "implicit ALS", "content: genres", "content: tags", "hybrid"} <= set(cold)
    assert all(set(parts) == {"warm", "cold", "all"} for parts in cold.values())
    assert cold["content: genres"]["cold"]["ndcg@10"] > cold["popularity"]["cold"]["ndcg@10"]
    assert results["hybrid_weight"]["ml-latest-small"] in SMALL_05["hybrid_weights"]
    # MIPS: exact on the real factors
    assert results["mips_exact"]["ml-latest-small"] is True
    angles = results["mips_angles"]["ml-latest-small"]
    assert angles["after"]["median angle, all items"] > angles["before"]["median angle, all items"] - 1e-9
    assert "ml100k" in run.skipped and "ml100k" not in results
    assert len(run.figures) >= 6


def test_nb05_bad_parameter_fails_in_the_first_cell(tmp_path):
    run = _run(tmp_path, example_model="word2vec")
    assert not run.ok
    assert "ParameterError" in run.error and "example_model" in run.error
