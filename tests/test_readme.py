"""The README's headline table states what the committed notebooks recorded, rounded once.

Each row of the table names a model; its numbers must equal the values recorded in the committed,
executed notebook (``read_results``), rounded to three decimals, each with its recorded 95 %
interval (``"0.941 [0.932, 0.950]"``, from the ``..._low`` and ``..._high`` records): a README
that drifts from the notebooks, rounds an already rounded number, or drops an interval the
notebook records, fails here.
"""

from __future__ import annotations

import pytest

from recsys import paths
from recsys.notebook.results import flatten, read_results

#: README row label -> {column: dotted result name in the notebook that records it}
ROWS = {
    "biases (dampings chosen on validation)": {
        "rmse": "03:ml100k.rating.biases.rmse",
        "ndcg": "03:ml100k.ranking.biases.ndcg@10",
    },
    "SGD, Surprise's defaults": {"rmse": "03:ml100k.rating.SGD.rmse", "ndcg": "03:ml100k.ranking.SGD.ndcg@10"},
    "ALS (biased, 50 factors, λ chosen on validation)": {
        "rmse": "03:ml100k.rating.ALS.rmse",
        "ndcg": "03:ml100k.ranking.ALS.ndcg@10",
    },
    "BPMF (Gibbs, 10 factors, 100 samples)": {
        "rmse": "03:ml100k.rating.BPMF.rmse",
        "ndcg": "03:ml100k.ranking.BPMF.ndcg@10",
    },
    "popularity": {"ndcg": "03:ml100k.ranking.popularity.ndcg@10"},
    "BPR (early-stopped on validation)": {"ndcg": "03:ml100k.ranking.BPR.ndcg@10"},
    "PureSVD (top-N, rank chosen on validation)": {"ndcg": "03:ml100k.ranking.PureSVD (top-N).ndcg@10"},
    "implicit ALS (chosen on validation)": {"ndcg": "03:ml100k.ranking.implicit ALS.ndcg@10"},
    "EASE (07; λ and dropout chosen on validation)": {"ndcg": "07:ml100k.ranking.EASE.ndcg@10"},
    "Mult-VAE (07; early-stopped on validation)": {"ndcg": "07:ml100k.ranking.Mult-VAE.ndcg@10"},
    "LightGCN (07; early-stopped on validation)": {"ndcg": "07:ml100k.ranking.LightGCN.ndcg@10"},
    "factorization machine (07; early-stopped on validation)": {"ndcg": "07:ml100k.ranking.FM.ndcg@10"},
    "factorization machine + age, gender, occupation, genres, decade (07)": {
        "ndcg": "07:ml100k.ranking.FM + side features.ndcg@10"
    },
    "item-kNN (09)": {"ndcg": "09:ml100k.board.item-kNN.ndcg@10"},
    "user-kNN (09)": {"ndcg": "09:ml100k.board.user-kNN.ndcg@10"},
    "P3α (09)": {"ndcg": "09:ml100k.board.P3alpha.ndcg@10"},
    "RP3β (09)": {"ndcg": "09:ml100k.board.RP3beta.ndcg@10"},
    "SLIM (09)": {"ndcg": "09:ml100k.board.SLIM.ndcg@10"},
    "iALS, Rendle et al.'s form (09)": {"ndcg": "09:ml100k.board.iALS.ndcg@10"},
    "implicit ALS (09)": {"ndcg": "09:ml100k.board.implicit ALS.ndcg@10"},
    "EASE (09)": {"ndcg": "09:ml100k.board.EASE.ndcg@10"},
}


def _results(number: str) -> dict:
    notebook = next(paths.notebooks_dir().glob(f"{number}_*.ipynb"))
    return flatten(read_results(notebook))


def _headline_rows() -> dict[str, list[str]]:
    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| model | RMSE, u1–u5 mean | nDCG@10 |")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_every_headline_row_is_known():
    assert set(_headline_rows()) == set(ROWS)


@pytest.mark.parametrize("label", list(ROWS))
def test_headline_numbers_are_the_recorded_ones_rounded_once(label):
    cells = dict(zip(("rmse", "ndcg"), _headline_rows()[label]))
    cache: dict[str, dict] = {}
    for column, source in ROWS[label].items():
        number, name = source.split(":", 1)
        recorded = cache.setdefault(number, _results(number))
        if name not in recorded:
            pytest.skip(f"{name} not recorded by notebook {number} (its ML-100K section was skipped)")
        expected = f"{recorded[name]:.3f}"
        if f"{name}_low" in recorded:  # the interval the notebook records beside the number
            expected += f" [{recorded[f'{name}_low']:.3f}, {recorded[f'{name}_high']:.3f}]"
        assert cells[column] == expected, f"{label} {column}: README {cells[column]}, recorded {expected}"
    for column in set(cells) - set(ROWS[label]):
        assert cells[column] == "", f"{label}: README shows a {column} the notebooks do not record"


