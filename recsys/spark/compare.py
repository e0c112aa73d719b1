"""Same algorithm, two engines: MLlib's ALS against ours on one split, with matched conventions.

Both comparisons put a yardstick next to the MLlib-vs-ours gap: *ours against ours* from another
random start. ALS is non-convex, and on real data (unlike a planted set) individual predictions
of a rarely rated item are not pinned down by the data, so two fits of the same engine differ too;
"they agree" means MLlib's fit is no further from ours than ours is from itself, and the scores
that matter (RMSE, nDCG) match within a stated tolerance. A control with the convention *not*
matched shows that the matching is what makes them agree.

* :func:`explicit_agreement`: explicit ALS on mean-centred ratings (MLlib has no mean and no
  biases), our ``ALS(weighted_regularization=True, biased=False)`` with MLlib's ``regParam``.
* :func:`implicit_agreement`: implicit-feedback ALS; MLlib scales lambda by each row's
  positives, ``implicit`` does not, so ours gets ``regParam`` times the mean number of
  positives per user (the penalty of the average user).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys import stats
from recsys.evaluation import evaluate_ranking
from recsys.experiments import Matrices, fit_timed
from recsys.interactions import binarize, entries
from recsys.metrics import rmse
from recsys.models import ALS, ImplicitALS
from recsys.spark.als import SparkALS, SparkImplicitALS

__all__ = ["explicit_agreement", "implicit_agreement", "list_overlap"]


def _centred(m: Matrices):
    mu = float(m.train.data.mean(dtype=np.float64))
    train = m.train.astype(np.float64, copy=True)
    train.data -= mu
    return mu, train


def explicit_agreement(
    m: Matrices, *, factors: int, regularization: float, iterations: int, blocks: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """Test RMSE of MLlib's explicit ALS and ours, and how far their predictions lie apart.

    All models fit the training ratings minus their mean (the mean is added back to predict).
    Rows: ``MLlib ALS``, ``ours`` (same seed), ``ours, other seed`` (the yardstick) and
    ``ours, unweighted lambda`` (the control: the same value as a plain ridge penalty). Columns:
    ``rmse`` on the test ratings; ``rmse_vs_ours`` with ``_low`` and ``_high``, the RMSE minus
    ours with its 95 % paired bootstrap interval over the test users
    (:func:`recsys.stats.paired_rmse_difference`); ``mean_gap`` and ``max_gap`` (absolute
    difference of the test predictions from ``ours``); ``fit_seconds``.
    """
    mu, train = _centred(m)
    users, items = entries(m.test)
    models = {
        "MLlib ALS": SparkALS(factors, regularization, iterations, blocks, random_state=seed),
        "ours": ALS(
            factors,
            regularization,
            weighted_regularization=True,
            biased=False,
            iterations=iterations,
            random_state=seed,
        ),
        "ours, other seed": ALS(
            factors,
            regularization,
            weighted_regularization=True,
            biased=False,
            iterations=iterations,
            random_state=seed + 1,
        ),
        "ours, unweighted lambda": ALS(
            factors,
            regularization,
            weighted_regularization=False,
            biased=False,
            iterations=iterations,
            random_state=seed,
        ),
    }
    predictions, seconds = {}, {}
    for name, model in models.items():
        seconds[name] = fit_timed(model, train)
        predictions[name] = mu + model.predict(users, items)
    reference = predictions["ours"]
    rows = {}
    for name, p in predictions.items():
        gap = stats.paired_rmse_difference(p - m.test.data, reference - m.test.data, users, seed=seed)
        rows[name] = {
            "rmse": rmse(m.test.data, p),
            "rmse_vs_ours": gap.estimate,
            "rmse_vs_ours_low": gap.low,
            "rmse_vs_ours_high": gap.high,
            "mean_gap": float(np.mean(np.abs(p - reference))),
            "max_gap": float(np.max(np.abs(p - reference))),
            "fit_seconds": seconds[name],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def list_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean share of items two sets of top-k lists (rows aligned) have in common."""
    if a.shape != b.shape:
        raise ValueError(f"lists of shapes {a.shape} and {b.shape} cannot be compared")
    k = a.shape[1]
    return float(np.mean([np.intersect1d(x[x >= 0], y[y >= 0]).size / k for x, y in zip(a, b)]))


def implicit_agreement(
    m: Matrices,
    *,
    factors: int,
    regularization: float,
    alpha: float,
    iterations: int,
    k: int = 10,
    blocks: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, float]:
    """Top-``k`` ranking of MLlib's implicit ALS and ours on the same positives, and their overlap.

    Every training rating is a positive (value 1); every test rating is relevant. Returns the
    table and the lambda given to ours (``regularization`` x mean positives per user). Rows:
    ``MLlib implicit ALS``, ``ours`` (matched lambda), ``ours, other seed`` (yardstick), ``ours,
    unscaled lambda`` (control: lambda = ``regularization``). Columns: ``ndcg@k``,
    ``ndcg_vs_ours`` with ``_low`` and ``_high`` (nDCG@k minus ours, with its 95 % paired bootstrap
    interval over the evaluated users), ``precision@k``, ``overlap`` (share of each user's top-k in
    common with MLlib's) and ``fit_seconds``. Ours solves exactly (Cholesky, ``use_cg=False``) as MLlib does.
    """
    positives = binarize(m.train)
    lam = float(regularization) * positives.nnz / positives.shape[0]

    def ours(lam_, random_state):
        return ImplicitALS(
            factors=factors,
            regularization=lam_,
            alpha=alpha,
            iterations=iterations,
            use_cg=False,
            calculate_training_loss=False,
            random_state=random_state,
        )

    models = {
        "MLlib implicit ALS": SparkImplicitALS(factors, regularization, alpha, iterations, blocks, random_state=seed),
        "ours": ours(lam, seed),
        "ours, other seed": ours(lam, seed + 1),
        "ours, unscaled lambda": ours(float(regularization), seed),
    }
    rows, lists, per_user = {}, {}, {}
    for name, model in models.items():
        seconds = fit_timed(model, positives)
        scores = evaluate_ranking(model, m.train, m.test, k=k, return_per_user=True)
        lists[name] = scores["per_user"]["recommended"]
        per_user[name] = scores["per_user"]["ndcg"]
        rows[name] = {
            f"ndcg@{k}": scores[f"ndcg@{k}"],
            f"precision@{k}": scores[f"precision@{k}"],
            "fit_seconds": seconds,
        }
    for name in models:  # every model's lists cover the same evaluated users, in the same order
        rows[name]["overlap"] = list_overlap(lists[name], lists["MLlib implicit ALS"])
        gap = stats.paired_difference(per_user[name], per_user["ours"], seed=seed)
        rows[name].update(ndcg_vs_ours=gap.estimate, ndcg_vs_ours_low=gap.low, ndcg_vs_ours_high=gap.high)
    columns = [f"ndcg@{k}", "ndcg_vs_ours", "ndcg_vs_ours_low", "ndcg_vs_ours_high", f"precision@{k}", "overlap"]
    return pd.DataFrame.from_dict(rows, orient="index")[[*columns, "fit_seconds"]], lam
