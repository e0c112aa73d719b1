"""The tiny neural embedding model of the classic tutorials, and the training kit of the gradient-trained models.

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

The training kit below it is shared by every model here trained by gradient steps
(:mod:`~recsys.models.autoencoders`, :mod:`~recsys.models.gnn`, :mod:`~recsys.models.fm`):

* :class:`Adam` and :class:`GradientDescent`: in-place optimisers over a dict of named arrays;
* :class:`EarlyStopping`: stop when a validation entry of ``history_`` (from the fit callback,
  e.g. ``val_ndcg@10`` of :func:`recsys.experiments.ranking_callback`) has not improved for
  ``patience`` iterations, and restore the best iteration's parameters. The model never computes
  the metric: it only reads what the callback returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import numba
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

OPTIMIZERS = ("sgd", "adam")

__all__ = ["OPTIMIZERS", "Adam", "EarlyStopping", "EmbeddingDotBias", "GradientDescent", "make_optimizer"]


# --------------------------------------------------------------------------------------------- #
# The training kit.                                                                             #
# --------------------------------------------------------------------------------------------- #


class GradientDescent:
    """Plain gradient steps ``theta -= learning_rate * grad`` over named arrays, in place."""

    def __init__(self, params: Mapping[str, np.ndarray], learning_rate: float) -> None:
        self.params = params
        self.learning_rate = float(learning_rate)

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        for name, grad in grads.items():
            self.params[name] -= self.learning_rate * grad

    def state(self) -> dict:
        return {}

    def restore(self, state: Mapping) -> None:
        pass


@numba.njit(cache=True, nogil=True, fastmath=True)
def _adam_update(param, m, v, grad, beta1, beta2, step, eps):
    """One fused Adam pass over flat arrays (in place): one read and write of each instead of ten.

    The scalars arrive in the arrays' dtype, so a float32 network is updated in float32 SIMD
    lanes (``fastmath`` lets the compiler vectorise the square root and the division; each
    element's update is independent of the others, so the result is the same on every run).
    """
    one = param.dtype.type(1.0)
    for j in range(param.shape[0]):
        g = grad[j]
        m[j] = beta1 * m[j] + (one - beta1) * g
        v[j] = beta2 * v[j] + (one - beta2) * g * g
        param[j] -= step * m[j] / (np.sqrt(v[j]) + eps)


class Adam:
    """Adam (Kingma & Ba 2015) over named arrays, updated in place.

    ``m <- beta1 m + (1 - beta1) g``, ``v <- beta2 v + (1 - beta2) g^2`` and
    ``theta -= lr * m_hat / (sqrt(v_hat) + eps)`` with the bias-corrected moments. Dense: a
    parameter whose gradient is zero in a step still moves by its momentum, as in PyTorch's
    ``torch.optim.Adam``. Moments are kept in the parameters' dtype; the update is one fused
    compiled loop per array (numba), which on a float32 network is several times faster than
    the ten temporaries of the numpy expression. Parameters must be C-contiguous.
    """

    def __init__(
        self,
        params: Mapping[str, np.ndarray],
        learning_rate: float,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
    ) -> None:
        self.params = params
        self.learning_rate = float(learning_rate)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads: Mapping[str, np.ndarray]) -> None:
        self.t += 1
        c1 = 1.0 - self.beta1**self.t
        c2 = 1.0 - self.beta2**self.t
        step = self.learning_rate * np.sqrt(c2) / c1  # the bias corrections folded into one scalar
        eps = self.eps * np.sqrt(c2)
        for name, grad in grads.items():
            param, m, v = self.params[name], self.m[name], self.v[name]
            grad = np.ascontiguousarray(grad, dtype=param.dtype)
            t = param.dtype.type
            _adam_update(
                param.reshape(-1),
                m.reshape(-1),
                v.reshape(-1),
                grad.reshape(-1),
                t(self.beta1),
                t(self.beta2),
                t(step),
                t(eps),
            )

    def state(self) -> dict:
        return {
            "t": self.t,
            "m": {n: a.copy() for n, a in self.m.items()},
            "v": {n: a.copy() for n, a in self.v.items()},
        }

    def restore(self, state: Mapping) -> None:
        self.t = state["t"]
        for n in self.m:
            self.m[n][...] = state["m"][n]
            self.v[n][...] = state["v"][n]


def make_optimizer(name: str, params: Mapping[str, np.ndarray], learning_rate: float):
    """``"sgd"`` (:class:`GradientDescent`) or ``"adam"`` (:class:`Adam`) over ``params``."""
    check_choice("optimizer", name, OPTIMIZERS)
    return GradientDescent(params, learning_rate) if name == "sgd" else Adam(params, learning_rate)


#: History entries that are minimised by early stopping (the rest, e.g. ``val_ndcg@10``, are maximised).
_MINIMISED_SUFFIXES = ("rmse", "mae", "loss")


def check_early_stopping(early_stopping, patience) -> None:
    """The two early-stopping hyperparameters: a history key (or ``None``) and a patience >= 1."""
    if early_stopping is not None and not isinstance(early_stopping, str):
        raise TypeError(f"early_stopping must be None or the name of a history entry, got {early_stopping!r}")
    if isinstance(early_stopping, str) and not early_stopping:
        raise ValueError("early_stopping must be None or a non-empty history key such as 'val_ndcg@10'")
    check_integer("patience", patience, 1)


class EarlyStopping:
    """Watch one ``history_`` entry and say when to stop; keep the best iteration's state.

    ``monitor`` is a key the fit callback adds to each iteration's record (``"val_ndcg@10"``
    from :func:`recsys.experiments.ranking_callback`, or a model's own ``"val_rmse"``). Keys
    ending in ``rmse``, ``mae`` or ``loss`` are minimised, every other key is maximised. With
    ``monitor=None``, or when no callback was given (``active=False``), it never stops.
    A callback that does not return the monitored key is an error, not a silent no-op.
    """

    def __init__(self, monitor: str | None, patience: int, active: bool = True) -> None:
        self.monitor = monitor if active else None
        self.patience = int(patience)
        self.sign = -1.0 if monitor and monitor.endswith(_MINIMISED_SUFFIXES) else 1.0
        self.best_value = -np.inf
        self.best_iteration: int | None = None
        self.best_state: object = None
        self.stopped = False

    def update(self, iteration: int, record: Mapping, snapshot: Callable[[], object]) -> bool:
        """Read ``record[monitor]``; on a new best call ``snapshot()`` and keep it. True = stop now."""
        if self.monitor is None or self.stopped:
            return self.stopped
        if self.monitor not in record:
            raise ValueError(
                f"early_stopping={self.monitor!r} but iteration {iteration}'s record has no such entry "
                f"(it has {sorted(record)}); pass a callback that returns it, e.g. "
                "recsys.experiments.ranking_callback(train, validation)"
            )
        value = float(record[self.monitor])
        if np.isfinite(value) and self.sign * value > self.best_value:
            self.best_value = self.sign * value
            self.best_iteration = iteration
            self.best_state = snapshot()
        elif self.best_iteration is not None and iteration - self.best_iteration >= self.patience:
            self.stopped = True
        return self.stopped


def bpr_epochs(model, name: str, params: dict, X, step, optimizer, stopper, callback, rng, batch_size: int, sampler):
    """The epoch loop of the models trained by BPR on sampled negatives (LightGCN, the factorization
    machine): per epoch, shuffle the training pairs, draw one negative each (``sampler(X, users,
    rng)``), take one ``optimizer`` step per minibatch with the gradients of ``step(users,
    positives, negatives) -> (loss, grads)``; then record, call back, and stop early. Restores the
    best epoch's parameters when early stopping kept them, and returns nothing (``model`` holds the
    history, ``best_iteration_`` and, after ``_expose()``, its fitted attributes)."""
    users_of = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
    items_of = X.indices.astype(np.int64)
    order = np.arange(users_of.size)
    model.history_, model.best_iteration_ = [], None
    seconds = 0.0
    for iteration in range(1, model.iterations + 1):
        start = time.perf_counter()
        rng.shuffle(order)
        negatives = sampler(X, users_of[order], rng)
        total = 0.0
        for batch in minibatches(np.arange(order.size), int(batch_size)):
            rows = order[batch]
            loss, grads = step(users_of[rows], items_of[rows], negatives[batch])
            optimizer.step(grads)
            total += loss * batch.size
        if not np.isfinite(total):
            raise FloatingPointError(f"{name} diverged at epoch {iteration}; lower learning_rate")
        seconds += time.perf_counter() - start
        record = {"iteration": iteration, "seconds": seconds, "train_loss": total / order.size}
        if callback is not None:
            model._expose()
            run_callback(callback, model, iteration, record)
        model.history_.append(record)
        if stopper.update(iteration, record, lambda: {n: a.copy() for n, a in params.items()}):
            break
    if stopper.best_state is not None:
        for key, array in params.items():
            array[...] = stopper.best_state[key]
        model.best_iteration_ = stopper.best_iteration


def minibatches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive slices of ``order`` of ``batch_size`` (the last one may be shorter)."""
    for start in range(0, order.size, batch_size):
        yield order[start : start + batch_size]


