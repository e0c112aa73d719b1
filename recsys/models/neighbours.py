"""Neighbourhood models: item-kNN, user-kNN, and the random walks P3alpha and RP3beta.

The oldest collaborative filters, and vector retrieval in this project's sense. An item's vector is
its column of the users x items interaction matrix (who interacted with it); two items are similar
when those vectors point the same way (cosine, :func:`recsys.similarity.similarity`'s ``"cosine"``
on :meth:`ItemKNN.item_vectors`), and a user's score for an item sums the similarities of that item
to the items the user has:

    score(u, j) = sum over items i of u:  s(i, j)        (item-kNN)
    score(u, j) = sum over users v:  s(u, v) x(v, j)     (user-kNN)

with ``s`` kept only for each item's (user's) ``neighbours`` most similar ones. The similarity is
cosine *shrunk* towards zero when the two vectors share little support (Dacrema, Cremonesi and
Jannach, RecSys 2019, whose tuned item-kNN matches or beats most neural models they re-ran):

    s(i, j) = x_i . x_j / (|x_i| |x_j| + shrink)

**P3alpha** (Cooper et al., WWW 2014) and **RP3beta** (Paudel et al., ACM TiiS 2017) score by a
random walk of three steps user -> item -> user -> item on the bipartite graph of interactions:
``P_ui`` (each user's row of ``X`` divided by its sum) and ``P_iu`` (each item's column divided
by its sum), each raised element-wise to the power ``alpha``, give the item-to-item transition
``W = P_iu P_ui``; RP3beta divides column ``j`` of ``W`` by ``popularity(j) ** beta`` (so that
the walk does not end on the most popular items for everyone), P3alpha is ``beta = 0``. Each row
of ``W`` keeps its ``neighbours`` largest entries; ``score = X W``.

Every stored entry of ``X`` is a positive and counts once (``positive_values = "presence"``).
An item is never its own neighbour. Neighbours are found block by block of rows (a dense block
of similarities at a time, never the full square matrix), with the package's exact top-k (ties
to the smaller index), so a fit is deterministic. Fitted similarity matrices are
``scipy.sparse`` CSR with at most ``neighbours`` entries a row, all positive.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from recsys.checks import check_integer, check_number
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, finish_one_shot
from recsys.similarity import top_k_rows

__all__ = ["ItemKNN", "P3Alpha", "RP3Beta", "UserKNN", "cosine_neighbours", "keep_top_neighbours"]

#: Rows of similarities computed at once: a block x n float32 array (40 MB for 10^4 columns).
_BLOCK_ROWS = 1024


def keep_top_neighbours(block: np.ndarray, first_row: int, neighbours: int) -> sp.csr_matrix:
    """The ``neighbours`` largest positive entries of each row of a dense ``block`` of a square
    similarity matrix whose first row is row ``first_row`` (the diagonal, an item's similarity to
    itself, is left out), as a CSR block of the same shape. Ties go to the smaller column. The
    block's diagonal entries are overwritten (with ``-inf``) in place."""
    rows = np.arange(block.shape[0])
    block[rows, first_row + rows] = -np.inf  # never one's own neighbour
    top = top_k_rows(block, neighbours)
    values = np.take_along_axis(block, top, axis=1)
    keep = values > 0
    counts = keep.sum(axis=1)
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return sp.csr_matrix((values[keep].astype(np.float32), top[keep], indptr), shape=block.shape, dtype=np.float32)


def cosine_neighbours(V, neighbours: int, shrink: float = 0.0) -> sp.csr_matrix:
    """Shrunk cosine similarities between the rows of the sparse ``V``, each row keeping its
    ``neighbours`` largest positive ones: ``v_i . v_j / (|v_i| |v_j| + shrink)``, the row itself
    left out. A square CSR float32 matrix, row ``i`` holding the neighbours of row ``i``."""
    V = sp.csr_matrix(V, dtype=np.float32)
    neighbours = check_integer("neighbours", neighbours, 1)
    shrink = check_number("shrink", shrink, 0)
    norms = np.sqrt(np.asarray(V.multiply(V).sum(axis=1)).ravel()).astype(np.float32)
    VT = V.T.tocsr()
    blocks = []
    for start in range(0, V.shape[0], _BLOCK_ROWS):
        stop = min(start + _BLOCK_ROWS, V.shape[0])
        dots = (V[start:stop] @ VT).toarray()
        denominator = norms[start:stop, None] * norms[None, :] + shrink
        with np.errstate(divide="ignore", invalid="ignore"):
            block = np.where(denominator > 0, dots / denominator, 0.0).astype(np.float32)
        blocks.append(keep_top_neighbours(block, start, neighbours))
    return sp.vstack(blocks, format="csr") if blocks else sp.csr_matrix(V.shape[:1] * 2, dtype=np.float32)


