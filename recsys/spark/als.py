"""Spark MLlib's ALS behind our model interface, its factors in our index order.

:class:`SparkALS` (explicit ratings) and :class:`SparkImplicitALS` (implicit feedback) fit
``pyspark.ml.recommendation.ALS`` on a users x items CSR, exactly as our models are fitted, and
keep what it learned under the factor contract of :mod:`recsys.models.base`:
``user_factors_`` and ``item_factors_`` whose row ``j`` is our user (item) index ``j``. So
Spark's embeddings go through :func:`recsys.evaluation.evaluate_ranking`, the similarity
measures and every ANN index unchanged. :meth:`SparkALS.from_spark` wraps an ``ALSModel``
fitted elsewhere the same way.

**MLlib's conventions, and ours.** MLlib's explicit ALS minimises

    sum_{(u,i) observed} (r_ui - x_u . y_i)^2 + lambda (sum_u n_u |x_u|^2 + sum_i n_i |y_i|^2)

with ``n_u``, ``n_i`` the rating counts (the weighted-lambda rule of ALS-WR, Zhou et al. 2008):
``regParam`` is a penalty *per rating*. That is our
``ALS(weighted_regularization=True, biased=False, regularization=regParam)``. MLlib has no global
mean and no biases, so compare it with ``biased=False`` (or fit both on mean-centred ratings).
Its implicit mode (``implicitPrefs=True``) is Hu, Koren & Volinsky's weighted MF with confidence
``c_ui = 1 + alpha |r_ui|`` and preference ``p_ui = [r_ui > 0]``, as in our
:class:`~recsys.models.implicit_models.ImplicitALS`, *except* that MLlib scales lambda by the
number of positive entries of each row again, where ``implicit`` (and so ours) uses one lambda
for every row: the two objectives coincide only when every user and every item has the same
number of positives ``m`` (then ``lambda_ours = m * regParam``). Elsewhere a matched setting is
``lambda_ours ~ regParam * mean count``, and agreement is a matter of ranking quality, not of
equal factors. Two more differences that do not change the optimum: MLlib starts from random
unit-norm rows and solves items first; ours start from small Gaussian items and solve users
first. MLlib keeps float32 factors and solves its normal equations in float64 (Cholesky).
"""

from __future__ import annotations

import time

import numpy as np

from recsys.checks import check_integer, check_non_negative, check_seed
from recsys.interactions import entries
from recsys.models.base import EmbeddingModel, FactorModel, check_fit_inputs, finish_one_shot, fit_rmse
from recsys.spark.convert import ITEM, RATING, USER, factors_to_numpy, interactions_frame, release

__all__ = ["SparkALS", "SparkImplicitALS", "active_session"]


def active_session():
    """The running Spark session, or a new :func:`recsys.spark.session.local_session` (defaults)."""
    from recsys.spark.session import _require_pyspark, local_session

    session = _require_pyspark().SparkSession.getActiveSession()
    return session if session is not None else local_session()


def _seed(random_state) -> int:
    """An int seed for Spark (a ``long``) from our ``random_state`` convention."""
    random_state = check_seed("random_state", random_state)
    if isinstance(random_state, (int, np.integer)):
        return int(random_state)
    return int(np.random.default_rng(random_state).integers(2**31 - 1))


