"""Notebook 07 runs with small parameters; the family study behind it (recsys.experiments.families, tuned by
recsys.experiments.tuning) and its cold-item study do what they say."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from notebook_runs import output_text, small_run

from recsys import datasets, experiments, splits
from recsys.experiments import families
from recsys.models import ImplicitALS, Popularity
from recsys.models.autoencoders import EASE
from recsys.models.gnn import LightGCN
from recsys.models.neural import EmbeddingDotBias


@pytest.mark.notebook
@pytest.mark.xdist_group("nb07")
def test_nb07_autoencoder_gnn_embeddings_small(tmp_path_factory):
    run = small_run("07", tmp_path_factory)
    assert run.ok, run.error
    results = json.loads(Path(run.results_file).read_text())["results"]
    ranking = results["ranking"]["ml-latest-small"]
    expected = {"popularity", "implicit ALS", "PureSVD", "EASE", "Mult-VAE", "LightGCN", "FM", "FM + side features"}
    assert expected <= set(ranking)
    for name, row in ranking.items():
        assert set(row) == {
            "ndcg@5",
            "recall@5",
            "precision@5",
            "map@5",
            "coverage@5",
            "ndcg@5_low",
            "ndcg@5_high",
        }
        assert all(0 <= v <= 1 for v in row.values()), name
        assert row["ndcg@5_low"] <= row["ndcg@5"] <= row["ndcg@5_high"], name
    # even three epochs on 120 users: the closed forms rank far better than popularity
    assert ranking["EASE"]["ndcg@5"] > ranking["popularity"]["ndcg@5"]
    assert results["chosen"]["ml-latest-small"]["LightGCN"]["iterations"] <= 3
    assert 0 < results["lightgcn_epoch0"]["ml-latest-small"] <= 1  # the spectral start, before any step
    leader = results["leader"]["ml-latest-small"]
    assert leader["best"] == max(ranking, key=lambda m: ranking[m]["ndcg@5"]) and leader["best"] not in leader["ties"]
    assert results["cold_leader"]["ml-latest-small"]["best"] in {"popularity", "content: genres", "FM + side features"}
    temporal = results["ranking_user_temporal"]["ml-latest-small"]  # each family's leader, without the leak
    assert "EASE" in temporal or "implicit ALS" in temporal or "PureSVD" in temporal
    assert all(v["ndcg@5_low"] <= v["ndcg@5"] <= v["ndcg@5_high"] for v in temporal.values())
    draws = results["ranking_over_draws"]["ml-latest-small"]  # the same leaders over two draws of the split
    assert set(draws) == set(temporal) and all(set(v) == {"42", "43"} for v in draws.values())
    assert all(v["42"] == pytest.approx(ranking[name]["ndcg@5"]) for name, v in draws.items())  # the first draw
    assert results["leader_over_draws"]["ml-latest-small"]["best"] in draws
    assert results["neural_equals_sgd"]["max_abs_difference"] < 1e-9
    serving = results["serving"]["ml-latest-small"]
    assert {key.split(" / ")[1] for key in serving} == {"hnswlib", "scann"}
    assert "EASE" not in {key.split(" / ")[0] for key in serving}  # too wide to index
    operating = results["serving_operating_point"]["ml-latest-small"]
    assert operating.keys() == serving.keys()
    assert all(r["recall"] is None or r["recall"] >= 0.95 for r in operating.values())
    # the recall of every grid point is recorded (and compared on reruns), per model and method
    recalls = results["serving_recall"]["ml-latest-small"]
    assert set(recalls) == {key.split(" / ")[0] for key in serving}
    assert all(
        0 <= v <= 1 for per_method in recalls.values() for points in per_method.values() for v in points.values()
    )
    cold = results["cold_items"]["ml-latest-small"]
    assert set(cold) == {"popularity", "content: genres", "FM + side features"}
    assert cold["content: genres"]["ndcg@5"] > cold["popularity"]["ndcg@5"]
    assert results["embeddings"]["ml-latest-small"]["EASE"]["dim"] > 1000  # n_items wide
    coherence_leader = results["coherence_leader"]["ml-latest-small"]  # paired over films, not the larger lift
    assert coherence_leader["best"] in results["embeddings"]["ml-latest-small"]
    assert "ml100k" in json.loads(Path(run.results_file).read_text())["skipped"] and "ml100k" not in results
    assert "@10" not in output_text(run)  # run at k = 5: no table or sentence may claim 10


# ------------------------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def small_data():
    return families.sample_users(datasets.load("ml-latest-small"), 80, seed=0)


def test_sample_users_keeps_whole_users(small_data):
    full = datasets.load("ml-latest-small")
    assert small_data.ratings["user_id"].nunique() == 80
    kept = full.ratings[full.ratings["user_id"].isin(small_data.ratings["user_id"].unique())]
    assert len(kept) == len(small_data.ratings)
    assert families.sample_users(full, 0) is full


def test_tune_early_stops_on_validation_and_sets_the_best_epoch(small_data):
    split = splits.stratified_holdout(small_data.ratings, 0.75, seed=0)
    tuned = experiments.tune(
        LightGCN(iterations=6, random_state=0), {"factors": [4, 8]}, split, k=5, seed=0, patience=2, progress=False
    )
    assert list(tuned.table.index) == [4, 8] and tuned.metric == "val_ndcg@5"
    best = tuned.table["val_ndcg@5"].idxmax()
    assert tuned.params["factors"] == best
    assert tuned.params["iterations"] == tuned.table.loc[best, "best_iteration"]
    assert tuned.model.iterations == tuned.params["iterations"] and tuned.model.early_stopping is None
    scores = [h["val_ndcg@5"] for h in tuned.history]
    assert max(scores) == pytest.approx(tuned.table.loc[best, "val_ndcg@5"])
    # the same numbers as fitting by hand on the validation split
    inner = experiments.Matrices.from_split(experiments.validation_split(split, seed=0))
    X = experiments.model_input(tuned.model, inner.train)
    model = LightGCN(factors=int(best), iterations=6, early_stopping="val_ndcg@5", patience=2, random_state=0)
    model.fit(X, callback=experiments.ranking_callback(X, inner.test, k=5))
    assert [h["val_ndcg@5"] for h in model.history_] == scores


def test_tune_handles_one_shot_and_rating_models(small_data):
    split = splits.stratified_holdout(small_data.ratings, 0.75, seed=0)
    pop = experiments.tune(Popularity(), {}, split, progress=False)
    assert pop.params == {} and len(pop.table) == 1 and not pop.stopped_early
    ease = experiments.tune(EASE(), {"regularization": [10.0, 1000.0]}, split, progress=False)
    assert "iterations" not in ease.params and ease.params["regularization"] in (10.0, 1000.0)
    assert len(ease.history) == 1  # a closed form: one "iteration"
    neural = experiments.tune(EmbeddingDotBias(iterations=4), {"factors": [2]}, split, patience=1, progress=False)
    assert neural.metric == "val_rmse" and 1 <= neural.params["iterations"] <= 4
    assert neural.model.early_stopping is None and neural.best == min(h["val_rmse"] for h in neural.history)


def test_fit_and_rank_matches_the_ranking_table(small_data):
    split = splits.stratified_holdout(small_data.ratings, 0.75, seed=0)
    models = {"ALS": ImplicitALS(factors=4, iterations=2, random_state=0), "pop": Popularity()}
    fitted, table = families.fit_and_rank(models, split, progress=False)
    reference = experiments.ranking_table(models, split, progress=False)
    pd.testing.assert_frame_equal(table.drop(columns="fit_seconds"), reference.drop(columns="fit_seconds"))
    assert set(fitted) == {"ALS", "pop"} and hasattr(fitted["ALS"], "user_factors_")
    assert {"ndcg@10_low", "ndcg@10_high", "recall@10_low", "recall@10_high"} <= set(table.columns)
    _, _, per_user = families.fit_and_rank(models, split, progress=False, return_per_user=True)
    _, reference_per_user = experiments.ranking_table(models, split, progress=False, return_per_user=True)
    pd.testing.assert_frame_equal(per_user["ndcg@10"], reference_per_user["ndcg@10"])


def test_family_leaders_and_other_seeds_of_the_split(small_data):
    line_up = {
        "pop": families.Candidate(Popularity(), {}, family="baseline"),
        "ALS": families.Candidate(ImplicitALS(factors=4, iterations=2, random_state=0), {}, family="MF"),
        "ALS8": families.Candidate(ImplicitALS(factors=8, iterations=2, random_state=0), {}, family="MF"),
        "EASE": families.Candidate(EASE(), {}, family="autoencoder"),
    }
    study = families.family_study(small_data, line_up, seed=0, k=5, progress=False)
    means = study.per_user["ndcg@5"].mean()
    leaders = families.family_leaders(study, "ndcg@5")
    assert leaders[0] == "pop" and leaders[2] == "EASE"
    assert leaders[1] == ("ALS" if means["ALS"] >= means["ALS8"] else "ALS8")
    assert families.family_leaders(study, "ndcg@5", skip=("baseline",)) == leaders[1:]
    with pytest.raises(KeyError, match="per-user"):
        families.family_leaders(study, "ndcg@10")

    seeds = families.over_split_seeds(study, ["EASE", "pop"], [0, 3], k=5, progress=False)
    assert set(seeds) == {"ndcg@5", "recall@5"} and list(seeds["ndcg@5"].columns) == ["EASE", "pop"]
    assert list(seeds["ndcg@5"].index) == [0, 3]
    # seed 0 is the study's own split: the same numbers as its ranking
    assert seeds["ndcg@5"].loc[0, "EASE"] == pytest.approx(study.ranking.loc["EASE", "ndcg@5"])
    assert seeds["ndcg@5"].loc[3, "pop"] != pytest.approx(seeds["ndcg@5"].loc[0, "pop"])  # another draw
    with pytest.raises(KeyError, match="no model"):
        families.over_split_seeds(study, ["SLIM"], [1], progress=False)
    with pytest.raises(ValueError, match="seeds"):
        families.over_split_seeds(study, ["EASE"], [], progress=False)

    # the geometry table, with each film's coherence above its baseline for a paired comparison
    table, excess = families.embedding_table(study, ["ALS", "EASE"], k=5, top=200, seed=0, return_per_item=True)
    assert list(excess.columns) == ["ALS", "EASE"] and len(excess) > 50
    for name in ("ALS", "EASE"):
        assert excess[name].mean() == pytest.approx(
            table.loc[name, "genre_coherence"] - table.loc[name, "genre_baseline"]
        )
    pd.testing.assert_frame_equal(families.embedding_table(study, ["ALS", "EASE"], k=5, top=200, seed=0), table)
