"""The tiny neural embedding model of the classic tutorials.

:class:`EmbeddingDotBias` is the model fastai's collaborative-filtering lesson and the Keras
"movie embeddings" tutorial start from: a user embedding table ``P``, an item embedding table
``Q``, two bias tables (embeddings of width 1) and a dot product,

    r_hat(u, i) = mu + b_u + b_i + P[u] . Q[i],

trained by minibatch gradient descent on the squared error. Written out, it is *exactly* matrix
factorisation: the two "embedding layers" are row lookups, the "network" is the score of
:class:`recsys.models.sgd.SGD`, and one minibatch step on the loss

    L_batch = (1 / b) sum_{(u, i, r) in batch} [ 1/2 (r - r_hat)^2
                                                  + regularization / 2 (|P[u]|^2 + |Q[i]|^2)
                                                  + bias_regularization / 2 (b_u^2 + b_i^2) ]

moves ``P[u]`` by ``learning_rate / b * (e_ui Q[i] - regularization P[u])`` summed over the
batch's ratings of ``u`` (likewise ``Q[i]``, ``b_u``, ``b_i``), with ``e_ui = r - r_hat``. With
``batch_size=1`` and ``optimizer="sgd"`` that is Funk's SGD update, term for term: the tests check
that this class then reproduces :class:`~recsys.models.sgd.SGD` number for number from the same
seed. Larger batches average the per-rating gradients (fewer, smoother steps, vectorised), and
``optimizer="adam"`` (the tutorials' default) rescales them per coordinate; neither changes the
model, only the path to it.

Its optimisers, minibatches and early stopping come from :mod:`recsys.models.training`, the kit
every gradient-trained model here shares.
"""

from __future__ import annotations

import time

import numpy as np

from recsys.checks import (
    check_choice,
    check_integer,
    check_non_negative,
    check_number,
    check_positive,
    random_generator,
)
from recsys.models.base import EmbeddingModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback
from recsys.models.training import (
    OPTIMIZERS,
    EarlyStopping,
    check_early_stopping,
    make_optimizer,
    minibatches,
    scatter_rows,
)

__all__ = ["EmbeddingDotBias"]


