"""Every notebook runs through papermill with small parameters, and records sane results.

Marked ``notebook`` so they can be run alone (``pytest -m notebook``) or skipped
(``make test-fast``). The full default runs, and the check that they reproduce the committed
notebooks, are the main job (``make notebooks``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from notebook_runs import ml100k_available, output_text, results_of, small_run

from recsys.notebook import runner
from recsys.notebook.results import read_results

pytestmark = pytest.mark.notebook

NOTEBOOKS = {nb.stem.split("_", 1)[0]: nb for nb in runner.discover()}


def execute(number: str, tmp_path: Path, **overrides) -> tuple[runner.NotebookRun, dict]:
    runs = runner.run(
        only=[number],
        parameters=overrides,
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    run = runs[0]
    assert run.ok, run.error
    saved = json.loads(run.results_file.read_text())
    assert saved["parameters"] == run.parameters
    return run, saved["results"]


def test_every_notebook_has_a_test():
    """Each notebook NN has a papermill test named ``test_nbNN_...`` in some file under tests/."""
    pattern = re.compile(r"^def test_nb(\d+)_", re.MULTILINE)
    tested = {int(n) for f in Path(__file__).parent.glob("test_*.py") for n in pattern.findall(f.read_text())}
    missing = sorted(
        stem for number, stem in ((int(k), nb.stem) for k, nb in NOTEBOOKS.items()) if number not in tested
    )
    assert not missing, f"notebooks without a papermill test (def test_nbNN_...): {missing}"


def test_committed_notebooks_are_clean():
    """No progress-bar debris, warnings or errors in what readers read."""
    import nbformat

    for path in NOTEBOOKS.values():
        nb = nbformat.read(str(path), as_version=4)
        for i, cell in enumerate(nb.cells):
            for output in cell.get("outputs", []):
                assert output.output_type != "error", f"{path.name} cell {i} holds an error"
                assert not (output.output_type == "stream" and output.name == "stderr"), (
                    f"{path.name} cell {i} has stderr output: {output.text[:200]!r}"
                )


def test_committed_notebooks_carry_their_default_outputs():
    for path in NOTEBOOKS.values():
        results = read_results(path)
        assert results, f"{path.name} has no recorded results: commit it executed (python -m recsys run --publish)"


@pytest.mark.xdist_group("nb01")
def test_nb01_data_prep_on_synthetic(tmp_path_factory):
    run = small_run("01", tmp_path_factory)
    results = results_of(run)
    data = results["data"]
    assert data["n_ratings"] == 20_000 and 0 < data["density"] < 1
    assert 0 < results["long_tail"]["item_top10_share"] < 1
    k_core = results["k_core"]
    assert k_core["1"]["ratings"] == data["n_ratings"] >= k_core["3"]["ratings"] >= k_core["20"]["ratings"]
    splits = results["splits"]
    assert splits["temporal"]["leakage_global"] == 0.0
    assert 0.3 < splits["random"]["leakage_global"] < 0.7
    for kind, s in splits.items():
        assert s["train"] + s["test"] + s["dropped"] == data["n_ratings"], kind
    assert 0 < results["implicit"]["positive_share"] <= 1 and 0 <= results["time"]["users_active_one_day"] <= 1
    assert len(run.figures) >= 5


@pytest.mark.skipif(not ml100k_available(), reason="needs MOVIELENS_DIR with ml-100k/ (CI sets it)")
def test_nb01_data_prep_on_ml100k(tmp_path):
    _, results = execute("01", tmp_path, dataset="ml-100k")
    assert results["data"]["n_ratings"] == 100_000
    assert results["data"]["n_users"] == 943 and results["data"]["n_items"] == 1682


@pytest.mark.parametrize("name, value, message", [("k_core", -1, "k_core"), ("dataset", "ml-5k", "dataset")])
def test_nb01_bad_parameter_fails_in_the_first_cell(tmp_path, name, value, message):
    runs = runner.run(
        only=["01"],
        parameters={name: value},
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    run = runs[0]
    assert not run.ok
    assert "ParameterError" in run.error and repr(message) in run.error
    assert "params.choice" in run.failed_cell  # the validation cell, right after the parameters


@pytest.mark.xdist_group("nb02")
def test_nb02_mean_normalization_small(tmp_path_factory):
    run = small_run("02", tmp_path_factory)
    results = results_of(run)
    toy = results["toy"]
    assert toy["eve_raw"] == [0.0] * 5 and toy["eve_vector_norm_raw"] == 0.0
    assert toy["eve_normalized"] == pytest.approx(toy["film_means"], abs=1e-9)
    assert toy["film_means"] == pytest.approx([2.5, 2.5, 2.0, 2.25, 5 / 3])
    base = results["baselines"]["synthetic"]
    assert base["biases (ALS, damped)"]["rmse"] < base["item mean"]["rmse"] < base["global mean"]["rmse"]
    assert "ml-100k" not in results["baselines"] and "baselines.ml-100k" in run.skipped
    cold = results["cold_start"]["synthetic"]
    assert len(cold["biases"]) == 2 and cold["MF on raw ratings"][0] > cold["biases"][0]
    mf = results["mf"]["synthetic"]
    assert mf["MF on bias residuals"]["rmse"] < mf["MF on raw ratings"]["rmse"]
    chosen = results["dampings"]["synthetic"]
    assert (
        set(chosen["chosen"].values()) <= {0, 5} and chosen["gain"] >= 0
    )  # chosen on validation, never better on test
    assert chosen["test_rmse"] >= chosen["test_rmse_if_chosen_on_test"]
    assert results["toy"]["largest_move"]["user"] != "Eve"


@pytest.mark.skipif(not ml100k_available(), reason="needs MOVIELENS_DIR with ml-100k/ (CI sets it)")
def test_nb02_damped_biases_on_ml100k_folds(tmp_path):
    # the acceptance figure: damped biases reach mean RMSE <= 0.945 on u1-u5
    _, results = execute(
        "02", tmp_path, dataset="synthetic", n_folds=2, dampings=[5], damping_grid=[5], given=[0], mf_factors=2
    )
    ml100k = results["baselines"]["ml-100k"]
    assert ml100k["biases (ALS, damped)"]["rmse"] <= 0.945
    assert ml100k["biases (Surprise's settings)"]["rmse"] == pytest.approx(0.946, abs=0.001)


@pytest.mark.xdist_group("nb03")
def test_nb03_als_svd_sgd_small(tmp_path_factory):
    run = small_run("03", tmp_path_factory)
    results = results_of(run)
    rating = results["rating"]["synthetic"]
    expected = {"global mean", "biases", "ALS", "PureSVD", "SVD-impute", "SGD", "BPMF"}
    assert set(rating) == expected
    assert all(0 < v["mae"] <= v["rmse"] for v in rating.values())
    assert rating["ALS"]["rmse"] < rating["global mean"]["rmse"]
    assert rating["BPMF"]["rmse"] < rating["global mean"]["rmse"]
    ranking = results["ranking"]["synthetic"]
    assert set(ranking) == {"popularity", "biases", "ALS", "SGD", "BPMF", "implicit ALS", "BPR", "PureSVD (top-N)"}
    assert all(0 <= v["ndcg@5"] <= 1 and 0 <= v["precision@5"] <= 1 for v in ranking.values())
    assert ranking["popularity"]["ndcg@5"] > 0
    # the leader lines: the best by its mean, and every model it cannot be told from (never the best itself)
    for name, table in (("rating_leader", rating), ("ranking_leader", ranking)):
        leader = results[name]["synthetic"]
        assert leader["best"] in table and leader["best"] not in leader["ties"] and set(leader["ties"]) <= set(table)
    assert results["ranking_leader"]["synthetic"]["best"] == max(ranking, key=lambda m: ranking[m]["ndcg@5"])
    # the same models on the per-user temporal split (no user's future in their own training data)
    temporal = results["ranking_user_temporal"]["synthetic"]
    assert set(temporal) == set(ranking) and all(
        v["ndcg@5_low"] <= v["ndcg@5"] <= v["ndcg@5_high"] for v in temporal.values()
    )
    assert results["ranking_params"]["synthetic"]["implicit ALS"]["factors"] in (4, 8)
    assert 1 <= results["ranking_params"]["synthetic"]["BPR"]["iterations"] <= 5  # early stopping
    assert results["rating_params"]["synthetic"]["ALS"] == {"regularization": 10.0}
    assert set(results["timing"]["synthetic"]) == expected - {"global mean"}
    curves = results["convergence"]["synthetic"]
    assert len(curves["ALS"]) == 15 and len(curves["BPMF"]) == 2 + 5
    assert results["sweep"]["synthetic"]["SGD epochs"]["iterations"] == [2, 3]
    assert "ml100k" in run.skipped and "ml100k" not in results
    assert len(run.figures) >= 5
    assert "@10" not in output_text(run)  # run at k = 5: no table or sentence may claim 10


def test_a_parameter_typo_passed_straight_to_papermill_fails_clearly(tmp_path):
    import papermill
    from papermill.exceptions import PapermillExecutionError

    with pytest.raises(PapermillExecutionError, match="unknown parameter.*kcore"):
        papermill.execute_notebook(
            str(NOTEBOOKS["01"]),
            str(tmp_path / "out.ipynb"),
            parameters={"kcore": 10},
            progress_bar=False,
            kernel_name="python3",
            cwd=str(NOTEBOOKS["01"].parent),
        )


def test_nb03_bad_grid_fails_in_the_first_cell(tmp_path):
    runs = runner.run(
        only=["03"],
        parameters={"ials_grid": {"factors": []}},
        build_dir=tmp_path,
        progress=False,
        html=False,
        check=False,
        log=lambda _: None,
    )
    assert not runs[0].ok and "ParameterError" in runs[0].error and "ials_grid" in runs[0].error


@pytest.mark.parametrize("number", sorted(NOTEBOOKS))
def test_offline_runs_skip_every_ml100k_record(number):
    """Without ML-100K a default run must still reproduce: every result the committed notebook
    recorded from ML-100K lies under a section name the notebook passes to ``skip(...)`` when the
    data is missing (a record outside them would be reported as "missing now", and ``make
    notebooks`` would exit 3 on a machine without ML-100K)."""
    import nbformat

    from recsys.notebook.results import iter_records

    nb = nbformat.read(str(NOTEBOOKS[number]), as_version=4)
    sources = [c.source for c in nb.cells if c.cell_type == "code" and "skip(" in c.source]
    literals = {m for s in sources for m in re.findall(r'"([^"\n]+)"', s)}
    recorded = {p["name"] for p in iter_records(nb) if "skipped" not in p}
    from_ml100k = {n for n in recorded if re.search(r"(^|\.)ml-?100k", n)}
    uncovered = sorted(n for n in from_ml100k if not any(n == s or n.startswith(s + ".") for s in literals))
    assert not uncovered, f"{NOTEBOOKS[number].name}: ML-100K records no skip(...) covers: {uncovered[:5]}"
