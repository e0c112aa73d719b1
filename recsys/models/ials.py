"""iALS as Rendle et al. tune it ("Revisiting the Performance of iALS on Item Recommendation
Benchmarks", RecSys 2022): a uniform weight on the unobserved pairs and frequency-scaled
regularisation.

Every observed pair (u, i) has target 1, every pair of the whole matrix is pulled towards 0 with
weight ``unobserved_weight`` (``alpha_0``), and each vector's ridge penalty grows with how many
terms of the loss involve it:

    L = sum over observed (u, i) of (1 - w_u . h_i)^2  +  alpha_0 sum over all (u, i) of (w_u . h_i)^2
        + lambda ( sum_u (|I_u| + alpha_0 |I|)^nu |w_u|^2 + sum_i (|U_i| + alpha_0 |U|)^nu |h_i|^2 )

(``nu`` = ``regularization_exponent``: 1 is Rendle's frequency scaling, 0 a plain ridge). Each
alternating step is a closed form: with ``G = H^T H`` computed once (the Gramian trick that makes
the unobserved term cost ``k^2`` per user instead of ``|I| k^2``),

    w_u = (alpha_0 G + sum over i in I_u of h_i h_i^T + lambda (|I_u| + alpha_0 |I|)^nu Id)^-1  sum over i in I_u of h_i

solved for every user in parallel (numba), then the same for every item: exactly (``solver="exact"``,
a dense solve of the ``k x k`` system, ``O(k^3)`` a row) or, by default, by a few conjugate-gradient
steps started from the row's previous vector (``solver="cg"``, ``cg_steps`` 3: what the ``implicit``
library does, ``O(cg_steps (k^2 + |I_u| k))`` a row; each step can only lower the row's loss, so the
total loss still never rises). On ML-100K's per-user 75/25 training part, 16 sweeps on the 2-core
machine took 1.0 s by CG at 128 factors (0.5 s at 64, 2.3 s at 256) and 14-18 s exactly; the
``implicit`` library's ALS, which runs the same CG in float32 through BLAS, took 0.30 s (0.19 s,
0.60 s): 2.6 to 3.9 times faster, the price of float64 sums that come out the same on every CPU
(``benchmarks/ials_vs_implicit.py``; its table is in ``benchmarks/README.md``). This differs
from Hu, Koren & Volinsky's confidence weighting (:class:`recsys.models.ImplicitALS`, the
``implicit`` library): there, observed pairs weigh ``1 + alpha r_ui`` and the unobserved weigh 1;
here the unobserved weight is the knob, and the regularisation follows the counts. Rendle et
al. found this form, with many more factors than usual and tuned ``alpha_0`` and ``lambda``,
competitive with the best models on ML-20M and MSD.
"""

from __future__ import annotations

import time

import numba
import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.checks import check_choice, check_integer, check_number, random_generator
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback

__all__ = ["IALS"]


@numba.njit(parallel=True, cache=True)
def _solve_side(
    indptr, indices, other, gram, unobserved_weight, regularization, exponent, n_other
):  # pragma: no cover - compiled
    """One alternating step: every row's closed-form vector given the other side's vectors."""
    n_rows, k = indptr.shape[0] - 1, other.shape[1]
    out = np.empty((n_rows, k), dtype=np.float64)
    base = unobserved_weight * gram
    for row in numba.prange(n_rows):
        start, stop = indptr[row], indptr[row + 1]
        seen = other[indices[start:stop]]  # the vectors of this row's observed pairs
        A = base + np.dot(np.ascontiguousarray(seen.T), seen)
        b = seen.sum(axis=0)
        penalty = regularization * (stop - start + unobserved_weight * n_other) ** exponent
        for a in range(k):
            A[a, a] += penalty
        out[row] = np.linalg.solve(A, b)
    return out


@numba.njit(cache=True)
def _dot(a, i, b, j):  # pragma: no cover - compiled
    """``a[i] . b[j]`` summed in four interleaved lanes: vectorisable without reordering (the same
    sum on any CPU). Rows are indexed, not sliced: a slice's reference count would be shared by threads."""
    n = a.shape[1]
    s0 = s1 = s2 = s3 = 0.0
    m = n - n % 4
    for c in range(0, m, 4):
        s0 += a[i, c] * b[j, c]
        s1 += a[i, c + 1] * b[j, c + 1]
        s2 += a[i, c + 2] * b[j, c + 2]
        s3 += a[i, c + 3] * b[j, c + 3]
    for c in range(m, n):
        s0 += a[i, c] * b[j, c]
    return (s0 + s1) + (s2 + s3)