@numba.njit(cache=True, nogil=True)
def _scatter_add(out, rows, values):
    for j in range(rows.shape[0]):
        r = rows[j]
        for f in range(values.shape[1]):
            out[r, f] += values[j, f]


@numba.njit(cache=True, nogil=True)
def _scatter_add_scaled(out, rows, values, weights):
    for j in range(rows.shape[0]):
        r = rows[j]
        w = weights[j]
        for f in range(values.shape[1]):
            out[r, f] += w * values[j, f]


def scatter_rows(n_rows: int, rows: np.ndarray, values: np.ndarray, weights: np.ndarray | None = None, out=None):
    """A (n_rows, k) array with ``values[j]`` (times ``weights[j]``) added into row ``rows[j]``.

    Repeated rows accumulate: the gradient of a row lookup ``E[rows]``. Adds into ``out`` when
    given. A compiled loop: ``np.add.at`` does the same about ten times slower.
    """
    values = np.ascontiguousarray(values)
    if out is None:
        out = np.zeros((n_rows, values.shape[1]), dtype=values.dtype)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if weights is None:
        _scatter_add(out, rows, values)
    else:
        _scatter_add_scaled(out, rows, values, np.ascontiguousarray(weights, dtype=values.dtype))
    return out


# --------------------------------------------------------------------------------------------- #
# The model.                                                                                    #
# --------------------------------------------------------------------------------------------- #


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
