"""The one model interface (scikit-learn habits) that every recommender here follows.

* Hyperparameters are set in ``__init__`` and stored unchanged (so ``get_params``/``clone`` work).
* ``fit(X, ...)`` learns from a users x items ``scipy.sparse`` CSR matrix whose stored entries are
  the observed interactions (ratings for explicit models), and returns ``self``.
* Fitted state lives in attributes ending in ``_``: ``n_users_``, ``n_items_``, and for embedding
  models ``user_factors_``, ``item_factors_`` and, where the model has them, ``global_mean_``,
  ``user_bias_``, ``item_bias_``.
* ``score(users)`` gives a dense (len(users), n_items) array, higher = better, for ranking.
* Rating models also ``predict(users, items)`` for pairs. Index ``-1`` means a user or item the
  model never saw (see :meth:`recsys.interactions.IdMap.user_index` with ``unknown="mark"``); each
  model documents its fallback for those.
* Iterative models keep ``history_``: one dict per epoch with ``epoch``, ``seconds`` (cumulative
  training wall time, evaluation excluded) and, where measured, ``train_loss``, ``train_rmse`` and
  ``val_rmse``.

Evaluation never lives in a model: :mod:`recsys.evaluation` ranks and scores any of them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError


def check_interactions(X, name: str = "X") -> sp.csr_matrix:
    """``X`` as a CSR matrix with float32/float64 data and sorted indices, or a clear error."""
    if not sp.issparse(X):
        raise TypeError(f"{name} must be a scipy.sparse users x items matrix, got {type(X).__name__}")
    X = sp.csr_matrix(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"{name} holds NaN or infinite values")
    if not X.has_sorted_indices:
        X = X.copy()
        X.sort_indices()
    return X


def check_fit_inputs(X, validation=None) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
    """The training ratings and optional validation ratings of a ``fit``, checked together.

    Both go through :func:`check_interactions`; ``X`` must hold at least one rating, and
    ``validation`` must have ``X``'s shape (build both with the same IdMap).
    """
    X = check_interactions(X)
    if X.nnz == 0:
        raise ValueError("X holds no ratings (no stored entries to learn from)")
    if validation is not None:
        validation = check_interactions(validation, "validation")
        if validation.shape != X.shape:
            raise ValueError(f"validation has shape {validation.shape}, X has {X.shape}; build both with one IdMap")
    return X, validation


def check_positive(**values) -> None:
    """Raise ``ValueError`` naming the first hyperparameter that is not > 0."""
    for name, value in values.items():
        if value is None or not np.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be > 0, got {value!r}")


def check_non_negative(**values) -> None:
    """Raise ``ValueError`` naming the first hyperparameter that is < 0."""
    for name, value in values.items():
        if value is None or not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be >= 0, got {value!r}")


class Recommender(BaseEstimator):
    """Base class: anything that can score users against all items."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit() first")

    def _check_users(self, users) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64).ravel()
        bad = (users < 0) | (users >= self.n_users_)
        if bad.any():
            raise IndexError(
                f"user index {users[bad][0]} out of range for a model fitted on {self.n_users_} users"
            )
        return users

    def fit(self, X, **kwargs) -> Recommender:  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, users) -> np.ndarray:  # pragma: no cover - interface
        """Scores of ``users`` (indices) against every item: shape (len(users), n_items)."""
        raise NotImplementedError


class RatingModel(Recommender):
    """A recommender that also predicts ratings for (user, item) pairs."""

    def predict(self, users, items) -> np.ndarray:  # pragma: no cover - interface
        """Predicted ratings of the pairs ``(users[j], items[j])``; index -1 = unknown (fallback)."""
        raise NotImplementedError

    def score(self, users) -> np.ndarray:
        users = self._check_users(users)
        items = np.arange(self.n_items_)
        return self.predict(np.repeat(users, self.n_items_), np.tile(items, users.size)).reshape(
            users.size, self.n_items_
        )


class EmbeddingModel(RatingModel):
    """A latent-factor model: ``r_ui = mu + b_u + b_i + p_u . q_i`` (any term may be absent).

    Subclasses set ``user_factors_`` (n_users, k) and ``item_factors_`` (n_items, k), and optionally
    ``global_mean_``, ``user_bias_``, ``item_bias_``. Unknown users (index -1) get a zero vector and
    zero bias, so they fall back to ``mu + b_i``; unknown items likewise fall back to ``mu + b_u``.
    ``predict`` clips to ``rating_range_`` when the subclass sets it; ``score`` does not, since
    clipping would create ties at the top of a ranking.
    """

    def _terms(self):
        mu = float(getattr(self, "global_mean_", 0.0) or 0.0)
        bu = getattr(self, "user_bias_", None)
        bi = getattr(self, "item_bias_", None)
        return mu, bu, bi

    def _clip(self, values: np.ndarray) -> np.ndarray:
        rating_range = getattr(self, "rating_range_", None)
        if rating_range is not None:
            np.clip(values, rating_range[0], rating_range[1], out=values)
        return values

    def predict(self, users, items) -> np.ndarray:
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64).ravel()
        items = np.asarray(items, dtype=np.int64).ravel()
        if users.shape != items.shape:
            raise ValueError(f"users and items must have the same length, got {users.size} and {items.size}")
        for what, idx, n in (("user", users, self.n_users_), ("item", items, self.n_items_)):
            if ((idx < -1) | (idx >= n)).any():
                raise IndexError(f"{what} index out of range [-1, {n}) for this model")
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

    def score(self, users) -> np.ndarray:
        users = self._check_users(users)
        mu, bu, bi = self._terms()
        scores = self.user_factors_[users] @ self.item_factors_.T
        scores = scores.astype(np.float64, copy=False) + mu
        if bu is not None:
            scores += bu[users][:, None]
        if bi is not None:
            scores += bi[None, :]
        return scores  # not clipped: clipping would tie the top of the ranking