class _SparkALSBase(FactorModel):
    """Shared fitting: CSR -> Spark frame -> MLlib ALS -> factors in our order."""

    _implicit: bool = False

    def _validate(self) -> None:
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 1)
        check_non_negative(regularization=self.regularization)
        if self.blocks is not None:
            check_integer("blocks", self.blocks, 1)
        if self._implicit:
            check_non_negative(alpha=self.alpha)

    def _estimator(self):
        from pyspark.ml.recommendation import ALS as MLlibALS

        blocks = 10 if self.blocks is None else int(self.blocks)  # MLlib's default
        extra = {"alpha": float(self.alpha)} if self._implicit else {}
        return MLlibALS(
            rank=int(self.factors),
            maxIter=int(self.iterations),
            regParam=float(self.regularization),
            implicitPrefs=self._implicit,
            numUserBlocks=blocks,
            numItemBlocks=blocks,
            userCol=USER,
            itemCol=ITEM,
            ratingCol=RATING,
            seed=_seed(self.random_state),
            coldStartStrategy="nan",
            **extra,
        )

    def fit(self, X, validation=None, callback=None):
        """Fit MLlib's ALS to the stored entries of ``X`` (users x items CSR) in the active session.

        MLlib reports nothing per iteration, so this is a one-shot fit in the model contract's
        sense: ``callback(self, iterations)`` runs once, after the fit, and ``validation`` (same
        shape, never learned from) is reported as ``val_rmse`` for explicit ratings (see
        :func:`~recsys.models.base.finish_one_shot`). Sets the factors, ``n_users_``, ``n_items_``, ``model_``
        (the MLlib ``ALSModel``, usable while its session runs: ``recommendForAllUsers``...) and
        ``timings_``: seconds to hand the data to Spark (``to_spark``), to fit (``fit``, the
        iterations; MLlib's fit is eager) and to bring the factors back (``to_numpy``);
        ``fit_seconds_`` is their sum.
        """
        self._validate()
        X, validation = check_fit_inputs(X, validation, positives=self.learns_from == "positives")
        spark = active_session()
        start = time.perf_counter()
        frame = interactions_frame(spark, X)
        to_spark = time.perf_counter() - start
        start = time.perf_counter()
        model = self._estimator().fit(frame)
        fitted = time.perf_counter() - start
        start = time.perf_counter()
        self._expose(model, X.shape)
        to_numpy = time.perf_counter() - start
        release(frame)
        self.timings_ = {"to_spark": to_spark, "fit": fitted, "to_numpy": to_numpy}
        self.fit_seconds_ = to_spark + fitted + to_numpy
        record = {"iteration": int(self.iterations), "seconds": self.fit_seconds_}
        if validation is not None and self.learns_from == "ratings":
            record["val_rmse"] = fit_rmse(self, validation.data, self.predict(*entries(validation)))
        finish_one_shot(self, callback, record, keep=validation is not None)
        return self

    def _expose(self, model, shape: tuple[int, int]) -> None:
        n_users, n_items = (check_integer("n_users", shape[0], 1), check_integer("n_items", shape[1], 1))
        rank = int(model.rank)
        self.user_factors_ = factors_to_numpy(model.userFactors, n_users, rank)
        self.item_factors_ = factors_to_numpy(model.itemFactors, n_items, rank)
        self.n_users_, self.n_items_ = n_users, n_items
        self.model_ = model

    @classmethod
    def from_spark(cls, model, shape: tuple[int, int], **params):
        """Wrap an MLlib ``ALSModel`` fitted elsewhere (on our indices) under the factor contract.

        ``shape`` is ``(n_users, n_items)`` of our matrices (``idmap.shape``); ``params`` are the
        hyperparameters it was fitted with, recorded for ``get_params`` (``factors`` is read from
        the model). Choose the class by how the model was fitted: :class:`SparkALS` for explicit
        ratings, :class:`SparkImplicitALS` for ``implicitPrefs=True``.
        """
        wrapped = cls(**{**params, "factors": int(model.rank)})
        wrapped._expose(model, shape)
        return wrapped


class SparkALS(_SparkALSBase, EmbeddingModel):
    """MLlib's explicit ALS: ``r_ui ~ x_u . y_i`` with the count-weighted penalty.

    Parameters:
        factors: the rank.
        regularization: MLlib's ``regParam``, a penalty per rating (module docstring); the
            match of our ``ALS(weighted_regularization=True, biased=False)`` with the same value.
        iterations: MLlib's ``maxIter`` (each sweeps items, then users).
        blocks: ``numUserBlocks`` and ``numItemBlocks`` (``None``: MLlib's 10): how many pieces
            each side is cut into; one task solves one block.
        random_state: seed of MLlib's initial factors.

    Predictions are ``x_u . y_i``, not clipped (MLlib's ``transform`` does not clip either).
    Unknown users or items (index -1, or rows with no training rating) predict 0.
    """

    learns_from = "ratings"

    def __init__(
        self,
        factors: int = 10,
        regularization: float = 0.1,
        iterations: int = 10,
        blocks: int | None = None,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.blocks = blocks
        self.random_state = random_state


class SparkImplicitALS(_SparkALSBase):
    """MLlib's implicit-feedback ALS (``implicitPrefs=True``): confidence ``1 + alpha |r_ui|``.

    Parameters as :class:`SparkALS`, plus ``alpha``. ``regularization`` is scaled by each row's
    number of positives, unlike :class:`~recsys.models.implicit_models.ImplicitALS` (module
    docstring). It learns from positives: every stored entry of ``X`` is an interaction.
    """

    learns_from = "positives"
    positive_values = "strength"
    _implicit = True

    def __init__(
        self,
        factors: int = 10,
        regularization: float = 0.1,
        alpha: float = 1.0,
        iterations: int = 10,
        blocks: int | None = None,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.blocks = blocks
        self.random_state = random_state
