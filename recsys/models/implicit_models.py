"""Implicit-feedback ALS and BPR from the ``implicit`` library (0.7), behind our model interface.

* :class:`ImplicitALS`: weighted matrix factorisation of Hu, Koren & Volinsky (2008). Every
  user-item pair is a preference ``p_ui`` (1 if observed, else 0) with a confidence ``c_ui``
  (``1 + alpha * r_ui`` if observed, else 1), and ALS minimises
  ``sum c_ui (p_ui - x_u . y_i)^2 + regularization (|x_u|^2 + |y_i|^2)`` over *all* pairs.
* :class:`BPR`: Bayesian Personalised Ranking (Rendle et al. 2009): SGD on ``log sigmoid(x_ui - x_uj)``
  over sampled (user, liked item, other item) triples.

Both learn from positives (``learns_from = "positives"``): the users x items CSR matrix of
interactions (implicit 0.7 wants users as rows), every stored value > 0. ALS reads a value as a
strength (its confidence); BPR only as a presence (``positive_values``). They follow the factor contract of
:mod:`recsys.models.base` (``user_factors_``, ``item_factors_``, BPR's ``item_bias_``,
``score``, ``inner_product_factors``) plus ``n_users_``, ``n_items_`` and ``history_``. They have
no rating scale, so they only score. ``fit(X, validation=None, callback=None)`` calls the
callback after every iteration with the current factors in place (the harness uses it for
validation nDCG); ``validation`` is checked (``X``'s shape) and otherwise ignored, as by every
model that learns from positives.

Notes on the library, checked against implicit 0.7.3:

* implicit uses each stored value *as* the confidence (``c_ui = alpha * r_ui``, and its own
  ``alpha`` defaults to 1, so binary data gets no extra weight on positives). We build
  ``1 + alpha * r_ui`` ourselves, as in the paper, and pass it with implicit's ``alpha=1``.
* ALS adds no bias column. BPR learns an item bias as one extra factor (user column fixed at 1):
  we split it off into ``item_bias_`` and score with ``U @ V.T + item_bias_``.
* implicit warns when OpenBLAS or MKL runs its own thread pool (it slows ALS down badly); we fit
  inside ``threadpoolctl.threadpool_limits(1, "blas")``, so the warning cannot fire.
* BPR's "other" item is the item of a random stored interaction, so negatives are drawn in
  proportion to popularity (on ML-100K about a quarter of the draws hit a liked item and are
  skipped; ``history_`` records the share).
* ALS is deterministic for a fixed ``random_state`` with any thread count (each user's solve is
  independent). Multithreaded BPR is not (threads race on shared item rows and draw from
  per-thread generators), so :class:`BPR` defaults to ``num_threads=1``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.checks import check_choice, check_fraction, check_integer, check_non_negative, check_positive, check_seed
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback

_WEIGHTINGS = ("none", "bm25", "tfidf")


def _check_implicit_input(X, validation=None) -> sp.csr_matrix:
    """``X`` checked as positives: every stored value > 0 (implicit would read a negative
    confidence as a dislike, and a zero as a positive of confidence 1)."""
    return check_fit_inputs(X, validation, positives=True)[0]


class _ImplicitWrapper(FactorModel):
    """Shared fitting machinery: BLAS thread limits, per-iteration history, the callback."""

    learns_from = "positives"
    positive_values = "strength"

    def _run(self, model, X: sp.csr_matrix, callback: FitCallback | None, record) -> None:
        """Fit ``model`` on ``X``; ``record(args)`` turns implicit's callback arguments into a dict.

        After every iteration ``callback(self, iteration)`` (if given) runs with this object
        holding the current factors; what it returns joins that iteration's ``history_`` entry.
        """
        history: list[dict] = []
        clock = {"seconds": 0.0, "since": time.perf_counter()}
        self.n_users_, self.n_items_ = X.shape

        def on_iteration(iteration, _elapsed, *rest):
            clock["seconds"] += time.perf_counter() - clock["since"]
            entry = {"iteration": iteration + 1, "seconds": clock["seconds"], **record(*rest)}
            if callback is not None:
                self._expose(model)
                run_callback(callback, self, iteration + 1, entry)
            history.append(entry)
            clock["since"] = time.perf_counter()  # the callback's time is excluded

        with threadpool_limits(1, "blas"):
            clock["since"] = time.perf_counter()
            model.fit(X, show_progress=False, callback=on_iteration)
        self._expose(model, copy=True)
        self.model_ = model
        self.history_ = history


class ImplicitALS(_ImplicitWrapper):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit.cpu.als``.

    Args:
        factors: latent dimension.
        regularization: L2 weight ``lambda`` on user and item factors (not scaled by counts).
        alpha: confidence slope: an observed entry ``r_ui`` gets ``c_ui = 1 + alpha * r_ui``.
        iterations: ALS sweeps (each solves all users, then all items).
        weighting: transform the observed values before the confidences: ``"none"``, ``"bm25"``
            (``implicit.nearest_neighbours.bm25_weight`` with ``bm25_k1``, ``bm25_b``) or ``"tfidf"``. Both
            treat items as documents and users as terms, as implicit's own examples do, so heavy
            users and long item rows are damped. Negative weights are clipped to 0.
        bm25_k1, bm25_b: BM25 term-saturation and length-normalisation parameters.
        use_cg: conjugate-gradient solver (fast, approximate) instead of exact Cholesky solves.
        calculate_training_loss: record implicit's training loss per iteration in ``history_``
            (the loss pass is counted in ``seconds``; it costs about one extra half-iteration).
        num_threads: threads for implicit (0 = all cores); results do not depend on it.
        random_state: seed (default 0: the same factors every run), ``numpy.random.Generator``, or
            ``None`` for fresh entropy; it draws the initial factors.

    Fitted: ``user_factors_``, ``item_factors_`` (float32), ``n_users_``, ``n_items_``, ``model_``
    (the implicit model, for its own API such as ``recommend``), and ``history_`` with ``iteration``,
    ``seconds`` and ``train_loss``.
    """

    defaults_source = "implicit's defaults"

    def __init__(
        self,
        factors: int = 100,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        weighting: str = "none",
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        use_cg: bool = True,
        calculate_training_loss: bool = True,
        num_threads: int = 0,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.weighting = weighting
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.use_cg = use_cg
        self.calculate_training_loss = calculate_training_loss
        self.num_threads = num_threads
        self.random_state = random_state

    def _validate(self) -> None:
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 1)
        check_integer("num_threads", self.num_threads, 0)
        check_non_negative(regularization=self.regularization, alpha=self.alpha, bm25_k1=self.bm25_k1)
        check_fraction("bm25_b", self.bm25_b, closed=True)
        check_choice("weighting", self.weighting, _WEIGHTINGS)

    def confidence(self, X) -> sp.csr_matrix:
        """The confidence matrix ``C`` (float32, same pattern as ``X``) that ALS is fitted on."""
        self._validate()
        X = _check_implicit_input(X)
        if self.weighting == "none":
            weights = X.astype(np.float64)
        else:
            from implicit.nearest_neighbours import bm25_weight, tfidf_weight

            items_users = X.T.tocsr()
            if self.weighting == "bm25":
                weighted = bm25_weight(items_users, K1=self.bm25_k1, B=self.bm25_b)
            else:
                weighted = tfidf_weight(items_users)
            weights = sp.csr_matrix(weighted.T)
            weights.sort_indices()
        C = weights.astype(np.float32, copy=True)
        C.data = (1.0 + self.alpha * np.maximum(weights.data, 0.0)).astype(np.float32)
        return C

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> ImplicitALS:
        """Fit on the users x items CSR ``X`` of non-negative interaction strengths (1s, usually).

        ``validation`` is checked (``X``'s shape) and otherwise ignored. ``callback(model,
        iteration)`` (see :data:`~recsys.models.base.FitCallback`), if given, runs after every
        iteration with this object holding the current factors, and may return metrics (a
        validation nDCG, say) to add to that iteration's ``history_`` entry; its time is excluded
        from ``seconds``.
        """
        C = self.confidence(X)
        if validation is not None:
            check_fit_inputs(X, validation, positives=True)
        from implicit.cpu.als import AlternatingLeastSquares

        with threadpool_limits(1, "blas"):  # implicit checks BLAS threads in __init__
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,  # C already holds 1 + alpha * r
                dtype=np.float32,
                use_cg=self.use_cg,
                iterations=self.iterations,
                calculate_training_loss=self.calculate_training_loss,
                num_threads=self.num_threads,
                random_state=check_seed("random_state", self.random_state),
            )

        def record(loss=None):
            return {"train_loss": float(loss)} if loss is not None else {}

        self._run(model, C, callback, record)
        check_finite_fit(self)
        return self

    def _expose(self, model, copy: bool = False) -> None:
        self.user_factors_ = np.asarray(model.user_factors)
        self.item_factors_ = np.asarray(model.item_factors)


