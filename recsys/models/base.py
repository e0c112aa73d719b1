"""The one model interface (scikit-learn habits) that every recommender here follows.

* Hyperparameters are set in ``__init__`` and stored unchanged (so ``get_params``/``clone`` work);
  they are checked in ``fit``.
* ``fit(X, ...)`` learns from a users x items ``scipy.sparse`` matrix whose stored entries are
  the observed interactions, and returns ``self``.
* **What a model learns from is declared**, in the class attribute :attr:`Recommender.learns_from`:
  ``"ratings"`` (the stored values are star ratings: :class:`RatingModel`) or ``"positives"``
  (every stored entry is a positive, value 1: the implicit-feedback models). The experiment
  harness reads it (:func:`recsys.experiments.model_input`) to feed each model the right matrix;
  nothing is inferred from a model's class. A model that learns from positives refuses a stored
  value ``<= 0`` (:func:`check_positive_entries`: a "dislike" is not a positive) and declares in
  :attr:`Recommender.positive_values` whether a value ``> 0`` is only a presence or a strength.
* Fitted state lives in attributes ending in ``_``: ``n_users_``, ``n_items_`` and, for models
  with vectors, the factor contract below.
* ``score(users)`` gives a dense (len(users), n_items) array, higher = better, for ranking.
  Rating models also ``predict(users, items)`` for pairs. Index ``-1`` means a user or item the
  model never saw (see :meth:`recsys.interactions.IdMap.user_index` with ``unknown="mark"``);
  each model documents its fallback for those.
* **One signature**: every model's ``fit`` is ``fit(X, validation=None, callback=None)`` (plus
  keyword-only extras where a model has them), so the harness never inspects signatures; the
  conformance battery (``tests/model_conformance.py``, run on every model by
  ``tests/test_factor_contract.py``) checks it.

  - ``validation``: a held-out matrix of ``X``'s shape (checked by :func:`check_fit_inputs`),
    never learned from. Models that learn from *ratings* report ``val_rmse`` on it (per
    iteration, or once for a one-shot fit) and may early-stop on it; models that learn from
    *positives* check its shape and otherwise ignore it (ranking quality on held-out data comes
    through the callback, :func:`recsys.experiments.ranking_callback`).
  - ``callback`` (:data:`FitCallback`): an *iterative* model calls ``callback(model, iteration)``
    after every iteration; a *one-shot* model (a closed form, a count, one SVD, a sampler whose
    model exists only when its chain ends) calls it exactly once, after fitting, with its last
    iteration number (1 for a closed form): :func:`finish_one_shot`. The experiment harness
    passes one to measure validation ranking quality, so that no model imports
    :mod:`recsys.evaluation`.
  - ``history_``: one dict per iteration with ``iteration`` (from 1), ``seconds`` (cumulative
    training wall time, evaluation excluded), what the callback returned and, where measured,
    ``train_loss``, ``train_rmse`` and ``val_rmse``. Iterative models always keep it, and so do
    the one-shot fits that measure something of their own (``PureSVD``, ``EASE``, ``BPMF``);
    the other one-shot models (means, popularity, content, hybrid) keep their one record only
    when given a ``callback`` or (rating models) ``validation``, so that a plain fit still reads
    as closed-form (no iterations) to :func:`recsys.experiments.timing_table`.

**The factor contract** (:class:`FactorModel`). A model with vectors has ``user_factors_``
(n_users, k) and ``item_factors_`` (n_items, k), and scores ``mu + b_u + b_i + p_u . q_i`` (any
of ``global_mean_``, ``user_bias_``, ``item_bias_`` may be absent). Its
:meth:`~FactorModel.inner_product_factors` returns matrices ``U``, ``V`` with
``U[users] @ V.T == score(users)``: the biases and the mean folded into extra columns. Exact
scoring, the similarity measures and every ANN index consume those, so any embedding model can
be served by any index unchanged.

**One vocabulary.** Every model spells the same idea the same way (American spelling, as
scikit-learn and implicit do; snake_case; no abbreviations):

=========================  =====================================================================
``factors``                the latent dimension k
``iterations``             sweeps (ALS), epochs (SGD, BPR), outer iterations (SVD-impute), Gibbs
                           sweeps after burn-in are ``samples``
``regularization``         the L2 (ridge) penalty on the factor vectors
``bias_regularization``    the L2 penalty on the biases
``damping``                the pseudo-count of a damped mean (``user_damping``/``item_damping``
                           when users and items differ); for biases fitted by ALS it equals the
                           ridge penalty on the bias
``learning_rate``          SGD step size (``bias_learning_rate`` for the biases)
``init_std``               standard deviation of the random initial factors
``num_threads``            threads a model may use (1 = serial and reproducible, 0 = all cores)
``random_state``           seed (int), ``numpy.random.Generator``, or ``None``; functions take
                           ``seed`` with the same meaning
``relevance_threshold``    a rating counts as relevant / positive when ``>=`` it (``None``: any)
``validation``             held-out matrix a ``fit`` may report on (never learns from)
``callback``               called after each iteration, see :data:`FitCallback`
=========================  =====================================================================

Evaluation never lives in a model: :mod:`recsys.evaluation` ranks and scores any of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from recsys.checks import check_indices
from recsys.interactions import check_interactions
from recsys.metrics import rmse

#: What a model learns from: star ratings, or every stored entry as a positive (value 1).
LearnsFrom = Literal["ratings", "positives"]
LEARNS_FROM: tuple[str, ...] = ("ratings", "positives")

#: How a model that learns from positives reads a stored value (every one must be > 0):
#: ``"presence"``, every stored entry is one positive and its value is not used (BPR, LightGCN,
#: Mult-VAE, popularity...), or ``"strength"``, the value weighs the entry (a count, a play time:
#: implicit ALS's confidence ``1 + alpha x``, EASE's Gram matrix). Star ratings are neither: turn
#: them into positives first with :func:`recsys.interactions.binarize` (the harness does).
PositiveValues = Literal["presence", "strength"]
POSITIVE_VALUES: tuple[str, ...] = ("presence", "strength")

#: ``callback(model, iteration) -> dict | None``: called by an iterative ``fit`` after every
#: iteration (by a one-shot ``fit`` once, after fitting), with ``model`` the model being fitted,
#: holding its current state (its ``score`` works). The returned entries are added to that
#: iteration's ``history_`` record; the callback's time is excluded from ``seconds``.
#: :func:`recsys.experiments.ranking_callback` builds the usual one.
FitCallback = Callable[["Recommender", int], "Mapping | None"]


def check_fit_inputs(X, validation=None, *, positives: bool = False) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """The training matrix and optional validation matrix of a ``fit``, checked together.

    Both go through :func:`recsys.interactions.check_interactions`; ``X`` must hold at least one
    entry, and ``validation`` must have ``X``'s shape (build both with the same IdMap). With
    ``positives=True`` (a model that learns from positives) every stored value of ``X`` must be
    ``> 0``: :func:`check_positive_entries`.
    """
    X = check_interactions(X)
    if X.nnz == 0:
        raise ValueError("X holds no entries to learn from (no stored ratings or interactions)")
    if positives:
        check_positive_entries(X)
    if validation is not None:
        validation = check_interactions(validation, "validation")
        if validation.shape != X.shape:
            raise ValueError(f"validation has shape {validation.shape}, X has {X.shape}; build both with one IdMap")
    return X, validation


def check_positive_entries(X: sp.csr_matrix, name: str = "X") -> None:
    """Refuse a stored value ``<= 0`` in the CSR ``X`` given to a model that learns from positives.

    Such a model reads every stored entry as a positive interaction, so a zero or a negative
    ("dislike") entry would be learned as a like: the error names how many there are and where
    the first one is, and how to keep only the positives.
    """
    bad = X.data <= 0
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        user = int(np.searchsorted(X.indptr, first, side="right") - 1)
        raise ValueError(
            f"{name} holds {int(bad.sum()):,} stored value(s) <= 0 (the first, {float(X.data[first])!r}, at user "
            f"index {user}, item index {int(X.indices[first])}); a model that learns from positives reads every "
            "stored entry as a positive interaction, so a zero or a negative ('dislike') entry would be learned "
            "as a like. Keep only the positives, e.g. recsys.interactions.binarize(X, relevance_threshold=4.0) "
            "for ratings, or X.data > 0"
        )


def check_finite_fit(model) -> None:
    """Raise ``FloatingPointError`` if a fit produced NaN or infinite factors, biases or mean.

    A diverging fit (too large a learning rate, too little regularisation) must fail loudly rather
    than return a model whose every score is NaN. Every model calls this at the end of ``fit``.
    """
    for attr in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "global_mean_"):
        value = getattr(model, attr, None)
        if value is None:
            continue
        array = np.asarray(value)
        if array.size and not np.all(np.isfinite(array)):
            bad = int(np.count_nonzero(~np.isfinite(array)))
            raise FloatingPointError(
                f"{type(model).__name__}.fit produced {bad} non-finite value(s) in {attr}: the fit diverged "
                "(lower the learning rate, raise the regularization, or check the input for extreme values)"
            )


def fit_rmse(model, truth, predicted) -> float:
    """RMSE of a model's predictions during ``fit`` (its ``history_`` entries), with divergence
    reported as what it is: ``FloatingPointError`` naming the model, not a metric's ValueError."""
    predicted = np.asarray(predicted, dtype=np.float64)
    if not np.all(np.isfinite(predicted)):
        name = model if isinstance(model, str) else type(model).__name__
        raise FloatingPointError(
            f"{name}.fit diverged: its predictions hold non-finite values (lower the learning rate, raise the "
            "regularization, or check the input for extreme values)"
        )
    return rmse(truth, predicted)


