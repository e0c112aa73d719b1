"""Published ML-100K results that chapters 03 and 07 set beside ours: one copy, each with its protocol.

A published number is only comparable with its protocol beside it, so every row carries the
split, the metric's cut-off and how its hyperparameters were set. Chapters take their rows from
here (:func:`recommenders_rows`, :func:`surprise_rows`) rather than typing the numbers again.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

#: nDCG@10 on ML-100K from the algorithm comparison table of Microsoft Recommenders' README
#: (produced by ``examples/06_benchmarks/movielens.ipynb``; 0.475077, 0.441997, 0.419846... there):
#: a 75/25 split stratified by item, every algorithm with fixed hyperparameters and 15 epochs,
#: test items unseen in training kept.
RECOMMENDERS_ML100K_NDCG_AT_10 = {
    "BiVAE": 0.475,
    "BPR, cornac": 0.442,
    "LightGCN": 0.420,
    "SAR": 0.382,
    "ALS, Spark": 0.044,
}
RECOMMENDERS_K = 10
RECOMMENDERS_PROTOCOL = "75/25 stratified by item, fixed hyperparameters (Recommenders benchmark)"

#: RMSE on ML-100K from Surprise's documentation (random 5-fold cross-validation, library
#: defaults), and Surprise's SVD measured here on the u1-u5 folds by ``benchmarks/sgd_vs_surprise.py``.
SURPRISE_ML100K_RMSE = {
    "Surprise SVD": (0.934, "random 5-fold CV (Surprise docs)"),
    "Surprise SVD++": (0.919, "random 5-fold CV (Surprise docs)"),
    "Surprise BaselineOnly": (0.944, "random 5-fold CV (Surprise docs)"),
    "Surprise SVD on u1-u5": (0.938, "u1-u5 folds (benchmarks/sgd_vs_surprise.py)"),
}


#: Other published ML-100K RMSE rows, each with its protocol: GLocal-K (Han, Kim and Kim, CIKM 2021,
#: "GLocal-K: Global and Local Kernels for Recommender Systems"), reported on the u1 fold alone;
#: Microsoft Recommenders' rating rows from the same benchmark table as
#: :data:`RECOMMENDERS_ML100K_NDCG_AT_10` (RMSE 0.965038 and 0.943084 there).
OTHER_ML100K_RMSE = {
    "GLocal-K": (0.889, "u1 fold only, hyperparameters set by the authors (Han et al., CIKM 2021)"),
    "ALS, Spark (Recommenders)": (0.965, RECOMMENDERS_PROTOCOL),
    "FastAI (Recommenders)": (0.943, RECOMMENDERS_PROTOCOL),
}


def recommenders_rows(models: Sequence[str] | None = None) -> pd.DataFrame:
    """Microsoft Recommenders' published ML-100K rows, indexed ``"<model> (Recommenders)"``.

    Columns ``ndcg@10`` (the published cut-off, whatever ``k`` a chapter runs at: the column name
    keeps them apart) and ``protocol``. ``models`` picks and orders rows by their published names
    (keys of :data:`RECOMMENDERS_ML100K_NDCG_AT_10`); an unknown name is refused.
    """
    names = list(RECOMMENDERS_ML100K_NDCG_AT_10) if models is None else list(models)
    unknown = [m for m in names if m not in RECOMMENDERS_ML100K_NDCG_AT_10]
    if unknown:
        raise ValueError(
            f"no published Recommenders row for {unknown}: the rows are {sorted(RECOMMENDERS_ML100K_NDCG_AT_10)}"
        )
    return pd.DataFrame(
        {
            f"ndcg@{RECOMMENDERS_K}": [RECOMMENDERS_ML100K_NDCG_AT_10[m] for m in names],
            "protocol": RECOMMENDERS_PROTOCOL,
        },
        index=pd.Index([f"{m} (Recommenders)" for m in names], name="model"),
    )


def surprise_rows() -> pd.DataFrame:
    """Surprise's ML-100K RMSE rows (:data:`SURPRISE_ML100K_RMSE`): columns ``rmse`` and ``protocol``."""
    return pd.DataFrame(
        [(name, rmse, protocol) for name, (rmse, protocol) in SURPRISE_ML100K_RMSE.items()],
        columns=["model", "rmse", "protocol"],
    ).set_index("model")


def beside_published(
    ours: pd.DataFrame,
    theirs: pd.DataFrame,
    published_rows: pd.DataFrame,
    columns: Sequence[str],
    *,
    train_ratio: float,
    tuning: str = "tuned on validation",
) -> pd.DataFrame:
    """Our rows, the same models on Recommenders' kind of split, and published rows, each with its protocol.

    ``ours`` holds our models scored on our per-user split, ``theirs`` the same models scored on a
    split stratified by item (:func:`recsys.splits.recommenders_split`), both with every name in
    ``columns``; ``published_rows`` comes from :func:`recommenders_rows`. The protocol column names
    the split that was run (``train_ratio`` 0.8 reads "80%/20%"), so a table never claims a split
    it did not use, and ``tuning`` says how our hyperparameters were set (a chapter whose models
    mix validation choices and library defaults says so, e.g. "hyperparameters: see the protocol
    table"). ``theirs`` rows are suffixed ``", their split"``.
    """
    missing = [c for c in columns if c not in ours.columns or c not in theirs.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in both tables: ours has {list(ours.columns)}")
    if not 0.0 < train_ratio < 1.0:
        raise ValueError(f"train_ratio must be strictly between 0 and 1, got {train_ratio}")
    split = f"{train_ratio:.0%}/{1 - train_ratio:.0%}"
    # the same models on their split: their hyperparameters come from our split's choices
    their_tuning = "tuned on our validation split" if tuning == "tuned on validation" else f"{tuning}, from our split"
    return pd.concat(
        [
            ours[list(columns)].assign(protocol=f"ours: per-user {split}, {tuning}"),
            theirs[list(columns)]
            .rename(index=lambda name: f"{name}, their split")
            .assign(protocol=f"ours on a {split} split stratified by item, {their_tuning}"),
            published_rows,
        ]
    )


def rating_rows() -> pd.DataFrame:
    """Every published ML-100K RMSE row of this module (Surprise's, then :data:`OTHER_ML100K_RMSE`):
    columns ``rmse`` and ``protocol``, one row per model."""
    other = pd.DataFrame(
        [(name, rmse, protocol) for name, (rmse, protocol) in OTHER_ML100K_RMSE.items()],
        columns=["model", "rmse", "protocol"],
    ).set_index("model")
    return pd.concat([surprise_rows(), other])
