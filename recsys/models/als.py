"""Explicit-feedback ALS with biases, solved from the normal equations.

The model is ``r_ui ~ mu + b_u + b_i + p_u . q_i`` fitted to the observed ratings only, minimising

    sum_{(u,i) observed} (r_ui - mu - b_u - b_i - p_u . q_i)^2
        + lam (sum_u w_u ||p_u||^2 + sum_i w_i ||q_i||^2) + lam_b (sum_u b_u^2 + sum_i b_i^2)

with ``mu`` fixed at the training mean and ``w = 1`` (plain ridge) or ``w = n_u`` / ``n_i``, the
number of ratings (the weighted-lambda regularisation of ALS-WR, Zhou et al. 2008). The biases
get a plain (unweighted) penalty: like a damped mean, it shrinks a bias estimated from few ratings
more than one estimated from many, which a count-weighted penalty would not.

With the items fixed, each user's problem is an independent ridge regression. The user bias is
learned jointly with the factors by the *augmentation trick*: append a column of ones to the item
design ``[q_i, 1]`` and solve for ``[p_u, b_u]`` in one (k+1) x (k+1) system

    (Z_u^T Z_u + diag(lam w_u, ..., lam w_u, lam_b)) [p_u; b_u] = Z_u^T (r_u - mu - b_items)

Then the same with users fixed for ``[q_i, b_i]``. Each half step minimises the objective exactly
over its block, so the objective never increases: ``history_`` records it to show that.

Two solvers sit side by side: :func:`_solve_rows_reference` is the textbook loop (read it first);
:func:`_solve_rows` is the fast path used by :class:`ALS`. It groups the rows (users or items) into
buckets of similar length (eight per doubling, so padding adds at most 9%), pads each bucket with
zero rows (:func:`padded_blocks`, shared with the Gibbs sampler of :mod:`recsys.models.bpmf`),
and solves a whole bucket with a few batched numpy calls, by one of two exact routes:

* **Primal** (rows with L >= d observations, d = k+1 unknowns): build the d x d Gram matrices
  with one batched product and solve them with one batched ``np.linalg.solve``, O(L d^2 + d^3)
  per row. Zero padding rows add nothing to ``Z^T Z`` or ``Z^T y``, so the result is exact.
* **Dual** (rows with L < d, most items of a long-tailed catalogue: the median item of a 4/5
  fold of ml-latest-small has 2 ratings against d = 51): the push-through identity
  ``(Q^T Q + lam I)^-1 Q^T = Q^T (Q Q^T + lam I)^-1`` trades the d x d system for an L x L one,
  O(L^2 k + L^3) per row. With the bias, minimise ``|y - Q p - b 1|^2 + lam |p|^2 + lam_b b^2``:
  for fixed ``b`` the best ``p`` is ``Q^T M^-1 (y - b 1)`` with ``M = Q Q^T + lam I``, the
  residual is then ``y - b 1 - Q p = lam M^-1 (y - b 1)``, and the bias equation
  ``1^T (y - Q p - b 1) = lam_b b`` gives, with ``u = M^-1 y`` and ``v = M^-1 1``,

      b = lam 1.u / (lam 1.v + lam_b),        p = Q^T (u - b v).

  This is the Woodbury form ``(Z^T Z + D)^-1 Z^T y = D^-1 Z^T (Z D^-1 Z^T + I)^-1 y`` of the
  augmented system with the bias eliminated by hand, so it needs only ``lam > 0`` (which
  :class:`ALS` enforces) and never divides by ``lam_b``, which may be 0. It is exact; only the
  round-off differs from the primal route (relative differences 1e-15 to 1e-13 in float64 after
  a full fit). Padding rows (zero in ``Q`` and in ``1``, zero targets) make ``M`` block diagonal with
  ``lam I`` on the padding, where ``u`` and ``v`` vanish: the padded solve is exact too.

On that fold (610 users x 9,017 items) a default fit went from 3.3 s to 0.6 s, and from 13.5 s to
1.3 s with 100 factors; on ML-100K's u1 (median item: 22 ratings) from 1.2 s to 0.6 s (2 cores;
``benchmarks/als_speed.py`` times the routes side by side). Two smaller gains: finer buckets
(the dual route's O(L^3) cost makes tight padding pay), and the item step returns its residuals,
computed from the design blocks in hand, so the per-iteration objective and training RMSE need no
second gather of the factors. Cholesky was measured and not used: numpy 2.4 has no batched
triangular solve, ``np.linalg.cholesky`` alone costs ~70% of the LU ``np.linalg.solve``, and
scipy 1.17's batched ``cho_solve`` / ``solve(assume_a="pos")`` were no faster than that LU solve
(slower for small matrices, where their per-matrix overhead dominates).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
from threadpoolctl import threadpool_limits

from recsys.checks import check_integer, check_non_negative, check_positive, random_generator
from recsys.interactions import entries
from recsys.models.base import EmbeddingModel, FitCallback, check_finite_fit, check_fit_inputs, fit_rmse, run_callback

#: Upper bound on the elements of one padded design block (B x L x (k+1)); bounds peak memory.
_BLOCK_ELEMENTS = 1 << 22
#: ALS buckets rows by ``ceil(8 log2(count))``: padding under 2 ** (1/8) - 1 = 9%. On the two
#: benchmark datasets, one bucket per doubling (BPMF's) made ALS 1.2-1.6x slower; 16 gained little.
_BUCKETS_PER_OCTAVE = 8


def _design(factors: np.ndarray) -> np.ndarray:
    """``[factors, 1]`` with one extra all-zero row at the end, used as the padding target."""
    n, k = factors.shape
    Z = np.zeros((n + 1, k + 1), dtype=factors.dtype)
    Z[:n, :k] = factors
    Z[:n, k] = 1.0
    return Z


def _regulariser(
    k: int, counts: np.ndarray, regularization: float, bias_regularization: float, weighted: bool, dtype
) -> np.ndarray:
    """Per-row diagonal of the penalty, shape (n_rows, k+1): lam (or lam * n_r) on the factors,
    lam_b on the bias."""
    penalty = np.empty((counts.size, k + 1), dtype=dtype)
    penalty[:, :k] = (regularization * counts[:, None]) if weighted else regularization
    penalty[:, k] = bias_regularization
    return penalty


def _solve_rows_reference(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
    regularization: float,
    bias_regularization: float,
    weighted: bool,
    biased: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """One ALS half step, one row at a time (readable reference; use :func:`_solve_rows`).

    Row ``r`` has observed columns ``indices[indptr[r]:indptr[r+1]]`` with residual targets
    ``targets[indptr[r]:indptr[r+1]]`` (the ratings minus everything that is held fixed). Returns the row factors
    (n_rows, k) and biases (n_rows,). Rows without observations get zeros. With ``biased=False``
    there is no bias column: the biases stay 0 (plain MF).
    """
    n_rows, k = indptr.size - 1, other_factors.shape[1]
    d = k + 1 if biased else k
    counts = np.diff(indptr)
    penalty = _regulariser(k, counts, regularization, bias_regularization, weighted, other_factors.dtype)
    solution = np.zeros((n_rows, k + 1), dtype=other_factors.dtype)
    for r in range(n_rows):
        lo, hi = indptr[r], indptr[r + 1]
        if lo == hi:
            continue
        Z = np.hstack([other_factors[indices[lo:hi]], np.ones((hi - lo, 1), dtype=other_factors.dtype)])[:, :d]
        A = Z.T @ Z + np.diag(penalty[r, :d])
        solution[r, :d] = np.linalg.solve(A, Z.T @ targets[lo:hi])
    return solution[:, :k], solution[:, k]


def padded_blocks(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The padded-bucket machinery shared by ALS and BPMF: yield ``(rows, Zp, yp)`` blocks.

    Row ``r`` observes columns ``indices[indptr[r]:indptr[r+1]]`` with targets
    ``targets[indptr[r]:indptr[r+1]]``. The non-empty rows are bucketed by
    ``ceil(log2(count))``; each bucket, in chunks bounded by ``_BLOCK_ELEMENTS``, is gathered into
    a zero-padded design tensor ``Zp`` (B, L, k+1) whose row ``j`` of block ``b`` is
    ``[other_factors[c], 1]`` for the ``j``-th observed column ``c`` of ``rows[b]`` (zeros past
    the row's end), and the matching targets ``yp`` (B, L) (zeros likewise). Padding rows add
    nothing to ``Zp^T Zp`` or ``Zp^T yp``, so any per-row normal equations built from a block
    are exact. Each non-empty row appears in exactly one block; empty rows in none.
    """
    return _padded_blocks(indptr, indices, targets, other_factors, buckets_per_octave=1)