def run_callback(callback: FitCallback | None, model: Recommender, iteration: int, record: dict) -> None:
    """Call ``callback(model, iteration)`` if given and merge what it returns into ``record``."""
    if callback is None:
        return
    if not callable(callback):
        raise TypeError(
            f"callback must be callable as callback(model, iteration) -> dict | None, got {callback!r} "
            "(recsys.experiments.ranking_callback(train, validation) builds the usual one)"
        )
    extra = callback(model, iteration)
    if extra:
        record.update(extra)


def finish_one_shot(model: Recommender, callback: FitCallback | None, record: dict, *, keep: bool = False) -> None:
    """End a one-shot ``fit``: call ``callback(model, record["iteration"])`` once and keep the record.

    ``record`` holds at least ``iteration`` and ``seconds`` (and e.g. ``val_rmse``); what the
    callback returns is merged into it. It becomes ``model.history_ = [record]`` when ``keep`` is
    true or a callback was given; otherwise any ``history_`` of an earlier fit is removed.
    """
    run_callback(callback, model, int(record["iteration"]), record)
    if keep or callback is not None:
        model.history_ = [record]
    else:
        model.__dict__.pop("history_", None)


class Recommender(BaseEstimator):
    """Base class: anything that can score users against all items."""

    #: ``"ratings"`` or ``"positives"``: what :meth:`fit` expects its matrix to hold.
    learns_from: ClassVar[LearnsFrom]
    #: For a model that learns from positives, how it reads their values (:data:`PositiveValues`).
    positive_values: ClassVar[PositiveValues | None] = None
    #: Where the default hyperparameters come from, when a model's docstring records it: a chapter
    #: that keeps a default says so beside its numbers (:func:`recsys.experiments.protocol_table`),
    #: above all when the defaults were picked on the test folds it reports.
    defaults_source: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("learns_from")
        if declared is not None and declared not in LEARNS_FROM:
            raise TypeError(f"{cls.__name__}.learns_from must be one of {LEARNS_FROM}, got {declared!r}")
        values = getattr(cls, "positive_values", None)
        if getattr(cls, "learns_from", None) == "positives" and values not in POSITIVE_VALUES:
            raise TypeError(
                f"{cls.__name__} learns from positives and must declare positive_values as one of "
                f"{POSITIVE_VALUES} (how it reads a stored value), got {values!r}"
            )

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def _check_users(self, users) -> np.ndarray:
        """``users`` as int64 indices of known users (:func:`recsys.checks.check_indices`)."""
        self._check_fitted()
        return check_indices("users", users, self.n_users_, kind="user", flatten=True)

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> Recommender:  # pragma: no cover
        """Learn from the users x items CSR ``X``; see the module docstring for ``validation`` and ``callback``."""
        raise NotImplementedError

    def score(self, users) -> np.ndarray:  # pragma: no cover - interface
        """Scores of ``users`` (indices) against every item: shape (len(users), n_items)."""
        raise NotImplementedError


