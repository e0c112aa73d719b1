"""The experiment layer: one home per protocol, above the domain and below the notebooks.

* :mod:`~recsys.experiments.harness`: interaction matrices for a split, fitting and timing a model,
  rating and ranking tables, sweeps and training histories.
* :mod:`~recsys.experiments.similarity`: notebook 05's studies of the three measures (dot product,
  cosine, distance) on fitted models.
* :mod:`~recsys.experiments.cold_start`: the one cold-item split and the one protocol that ranks
  among cold, warm or all items (notebooks 05 and 07).
* :mod:`~recsys.experiments.serving`: a recommender served from an approximate index: real
  embeddings, their large-catalogue workload, and what the approximation costs the lists.

The harness's names are re-exported here (``experiments.fit_timed``, ``experiments.Matrices``...),
as the chapters use them.
"""

from sklearn.base import clone

from recsys.evaluation import evaluate_ranking, evaluate_ratings
from recsys.experiments.harness import (
    Matrices,
    early_stopping,
    fit,
    fit_models,
    fit_timed,
    histories,
    model_input,
    ranking_callback,
    ranking_table,
    rating_table,
    summarise,
    sweep,
    timing_table,
    tune_all,
    tune_ranking,
    tune_rating,
    validation_split,
)

__all__ = [
    "Matrices",
    "clone",
    "early_stopping",
    "evaluate_ranking",
    "evaluate_ratings",
    "fit",
    "fit_models",
    "fit_timed",
    "histories",
    "model_input",
    "ranking_callback",
    "ranking_table",
    "rating_table",
    "summarise",
    "sweep",
    "timing_table",
    "tune_all",
    "tune_ranking",
    "tune_rating",
    "validation_split",
]