@numba.njit(parallel=True, cache=True)
def _observed_part(indptr, indices, other, v):  # pragma: no cover - compiled
    """Row by row, ``sum over the row's observed h of h (h . v_row)``: the sparse part of ``A v``."""
    n_rows, k = v.shape
    out = np.zeros_like(v)
    for row in numba.prange(n_rows):
        for j in range(indptr[row], indptr[row + 1]):
            item = indices[j]
            weight = _dot(other, item, v, row)
            for a in range(k):
                out[row, a] += weight * other[item, a]
    return out


@numba.njit(parallel=True, cache=True)
def _row_dots(a, b):  # pragma: no cover - compiled
    """``a[i] . b[i]`` for every row (the same sums on any CPU)."""
    out = np.empty(a.shape[0])
    for row in numba.prange(a.shape[0]):
        out[row] = _dot(a, row, b, row)
    return out


@numba.njit(parallel=True, cache=True)
def _observed_predictions(indptr, indices, W, H):  # pragma: no cover - compiled
    """``w_u . h_i`` for every observed pair (u, i), in the CSR order (no gathered copies)."""
    out = np.empty(indices.shape[0])
    for row in numba.prange(indptr.shape[0] - 1):
        for j in range(indptr[row], indptr[row + 1]):
            out[j] = _dot(W, row, H, indices[j])
    return out


def _cg_side(X, current, other, gram, unobserved_weight, penalties, steps) -> np.ndarray:
    """One alternating step by ``steps`` conjugate-gradient iterations per row, started from the
    row's current vector (``implicit``'s solver), every row in step: ``A v`` for all rows at once is
    one matrix product with the Gramian (BLAS) plus the observed pairs' part (numba), ``k^2 + 2 |I_u| k``
    a row instead of forming and factorising ``A``. Rows whose residual has vanished stop moving."""

    def times_a(v):
        return unobserved_weight * (v @ gram) + penalties[:, None] * v + _observed_part(X.indptr, X.indices, other, v)

    x = current.copy()
    r = np.asarray(X @ other) - times_a(x)  # b - A x; b sums the observed vectors (X is binary)
    p = r.copy()
    rs = _row_dots(r, r)
    for _ in range(steps):
        active = rs > 1e-30
        if not active.any():
            break
        Ap = times_a(p)
        step = np.where(active, rs / np.where(active, _row_dots(p, Ap), 1.0), 0.0)
        x += step[:, None] * p
        r -= step[:, None] * Ap
        rs_new = _row_dots(r, r)
        p = r + np.where(active, rs_new / np.where(active, rs, 1.0), 0.0)[:, None] * p
        rs = rs_new
    return x