class RatingModel(Recommender):
    """A recommender that learns from star ratings and predicts them for (user, item) pairs."""

    learns_from = "ratings"

    def predict(self, users, items) -> np.ndarray:  # pragma: no cover - interface
        """Predicted ratings of the pairs ``(users[j], items[j])``; index -1 = unknown (fallback)."""
        raise NotImplementedError

    def score(self, users) -> np.ndarray:
        users = self._check_users(users)
        items = np.arange(self.n_items_)
        return self.predict(np.repeat(users, self.n_items_), np.tile(items, users.size)).reshape(
            users.size, self.n_items_
        )


class FactorModel(Recommender):
    """The factor contract: vectors whose inner product (plus biases) is the score.

    Subclasses set ``user_factors_`` (n_users, k), ``item_factors_`` (n_items, k) and, where the
    model has them, ``global_mean_``, ``user_bias_``, ``item_bias_``; they inherit :meth:`score`
    (``mu + b_u + b_i + P[users] @ Q.T``) and :meth:`inner_product_factors`.
    """

    #: dtype of :meth:`score`'s output; ``None`` keeps the factors' dtype.
    _score_dtype: ClassVar[type | None] = None

    def _terms(self) -> tuple[float, np.ndarray | None, np.ndarray | None]:
        """(mu, b_u or None, b_i or None) of the fitted model."""
        mu = float(getattr(self, "global_mean_", 0.0) or 0.0)
        return mu, getattr(self, "user_bias_", None), getattr(self, "item_bias_", None)

    def score(self, users) -> np.ndarray:
        """``mu + b_u + b_i + p_u . q_i`` for ``users`` against every item (not clipped)."""
        users = self._check_users(users)
        mu, bu, bi = self._terms()
        scores = self.user_factors_[users] @ self.item_factors_.T
        if self._score_dtype is not None:
            scores = scores.astype(self._score_dtype, copy=False)
        if bu is not None:
            scores += (mu + bu[users])[:, None]
        elif mu:
            scores += mu
        if bi is not None:
            scores += bi[None, :]
        return scores

    def inner_product_factors(self, *, ranking_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """``(U, V)`` with ``U[users] @ V.T == score(users)``: every term as an inner product.

        ``U = [P, mu + b_u, 1]`` and ``V = [Q, 1, b_i]``, each extra column present only when the
        model has that term. With ``ranking_only=True`` the user-constant column ``mu + b_u`` is
        left out: it shifts a user's scores by one number, so it cannot change their ranking, and
        an index then searches ``k + 1`` dimensions instead of ``k + 2``.
        """
        self._check_fitted()
        P, Q = np.asarray(self.user_factors_), np.asarray(self.item_factors_)
        mu, bu, bi = self._terms()
        dtype = np.result_type(P, Q, *(b for b in (bu, bi) if b is not None))
        n_users, n_items = P.shape[0], Q.shape[0]
        user_cols, item_cols = [P], [Q]
        if not ranking_only and (bu is not None or mu):
            constant = np.full(n_users, mu, dtype=np.float64) + (0.0 if bu is None else bu)
            user_cols.append(constant[:, None])
            item_cols.append(np.ones((n_items, 1)))
        if bi is not None:
            user_cols.append(np.ones((n_users, 1)))
            item_cols.append(np.asarray(bi)[:, None])
        if len(user_cols) == 1:  # nothing to fold in: the factors themselves, not a copy
            return P, Q
        U = np.hstack(user_cols).astype(dtype, copy=False)
        V = np.hstack(item_cols).astype(dtype, copy=False)
        return U, V


class EmbeddingModel(FactorModel, RatingModel):
    """A latent-factor *rating* model: ``r_ui = mu + b_u + b_i + p_u . q_i`` (any term may be absent).

    Unknown users (index -1) get a zero vector and zero bias, so they fall back to ``mu + b_i``;
    unknown items likewise fall back to ``mu + b_u``. ``predict`` clips to ``rating_range_`` when
    the subclass sets it; ``score`` does not, since clipping would create ties at the top of a
    ranking. Scores are float64.
    """

    learns_from = "ratings"
    _score_dtype = np.float64

    def _clip(self, values: np.ndarray) -> np.ndarray:
        rating_range = getattr(self, "rating_range_", None)
        if rating_range is not None:
            np.clip(values, rating_range[0], rating_range[1], out=values)
        return values

    def predict(self, users, items) -> np.ndarray:
        self._check_fitted()
        users = check_indices("users", users, self.n_users_, kind="user", unknown=True, flatten=True)
        items = check_indices("items", items, self.n_items_, kind="item", unknown=True, flatten=True)
        if users.shape != items.shape:
            raise ValueError(f"users and items must have the same length, got {users.size} and {items.size}")
        known_u = users >= 0
        known_i = items >= 0
        both = known_u & known_i
        mu, bu, bi = self._terms()
        out = np.full(users.size, mu, dtype=np.float64)
        if bu is not None:
            out[known_u] += bu[users[known_u]]
        if bi is not None:
            out[known_i] += bi[items[known_i]]
        P, Q = self.user_factors_, self.item_factors_
        out[both] += np.einsum("ij,ij->i", P[users[both]], Q[items[both]], dtype=np.float64)
        return self._clip(out)