class BPR(_ImplicitWrapper):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via ``implicit.cpu.bpr``.

    Args:
        factors: latent dimension (implicit adds one more column for the item bias).
        learning_rate: SGD step size.
        regularization: L2 weight on the factors and the item bias.
        iterations: epochs; each draws as many (user, liked, other) triples as there are entries.
        verify_negative_samples: re-check that the sampled "other" item is not liked by the user.
        num_threads: implicit's threads. Default 1, because multithreaded BPR is not
            reproducible even with a fixed ``random_state``; 0 = all cores.
        random_state: seed (default 0: the same factors every run), ``numpy.random.Generator``, or
            ``None`` for fresh entropy.

    Values in ``X`` (each > 0) are ignored: every stored entry is a positive
    (``positive_values = "presence"``). Fitted: ``user_factors_``,
    ``item_factors_`` (float32, ``factors`` columns), ``item_bias_``, ``n_users_``, ``n_items_``,
    ``model_`` and ``history_`` with ``iteration``, ``seconds``, ``train_auc`` (the share of the
    epoch's sampled pairs ranked right before their update) and ``skipped`` (share of samples
    dropped because the negative was in fact liked).
    """

    defaults_source = "implicit's defaults (one thread, seed 0)"

    positive_values = "presence"

    def __init__(
        self,
        factors: int = 100,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        verify_negative_samples: bool = True,
        num_threads: int = 1,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.verify_negative_samples = verify_negative_samples
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> BPR:
        """Fit on the users x items CSR ``X``; ``validation`` and ``callback`` as in :meth:`ImplicitALS.fit`."""
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 1)
        check_integer("num_threads", self.num_threads, 0)
        check_positive(learning_rate=self.learning_rate)
        check_non_negative(regularization=self.regularization)
        X = _check_implicit_input(X, validation).astype(np.float32)
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        model = BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            dtype=np.float32,
            iterations=self.iterations,
            num_threads=self.num_threads,
            verify_negative_samples=self.verify_negative_samples,
            random_state=check_seed("random_state", self.random_state),
        )
        nnz = X.nnz

        def record(correct, skipped):
            sampled = nnz - skipped
            return {
                "train_auc": correct / sampled if sampled else float("nan"),
                "skipped": skipped / nnz,
            }

        self._run(model, X, callback, record)
        check_finite_fit(self)
        return self

    def _expose(self, model, copy: bool = False) -> None:
        k = self.factors
        users, items = np.asarray(model.user_factors), np.asarray(model.item_factors)
        # implicit's layout: user row = [x_u, 1], item row = [y_i, b_i]
        take = np.ascontiguousarray if copy else (lambda a: a)
        self.user_factors_ = take(users[:, :k])
        self.item_factors_ = take(items[:, :k])
        self.item_bias_ = take(items[:, k])