def _padded_blocks(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
    buckets_per_octave: int,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`padded_blocks` with rows bucketed by ``ceil(buckets_per_octave * log2(count))``:
    finer buckets pad less (at most a factor ``2 ** (1 / buckets_per_octave)``) but yield more
    blocks."""
    k = other_factors.shape[1]
    dtype = other_factors.dtype
    counts = np.diff(indptr)
    Z = _design(other_factors)  # (n_other + 1, k+1); last row = padding
    col = np.append(indices, Z.shape[0] - 1)  # entry -> row of Z; one extra padding slot
    y = np.append(targets.astype(dtype, copy=False), dtype.type(0))
    pad_slot = indices.size  # index of the padding slot in col / y

    nonempty = np.flatnonzero(counts)
    buckets = np.ceil(buckets_per_octave * np.log2(counts[nonempty])).astype(np.int64)
    for b in np.unique(buckets):
        rows_b = nonempty[buckets == b]
        length = int(counts[rows_b].max())
        chunk = max(1, _BLOCK_ELEMENTS // (length * (k + 1)))
        for start in range(0, rows_b.size, chunk):
            rows = rows_b[start : start + chunk]
            offsets = np.arange(length)
            slots = indptr[rows][:, None] + offsets[None, :]
            slots = np.where(offsets[None, :] < counts[rows][:, None], slots, pad_slot)
            yield rows, Z[col[slots]], y[slots]  # (B,), (B, L, k+1), (B, L)


def _primal_block(Zp: np.ndarray, yp: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """Solve ``(Z^T Z + diag(penalty)) x = Z^T y`` for every padded row of a block: (B, d).

    ``Zp`` (B, L, d), ``yp`` (B, L), ``penalty`` (B, d). Two batched products build the Gram
    matrices and right-hand sides (``Zp^T Zp`` of one buffer runs as a BLAS ``syrk``) and one
    batched LU solve does the rest: O(L d^2 + d^3) per row.
    """
    d = Zp.shape[2]
    diag = np.arange(d)
    ZpT = Zp.transpose(0, 2, 1)
    A = ZpT @ Zp  # (B, d, d) Gram matrices
    A[:, diag, diag] += penalty
    rhs = ZpT @ yp[:, :, None]  # (B, d, 1)
    return np.linalg.solve(A, rhs)[:, :, 0]


def _dual_block(
    Qp: np.ndarray, yp: np.ndarray, lam: np.ndarray, ones: np.ndarray | None, bias_regularization: float
) -> np.ndarray:
    """The same solutions as :func:`_primal_block`, from L x L instead of d x d systems: (B, d).

    ``Qp`` (B, L, k) holds the factor part of the design, ``lam`` (B,) each row's factor penalty
    (must be > 0), ``ones`` (B, L) the bias column (1 on observed rows, 0 on padding) or ``None``
    without biases. With ``M = Q Q^T + lam I``, ``u = M^-1 y`` and ``v = M^-1 1``:
    ``b = lam 1.u / (lam 1.v + lam_b)`` and ``p = Q^T (u - b v)`` (module docstring). O(L^2 k + L^3)
    per row, which beats the primal when L < d.
    """
    B, L, k = Qp.shape
    diag = np.arange(L)
    QpT = Qp.transpose(0, 2, 1)
    M = Qp @ QpT  # (B, L, L) kernel matrices
    M[:, diag, diag] += lam[:, None]
    out = np.empty((B, k + (ones is not None)), dtype=Qp.dtype)
    if ones is None:
        alpha = np.linalg.solve(M, yp[:, :, None])  # (B, L, 1)
    else:
        uv = np.linalg.solve(M, np.stack([yp, ones], axis=2))  # (B, L, 2): [u, v]
        su, sv = (ones[:, None, :] @ uv)[:, 0, :].T  # 1.u and 1.v over the observed rows
        bias = lam * su / (lam * sv + bias_regularization)
        alpha = uv[:, :, :1] - bias[:, None, None] * uv[:, :, 1:]
        out[:, k] = bias
    out[:, :k] = (QpT @ alpha)[:, :, 0]
    return out


def _solve_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
    regularization: float,
    bias_regularization: float,
    weighted: bool,
    biased: bool = True,
    method: str = "auto",
    return_residuals: bool = False,
) -> tuple[np.ndarray, ...]:
    """The same half step as :func:`_solve_rows_reference`, vectorised over rows.

    Each block of :func:`padded_blocks` (B rows padded to length L) is solved in one batch, by
    :func:`_dual_block` when ``L < d`` (the number of unknowns per row) and by
    :func:`_primal_block` otherwise; ``method="primal"`` or ``"dual"`` forces one path (tests,
    benchmarks). The dual path needs a positive factor penalty, so ``regularization <= 0`` always
    takes the primal one. With ``return_residuals`` a third array (one per entry, in the order of
    ``targets``) holds ``target - [q, 1] . [p_r, b_r]`` after the step, from the design blocks
    already in hand: after the item step these are the model's training residuals.
    """
    if method not in ("auto", "primal", "dual"):
        raise ValueError(f"method must be 'auto', 'primal' or 'dual', got {method!r}")
    n_rows, k = indptr.size - 1, other_factors.shape[1]
    dtype = other_factors.dtype
    counts = np.diff(indptr)
    penalty = _regulariser(k, counts, regularization, bias_regularization, weighted, dtype)
    solution = np.zeros((n_rows, k + 1), dtype=dtype)
    d = k + 1 if biased else k  # without biases, drop the ones column
    residuals = np.zeros(indices.size, dtype=dtype) if return_residuals else None
    for rows, Zp, yp in _padded_blocks(indptr, indices, targets, other_factors, _BUCKETS_PER_OCTAVE):
        length = Zp.shape[1]
        dual = regularization > 0 and (method == "dual" or (method == "auto" and length < d))
        if dual:
            x = _dual_block(Zp[:, :, :k], yp, penalty[rows, 0], Zp[:, :, k] if biased else None, bias_regularization)
        else:
            x = _primal_block(Zp[:, :, :d], yp, penalty[rows, :d])
        solution[rows, :d] = x
        if residuals is not None:
            offsets = np.arange(length)
            observed = offsets[None, :] < counts[rows][:, None]  # (B, L), False on padding
            fitted = (Zp[:, :, :d] @ x[:, :, None])[:, :, 0]
            residuals[(indptr[rows][:, None] + offsets)[observed]] = (yp - fitted)[observed]
    if residuals is not None:
        return solution[:, :k], solution[:, k], residuals
    return solution[:, :k], solution[:, k]


class ALS(EmbeddingModel):
    """Biased matrix factorisation for explicit ratings, fitted by alternating least squares.

    Parameters:
        factors: latent dimension k.
        regularization: lam, the L2 penalty on the factor vectors (> 0 keeps every system
            well-posed, even for a user with fewer than k ratings). Its scale depends on the
            data size unless ``weighted_regularization`` is set.
        bias_regularization: lam_b, the L2 penalty on the biases (never count-weighted; it acts
            like the damping of a damped mean).
        weighted_regularization: scale each row's factor penalty by its number of ratings
            (ALS-WR); ``regularization`` is then per rating, so ~0.1 rather than ~10.
        iterations: number of full sweeps (users, then items).
        init_std: standard deviation of the Gaussian initial factors (biases start at 0).
        random_state: int seed (or ``np.random.Generator``) for the initial factors.
        dtype: float64 (default) or float32 for the factors and solves.
        biased: learn ``mu``, ``b_u`` and ``b_i`` (default). ``False`` fits plain MF,
            ``r_ui ~ p_u . q_i`` with no mean and no biases: the "raw MF" of notebook 02, which
            predicts 0 for a user with no ratings (her vector is 0); wrap it in
            :class:`recsys.models.normalized.MeanNormalized` to fit it to residuals instead.

    The defaults were tuned on ML-100K's five predefined folds (u1..u5): mean test RMSE 0.911,
    about a second per fit (ALS-WR's best there, ``regularization=0.12``, gives 0.913); see
    ``benchmarks/ml100k_rating_models.py --grid als``. Plain ridge with ``lam`` is the objective that
    :class:`recsys.models.svd.SVDImpute` minimises with ``shrinkage=lam``, by another route.

    Fitted attributes: ``user_factors_`` (n_users, k), ``item_factors_`` (n_items, k),
    ``global_mean_``, ``user_bias_``, ``item_bias_``, ``n_users_``, ``n_items_``,
    ``rating_range_`` and ``history_`` (per iteration: ``iteration``, ``seconds``, ``train_loss`` =
    the objective above, ``train_rmse`` and, with ``validation``, ``val_rmse``; both RMSEs use
    clipped predictions, as :meth:`predict` does). Unknown users (index -1) are predicted
    ``mu + b_i``, unknown items ``mu + b_u``.
    """

    defaults_source = "tuned on ML-100K's u1-u5 test folds"

    def __init__(
        self,
        factors: int = 50,
        regularization: float = 13.0,
        bias_regularization: float = 2.0,
        weighted_regularization: bool = False,
        iterations: int = 15,
        init_std: float = 0.1,
        random_state: int | np.random.Generator | None = 0,
        dtype=np.float64,
        biased: bool = True,
    ):
        self.biased = biased
        self.factors = factors
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.weighted_regularization = weighted_regularization
        self.iterations = iterations
        self.init_std = init_std
        self.random_state = random_state
        self.dtype = dtype

    def _validate_params(self) -> tuple[float, np.dtype]:
        """Check the hyperparameters (scikit-learn style: at fit time); returns (lam_b, dtype)."""
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 1)
        check_positive(regularization=self.regularization)
        check_non_negative(bias_regularization=self.bias_regularization, init_std=self.init_std)
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return float(self.bias_regularization), dtype

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> ALS:
        """Fit to the observed ratings in ``X`` (users x items CSR).

        ``validation`` (same shape) adds ``val_rmse`` to each iteration of ``history_``;
        ``callback`` (see :data:`~recsys.models.base.FitCallback`) may add more.
        """
        bias_reg, dtype = self._validate_params()
        X, validation = check_fit_inputs(X, validation)
        n_users, n_items = X.shape
        k = int(self.factors)
        rng = random_generator(self.random_state)
        lam, weighted = float(self.regularization), bool(self.weighted_regularization)

        Xc = X.tocsc()  # item-major view of the same ratings (rows of X.T)
        ratings = X.data.astype(dtype)
        ratings_c = Xc.data.astype(dtype)
        user_counts, item_counts = np.diff(X.indptr), np.diff(Xc.indptr)

        biased = bool(self.biased)
        self.global_mean_ = float(ratings.mean(dtype=np.float64)) if biased else 0.0
        self.rating_range_ = (float(ratings.min()), float(ratings.max()))
        self.n_users_, self.n_items_ = n_users, n_items
        self.user_factors_ = np.zeros((n_users, k), dtype=dtype)
        self.item_factors_ = (rng.standard_normal((n_items, k)) * self.init_std).astype(dtype)
        self.user_bias_ = np.zeros(n_users, dtype=dtype)
        self.item_bias_ = np.zeros(n_items, dtype=dtype)
        mu = dtype.type(self.global_mean_)

        self.history_ = []
        seconds = 0.0
        # The solves are many small BLAS calls: extra BLAS threads only add synchronisation (and
        # slow down badly on a busy machine), so they run single-threaded.
        with threadpool_limits(limits=1, user_api="blas"):
            for iteration in range(1, int(self.iterations) + 1):
                start = time.perf_counter()
                # users: targets r_ui - mu - b_i, design [q_i, 1]
                targets = ratings - mu - self.item_bias_[X.indices]
                self.user_factors_, self.user_bias_ = _solve_rows(
                    X.indptr, X.indices, targets, self.item_factors_, lam, bias_reg, weighted, biased
                )
                # items: targets r_ui - mu - b_u, design [p_u, 1]; the step also returns the
                # residuals r_ui - mu - b_u - b_i - p_u . q_i (item-major) for the objective
                targets = ratings_c - mu - self.user_bias_[Xc.indices]
                self.item_factors_, self.item_bias_, residuals = _solve_rows(
                    Xc.indptr,
                    Xc.indices,
                    targets,
                    self.user_factors_,
                    lam,
                    bias_reg,
                    weighted,
                    biased,
                    return_residuals=True,
                )
                seconds += time.perf_counter() - start

                loss = self._objective(residuals, user_counts, item_counts, bias_reg)
                record = {
                    "iteration": iteration,
                    "seconds": seconds,
                    "train_loss": loss,
                    "train_rmse": fit_rmse(self, Xc.data, self._clip(ratings_c - residuals)),
                }
                if validation is not None:
                    record["val_rmse"] = fit_rmse(self, validation.data, self.predict(*entries(validation)))
                run_callback(callback, self, iteration, record)
                self.history_.append(record)
        check_finite_fit(self)
        return self

    def _objective(
        self, residual: np.ndarray, user_counts: np.ndarray, item_counts: np.ndarray, bias_reg: float
    ) -> float:
        """Squared error plus the (optionally count-weighted) ridge penalty, in float64."""
        lam = float(self.regularization)
        wu = user_counts if self.weighted_regularization else np.ones_like(user_counts)
        wi = item_counts if self.weighted_regularization else np.ones_like(item_counts)
        P, Q = self.user_factors_.astype(np.float64), self.item_factors_.astype(np.float64)
        bu, bi = self.user_bias_.astype(np.float64), self.item_bias_.astype(np.float64)
        penalty = lam * (wu @ np.einsum("ij,ij->i", P, P) + wi @ np.einsum("ij,ij->i", Q, Q)) + bias_reg * (
            bu @ bu + bi @ bi
        )
        return float(residual.astype(np.float64) @ residual.astype(np.float64) + penalty)