class IALS(FactorModel):
    """Implicit ALS in Rendle et al.'s form (see the module docstring).

    Args:
        factors: dimension ``k`` (Rendle et al. go to hundreds or thousands on large data).
        regularization: ``lambda``.
        unobserved_weight: ``alpha_0``, the weight of every pair's pull towards 0.
        regularization_exponent: ``nu``, 1 for frequency-scaled regularisation, 0 for plain ridge.
        init_std: the initial vectors are normal with this standard deviation divided by ``sqrt(k)``.
        iterations: alternating sweeps (users, then items).
        solver: ``"cg"`` (``cg_steps`` conjugate-gradient steps per row and sweep, warm-started) or
            ``"exact"`` (each row's closed form).
        cg_steps: conjugate-gradient steps per row and sweep (``solver="cg"``).
        num_threads: numba threads for the solves (0: all cores); the result does not depend on it.
        random_state: seed of the initial vectors.

    Fitted: ``user_factors_``, ``item_factors_`` (float64), ``history_`` (per sweep: ``seconds``,
    ``train_loss``, and what the callback returns).
    """

    learns_from = "positives"
    positive_values = "presence"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.01,
        unobserved_weight: float = 0.1,
        regularization_exponent: float = 1.0,
        init_std: float = 0.1,
        iterations: int = 16,
        solver: str = "cg",
        cg_steps: int = 3,
        num_threads: int = 0,
        random_state=0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.unobserved_weight = unobserved_weight
        self.regularization_exponent = regularization_exponent
        self.init_std = init_std
        self.iterations = iterations
        self.solver = solver
        self.cg_steps = cg_steps
        self.num_threads = num_threads
        self.random_state = random_state

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> IALS:
        """Alternate the closed-form steps on the users x items CSR ``X`` (every entry a positive)."""
        k = check_integer("factors", self.factors, 1)
        lam = check_number("regularization", self.regularization, 0)
        alpha0 = check_number("unobserved_weight", self.unobserved_weight, 0)
        nu = check_number("regularization_exponent", self.regularization_exponent, 0)
        std = check_number("init_std", self.init_std, 0, exclusive=True)
        iterations = check_integer("iterations", self.iterations, 1)
        threads = check_integer("num_threads", self.num_threads, 0)
        solver = check_choice("solver", self.solver, ("cg", "exact"))
        steps = check_integer("cg_steps", self.cg_steps, 1)
        if lam == 0 and alpha0 == 0:
            raise ValueError("regularization and unobserved_weight cannot both be 0: the solves would be singular")
        X, _ = check_fit_inputs(X, validation, positives=True)
        rng = random_generator(self.random_state)
        n_users, n_items = X.shape
        X = sp.csr_matrix(X)
        X = sp.csr_matrix((np.ones(X.nnz), X.indices, X.indptr), shape=X.shape)  # presence, whatever the values
        Xc = X.T.tocsr()
        self.n_users_, self.n_items_ = n_users, n_items
        self.user_factors_ = rng.normal(0.0, std / np.sqrt(k), (n_users, k))
        self.item_factors_ = rng.normal(0.0, std / np.sqrt(k), (n_items, k))
        previous = numba.get_num_threads()
        numba.set_num_threads(threads or numba.config.NUMBA_NUM_THREADS)
        self.history_ = []
        seconds = 0.0
        # BLAS on one thread: numba's threads do the parallel work, and BLAS threads left spinning
        # after each Gramian product would compete with them for the cores
        blas = threadpool_limits(1, "blas")
        try:
            for iteration in range(1, iterations + 1):
                start = time.perf_counter()
                H = self.item_factors_
                self.user_factors_ = self._step(X, self.user_factors_, H, alpha0, lam, nu, solver, steps)
                W = self.user_factors_
                self.item_factors_ = self._step(Xc, self.item_factors_, W, alpha0, lam, nu, solver, steps)
                seconds += time.perf_counter() - start
                record = {"iteration": iteration, "seconds": seconds, "train_loss": self._loss(X, alpha0, lam, nu)}
                run_callback(callback, self, iteration, record)
                self.history_.append(record)
        finally:
            blas.restore_original_limits()
            numba.set_num_threads(previous)
        check_finite_fit(self)
        return self

    @staticmethod
    def _step(X, current, other, alpha0, lam, nu, solver, steps) -> np.ndarray:
        """One side's vectors given the other side's (rows of the CSR ``X``)."""
        gram = other.T @ other
        if solver == "exact":
            return _solve_side(X.indptr, X.indices, other, gram, alpha0, lam, nu, other.shape[0])
        penalties = lam * (np.diff(X.indptr) + alpha0 * other.shape[0]) ** nu
        return _cg_side(X, current, other, gram, alpha0, penalties, steps)

    def _loss(self, X: sp.csr_matrix, alpha0: float, lam: float, nu: float) -> float:
        """The objective of the module docstring, in float64 (the unobserved term by the Gramian trick)."""
        W, H = self.user_factors_, self.item_factors_
        observed = _observed_predictions(X.indptr, X.indices, W, H)
        everything = float(np.sum((W.T @ W) * (H.T @ H)))  # sum over all pairs of (w_u . h_i)^2
        user_weight = (np.diff(X.indptr) + alpha0 * X.shape[1]) ** nu
        item_weight = (np.bincount(X.indices, minlength=X.shape[1]) + alpha0 * X.shape[0]) ** nu
        penalty = lam * (user_weight @ np.sum(W**2, axis=1) + item_weight @ np.sum(H**2, axis=1))
        return float(np.sum((1.0 - observed) ** 2) + alpha0 * everything + penalty)
