"""The training kit of the models trained by gradient steps: one home for what they share.

:class:`~recsys.models.neural.EmbeddingDotBias`, :class:`~recsys.models.autoencoders.MultVAE`,
:class:`~recsys.models.gnn.LightGCN` and :class:`~recsys.models.fm.FactorizationMachine` all
train by minibatch steps on a loss whose gradients they write by hand. What they have in common
lives here, so that each model module holds only its model:

* optimisers over a dict of named arrays, updated in place: :class:`GradientDescent`,
  :class:`Adam` and :func:`make_optimizer` (``"sgd"`` or ``"adam"``);
* early stopping: :func:`check_early_stopping` (the two hyperparameters) and
  :class:`EarlyStopping`, which stops when a validation entry of ``history_`` (from the fit
  callback, e.g. ``val_ndcg@10`` of :func:`recsys.experiments.ranking_callback`) has not improved
  for ``patience`` iterations and restores the best iteration's parameters. The model never
  computes the metric: it only reads what the callback returned;
* :func:`minibatches` (consecutive slices of a shuffled order) and :func:`scatter_rows` (the
  gradient of a row lookup, a compiled scatter-add);
* :func:`sample_negatives` (one uniformly drawn unobserved item per training pair) and
  :func:`bpr_epochs`, the epoch loop of the models trained by BPR on sampled negatives.

A model module imports from here, never from a sibling model module.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

import numba
import numpy as np
import scipy.sparse as sp

from recsys.checks import check_choice, check_integer
from recsys.models.base import run_callback

OPTIMIZERS = ("sgd", "adam")

__all__ = [
    "OPTIMIZERS",
    "Adam",
    "EarlyStopping",
    "GradientDescent",
    "bpr_epochs",
    "check_early_stopping",
    "make_optimizer",
    "minibatches",
    "sample_negatives",
    "scatter_rows",
]


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


def sample_negatives(X: sp.csr_matrix, users: np.ndarray, rng: np.random.Generator, max_rounds: int = 50) -> np.ndarray:
    """For each of ``users``, an item drawn uniformly among those the user has *not* interacted with.

    Draws uniformly over all items and redraws the ones that hit a positive (vectorised rejection
    sampling; a user who has interacted with every item keeps a positive after ``max_rounds``).
    """
    n_items = X.shape[1]
    keys = (np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr)) * n_items) + X.indices
    keys.sort()
    negatives = rng.integers(0, n_items, size=users.size)
    todo = np.arange(users.size)
    for _ in range(max_rounds):
        wanted = users[todo].astype(np.int64) * n_items + negatives[todo]
        pos = np.minimum(np.searchsorted(keys, wanted), max(keys.size - 1, 0))
        hit = keys[pos] == wanted if keys.size else np.zeros(todo.size, dtype=bool)
        todo = todo[hit]
        if todo.size == 0:
            break
        negatives[todo] = rng.integers(0, n_items, size=todo.size)
    return negatives