class _Neighbourhood(FactorModel):
    """What the neighbourhood models share: a binary copy of the training matrix and the checks.

    In the factor contract (as EASE): the "factors" are as wide as the catalogue (item-kNN,
    RP3beta: ``U`` the user's binary row, ``V`` the item's row of similarities) or the user base
    (user-kNN), built densely only when asked for (``user_factors_``, ``item_factors_``,
    :meth:`inner_product_factors`); :meth:`score` works on the sparse matrices.
    """

    learns_from = "positives"
    positive_values = "presence"
    #: Where ``U`` and ``V`` come from: (fitted sparse matrix, transposed?) for each side, so that
    #: ``score = U V^T`` (item-kNN: ``X S^T``; user-kNN: ``S X``; RP3beta: ``X W``).
    _sides: tuple[tuple[str, bool], tuple[str, bool]]

    def _start(self, X, validation) -> sp.csr_matrix:
        X, _ = check_fit_inputs(X, validation, positives=True)
        self.n_users_, self.n_items_ = X.shape
        binary = X.copy().astype(np.float32)
        binary.data[:] = 1.0
        self.interactions_ = binary
        return binary

    def _finish(self, callback: FitCallback | None, start: float):
        finish_one_shot(self, callback, {"iteration": 1, "seconds": time.perf_counter() - start})
        check_finite_fit(self)
        return self

    @property
    def user_factors_(self) -> np.ndarray:
        """``U``, dense float32: one row per user (see ``_sides``)."""
        return _dense_attribute(self, *self._sides[0])

    @property
    def item_factors_(self) -> np.ndarray:
        """``V``, dense float32: one row per item, so that ``score = U V^T``."""
        return _dense_attribute(self, *self._sides[1])

    def score(self, users) -> np.ndarray:
        """``U[users] V^T``, from the sparse matrices."""
        users = self._check_users(users)
        (left, left_transposed), (right, right_transposed) = self._sides
        rows = self.__dict__[left].T.tocsr()[users] if left_transposed else self.__dict__[left][users]
        right_matrix = self.__dict__[right]
        return np.asarray((rows @ (right_matrix if right_transposed else right_matrix.T)).toarray())


class ItemKNN(_Neighbourhood):
    """Item-based k-nearest neighbours with shrunk cosine similarity (see the module docstring).

    Args:
        neighbours: similar items kept per item (``k``).
        shrink: added to the product of the two norms: the similarity of items that share few
            users is pulled towards zero (0: plain cosine).

    Fitted: ``similarity_`` (items x items CSR: row ``i`` holds the neighbours of item ``i``),
    ``interactions_`` (the binary training matrix), ``n_users_``, ``n_items_``.
    """

    _sides = (("interactions_", False), ("similarity_", False))  # score = X S^T

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> ItemKNN:
        """Find every item's neighbours among the columns of the users x items CSR ``X``."""
        start = time.perf_counter()
        binary = self._start(X, validation)
        self.similarity_ = cosine_neighbours(binary.T, self.neighbours, self.shrink)
        return self._finish(callback, start)

    def item_vectors(self) -> sp.csr_matrix:
        """Each item as the vector its similarity is computed from: its column of the binary
        training matrix (items x users, CSR), so the measures of notebook 05 apply to it."""
        self._check_fitted()
        return self.interactions_.T.tocsr()


