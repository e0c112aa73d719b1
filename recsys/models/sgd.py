"""Biased matrix factorisation trained by stochastic gradient descent (Funk 2006; Koren et al. 2009).

The model is ``r_ui ~ mu + b_u + b_i + p_u . q_i``. SGD visits every observed rating once per
epoch and nudges the four terms it touches along the gradient of the regularised squared error:

    e_ui  = r_ui - (mu + b_u + b_i + p_u . q_i)
    b_u  += lr_b * (e_ui - reg_b * b_u)
    b_i  += lr_b * (e_ui - reg_b * b_i)
    p_u  += lr   * (e_ui * q_i - reg * p_u)      # both factor updates use the *old* p_u, q_i
    q_i  += lr   * (e_ui * p_u - reg * q_i)

These are exactly the updates of Surprise's ``SVD`` (``surprise/prediction_algorithms/
matrix_factorization.pyx``, ``SVD.sgd``), in the same order, with the same initialisation
(biases 0, factors ~ Normal(init_mean, init_std)) and the same defaults, so the two can be compared
like for like. Parameter names map to Surprise's as follows:

=======================  =============================================
``SGD``                  Surprise ``SVD``
=======================  =============================================
``factors``              ``n_factors`` (100)
``iterations``           ``n_epochs`` (20)
``learning_rate``        ``lr_all``, i.e. ``lr_pu`` = ``lr_qi`` (0.005)
``regularization``       ``reg_all``, i.e. ``reg_pu`` = ``reg_qi`` (0.02)
``bias_learning_rate``   ``lr_bu`` = ``lr_bi`` (``None``: same as ``learning_rate``)
``bias_regularization``  ``reg_bu`` = ``reg_bi`` (``None``: same as ``regularization``)
``init_mean``            ``init_mean`` (0)
``init_std``             ``init_std_dev`` (0.1)
``biased``               ``biased`` (True; False drops mu, b_u, b_i: plain PMF)
``random_state``         ``random_state`` (a numpy Generator seed here, a RandomState seed there)
=======================  =============================================

One deliberate difference: Surprise never shuffles; it visits the ratings grouped by user (users
in order of first appearance, each user's ratings in file order). ``shuffle=True`` (our default)
visits them in a fresh random order every epoch, as textbook SGD does; ``shuffle=False`` visits
them in CSR order (user by user, items ascending), which *is* Surprise's order whenever the
training file is sorted by user and item, as MovieLens' ``u1.base`` ... ``u5.base`` are.

The epoch loop is compiled with numba (:func:`sgd_epoch`, ``fastmath`` off so results are
reproducible); :func:`sgd_epoch_reference` is the same algorithm in readable numpy, and the tests
check that the two agree, and that from Surprise's own start and order the loop ends where
Surprise does. For speed there are ``dtype="float32"``, ``num_threads=0`` (Hogwild threads) and
``eval_every=0`` (skip the per-epoch RMSE pass); ``benchmarks/sgd_vs_surprise.py`` times them.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np

from recsys.checks import check_integer, check_non_negative, check_number, check_positive, random_generator
from recsys.models.base import EmbeddingModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback

_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


# --------------------------------------------------------------------------------------------- #
# The epoch loop: compiled fast path, Hogwild parallel path, and the readable reference.        #
# --------------------------------------------------------------------------------------------- #


@numba.njit(cache=True, fastmath=False, inline="always")
def _dot(P, u, Q, i):
    """``P[u] . Q[i]`` with four running sums.

    The same products as a plain loop, added in another order: without ``fastmath`` LLVM may not
    reorder a reduction itself, and one running sum waits on every previous addition.
    """
    k = P.shape[1]
    s0 = P.dtype.type(0.0)
    s1 = s0
    s2 = s0
    s3 = s0
    f = 0
    while f + 4 <= k:
        s0 += P[u, f] * Q[i, f]
        s1 += P[u, f + 1] * Q[i, f + 1]
        s2 += P[u, f + 2] * Q[i, f + 2]
        s3 += P[u, f + 3] * Q[i, f + 3]
        f += 4
    while f < k:
        s0 += P[u, f] * Q[i, f]
        f += 1
    return (s0 + s2) + (s1 + s3)


@numba.njit(cache=True, fastmath=False, nogil=True)
def sgd_epoch(users, items, ratings, order, mu, bu, bi, P, Q, lr_b, lr_f, reg_b, reg_f, biased):
    """One SGD pass in place over ratings ``order[0], order[1], ...`` (compiled; releases the GIL).

    ``users``, ``items``, ``ratings`` hold the observed triples; ``bu``, ``bi``, ``P``, ``Q`` are
    updated in place with Surprise's update order (biases first, then both factor vectors from
    their old values). All float arguments should share one dtype, so float32 stays float32.
    """
    k = P.shape[1]
    for j in range(order.shape[0]):
        idx = order[j]
        u = users[idx]
        i = items[idx]
        err = ratings[idx] - (mu + bu[u] + bi[i] + _dot(P, u, Q, i))
        if biased:
            bu[u] += lr_b * (err - reg_b * bu[u])
            bi[i] += lr_b * (err - reg_b * bi[i])
        for f in range(k):
            puf = P[u, f]
            qif = Q[i, f]
            P[u, f] += lr_f * (err * qif - reg_f * puf)
            Q[i, f] += lr_f * (err * puf - reg_f * qif)


def sgd_epoch_reference(users, items, ratings, order, mu, bu, bi, P, Q, lr_b, lr_f, reg_b, reg_f, biased):
    """The same pass as :func:`sgd_epoch`, written for reading rather than speed (numpy only)."""
    for idx in order:
        u, i, r = users[idx], items[idx], ratings[idx]
        p_u, q_i = P[u].copy(), Q[i].copy()  # the old values: both factor updates use them
        err = r - (mu + bu[u] + bi[i] + p_u @ q_i)
        if biased:
            bu[u] += lr_b * (err - reg_b * bu[u])
            bi[i] += lr_b * (err - reg_b * bi[i])
        P[u] += lr_f * (err * q_i - reg_f * p_u)
        Q[i] += lr_f * (err * p_u - reg_f * q_i)


def sgd_epoch_hogwild(pool: ThreadPoolExecutor, n_shards: int, users, items, ratings, order, *state) -> None:
    """One lock-free parallel pass (Hogwild!, Niu et al. 2011): ``order`` is cut into ``n_shards``
    contiguous shards that threads run through :func:`sgd_epoch` at the same time.

    Threads may read and write the same user or item row at once; such races are rare and SGD
    tolerates them, but they make the result depend on timing, so it is not bit-reproducible.
    Python threads running the GIL-free compiled loop are used rather than ``numba.prange``:
    on a busy 2-core machine OpenMP's spin-waiting workers made the prange loop slower than
    the serial one, while plain threads cost nothing when they get no core.
    """
    futures = [
        pool.submit(sgd_epoch, users, items, ratings, shard, *state) for shard in np.array_split(order, n_shards)
    ]
    for future in futures:
        future.result()


@numba.njit(cache=True, fastmath=False, nogil=True)
def _squared_error_sum(users, items, ratings, mu, bu, bi, P, Q, low, high):
    """Sum of squared errors of predictions clipped to [low, high], without gathering factor rows."""
    total = 0.0
    for idx in range(ratings.shape[0]):
        u = users[idx]
        i = items[idx]
        pred = mu + bu[u] + bi[i] + _dot(P, u, Q, i)
        if not np.isfinite(pred):
            return np.nan  # diverged: clipping would hide it
        pred = min(max(pred, low), high)
        diff = ratings[idx] - pred
        total += diff * diff
    return total


def _available_cores() -> int:
    """CPU cores this process may run on (the Hogwild shard count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# --------------------------------------------------------------------------------------------- #
# The estimator.                                                                                #
# --------------------------------------------------------------------------------------------- #


class SGD(EmbeddingModel):
    """Biased matrix factorisation fitted by SGD; Surprise ``SVD``'s algorithm and defaults.

    Args:
        factors: latent dimension k.
        iterations: epochs, i.e. passes over the training ratings.
        learning_rate: step size for the factor vectors (Surprise ``lr_all``).
        regularization: L2 weight for the factor vectors (Surprise ``reg_all``).
        bias_learning_rate: step size for the biases; ``None`` = ``learning_rate``.
        bias_regularization: L2 weight for the biases; ``None`` = ``regularization``.
        init_mean, init_std: factors start ~ Normal(init_mean, init_std); biases start at 0.
        biased: learn ``mu + b_u + b_i``; ``False`` fits ``p_u . q_i`` alone (PMF).
        shuffle: visit ratings in a new random order each epoch (``False``: CSR order, which is
            Surprise's order for files sorted by user and item).
        dtype: ``"float64"`` (as Surprise) or ``"float32"`` (faster, about half the memory).
        num_threads: 1 (default) runs the serial, reproducible loop; more (0 = one per available
            core) runs lock-free Hogwild SGD, each thread on a shard of the epoch's order.
            Concurrent updates race, so results are then **not** bit-reproducible even with a
            fixed ``random_state``; keep 1 for exact reruns.
        rating_range: (low, high) that :meth:`predict` clips to; ``None`` = min and max of the
            training ratings. Scores are never clipped.
        eval_every: record train (and validation) RMSE in ``history_`` every this many iterations,
            and always after the last; 0 = after the last only. Each evaluation is a pass over the
            data costing about a third of an epoch: it is left out of ``seconds`` but not of
            the wall time of :meth:`fit`.
        random_state: seed (default 0: the same numbers every run), ``numpy.random.Generator``, or
            ``None`` for fresh entropy; it draws the initial factors
            and the per-epoch orders.

    Fitted attributes: ``user_factors_`` (n_users, k), ``item_factors_`` (n_items, k),
    ``global_mean_``, ``user_bias_``, ``item_bias_``, ``n_users_``, ``n_items_``,
    ``rating_range_`` and ``history_`` (one dict per epoch: ``iteration`` counted from 1,
    ``seconds`` of cumulative training time excluding evaluation and, on evaluated epochs,
    ``train_rmse`` and, with validation data, ``val_rmse``; both RMSEs use clipped predictions,
    as :meth:`predict` does).
    Unknown users or items (index -1) fall back to ``mu + b_i`` / ``mu + b_u`` / ``mu``.
    """

    defaults_source = "Surprise SVD's defaults"

    def __init__(
        self,
        factors: int = 100,
        iterations: int = 20,
        learning_rate: float = 0.005,
        regularization: float = 0.02,
        bias_learning_rate: float | None = None,
        bias_regularization: float | None = None,
        init_mean: float = 0.0,
        init_std: float = 0.1,
        biased: bool = True,
        shuffle: bool = True,
        dtype: str = "float64",
        num_threads: int = 1,
        rating_range: tuple[float, float] | None = None,
        eval_every: int = 1,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_learning_rate = bias_learning_rate
        self.bias_regularization = bias_regularization
        self.init_mean = init_mean
        self.init_std = init_std
        self.biased = biased
        self.shuffle = shuffle
        self.dtype = dtype
        self.num_threads = num_threads
        self.rating_range = rating_range
        self.eval_every = eval_every
        self.random_state = random_state

    # -- validation ---------------------------------------------------------------------------

    def _validated_params(self) -> dict:
        """The hyperparameters checked and resolved (bias rates default to the factor rates)."""
        for name, smallest in (("factors", 1), ("iterations", 1), ("eval_every", 0), ("num_threads", 0)):
            check_integer(name, getattr(self, name), smallest)
        lr_b = self.learning_rate if self.bias_learning_rate is None else self.bias_learning_rate
        reg_b = self.regularization if self.bias_regularization is None else self.bias_regularization
        check_positive(learning_rate=self.learning_rate, bias_learning_rate=lr_b)
        check_non_negative(regularization=self.regularization, bias_regularization=reg_b, init_std=self.init_std)
        check_number("init_mean", self.init_mean)
        try:
            dtype = np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype not in _DTYPES:
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.rating_range is not None:
            bounds = np.asarray(self.rating_range, dtype=np.float64)
            if bounds.shape != (2,) or not np.isfinite(bounds).all() or bounds[0] > bounds[1]:
                raise ValueError(f"rating_range must be (low, high) with low <= high, got {self.rating_range!r}")
        return dict(dtype=dtype, lr_b=lr_b, reg_b=reg_b)

    # -- fitting ------------------------------------------------------------------------------

    def _initial_state(self, n_users: int, n_items: int, rng: np.random.Generator, dtype) -> tuple:
        """(b_u, b_i, P, Q) at the start: zero biases, Normal factors (P drawn before Q, as Surprise)."""
        P = rng.normal(self.init_mean, self.init_std, size=(n_users, self.factors)).astype(dtype)
        Q = rng.normal(self.init_mean, self.init_std, size=(n_items, self.factors)).astype(dtype)
        return np.zeros(n_users, dtype), np.zeros(n_items, dtype), P, Q

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> SGD:
        """Learn from the observed ratings in ``X`` (users x items CSR); ``validation`` is optional.

        ``validation`` (same shape) only adds ``val_rmse`` to ``history_``; it never steers training.
        """
        params = self._validated_params()
        dtype = params["dtype"]
        X, validation = check_fit_inputs(X, validation)
        rng = random_generator(self.random_state)
        n_users, n_items = X.shape

        coo = X.tocoo()  # CSR order: user by user, items ascending
        users = coo.row.astype(np.int32)
        items = coo.col.astype(np.int32)
        ratings = coo.data.astype(dtype)
        mu = dtype.type(ratings.mean(dtype=np.float64) if self.biased else 0.0)
        if self.rating_range is None:
            low, high = float(coo.data.min()), float(coo.data.max())
        else:
            low, high = (float(v) for v in self.rating_range)
        bu, bi, P, Q = self._initial_state(n_users, n_items, rng, dtype)
        scalars = tuple(
            dtype.type(v) for v in (params["lr_b"], self.learning_rate, params["reg_b"], self.regularization)
        )
        order = np.arange(users.size, dtype=np.int32)  # CSR order; shuffled in place when asked
        val = None
        if validation is not None:
            vcoo = validation.tocoo()
            val = (vcoo.row.astype(np.int32), vcoo.col.astype(np.int32), vcoo.data.astype(np.float64))

        def rmse(u, i, r) -> float:
            if r.size == 0:
                return float("nan")
            return float(np.sqrt(_squared_error_sum(u, i, r, mu, bu, bi, P, Q, low, high) / r.size))

        state = (mu, bu, bi, P, Q, *scalars, bool(self.biased))
        n_shards = int(self.num_threads) or _available_cores()
        pool = ThreadPoolExecutor(n_shards) if n_shards > 1 else None
        # the fitted attributes share the arrays the loop updates in place, so a callback sees
        # the current model
        self.n_users_, self.n_items_ = n_users, n_items
        self.user_factors_, self.item_factors_ = P, Q
        self.global_mean_ = float(mu)
        self.user_bias_, self.item_bias_ = (bu, bi) if self.biased else (None, None)
        self.rating_range_ = (low, high)
        self.history_ = []
        seconds = 0.0
        try:
            for iteration in range(1, self.iterations + 1):
                start = time.perf_counter()
                if self.shuffle:
                    rng.shuffle(order)  # a uniform permutation whatever order it starts from
                if pool is None:
                    sgd_epoch(users, items, ratings, order, *state)
                else:
                    sgd_epoch_hogwild(pool, n_shards, users, items, ratings, order, *state)
                seconds += time.perf_counter() - start
                entry = {"iteration": iteration, "seconds": seconds}
                self.history_.append(entry)
                if iteration == self.iterations or (self.eval_every and iteration % self.eval_every == 0):
                    entry["train_rmse"] = rmse(users, items, ratings)
                    if val is not None:
                        entry["val_rmse"] = rmse(*val)
                    if not np.isfinite(entry["train_rmse"]):
                        raise FloatingPointError(
                            f"SGD diverged at iteration {iteration} (train RMSE {entry['train_rmse']}); "
                            f"lower learning_rate={self.learning_rate!r}"
                        )
                run_callback(callback, self, iteration, entry)
        finally:
            if pool is not None:
                pool.shutdown()
        check_finite_fit(self)
        return self
