"""Mean normalisation as a model: subtract a baseline, factorise what is left, add the baseline back.

This is the lesson of notebook 02 in code. A factorisation ``P Q^T`` with regularisation pulls the
vector of a user with no ratings to zero, so on raw ratings it predicts 0 stars for her. Fit it on
*residuals* ``r_ui - baseline_ui`` instead (each movie's mean rating, say) and the same zero
vector predicts the baseline: each movie's mean. The same trick makes the factors model what
the means cannot (taste), rather than spend capacity on "this movie is good" and "this user is
generous".

The result is itself an :class:`~recsys.models.base.EmbeddingModel`: its prediction
``mu + b_u + b_i + p_u . q_i`` takes ``mu``, ``b_u`` and ``b_i`` from the baseline (plus any the
inner model learned) and the vectors from the inner model, so ranking, evaluation and nearest-
neighbour search treat it like any other embedding model.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from recsys.interactions import row_indices
from recsys.models.base import EmbeddingModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback


def _residuals(X: sp.csr_matrix, baseline: EmbeddingModel) -> sp.csr_matrix:
    """``X`` with the baseline's (unclipped) prediction subtracted from every stored entry."""
    rows = row_indices(X)
    mu, bu, bi = baseline._terms()
    fitted = np.full(X.nnz, mu, dtype=np.float64)
    if bu is not None:
        fitted += bu[rows]
    if bi is not None:
        fitted += bi[X.indices]
    out = X.astype(np.float64, copy=True)
    out.data = X.data - fitted
    return out


class MeanNormalized(EmbeddingModel):
    """Fit ``model`` to the residuals of ``baseline``; predict baseline + model.

    Args:
        model: an embedding model to factorise the residuals, ideally one without its own mean
            and biases (``ALS(biased=False)``, ``SGD(biased=False)``); if it has them, they add up.
        baseline: a fitted-from-scratch mean/bias model (``ItemMean()``, ``BiasModel()``, ...);
            only its ``mu``, ``b_u``, ``b_i`` are used, so it must be an embedding model with
            zero-width factors, as every model in :mod:`recsys.models.baselines` is.

    Fitted attributes: ``baseline_``, ``model_`` (the fitted parts), ``global_mean_``,
    ``user_bias_``, ``item_bias_``, ``user_factors_``, ``item_factors_``, ``rating_range_`` (of the
    training ratings: predictions are clipped to it), ``history_`` (the inner model's; its RMSEs
    on residuals are RMSEs on ratings too, since the baseline cancels in the error, up to the
    inner model's clipping to the residuals' range).
    """

    def __init__(self, model: EmbeddingModel, baseline: EmbeddingModel | None = None):
        self.model = model
        self.baseline = baseline

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> MeanNormalized:
        """Fit the baseline to ``X``, then ``model`` to the residuals.

        ``validation`` becomes residuals too and goes to the inner model (its ``val_rmse`` is then
        the RMSE on ratings). ``callback`` is called as the inner model calls it (after every
        iteration, or once for a one-shot inner model), but with *this* model, holding the
        baseline plus the inner model's current state, so that it scores ratings, not residuals.
        """
        from recsys.models.baselines import ItemMean

        X, validation = check_fit_inputs(X, validation)
        baseline = clone(self.baseline if self.baseline is not None else ItemMean()).fit(X)
        if baseline.user_factors_.shape[1] != 0:
            raise ValueError(f"baseline must be a mean/bias model, got {type(baseline).__name__} with factors")
        residual_validation = None if validation is None else _residuals(validation, baseline)
        inner = clone(self.model)
        rating_range = (float(X.data.min()), float(X.data.max()))

        def on_iteration(current: EmbeddingModel, iteration: int) -> dict:
            self._combine(baseline, current, rating_range)
            record: dict = {}
            run_callback(callback, self, iteration, record)
            return record

        inner.fit(
            _residuals(X, baseline),
            validation=residual_validation,
            callback=None if callback is None else on_iteration,
        )
        self._combine(baseline, inner, rating_range)
        self.history_ = list(getattr(inner, "history_", []))
        check_finite_fit(self)
        return self

    def _combine(self, baseline: EmbeddingModel, inner: EmbeddingModel, rating_range: tuple[float, float]) -> None:
        """This model's fitted state from the fitted baseline and the inner model's (current) state."""
        mu_b, bu_b, bi_b = baseline._terms()
        mu_m, bu_m, bi_m = inner._terms()
        n_users, n_items = baseline.n_users_, baseline.n_items_
        self.baseline_, self.model_ = baseline, inner
        self.n_users_, self.n_items_ = n_users, n_items
        self.global_mean_ = mu_b + mu_m
        self.user_bias_ = np.zeros(n_users) + (0 if bu_b is None else bu_b) + (0 if bu_m is None else bu_m)
        self.item_bias_ = np.zeros(n_items) + (0 if bi_b is None else bi_b) + (0 if bi_m is None else bi_m)
        self.user_factors_ = inner.user_factors_
        self.item_factors_ = inner.item_factors_
        self.rating_range_ = rating_range
