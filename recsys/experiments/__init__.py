"""The experiment layer: one home per protocol, above the domain and below the notebooks.

* :mod:`~recsys.experiments.harness`: interaction matrices for a split and the one loop body
  every study goes through (:func:`~recsys.experiments.harness.fit_and_evaluate`: clone, feed
  what the model learns from, fit and time, score), then rating and ranking tables, sweeps,
  training histories and timings built on it.
* :mod:`~recsys.experiments.tuning`: the one tuner (:func:`~recsys.experiments.tuning.tune`):
  grid search on a validation split carved from the training data, by a ranking or a rating
  metric, with the epoch chosen by early stopping on validation for models trained in epochs.
  It never sees a test set.
* :mod:`~recsys.experiments.families`: notebook 07's family study (tune, fit, rank every
  embedding family on one protocol) and the geometry of each family's item vectors.
* :mod:`~recsys.experiments.leaderboard`: every ranking model on the same draws of a split with
  the same tuning budget, averaged over the draws with intervals and paired differences.
* :mod:`~recsys.experiments.similarity`: notebook 05's studies of the three measures (dot product,
  cosine, distance) on fitted models.
* :mod:`~recsys.experiments.cold_start`: the one cold-item split and the one protocol that ranks
  among cold, warm or all items (notebooks 05 and 07).
* :mod:`~recsys.experiments.published`: the published ML-100K rows (Microsoft Recommenders,
  Surprise) that notebooks 03 and 07 set beside ours, each with its protocol.
* :mod:`~recsys.experiments.serving`: a recommender served from an approximate index: real
  embeddings, their large-catalogue workload, what the approximation costs the lists, and every
  family of a study served from each index.

Nothing here imports :mod:`recsys.notebook`. The harness's and the tuner's names are re-exported
here (``experiments.fit_timed``, ``experiments.tune``, ``experiments.Matrices``...), as the
chapters use them.
"""

from sklearn.base import clone

from recsys.evaluation import evaluate_ranking, evaluate_ratings
from recsys.experiments.harness import (
    Fit,
    Matrices,
    fit,
    fit_and_evaluate,
    fit_models,
    fit_timed,
    histories,
    model_input,
    per_fold,
    ranking_callback,
    ranking_table,
    rating_table,
    repeated_seconds,
    score_fitted,
    summarise,
    sweep,
    timing_table,
)
from recsys.experiments.tuning import (
    Tuned,
    budget_points,
    first_values,
    protocol_table,
    scores_on_test,
    tune,
    validation_split,
)

__all__ = [
    "Fit",
    "Matrices",
    "Tuned",
    "clone",
    "evaluate_ranking",
    "evaluate_ratings",
    "budget_points",
    "first_values",
    "fit",
    "fit_and_evaluate",
    "fit_models",
    "fit_timed",
    "repeated_seconds",
    "histories",
    "model_input",
    "per_fold",
    "protocol_table",
    "ranking_callback",
    "ranking_table",
    "rating_table",
    "score_fitted",
    "scores_on_test",
    "summarise",
    "sweep",
    "timing_table",
    "tune",
    "validation_split",
]