class EmbeddingDotBias(EmbeddingModel):
    """Two embedding tables, two bias tables and a dot product, trained by minibatch gradient descent.

    Args:
        factors: embedding width k.
        iterations: epochs (passes over the training ratings).
        learning_rate: step size of the optimiser.
        regularization: L2 weight on the embeddings, per rating in a batch (as :class:`SGD`'s).
        bias_regularization: L2 weight on the biases; ``None`` = ``regularization``.
        batch_size: ratings per gradient step (1 = Funk's SGD).
        optimizer: ``"sgd"`` (plain steps) or ``"adam"``.
        init_mean, init_std: embeddings start ~ Normal(init_mean, init_std), biases at 0.
        biased: learn ``mu + b_u + b_i`` (``mu`` fixed at the training mean, as in :class:`SGD`).
        shuffle: visit the ratings in a new random order each epoch (``False``: CSR order).
        early_stopping: a ``history_`` key to stop on (``"val_rmse"`` with ``validation``, or a
            key the callback returns), or ``None``; see :class:`EarlyStopping`.
        patience: epochs without improvement before stopping.
        random_state: seed (default 0, so two fits agree), ``numpy.random.Generator`` or ``None`` (fresh entropy). The draws follow
            :class:`~recsys.models.sgd.SGD`'s (user table, item table, then one shuffle per epoch).

    Fitted: ``user_factors_``, ``item_factors_``, ``global_mean_``, ``user_bias_``, ``item_bias_``
    (float64), ``rating_range_``, ``n_users_``, ``n_items_``, ``best_iteration_`` (``None``
    without early stopping) and ``history_`` (per epoch: ``iteration``, ``seconds``,
    ``train_loss`` = mean minibatch loss of the epoch, ``train_rmse`` and, with ``validation``,
    ``val_rmse``, both of clipped predictions). Unknown users or items fall back as in
    :class:`~recsys.models.base.EmbeddingModel`.
    """

    learns_from = "ratings"

    def __init__(
        self,
        factors: int = 50,
        iterations: int = 20,
        learning_rate: float = 0.01,
        regularization: float = 0.05,
        bias_regularization: float | None = None,
        batch_size: int = 256,
        optimizer: str = "adam",
        init_mean: float = 0.0,
        init_std: float = 0.1,
        biased: bool = True,
        shuffle: bool = True,
        early_stopping: str | None = None,
        patience: int = 3,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.init_mean = init_mean
        self.init_std = init_std
        self.biased = biased
        self.shuffle = shuffle
        self.early_stopping = early_stopping
        self.patience = patience
        self.random_state = random_state

    def _validate(self) -> float:
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 1)
        check_integer("batch_size", self.batch_size, 1)
        check_positive(learning_rate=self.learning_rate)
        reg_b = self.regularization if self.bias_regularization is None else self.bias_regularization
        check_non_negative(regularization=self.regularization, bias_regularization=reg_b, init_std=self.init_std)
        check_number("init_mean", self.init_mean)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        for name in ("biased", "shuffle"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        check_early_stopping(self.early_stopping, self.patience)
        return float(reg_b)

    def _rmse(self, users, items, ratings) -> float:
        if ratings.size == 0:
            return float("nan")
        return float(np.sqrt(np.mean((self.predict(users, items) - ratings) ** 2)))

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> EmbeddingDotBias:
        """Learn from the ratings stored in ``X`` (users x items CSR).

        ``validation`` (same shape) adds ``val_rmse`` to ``history_`` and never steers training
        unless ``early_stopping="val_rmse"``; ``callback`` as in :data:`~recsys.models.base.FitCallback`.
        """
        reg_b = self._validate()
        X, validation = check_fit_inputs(X, validation)
        rng = random_generator(self.random_state)
        n_users, n_items = X.shape
        coo = X.tocoo()  # CSR order, as SGD's
        users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        ratings = coo.data.astype(np.float64)
        k, reg, biased = int(self.factors), float(self.regularization), bool(self.biased)
        # the same draws in the same order as SGD: P, then Q, then one shuffle per epoch
        P = rng.normal(self.init_mean, self.init_std, size=(n_users, k))
        Q = rng.normal(self.init_mean, self.init_std, size=(n_items, k))
        params = {"P": P, "Q": Q, "bu": np.zeros(n_users), "bi": np.zeros(n_items)}
        mu = float(ratings.mean()) if biased else 0.0
        optimizer = make_optimizer(self.optimizer, params, self.learning_rate)
        order = np.arange(users.size, dtype=np.int32)
        self.n_users_, self.n_items_ = n_users, n_items
        self.user_factors_, self.item_factors_ = P, Q  # shared with the optimiser: updated in place
        self.global_mean_ = mu
        self.user_bias_, self.item_bias_ = (params["bu"], params["bi"]) if biased else (None, None)
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        val = None
        if validation is not None:
            vcoo = validation.tocoo()
            val = (vcoo.row.astype(np.int64), vcoo.col.astype(np.int64), vcoo.data.astype(np.float64))
        stopper = EarlyStopping(self.early_stopping, self.patience)
        self.history_, self.best_iteration_ = [], None
        seconds = 0.0
        for iteration in range(1, self.iterations + 1):
            start = time.perf_counter()
            if self.shuffle:
                rng.shuffle(order)
            losses = []
            for batch in minibatches(order, int(self.batch_size)):
                loss, grads = self._loss_and_gradients(
                    params, mu, users[batch], items[batch], ratings[batch], reg, reg_b
                )
                optimizer.step(grads)
                losses.append(loss)
            seconds += time.perf_counter() - start
            record = {"iteration": iteration, "seconds": seconds, "train_loss": float(np.mean(losses))}
            record["train_rmse"] = self._rmse(users, items, ratings)
            if not np.isfinite(record["train_rmse"]):
                raise FloatingPointError(
                    f"EmbeddingDotBias diverged at epoch {iteration}; lower learning_rate={self.learning_rate!r}"
                )
            if val is not None:
                record["val_rmse"] = self._rmse(*val)
            run_callback(callback, self, iteration, record)
            self.history_.append(record)
            snapshot = lambda: {n: a.copy() for n, a in params.items()}  # noqa: E731
            if stopper.update(iteration, record, snapshot):
                break
        if stopper.best_state is not None:
            for name, array in params.items():
                array[...] = stopper.best_state[name]
            self.best_iteration_ = stopper.best_iteration
        check_finite_fit(self)
        return self

    def _loss_and_gradients(self, params, mu, u, i, r, reg, reg_b) -> tuple[float, dict]:
        """Mean minibatch loss and the gradients of every table (rows of repeated ids accumulate)."""
        P, Q, bu, bi = params["P"], params["Q"], params["bu"], params["bi"]
        pu, qi = P[u], Q[i]
        pred = mu + np.einsum("ij,ij->i", pu, qi)
        if self.biased:
            pred += bu[u] + bi[i]
        err = r - pred
        b = r.size
        loss = 0.5 * np.mean(err**2) + 0.5 * reg * (np.einsum("ij,ij->", pu, pu) + np.einsum("ij,ij->", qi, qi)) / b
        grads = {
            "P": scatter_rows(P.shape[0], u, (reg * pu - err[:, None] * qi) / b),
            "Q": scatter_rows(Q.shape[0], i, (reg * qi - err[:, None] * pu) / b),
        }
        if self.biased:
            loss += 0.5 * reg_b * (np.sum(bu[u] ** 2) + np.sum(bi[i] ** 2)) / b
            grads["bu"] = np.bincount(u, weights=(reg_b * bu[u] - err) / b, minlength=bu.size)
            grads["bi"] = np.bincount(i, weights=(reg_b * bi[i] - err) / b, minlength=bi.size)
        return float(loss), grads
