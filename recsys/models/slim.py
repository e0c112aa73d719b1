"""SLIM: a sparse linear item-to-item model, learned one item at a time (Ning & Karypis, ICDM 2011).

Like EASE, SLIM scores ``x_u W`` with an items x items matrix ``W`` whose diagonal is zero (an item
may not explain itself). Unlike EASE it learns ``W`` with an elastic-net penalty and non-negative
weights, one column at a time: column ``j`` is the regression of item ``j``'s column of the binary
interaction matrix on the other items' columns,

    min over w >= 0, w_j = 0:  1/(2 n_users) |x_j - X w|^2 + alpha l1_ratio |w|_1 + alpha (1 - l1_ratio)/2 |w|^2

solved by scikit-learn's coordinate descent (:class:`sklearn.linear_model.ElasticNet`, the
parameterisation of Dacrema et al.'s ``SLIMElasticNetRecommender``, whose tuned SLIM is among the
strongest baselines of their RecSys 2019 study). The L1 part makes ``W`` sparse; each column then
keeps its ``neighbours`` largest weights. Columns are independent, so ``num_threads`` processes
fit shares of them (each with its own copy of the matrix; 1: serial, 0: all cores); the result
does not depend on how many.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import scipy.sparse as sp

from recsys.checks import check_integer, check_number
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, finish_one_shot

__all__ = ["SLIM", "slim_columns"]


def slim_columns(
    X: sp.csc_matrix,
    items,
    *,
    alpha: float,
    l1_ratio: float,
    neighbours: int,
    max_iterations: int,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit SLIM's columns ``items`` on the binary users x items CSC ``X``: for each, its item's
    column regressed on the others (that column zeroed while it is fitted, then restored), the
    ``neighbours`` largest positive weights kept. Returns (rows, columns, weights) of the kept
    entries of ``W`` as COO triplets."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import ElasticNet

    X = X.copy()  # its columns are zeroed in turn: never the caller's matrix
    model = ElasticNet(
        alpha=alpha,
        l1_ratio=l1_ratio,
        positive=True,
        fit_intercept=False,
        copy_X=False,
        precompute=True,
        selection="cyclic",
        max_iter=max_iterations,
        tol=tolerance,
    )
    rows, columns, weights = [], [], []
    for j in items:
        start, stop = X.indptr[j], X.indptr[j + 1]
        target = np.zeros(X.shape[0])
        target[X.indices[start:stop]] = X.data[start:stop]
        saved = X.data[start:stop].copy()
        X.data[start:stop] = 0.0  # item j may not explain itself
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, target)
        X.data[start:stop] = saved
        coef = model.sparse_coef_.tocsr()  # 1 x n_items
        kept = coef.indices[coef.data > 0]
        values = coef.data[coef.data > 0]
        if kept.size > neighbours:
            order = np.lexsort((kept, -values))[:neighbours]  # largest first, ties to the smaller item
            kept, values = kept[order], values[order]
        rows.append(kept)
        columns.append(np.full(kept.size, j))
        weights.append(values)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(rows), np.concatenate(columns), np.concatenate(weights)


class SLIM(FactorModel):
    """SLIM with an elastic-net penalty and non-negative weights (see the module docstring).

    Args:
        alpha: strength of the penalty (scikit-learn's ``alpha``).
        l1_ratio: its L1 share (1: lasso, 0: ridge).
        neighbours: weights kept per column of ``W``.
        max_iterations, tolerance: coordinate descent's limits per column.
        num_threads: processes fitting columns (1: serial, 0: all cores); the same ``W`` either way.

    Fitted: ``weights_`` (``W``, items x items CSR, zero diagonal, non-negative),
    ``interactions_`` (the binary training matrix), ``n_users_``, ``n_items_``. In the factor
    contract as EASE: ``user_factors_`` the user's binary row, ``item_factors_`` ``W^T``, dense
    only when asked for.
    """

    learns_from = "positives"
    positive_values = "presence"

    def __init__(
        self,
        alpha: float = 1e-3,
        l1_ratio: float = 0.1,
        neighbours: int = 100,
        max_iterations: int = 100,
        tolerance: float = 1e-4,
        num_threads: int = 1,
    ) -> None:
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.neighbours = neighbours
        self.max_iterations = max_iterations
        self.tolerance = tolerance
        self.num_threads = num_threads

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> SLIM:
        """Learn ``W`` column by column from the users x items CSR ``X`` (every entry a positive)."""
        settings = dict(
            alpha=check_number("alpha", self.alpha, 0, exclusive=True),
            l1_ratio=check_number("l1_ratio", self.l1_ratio, 0, 1),
            neighbours=check_integer("neighbours", self.neighbours, 1),
            max_iterations=check_integer("max_iterations", self.max_iterations, 1),
            tolerance=check_number("tolerance", self.tolerance, 0, exclusive=True),
        )
        threads = check_integer("num_threads", self.num_threads, 0)
        X, _ = check_fit_inputs(X, validation, positives=True)
        start = time.perf_counter()
        binary = sp.csr_matrix(X, dtype=np.float64, copy=True)
        binary.data[:] = 1.0
        self.n_users_, self.n_items_ = binary.shape
        columns = binary.tocsc()
        workers = min(threads or os.cpu_count() or 1, self.n_items_)
        if workers <= 1:
            parts = [slim_columns(columns, range(self.n_items_), **settings)]
        else:
            from joblib import Parallel, delayed

            shares = np.array_split(np.arange(self.n_items_), workers)
            parts = Parallel(n_jobs=workers, backend="loky")(
                delayed(slim_columns)(columns, share, **settings) for share in shares
            )
        rows, cols, weights = (np.concatenate(p) for p in zip(*parts, strict=True))
        self.weights_ = sp.csr_matrix((weights, (rows, cols)), shape=(self.n_items_, self.n_items_), dtype=np.float32)
        self.interactions_ = sp.csr_matrix(binary, dtype=np.float32)
        finish_one_shot(self, callback, {"iteration": 1, "seconds": time.perf_counter() - start})
        check_finite_fit(self)
        return self

    @property
    def user_factors_(self) -> np.ndarray:
        """Each user's binary training row, dense (n_users x n_items)."""
        if "interactions_" not in self.__dict__:
            raise AttributeError("user_factors_")
        return self.interactions_.toarray()

    @property
    def item_factors_(self) -> np.ndarray:
        """``W^T`` dense (n_items x n_items): row ``j`` is column ``j`` of ``W``, so ``score = U V^T``."""
        if "weights_" not in self.__dict__:
            raise AttributeError("item_factors_")
        return self.weights_.T.toarray()

    def score(self, users) -> np.ndarray:
        """``X[users] W``, from the sparse matrices."""
        users = self._check_users(users)
        return np.asarray((self.interactions_[users] @ self.weights_).toarray())