#: Numbers the README states in prose -> the recorded result they quote.
PROSE = {
    "implicit ALS: {} there": "03:ml100k.ranking_recommenders_split.implicit ALS.ndcg@10",
    "LightGCN ({} there,": "07:ml100k.ranking_recommenders_split.LightGCN.ndcg@10",
    "(EASE's paired difference from it: {} nDCG@10": "09:ml100k.differences.EASE.difference",
    "nDCG@10 [{},": "09:ml100k.differences.EASE.low",
    "iALS's: {} [": "09:ml100k.differences.iALS.difference",
}


@pytest.mark.parametrize("template", list(PROSE))
def test_numbers_in_the_prose_are_the_recorded_ones(template):
    number, name = PROSE[template].split(":", 1)
    recorded = _results(number)
    if name not in recorded:
        pytest.skip(f"{name} not recorded (its section was skipped)")
    text = " ".join((paths.REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    assert template.format(f"{recorded[name]:.3f}") in text


def test_the_notebooks_table_lists_every_notebook_with_its_question():
    """One row per notebook, in order, its question the one the notebook itself asks (``> ``)."""
    from recsys.notebook import runner

    text = (paths.REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| notebook | question it answers | default run |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in line.strip("|").split("|")])
    notebooks = runner.discover()
    assert [r[0] for r in rows] == [f"`{nb.name}`" for nb in notebooks]
    for row, nb in zip(rows, notebooks):
        question = runner.notebook_heading(nb)[1]
        assert question.startswith("The question: "), f"{nb.name}: no '> **The question:** ...' line"
        assert row[1] == question.removeprefix("The question: "), nb.name
        assert row[2].startswith("~"), f"{nb.name}: no default-run time"


def test_the_verdicts_the_readme_states_are_the_recorded_ones():
    """The README names a tie and a fall: both must be what the committed notebooks recorded."""
    text = " ".join((paths.REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "implicit ALS and EASE cannot be told apart" in text
    results_07 = _results("07")
    if "ml100k.leader.best" not in results_07:
        pytest.skip("notebook 07 recorded no ML-100K leader (its ML-100K section was skipped)")
    best, ties = results_07["ml100k.leader.best"], results_07["ml100k.leader.ties"]
    assert {best, *ties} >= {"implicit ALS", "EASE"}, (best, ties)
    assert "implicit ALS and EASE stay tied over the draws too" in text
    draws = _results("07")
    best, ties = draws["leader_over_draws.ml-latest-small.best"], draws["leader_over_draws.ml-latest-small.ties"]
    assert {best, *ties} >= {"implicit ALS", "EASE"}, (best, ties)
    assert "falls by more than half on the bundled data" in text
    results_03 = _results("03")
    for model in ("implicit ALS", "PureSVD (top-N)"):
        random = results_03[f"ranking.ml-latest-small.{model}.ndcg@10"]
        temporal = results_03[f"ranking_user_temporal.ml-latest-small.{model}.ndcg@10"]
        assert temporal < random / 2, (model, random, temporal)


def test_the_leaderboards_verdicts_in_the_readme_are_the_recorded_ones():
    """Notebook 09's sentences in the README: who leads, that nobody reaches 0.50, that the best
    simple model is ahead of the neural and graph networks on every board."""
    text = " ".join((paths.REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    results = read_results(next(paths.notebooks_dir().glob("09_*.ipynb")))
    if "ml100k" not in results:
        pytest.skip("notebook 09 recorded no ML-100K board (its ML-100K section was skipped)")
    assert "implicit ALS is detectably ahead of every other model" in text
    assert results["ml100k"]["target"]["best"] == "implicit ALS"
    assert all(d["detectable"] and d["difference"] < 0 for d in results["ml100k"]["differences"].values())
    assert "no model reaches 0.50" in text and not results["ml100k"]["target"]["reaches_0_50"]
    assert "on every board the chapter runs" in text
    boards = [*results["ml100k"]["answer"].values(), *results["answer"].values()]
    assert len(boards) == 4 and all(row["detectable"] and row["difference"] > 0 for row in boards)