class UserKNN(_Neighbourhood):
    """User-based k-nearest neighbours with shrunk cosine similarity (see the module docstring).

    Args:
        neighbours: similar users kept per user.
        shrink: as :class:`ItemKNN`'s, between users.

    Fitted: ``similarity_`` (users x users CSR: row ``u`` holds the neighbours of user ``u``),
    ``interactions_``, ``n_users_``, ``n_items_``.
    """

    _sides = (("similarity_", False), ("interactions_", True))  # score = S X

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        self.neighbours = neighbours
        self.shrink = shrink

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> UserKNN:
        """Find every user's neighbours among the rows of the users x items CSR ``X``."""
        start = time.perf_counter()
        binary = self._start(X, validation)
        self.similarity_ = cosine_neighbours(binary, self.neighbours, self.shrink)
        return self._finish(callback, start)


class RP3Beta(_Neighbourhood):
    """The three-step random walk with popularity re-weighting (see the module docstring).

    Args:
        alpha: element-wise power of the transition probabilities (1: the plain walk).
        beta: column ``j`` of the item-to-item matrix is divided by ``popularity(j) ** beta``
            (0: P3alpha).
        neighbours: items kept per row of the item-to-item matrix.
        normalize: divide each kept row by its sum (a transition matrix again).

    Fitted: ``similarity_`` (items x items CSR, row ``i``: where a walk from item ``i`` ends),
    ``interactions_``, ``n_users_``, ``n_items_``.
    """

    _sides = (("interactions_", False), ("similarity_", True))  # score = X W

    def __init__(self, alpha: float = 1.0, beta: float = 0.5, neighbours: int = 100, normalize: bool = False) -> None:
        self.alpha = alpha
        self.beta = beta
        self.neighbours = neighbours
        self.normalize = normalize

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> RP3Beta:
        """Build the walk's item-to-item matrix from the users x items CSR ``X``."""
        alpha = check_number("alpha", self.alpha, 0, exclusive=True)
        beta = check_number("beta", self.beta, 0)
        neighbours = check_integer("neighbours", self.neighbours, 1)
        start = time.perf_counter()
        binary = self._start(X, validation)
        user_to_item = _row_stochastic(binary, alpha)  # P_ui
        item_to_user = _row_stochastic(binary.T.tocsr(), alpha)  # P_iu
        popularity = np.asarray(binary.sum(axis=0)).ravel()
        with np.errstate(divide="ignore"):
            column_weight = np.where(popularity > 0, popularity**-beta, 0.0).astype(np.float32)
        blocks = []
        for first in range(0, self.n_items_, _BLOCK_ROWS):
            last = min(first + _BLOCK_ROWS, self.n_items_)
            block = (item_to_user[first:last] @ user_to_item).toarray().astype(np.float32) * column_weight
            blocks.append(keep_top_neighbours(block, first, neighbours))
        similarity = sp.vstack(blocks, format="csr")
        if self.normalize:
            sums = np.asarray(similarity.sum(axis=1)).ravel()
            similarity = sp.diags(np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)) @ similarity
        self.similarity_ = sp.csr_matrix(similarity, dtype=np.float32)
        return self._finish(callback, start)


class P3Alpha(RP3Beta):
    """RP3beta without the popularity re-weighting (``beta = 0``): Cooper et al.'s P3alpha."""

    def __init__(self, alpha: float = 1.0, neighbours: int = 100, normalize: bool = False) -> None:
        super().__init__(alpha=alpha, beta=0.0, neighbours=neighbours, normalize=normalize)


def _dense_attribute(model, name: str, transpose: bool) -> np.ndarray:
    """A fitted sparse matrix of ``model`` as a dense float32 array (transposed if asked)."""
    if name not in model.__dict__:
        raise AttributeError(name)  # not fitted: what hasattr() and the contract expect
    matrix = model.__dict__[name]
    return np.asarray((matrix.T if transpose else matrix).toarray(), dtype=np.float32)


def _row_stochastic(M: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """Each row divided by its sum, then raised element-wise to ``alpha`` (empty rows stay empty)."""
    sums = np.asarray(M.sum(axis=1)).ravel()
    out = sp.diags(1.0 / np.where(sums > 0, sums, 1.0)) @ M
    out = sp.csr_matrix(out, dtype=np.float32)
    if alpha != 1.0:
        out.data **= alpha
    return out
