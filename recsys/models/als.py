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
buckets of similar length, pads each bucket with zero rows (:func:`padded_blocks`, shared with
the Gibbs sampler of :mod:`recsys.models.bpmf`), and builds all Gram matrices of a bucket with one
batched matrix product and solves them with one batched ``np.linalg.solve``. Zero padding rows
add nothing to ``Z^T Z`` or ``Z^T y``, so the result is exact; bucketing by powers of two keeps
the padding under 2x the data.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.models.base import EmbeddingModel, check_interactions, check_non_negative, check_positive

#: Upper bound on the elements of one padded design block (B x L x (k+1)); bounds peak memory.
_BLOCK_ELEMENTS = 1 << 22


def _design(factors: np.ndarray) -> np.ndarray:
    """``[factors, 1]`` with one extra all-zero row at the end, used as the padding target."""
    n, k = factors.shape
    Z = np.zeros((n + 1, k + 1), dtype=factors.dtype)
    Z[:n, :k] = factors
    Z[:n, k] = 1.0
    return Z


def _regulariser(k: int, counts: np.ndarray, regularization: float, bias_regularization: float,
                 weighted: bool, dtype) -> np.ndarray:
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
    k = other_factors.shape[1]
    dtype = other_factors.dtype
    counts = np.diff(indptr)
    Z = _design(other_factors)                       # (n_other + 1, k+1); last row = padding
    col = np.append(indices, Z.shape[0] - 1)          # entry -> row of Z; one extra padding slot
    y = np.append(targets.astype(dtype, copy=False), dtype.type(0))
    pad_slot = indices.size                           # index of the padding slot in col / y

    nonempty = np.flatnonzero(counts)
    buckets = np.ceil(np.log2(counts[nonempty])).astype(np.int64)
    for b in np.unique(buckets):
        rows_b = nonempty[buckets == b]
        length = int(counts[rows_b].max())
        chunk = max(1, _BLOCK_ELEMENTS // (length * (k + 1)))
        for start in range(0, rows_b.size, chunk):
            rows = rows_b[start:start + chunk]
            offsets = np.arange(length)
            slots = indptr[rows][:, None] + offsets[None, :]
            slots = np.where(offsets[None, :] < counts[rows][:, None], slots, pad_slot)
            yield rows, Z[col[slots]], y[slots]       # (B,), (B, L, k+1), (B, L)


def _solve_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
    regularization: float,
    bias_regularization: float,
    weighted: bool,
    biased: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """The same half step as :func:`_solve_rows_reference`, vectorised over rows.

    For each block of :func:`padded_blocks`, the Gram matrices and right-hand sides come from two
    batched matrix products, and one batched ``np.linalg.solve`` solves them all.
    """
    n_rows, k = indptr.size - 1, other_factors.shape[1]
    dtype = other_factors.dtype
    counts = np.diff(indptr)
    penalty = _regulariser(k, counts, regularization, bias_regularization, weighted, dtype)
    solution = np.zeros((n_rows, k + 1), dtype=dtype)
    d = k + 1 if biased else k                        # without biases, drop the ones column
    diag = np.arange(d)
    for rows, Zp, yp in padded_blocks(indptr, indices, targets, other_factors):
        Zp = Zp[:, :, :d]
        ZpT = Zp.transpose(0, 2, 1)
        A = ZpT @ Zp                                  # (B, d, d) Gram matrices
        A[:, diag, diag] += penalty[rows, :d]
        rhs = ZpT @ yp[:, :, None]                    # (B, d, 1)
        solution[rows, :d] = np.linalg.solve(A, rhs)[:, :, 0]
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
    ``benchmarks/ml100k_folds_als_svd.py``. Plain ridge with ``lam`` is the objective that
    :class:`recsys.models.svd.SVDImpute` minimises with ``shrinkage=lam``, by another route.

    Fitted attributes: ``user_factors_`` (n_users, k), ``item_factors_`` (n_items, k),
    ``global_mean_``, ``user_bias_``, ``item_bias_``, ``n_users_``, ``n_items_``,
    ``rating_range_`` and ``history_`` (per iteration: ``epoch``, ``seconds``, ``train_loss`` =
    the objective above, ``train_rmse`` and, with ``validation``, ``val_rmse``; both RMSEs use
    clipped predictions, as :meth:`predict` does). Unknown users (index -1) are predicted
    ``mu + b_i``, unknown items ``mu + b_u``.
    """

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
        for name in ("factors", "iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an int, got {value!r}")
        check_positive(factors=self.factors, iterations=self.iterations, regularization=self.regularization)
        check_non_negative(bias_regularization=self.bias_regularization, init_std=self.init_std)
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return float(self.bias_regularization), dtype

    def fit(self, X, validation=None) -> ALS:
        """Fit to the observed ratings in ``X`` (users x items CSR); ``validation`` adds ``val_rmse``."""
        bias_reg, dtype = self._validate_params()
        X = check_interactions(X)
        if X.nnz == 0:
            raise ValueError("X holds no ratings")
        if validation is not None:
            validation = check_interactions(validation, "validation")
            if validation.shape != X.shape:
                raise ValueError(f"validation has shape {validation.shape}, X has {X.shape}")
        n_users, n_items = X.shape
        k = int(self.factors)
        rng = np.random.default_rng(self.random_state)
        lam, weighted = float(self.regularization), bool(self.weighted_regularization)

        Xc = X.tocsc()  # item-major view of the same ratings (rows of X.T)
        ratings = X.data.astype(dtype)
        ratings_c = Xc.data.astype(dtype)
        user_of = np.repeat(np.arange(n_users), np.diff(X.indptr))   # CSR entry -> user
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
            for epoch in range(1, int(self.iterations) + 1):
                start = time.perf_counter()
                # users: targets r_ui - mu - b_i, design [q_i, 1]
                targets = ratings - mu - self.item_bias_[X.indices]
                self.user_factors_, self.user_bias_ = _solve_rows(
                    X.indptr, X.indices, targets, self.item_factors_, lam, bias_reg, weighted, biased)
                # items: targets r_ui - mu - b_u, design [p_u, 1]
                targets = ratings_c - mu - self.user_bias_[Xc.indices]
                self.item_factors_, self.item_bias_ = _solve_rows(
                    Xc.indptr, Xc.indices, targets, self.user_factors_, lam, bias_reg, weighted, biased)
                seconds += time.perf_counter() - start

                fitted = self._raw_predictions(user_of, X.indices)
                loss = self._objective(ratings - fitted, user_counts, item_counts, bias_reg)
                record = {"epoch": epoch, "seconds": seconds, "train_loss": loss,
                          "train_rmse": _rmse(X.data, self._clip(fitted))}
                if validation is not None:
                    record["val_rmse"] = _rmse(validation.data, self.predict(*_entries(validation)))
                self.history_.append(record)
        return self

    def _raw_predictions(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Unclipped ``mu + b_u + b_i + p_u . q_i`` for known pairs (the objective's model)."""
        return (self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]
                + np.einsum("ij,ij->i", self.user_factors_[users], self.item_factors_[items]))

    def _objective(self, residual: np.ndarray, user_counts: np.ndarray, item_counts: np.ndarray,
                   bias_reg: float) -> float:
        """Squared error plus the (optionally count-weighted) ridge penalty, in float64."""
        lam = float(self.regularization)
        wu = user_counts if self.weighted_regularization else np.ones_like(user_counts)
        wi = item_counts if self.weighted_regularization else np.ones_like(item_counts)
        P, Q = self.user_factors_.astype(np.float64), self.item_factors_.astype(np.float64)
        bu, bi = self.user_bias_.astype(np.float64), self.item_bias_.astype(np.float64)
        penalty = (lam * (wu @ np.einsum("ij,ij->i", P, P) + wi @ np.einsum("ij,ij->i", Q, Q))
                   + bias_reg * (bu @ bu + bi @ bi))
        return float(residual.astype(np.float64) @ residual.astype(np.float64) + penalty)


def _entries(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) index arrays of the stored entries of a CSR matrix, in storage order."""
    return np.repeat(np.arange(X.shape[0]), np.diff(X.indptr)), X.indices


def _rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    diff = np.asarray(truth, dtype=np.float64) - predicted
    return float(np.sqrt(np.mean(diff * diff)))
