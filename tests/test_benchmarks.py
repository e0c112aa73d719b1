"""Smoke tests of the benchmark scripts on tiny synthetic folds, so they cannot silently rot.

benchmarks/ is not a package: each script is loaded from its file. No test touches the network
or needs ML-100K: the scripts' ``main(folds=...)`` takes the place of the u1..u5 folds.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from recsys import datasets
from recsys.splits import kfold

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DEFAULT_NAMES = ["BiasModel", "ALS", "PureSVD", "SVDImpute", "SGD", "BPMF"]


@pytest.fixture(scope="module")
def scripts():
    """Both scripts as modules; benchmarks/ is on sys.path as when a script is run directly."""
    sys.path.insert(0, str(BENCHMARKS))
    modules = {}
    try:
        for name in ("ml100k_rating_models", "sgd_vs_surprise"):
            spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            modules[name] = module
        yield modules
    finally:
        sys.path.remove(str(BENCHMARKS))
        for name in ("ml100k_rating_models", "sgd_vs_surprise"):
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def folds():
    """Two random folds of a small synthetic dataset; every train part has 150 users x 120 items
    (SVDImpute's default 100 factors need more than 100 of each)."""
    ratings = datasets.load(
        "synthetic", n_users=150, n_items=120, n_ratings=3000, popularity_exponent=0.3, seed=0
    ).ratings
    splits = kfold(ratings, 2, seed=0, unseen="keep")
    for split in splits:
        assert split.train["user_id"].nunique() > 100 and split.train["item_id"].nunique() > 100
    return splits


def _finite(value) -> bool:
    return isinstance(value, float) and math.isfinite(value)


# ---------------------------------------------------------------------------------- rating models


def test_rating_models_defaults(scripts, folds, tmp_path, capsys):
    out = tmp_path / "rows.json"
    rows = scripts["ml100k_rating_models"].main(["--json", str(out)], folds=folds)
    printed = capsys.readouterr().out

    assert sorted({r["model"] for r in rows}) == sorted(DEFAULT_NAMES)
    assert len(rows) == len(DEFAULT_NAMES) * len(folds)  # one seed, every fold
    assert {r["fold"] for r in rows} == {"fold 0", "fold 1"}
    for r in rows:
        assert _finite(r["rmse"]) and 0 < r["rmse"] < 2, r
        assert _finite(r["mae"]) and 0 < r["mae"] <= r["rmse"], r
        assert r["n"] == 1500 and r["fit_seconds"] >= 0
    # the header states the machine; the table names every model; no ML-100K targets on other data
    assert f"{os.cpu_count()} cores" in printed
    for name in DEFAULT_NAMES:
        assert f"\n{name} " in printed
    assert "target" not in printed
    saved = json.loads(out.read_text())
    assert len(saved["rows"]) == len(rows) and saved["machine"]["cores"] == os.cpu_count()


def test_rating_models_grid_with_seeds(scripts, folds, capsys):
    script = scripts["ml100k_rating_models"]
    rows = script.main(["--grid", "sgd", "--no-defaults", "--seeds", "2", "--folds", "1"], folds=folds)
    printed = capsys.readouterr().out

    grid = script.grid_models("sgd")
    assert [r["model"] for r in rows if r["seed"] == 0] == list(grid)
    assert len(rows) == 2 * len(grid) and {r["fold"] for r in rows} == {"fold 0"}
    assert all(_finite(r["rmse"]) for r in rows)
    # different seeds give different SGD fits; the spread over seeds is reported
    by_seed = {(r["model"], r["seed"]): r["rmse"] for r in rows}
    assert by_seed[("SGD factors=100 regularization=0.02", 0)] != by_seed[("SGD factors=100 regularization=0.02", 1)]
    assert "sd 2 seeds" in printed and "optimistic" in printed
    assert "\ndefaults:" not in printed


def test_grids_are_rechosen_on_validation_without_the_test_folds(scripts, folds, capsys, monkeypatch):
    script = scripts["ml100k_rating_models"]
    seen = []
    real_run = script.run

    def spy(models, splits, seeds, section):
        seen.append((section, [len(s.test) for s in splits]))
        return real_run(models, splits, seeds, section)

    monkeypatch.setattr(script, "run", spy)
    rows = script.main(["--grid", "sgd", "--no-defaults", "--on-validation"], folds=folds)
    printed = capsys.readouterr().out
    # the grid is run twice: on the test folds, and on validation parts carved from their training parts
    assert [section for section, _ in seen] == ["grid sgd", "grid sgd validation"]
    train_sizes = [len(split.train) for split in folds]
    assert seen[1][1] == [int(np.ceil(0.2 * n)) for n in train_sizes]
    assert {r["section"] for r in rows} == {"grid sgd", "grid sgd validation"}
    assert "SGD" in {r["model"] for r in rows}  # the library default, compared with the choice
    assert "chosen on validation" in printed and "chosen - default, paired over the folds" in printed
    # the choice is the lowest mean validation RMSE
    validation = pd.DataFrame([r for r in rows if r["section"] == "grid sgd validation"])
    expected = validation.groupby("model")["rmse"].mean().idxmin()
    assert f"{expected}, test RMSE" in printed
    with pytest.raises(SystemExit):
        script.main(["--on-validation"], folds=folds)  # nothing to re-choose


@pytest.mark.parametrize("grid", ["als", "svd", "bpmf", "sgd"])
def test_grids_are_valid_estimators(scripts, grid):
    models = scripts["ml100k_rating_models"].grid_models(grid)
    assert len(models) >= 5
    for name, model in models.items():
        copy = clone(model).set_params(random_state=1)  # what run() does with every model
        assert copy.get_params()["random_state"] == 1, name


def test_unknown_grid(scripts):
    with pytest.raises(ValueError, match="unknown grid 'knn'"):
        scripts["ml100k_rating_models"].grid_models("knn")


def test_per_model_summary(scripts):
    table = pd.DataFrame(
        {
            "model": ["A", "A", "A", "A", "B", "B", "B", "B"],
            "seed": [0, 0, 1, 1, 0, 0, 1, 1],
            "fold": ["u1", "u2"] * 4,
            "rmse": [1.0, 2.0, 3.0, 4.0, 0.5, 0.5, 0.5, 0.5],
            "mae": [0.5, 1.0, 1.5, 2.0, 0.4, 0.4, 0.4, 0.4],
            "fit_seconds": [1.0, 2.0, 9.0, 3.0, 0.1, 0.1, 0.1, 0.1],
        }
    )
    summary = scripts["ml100k_rating_models"].per_model(table)
    assert list(summary.index) == ["A", "B"]
    assert summary.loc["A", ("RMSE", "u1")] == 2.0  # mean over seeds of fold u1
    assert summary.loc["A", ("RMSE", "mean")] == 2.5
    assert summary.loc["A", ("MAE", "mean")] == 1.25
    assert summary.loc["A", ("RMSE", "sd 2 seeds")] == pytest.approx(math.sqrt(2.0))  # seed means 1.5, 3.5
    assert summary.loc["A", ("fit s", "median")] == 2.5
    assert summary.loc["B", ("RMSE", "sd 2 seeds")] == 0.0


def test_rating_models_no_download_exits_cleanly(scripts, isolated_data_dir):
    with pytest.raises(SystemExit) as exit_info:
        scripts["ml100k_rating_models"].main(["--no-download"])
    message = exit_info.value.code
    assert isinstance(message, str)  # sys.exit(str): printed to stderr, exit status 1
    assert "https://files.grouplens.org/datasets/movielens/ml-100k.zip" in message
    assert str(isolated_data_dir / "ml-100k.zip") in message and "MOVIELENS_DIR" in message


def test_rating_models_bad_arguments(scripts, folds, capsys):
    with pytest.raises(SystemExit):
        scripts["ml100k_rating_models"].main(["--seeds", "0"], folds=folds)
    assert "--seeds must be >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        scripts["ml100k_rating_models"].main(["--folds", "3"], folds=folds)
    assert "there are only 2 folds" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- SGD vs Surprise


def test_sgd_vs_surprise_without_surprise(scripts, isolated_data_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "surprise", None)  # makes `import surprise` raise ImportError
    with pytest.raises(SystemExit) as exit_info:
        scripts["sgd_vs_surprise"].main(["--no-download"])  # no data either: surprise is checked first
    message = exit_info.value.code
    assert isinstance(message, str) and "scikit-surprise is not installed" in message
    assert "make bench" in message


def test_sgd_vs_surprise_tiny_run(scripts, folds, tmp_path, capsys):
    pytest.importorskip("surprise", reason="scikit-surprise is optional (`make bench` installs it)")
    out = tmp_path / "result.json"
    status = scripts["sgd_vs_surprise"].main(["--repeats", "1", "--json", str(out)], folds=folds)
    printed = capsys.readouterr().out

    assert status == 0
    result = json.loads(out.read_text())
    variants = scripts["sgd_vs_surprise"].VARIANTS
    mean_rmse = result["summary"]["mean_rmse"]
    assert set(mean_rmse) == {"surprise", *variants}
    assert all(_finite(v) and 0 < v < 2 for v in mean_rmse.values())
    # the same algorithm on the same data: RMSEs close, and bit-for-bit the same from the same start
    assert abs(result["summary"]["rmse_minus_surprise"]["defaults"]) < 0.05
    assert result["exactness_max_abs_diff"] < 1e-9
    assert [f["fold"] for f in result["folds"]] == ["fold 0", "fold 1"]
    assert all(r > 0 for r in result["summary"]["median_ratio_vs_surprise"].values())
    assert "Surprise SVD" in printed and "Same-algorithm check" in printed
    for name in variants:
        assert name in printed


def test_sgd_vs_surprise_as_a_script(isolated_data_dir):
    """Run as the Makefile does (the sibling import must resolve); without data the user gets a
    message, not a traceback: the install command, or where to put ML-100K."""
    env = {k: v for k, v in os.environ.items() if k != "MOVIELENS_DIR"}
    env["RECSYS_DATA_DIR"] = str(isolated_data_dir)
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "sgd_vs_surprise.py"), "--no-download"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    if importlib.util.find_spec("surprise") is None:
        assert "scikit-surprise is not installed" in done.stderr
    else:
        assert "ml-100k.zip" in done.stderr and "MOVIELENS_DIR" in done.stderr


