"""The published rows set beside ours: one copy in ``recsys.experiments.published``, read by the
chapters and restated by the README, never typed again."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from recsys import paths
from recsys.experiments import published


def test_recommenders_rows_carry_their_cut_off_and_protocol():
    rows = published.recommenders_rows()
    assert list(rows.columns) == ["ndcg@10", "protocol"]
    assert rows.loc["BiVAE (Recommenders)", "ndcg@10"] == 0.475
    assert rows.loc["LightGCN (Recommenders)", "ndcg@10"] == 0.420
    assert set(rows["protocol"]) == {published.RECOMMENDERS_PROTOCOL}
    assert "stratified by item" in published.RECOMMENDERS_PROTOCOL
    assert "fixed hyperparameters" in published.RECOMMENDERS_PROTOCOL
    picked = published.recommenders_rows(["SAR", "BiVAE"])
    assert list(picked.index) == ["SAR (Recommenders)", "BiVAE (Recommenders)"]
    with pytest.raises(ValueError, match="no published Recommenders row for \\['NCF'\\]"):
        published.recommenders_rows(["NCF"])


def test_surprise_rows_say_which_folds():
    rows = published.surprise_rows()
    assert rows.loc["Surprise SVD", "rmse"] == 0.934
    assert "random 5-fold" in rows.loc["Surprise SVD", "protocol"]
    assert "u1-u5" in rows.loc["Surprise SVD on u1-u5", "protocol"]


@pytest.mark.parametrize("chapter", ["03_als_svd_sgd.ipynb", "07_autoencoder_gnn_embeddings.ipynb"])
def test_chapters_take_the_published_rows_from_the_package(chapter):
    cells = json.loads((paths.notebooks_dir() / chapter).read_text(encoding="utf-8"))["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "published." in code
    numbers = [f"{v:.3f}" for v in published.RECOMMENDERS_ML100K_NDCG_AT_10.values()]
    numbers += [f"{rmse:.3f}" for rmse, _ in published.SURPRISE_ML100K_RMSE.values()]
    typed = [n for n in numbers if n in code]
    assert not typed, f"{chapter} types published numbers again: {typed}"


def test_the_readme_quotes_the_published_rows_as_recorded():
    readme = " ".join((paths.REPO_ROOT / "README.md").read_text(encoding="utf-8").split())
    rows = published.RECOMMENDERS_ML100K_NDCG_AT_10
    assert f"nDCG@10 {rows['BiVAE']:.3f} for BiVAE and {rows['BPR, cornac']:.3f} for BPR" in readme
    assert f"the published LightGCN row's {rows['LightGCN']:.3f}" in readme


def test_beside_published_labels_the_split_that_was_run():
    ours = pd.DataFrame({"ndcg@5": [0.4, 0.3], "fit_seconds": [1.0, 2.0]}, index=["EASE", "BPR"])
    theirs = pd.DataFrame({"ndcg@5": [0.35], "fit_seconds": [1.5]}, index=["EASE"])
    table = published.beside_published(ours, theirs, published.recommenders_rows(["SAR"]), ["ndcg@5"], train_ratio=0.8)
    assert list(table.index) == ["EASE", "BPR", "EASE, their split", "SAR (Recommenders)"]
    assert table.loc["EASE", "protocol"] == "ours: per-user 80%/20%, tuned on validation"
    assert "80%/20% split stratified by item" in table.loc["EASE, their split", "protocol"]
    assert table.loc["EASE, their split", "protocol"].endswith("tuned on our validation split")
    mixed = published.beside_published(
        ours, theirs, ours.iloc[:0], ["ndcg@5"], train_ratio=0.75, tuning="hyperparameters: the protocol table"
    )
    assert mixed.loc["BPR", "protocol"] == "ours: per-user 75%/25%, hyperparameters: the protocol table"
    assert mixed.loc["EASE, their split", "protocol"].endswith("hyperparameters: the protocol table, from our split")
    assert "75%" not in " ".join(table["protocol"].iloc[:3])  # only the published row says 75/25
    assert table.loc["SAR (Recommenders)", "ndcg@10"] == 0.382
    assert "fit_seconds" not in table.columns  # only the columns asked for
    with pytest.raises(ValueError, match="not in both tables"):
        published.beside_published(ours, theirs.drop(columns="ndcg@5"), ours.iloc[:0], ["ndcg@5"], train_ratio=0.75)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        published.beside_published(ours, theirs, ours.iloc[:0], ["ndcg@5"], train_ratio=1.0)
