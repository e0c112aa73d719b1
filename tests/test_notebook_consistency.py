"""Notebooks that reuse another notebook's choices agree with what that notebook recorded.

Notebooks 04 and 05 train the models of notebook 03 with the hyperparameters 03 chose on
validation data (re-tuning them would cost their time budget). These values are parameters of
04 and 05, so they cannot silently drift from 03: when 03's committed record changes, this test
says which default to update.
"""

from __future__ import annotations

import pytest

from recsys import paths
from recsys.notebook import runner
from recsys.notebook.results import read_results


def _notebook(number: str):
    return next(paths.notebooks_dir().glob(f"{number}_*.ipynb"))


@pytest.fixture(scope="module")
def chosen_by_03():
    results = read_results(_notebook("03"))
    data = "ml-latest-small"
    ranking, rating = results["ranking_params"][data], results["rating_params"][data]
    return {
        "als_regularization": rating["ALS"]["regularization"],
        "ials": {k: ranking["implicit ALS"][k] for k in ("factors", "regularization", "alpha", "iterations")},
        "bpr": {k: ranking["BPR"][k] for k in ("factors", "learning_rate", "regularization", "iterations")},
        "puresvd_factors": ranking["PureSVD (top-N)"]["factors"],
    }


def test_notebook_04_uses_the_hyperparameters_notebook_03_chose(chosen_by_03):
    d = runner.notebook_defaults(_notebook("04"))
    assert d["als_regularization"] == chosen_by_03["als_regularization"]
    ials = {
        "factors": d["ials_factors"],
        "regularization": d["ials_regularization"],
        "alpha": d["ials_alpha"],
        "iterations": d["ials_iterations"],
    }
    assert ials == chosen_by_03["ials"]
    bpr = {
        "factors": d["bpr_factors"],
        "learning_rate": d["bpr_learning_rate"],
        "regularization": d["bpr_regularization"],
        "iterations": d["bpr_iterations"],
    }
    assert bpr == chosen_by_03["bpr"]
    assert d["puresvd_factors"] == chosen_by_03["puresvd_factors"]


def test_notebook_05_uses_the_hyperparameters_notebook_03_chose(chosen_by_03):
    d = runner.notebook_defaults(_notebook("05"))
    assert d["als_regularization"] == chosen_by_03["als_regularization"]
    first = lambda grid: {k: v[0] for k, v in grid.items()}  # noqa: E731
    ials = {**first(d["ials_grid"]), "iterations": d["ials_iterations"]}
    assert ials == chosen_by_03["ials"]
    assert {**first(d["bpr_grid"]), "iterations": d["bpr_iterations"]} == chosen_by_03["bpr"]
    assert first(d["puresvd_grid"]) == {"factors": chosen_by_03["puresvd_factors"]}


def test_notebooks_05_and_07_score_cold_films_alike():
    """07's cold-film study is 05's cold-item split and protocol with the cold films as the only
    candidates (recsys.experiments.cold_start): with the same defaults, the rows both chapters have
    are the same numbers. When one chapter's defaults change, this says which to follow."""
    d05, d07 = runner.notebook_defaults(_notebook("05")), runner.notebook_defaults(_notebook("07"))
    for name in ("dataset", "seed", "k", "train_ratio", "cold_fraction"):
        assert d05[name] == d07[name], name
    assert d07["sample_users"] == 0  # every user, as in 05
    data, k = d05["dataset"], d05["k"]
    on_05 = read_results(_notebook("05"))["cold_start"][data]
    on_07 = read_results(_notebook("07"))["cold_items"][data]
    for model in ("popularity", "content: genres"):
        for metric in (f"ndcg@{k}", f"precision@{k}", f"recall@{k}"):
            assert on_07[model][metric] == pytest.approx(on_05[model]["cold"][metric], rel=1e-9), (model, metric)
