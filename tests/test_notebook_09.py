"""Notebook 09 runs with small parameters: every board, its paired differences and the computed answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from notebook_runs import SMALL, output_text, small_run


@pytest.mark.notebook
@pytest.mark.xdist_group("nb09")
def test_nb09_leaderboard_small(tmp_path_factory):
    run = small_run("09", tmp_path_factory)
    assert run.ok, run.error
    results = json.loads(Path(run.results_file).read_text())["results"]
    models = set(SMALL["09"]["models"])
    bundled = results["board"]["ml-latest-small"]
    assert set(bundled) == models
    for name, row in bundled.items():
        assert set(row) >= {"ndcg@5", "ndcg@5_low", "ndcg@5_high", "recall@5", "coverage@5", "mean_popularity@5"}
        assert row["ndcg@5_low"] <= row["ndcg@5"] <= row["ndcg@5_high"], name
    # even on 80 users the closed forms rank better than popularity
    assert bundled["EASE"]["ndcg@5"] > bundled["popularity"]["ndcg@5"]
    answer = dict(results["answer"])
    assert set(answer) == {"ml-latest-small"}
    if SMALL["09"]["use_ml100k"]:
        assert set(results["ml100k"]["answer"]) == {
            "ML-100K, per-user 75/25",
            "ML-100K, item-stratified 75/25 (Microsoft Recommenders)",
            "ML-100K, per-user temporal 75/25",
        }
        answer |= results["ml100k"]["answer"]
    for board, row in answer.items():
        assert row["best"] in models - {"Mult-VAE", "LightGCN"} and row["rival"] in {"Mult-VAE", "LightGCN"}, board
        assert row["low"] <= row["difference"] <= row["high"]
        assert row["detectable"] == (row["low"] > 0 or row["high"] < 0)
    text = output_text(run)
    assert "not distinguishable" in text or "is ahead" in text
    if SMALL["09"]["use_ml100k"]:
        board = results["ml100k"]["board"]
        assert set(board) == models
        differences = results["ml100k"]["differences"]
        assert set(differences) == models - {"EASE"}  # every model against the reference, paired over the draws
        chosen = results["ml100k"]["chosen"]
        assert set(chosen) == {"42", "43"} and all(set(c) == models for c in chosen.values())
        target = results["ml100k"]["target"]
        assert target["best"] == max(board, key=lambda m: board[m]["ndcg@5"])
        assert target["reaches_0_50"] == (target["ndcg"] >= 0.50)
        assert set(results["ml100k"]["item_stratified"]["board"]) == models
        assert set(results["ml100k"]["temporal"]["board"]) == models
        assert "ratings" in run.skipped  # the u1-u5 folds need every user, and the small run samples them
    else:
        assert "ml100k" in run.skipped