def test_norm_pruned_share_measures_an_exact_index():
    spec = importlib.util.spec_from_file_location("norm_pruned_share", BENCHMARKS / "norm_pruned_share.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    V = rng.standard_normal((800, 6)) * rng.lognormal(0.0, 0.6, 800)[:, None]
    U = rng.standard_normal((30, 6)) + 0.3
    table = module.measure(U, V, k=5, layouts=((64, 4),), epsilons=(0.3,))
    row = table.iloc[0]
    assert row["equals_brute_force"]
    assert 0 < row["share_median"] <= row["share_p90"] <= row["share_max"] <= 1
    assert row["share_median_eps0.3"] <= row["share_median"] and 0 < row["recall_eps0.3"] <= 1


def test_all_users_runs_the_three_ways_and_the_exact_ones_agree(tmp_path, capsys):
    # each way runs in a spawned process, which imports the script's module by name: as a script
    # it is __main__; here benchmarks/ goes on the path (children inherit it) and it is imported
    sys.path.insert(0, str(BENCHMARKS))
    out = tmp_path / "rows.json"
    try:
        module = importlib.import_module("all_users")
        table = module.main(
            ["--users", "400", "--items", "3000", "--sample", "100", "--tune-sample", "50", "--ann", "hnswlib"]
            + ["--cache-dir", str(tmp_path), "--json", str(out)]
        )
    finally:
        sys.path.remove(str(BENCHMARKS))
        sys.modules.pop("all_users", None)
    printed = capsys.readouterr().out
    assert "norm-pruned lists equal the blocked product's on the 100 sampled users: True" in printed
    assert table.loc["blocked", "recall_mean"] == 1.0 and table.loc["norm-pruned", "recall_mean"] == 1.0
    assert table.loc["blocked", "speedup"] == 1.0
    for way in ("norm-pruned-approx", "ann"):
        assert 0.9 <= table.loc[way, "recall_mean"] <= 1.0 and table.loc[way, "knob"]
    assert (table["peak_gb"] > 0).all() and (table["job_s"] > 0).all()
    stored = json.loads(out.read_text())
    assert [row["way"] for row in stored["rows"]] == ["blocked", "norm-pruned", "norm-pruned-approx", "ann"]
    with pytest.raises(SystemExit):
        module.main(["--users", "10", "--sample", "8", "--tune-sample", "8"])


def test_item_knn_vs_implicit_finds_the_same_neighbours():
    pytest.importorskip("implicit")
    spec = importlib.util.spec_from_file_location("item_knn_vs_implicit", BENCHMARKS / "item_knn_vs_implicit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((80, 40)) < 0.2).astype(np.float32))
    row = module.compare(X, neighbours=6)
    assert row["items"] == 40 and row["same_values"] == 40
    assert all(seconds > 0 for seconds in row["ours_s"][:3] + row["implicit_s"][:3])


def test_ials_vs_implicit_times_all_three_fits():
    pytest.importorskip("implicit")
    spec = importlib.util.spec_from_file_location("ials_vs_implicit", BENCHMARKS / "ials_vs_implicit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(0)
    X = sp.csr_matrix((rng.random((60, 30)) < 0.2).astype(np.float64))
    row = module.compare(X, factors=4, iterations=2, min_seconds=0.01)
    for key in ("ials_cg_s", "implicit_s", "ials_exact_s"):
        median, low, high, repeats = row[key]
        assert 0 < low <= median <= high and repeats >= 1
