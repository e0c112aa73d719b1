"""Factorization machines (Rendle 2010) for implicit feedback, in the factor contract.

A factorization machine scores a feature vector ``x`` (here: a one-hot user id, a one-hot item
id and side features of both) with a global bias, a linear term and *all pairwise interactions*,
each interaction weighted by the inner product of two factor vectors:

    y(x) = w0 + sum_f w_f x_f + sum_{f < g} <v_f, v_g> x_f x_g.

The double sum looks quadratic in the number of features ``n``; Rendle's identity makes it
O(k n) (only the non-zero ``x_f`` count):

    sum_{f < g} <v_f, v_g> x_f x_g = 1/2 ( |sum_f v_f x_f|^2 - sum_f |v_f|^2 x_f^2 ).

(:func:`pairwise_interactions` and :func:`pairwise_interactions_naive`; the tests check they
agree.) With only the two ids as features, ``y = w0 + w_u + w_i + <v_u, v_i>``: biased matrix
factorisation. Side features add to the *user vector* and the *item vector*:

**It is an inner-product model.** Split ``x`` into its user part ``x_U`` (id, age, gender,
occupation) and its item part ``x_I`` (id, genres, year). Pairs inside one part depend on one
side only, and the cross pairs factor:

    y(u, i) = w0 + [w_U . x_U + pair(x_U)] + [w_I . x_I + pair(x_I)] + <p_u, q_i>,
    p_u = sum_{f in U} v_f x_f,    q_i = sum_{f in I} v_f x_f,

so a user's vector is the sum of their features' factor vectors, an item's the sum of its
features', and the rest are a user bias and an item bias. :class:`FactorizationMachine` exposes
exactly that (``user_factors_``, ``item_factors_``, ``user_bias_``, ``item_bias_``,
``global_mean_``), so ``score`` is the full FM output and ``inner_product_factors()`` serves it
from any index. An item nobody has interacted with yet still gets a vector from its side
features (:meth:`FactorizationMachine.item_vectors`): that is what side features buy.

*Training* on implicit positives: BPR (Rendle et al. 2009) on sampled triples (user, watched
item ``i``, unwatched item ``j``), minimising ``softplus(-(y(u, i) - y(u, j)))`` plus an L2 penalty
on the parameters of every feature present in the triple (as libFM's SGD does). Under a
pairwise loss the user-only terms (``w0``, ``w_U``, ``pair(x_U)``) cancel and receive no gradient:
``w0`` and ``w_U`` stay 0, and ``pair(x_U)``, a per-user constant, cannot change a ranking.
Gradients are written by hand and vectorised over the batch with sparse feature matrices;
steps by :class:`~recsys.models.training.Adam`.

*Side features* are a hyperparameter, as in :class:`recsys.models.content.ContentModel`: sparse
matrices with one row per user (item) index of the matrix ``fit`` sees, built with the same
:class:`~recsys.interactions.IdMap` (:func:`item_side_features`, :func:`user_side_features`).
"""

from __future__ import annotations

import numba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit
from threadpoolctl import threadpool_limits

from recsys.checks import check_flag, check_integer, check_non_negative, check_positive, check_seed, random_generator
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs
from recsys.models.training import Adam, EarlyStopping, bpr_epochs, check_early_stopping, sample_negatives

__all__ = [
    "FactorizationMachine",
    "fm_bpr_loss_and_gradients",
    "fm_bpr_loss_and_gradients_fast",
    "fm_output",
    "item_side_features",
    "pairwise_interactions",
    "pairwise_interactions_naive",
    "user_side_features",
]


# --------------------------------------------------------------------------------------------- #
# The FM formula.                                                                               #
# --------------------------------------------------------------------------------------------- #


def pairwise_interactions(X, V: np.ndarray) -> np.ndarray:
    """``sum_{f<g} <v_f, v_g> x_f x_g`` for every row of ``X`` (n x n_features), in O(k nnz).

    ``1/2 (|X V|^2 - (X * X) (V * V) 1)`` row by row; ``X`` may be sparse or dense.
    """
    XV = np.asarray(X @ V)
    X2 = X.multiply(X) if sp.issparse(X) else np.square(X)
    return 0.5 * (np.einsum("ij,ij->i", XV, XV) - np.asarray(X2 @ np.einsum("ij,ij->i", V, V)).ravel())


def pairwise_interactions_naive(x: np.ndarray, V: np.ndarray) -> float:
    """The same sum for one dense feature vector ``x``, by the double loop (for tests).

    Pairs with a zero ``x_f`` or ``x_g`` contribute nothing and are skipped, so the loop is
    O(k m^2) in the ``m`` non-zero features rather than in all ``n``.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    present = np.flatnonzero(x)
    total = 0.0
    for a, f in enumerate(present):
        for g in present[a + 1 :]:
            total += float(V[f] @ V[g]) * x[f] * x[g]
    return total


def fm_output(x, w0: float, w: np.ndarray, V: np.ndarray, *, naive: bool = False) -> np.ndarray:
    """``y(x) = w0 + w . x + sum_{f<g} <v_f, v_g> x_f x_g`` for the rows of ``x`` (the FM itself)."""
    X = x if sp.issparse(x) else np.atleast_2d(np.asarray(x, dtype=np.float64))
    linear = np.asarray(X @ w).ravel()
    if naive:
        dense = X.toarray() if sp.issparse(X) else X
        pairs = np.array([pairwise_interactions_naive(row, V) for row in dense])
    else:
        pairs = pairwise_interactions(X, V)
    return w0 + linear + pairs


# --------------------------------------------------------------------------------------------- #
# Side features.                                                                                #
# --------------------------------------------------------------------------------------------- #


def _one_hot(labels: pd.Series, prefix: str) -> tuple[sp.csr_matrix, list[str]]:
    """One column per distinct non-missing label (sorted); a missing label gives an empty row."""
    present = labels.notna().to_numpy()
    values = labels[present].astype(str)
    names = sorted(values.unique())
    column = {name: j for j, name in enumerate(names)}
    rows = np.flatnonzero(present)
    cols = np.array([column[v] for v in values], dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(labels.size, len(names)))
    return matrix, [f"{prefix}={name}" for name in names]


def _reindex(frame: pd.DataFrame, ids, what: str) -> pd.DataFrame:
    ids = np.asarray(ids)
    if ids.ndim != 1:
        raise ValueError(f"{what}_ids must be a 1-D array of raw ids")
    missing = ~pd.Index(ids).isin(frame.index)
    if missing.any():
        raise ValueError(f"{int(missing.sum())} {what} id(s) have no metadata row, e.g. {ids[missing][0]!r}")
    return frame.loc[ids]


def item_side_features(items: pd.DataFrame, item_ids, *, year_bin: int = 10) -> tuple[sp.csr_matrix, list[str]]:
    """Genres and release period of ``item_ids`` (rows in that order): CSR and column names.

    Genres are multi-hot, each of an item's ``n`` genres weighted ``1/n`` (Rendle's normalisation
    of a set-valued feature, so every item's genres carry the same total weight); the year is
    one-hot in bins of ``year_bin`` years (decades by default). ``items`` is a MovieLens item table
    (``genres`` lists, ``year``), indexed by raw item id.
    """
    check_integer("year_bin", year_bin, 1)
    frame = _reindex(items, item_ids, "item")
    genre_lists = [list(g) if isinstance(g, (list, tuple, np.ndarray)) else [] for g in frame["genres"]]
    genre_lists = [[g for g in gs if g != "(no genres listed)"] for gs in genre_lists]
    names = sorted({g for gs in genre_lists for g in gs})
    column = {g: j for j, g in enumerate(names)}
    rows = np.repeat(np.arange(len(genre_lists)), [len(gs) for gs in genre_lists])
    cols = np.array([column[g] for gs in genre_lists for g in gs], dtype=np.int64)
    weights = np.concatenate([np.full(len(gs), 1.0 / len(gs)) for gs in genre_lists if gs] or [np.zeros(0)])
    genres = sp.csr_matrix((weights, (rows, cols)), shape=(len(genre_lists), len(names)))
    years = frame["year"].astype("Float64")
    periods = (years // year_bin * year_bin).astype("Int64")
    period, period_names = _one_hot(periods, "year")
    return sp.hstack([genres, period], format="csr"), [f"genre={g}" for g in names] + period_names


#: Age bins of ML-100K's users (the ML-1M age groups, whose lower edges these are).
AGE_BINS = (0, 18, 25, 35, 45, 50, 56, 200)


def user_side_features(users: pd.DataFrame | None, user_ids) -> tuple[sp.csr_matrix, list[str]]:
    """Age group, gender and occupation of ``user_ids`` (one-hot each), where the data has them.

    ``users`` is a MovieLens user table indexed by raw user id (ML-100K, ML-1M); ``None`` (e.g.
    ml-latest-small, which has no demographics) gives a matrix with no columns.
    """
    ids = np.asarray(user_ids)
    if users is None:
        return sp.csr_matrix((ids.size, 0)), []
    frame = _reindex(users, ids, "user")
    blocks, names = [], []
    if "age" in frame:
        edges = np.asarray(AGE_BINS)
        ages = pd.Series(pd.cut(frame["age"].astype(float), edges, right=False, labels=edges[:-1].astype(str)))
        block, block_names = _one_hot(ages.astype(object).where(ages.notna()), "age")
        blocks.append(block)
        names += block_names
    for column in ("gender", "occupation"):
        if column in frame:
            block, block_names = _one_hot(frame[column], column)
            blocks.append(block)
            names += block_names
    if not blocks:
        return sp.csr_matrix((ids.size, 0)), []
    return sp.hstack(blocks, format="csr"), names


def _check_features(features, n_rows: int, name: str) -> sp.csr_matrix:
    if features is None:
        return sp.csr_matrix((n_rows, 0))
    if not (sp.issparse(features) or isinstance(features, np.ndarray)):
        raise TypeError(f"{name} must be a scipy.sparse matrix or a 2-D numpy array, got {type(features).__name__}")
    features = sp.csr_matrix(features, dtype=np.float64)
    if features.shape[0] != n_rows:
        raise ValueError(f"{name} has {features.shape[0]} rows but X has {n_rows}; build it for the same IdMap as X")
    if not np.isfinite(features.data).all():
        raise ValueError(f"{name} holds non-finite values")
    return features


class _Design:
    """The user and item feature matrices with the derived matrices a BPR step needs."""

    def __init__(self, Fu: sp.csr_matrix, Fi: sp.csr_matrix) -> None:
        self.Fu, self.Fi = Fu, Fi
        self.Fi_squared = Fi.multiply(Fi).tocsr()
        self.Fu_pattern, self.Fi_pattern = Fu.copy(), Fi.copy()
        self.Fu_pattern.data[:] = 1.0
        self.Fi_pattern.data[:] = 1.0


def fm_bpr_loss_and_gradients(
    params: dict,
    design: _Design,
    users: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    regularization: float,
    bias_regularization: float,
) -> tuple[float, dict]:
    """The FM's minibatch BPR loss and its gradient with respect to ``wI``, ``VU`` and ``VI``.

    Margin of a triple: ``d = y(u, i) - y(u, j) = w_I . (x_i - x_j) + pair(x_i) - pair(x_j)
    + p_u . (q_i - q_j)`` (the user-only terms cancel). Loss = mean ``softplus(-d)`` plus, per
    triple, ``regularization / 2 |v_f|^2`` and ``bias_regularization / 2 w_f^2`` for every
    feature present. With ``s = d loss / d d = -sigmoid(-d) / b``:
    ``d d / d v_f = x_if (p_u + q_i) - x_if^2 v_f - [x_jf (p_u + q_j) - x_jf^2 v_f]`` for an item
    feature, ``x_uf (q_i - q_j)`` for a user feature, and ``x_if - x_jf`` for ``w_f``.
    """
    Fu, Fi, Fi2 = design.Fu, design.Fi, design.Fi_squared
    wI, VU, VI = params["wI"], params["VU"], params["VI"]
    dtype = VI.dtype.type
    b = users.size
    xu, xi, xj = Fu[users], Fi[positives], Fi[negatives]
    p = np.asarray(xu @ VU)
    qi, qj = np.asarray(xi @ VI), np.asarray(xj @ VI)
    norms = np.einsum("ij,ij->i", VI, VI)
    pair_i = 0.5 * (np.einsum("ij,ij->i", qi, qi) - np.asarray(Fi2[positives] @ norms).ravel())
    pair_j = 0.5 * (np.einsum("ij,ij->i", qj, qj) - np.asarray(Fi2[negatives] @ norms).ravel())
    margin = np.asarray(xi @ wI - xj @ wI).ravel() + pair_i - pair_j + np.einsum("ij,ij->i", p, qi - qj)
    loss = float(np.mean(np.logaddexp(0.0, -margin)))
    s = (-expit(-margin) / b).astype(VI.dtype)
    gVI = np.asarray(xi.T @ (s[:, None] * (p + qi))) - np.asarray(xj.T @ (s[:, None] * (p + qj)))
    gVI -= np.asarray(Fi2[positives].T @ s - Fi2[negatives].T @ s).ravel()[:, None] * VI
    gVU = np.asarray(xu.T @ (s[:, None] * (qi - qj)))
    gwI = np.asarray(xi.T @ s - xj.T @ s).ravel()
    if regularization or bias_regularization:
        cu = np.asarray(design.Fu_pattern[users].sum(axis=0)).ravel() / b
        ci = np.asarray(design.Fi_pattern[positives].sum(axis=0) + design.Fi_pattern[negatives].sum(axis=0)).ravel() / b
        gVU += (dtype(regularization) * cu.astype(VU.dtype))[:, None] * VU
        gVI += (dtype(regularization) * ci.astype(VI.dtype))[:, None] * VI
        gwI += dtype(bias_regularization) * ci.astype(wI.dtype) * wI
        loss += 0.5 * regularization * float(cu @ np.einsum("ij,ij->i", VU, VU) + ci @ norms)
        loss += 0.5 * bias_regularization * float(ci @ np.square(wI))
    return loss, {"wI": gwI, "VU": gVU, "VI": gVI}


@numba.njit(cache=True, nogil=True, inline="always")
def _side_sums(indptr, indices, data, row, V, w, out):
    """``out = x V`` for CSR row ``row``; returns (``x . w``, ``sum_f x_f^2 |v_f|^2``)."""
    out[:] = 0.0
    linear = 0.0
    squares = 0.0
    for p in range(indptr[row], indptr[row + 1]):
        f = indices[p]
        x = data[p]
        linear += x * w[f]
        norm = 0.0
        for c in range(V.shape[1]):
            out[c] += x * V[f, c]
            norm += V[f, c] * V[f, c]
        squares += x * x * norm
    return linear, squares


@numba.njit(cache=True, nogil=True)
def _item_gradient(i_ptr, i_idx, i_val, row, sign, s, p, q, VI, wI, reg, reg_b, b, gVI, gwI):
    """Add one item row's share of the gradient (``sign`` +1 for the positive, -1 for the negative)."""
    penalty = 0.0
    for n in range(i_ptr[row], i_ptr[row + 1]):
        f, x = i_idx[n], i_val[n]
        gwI[f] += sign * s * x + reg_b / b * wI[f]
        norm = 0.0
        for c in range(VI.shape[1]):
            gVI[f, c] += sign * s * (x * (p[c] + q[c]) - x * x * VI[f, c]) + reg / b * VI[f, c]
            norm += VI[f, c] * VI[f, c]
        penalty += 0.5 * (reg * norm + reg_b * wI[f] * wI[f]) / b
    return penalty


@numba.njit(cache=True, nogil=True)
def _bpr_batch(u_ptr, u_idx, u_val, i_ptr, i_idx, i_val, wU, wI, VU, VI, users, positives, negatives, reg, reg_b):
    """The compiled twin of :func:`fm_bpr_loss_and_gradients`: one pass over the batch's triples."""
    k = VI.shape[1]
    b = users.shape[0]
    gwI = np.zeros_like(wI)
    gVU = np.zeros_like(VU)
    gVI = np.zeros_like(VI)
    p = np.empty(k, dtype=VI.dtype)
    qi = np.empty(k, dtype=VI.dtype)
    qj = np.empty(k, dtype=VI.dtype)
    loss = 0.0
    for t in range(b):
        u, i, j = users[t], positives[t], negatives[t]
        _side_sums(u_ptr, u_idx, u_val, u, VU, wU, p)
        lin_i, sq_i = _side_sums(i_ptr, i_idx, i_val, i, VI, wI, qi)
        lin_j, sq_j = _side_sums(i_ptr, i_idx, i_val, j, VI, wI, qj)
        margin = lin_i - lin_j - 0.5 * (sq_i - sq_j)
        for c in range(k):
            margin += 0.5 * (qi[c] * qi[c] - qj[c] * qj[c]) + p[c] * (qi[c] - qj[c])
        loss += max(-margin, 0.0) + np.log1p(np.exp(-abs(margin)))  # softplus(-margin)
        s = -1.0 / (1.0 + np.exp(margin)) / b  # d loss / d margin = -sigmoid(-margin) / b
        for n in range(u_ptr[u], u_ptr[u + 1]):
            f, x = u_idx[n], u_val[n]
            norm = 0.0
            for c in range(k):
                gVU[f, c] += s * x * (qi[c] - qj[c]) + reg / b * VU[f, c]
                norm += VU[f, c] * VU[f, c]
            loss += 0.5 * reg * norm
        loss += b * _item_gradient(i_ptr, i_idx, i_val, i, 1.0, s, p, qi, VI, wI, reg, reg_b, b, gVI, gwI)
        loss += b * _item_gradient(i_ptr, i_idx, i_val, j, -1.0, s, p, qj, VI, wI, reg, reg_b, b, gVI, gwI)
    return loss / b, gwI, gVU, gVI


def fm_bpr_loss_and_gradients_fast(
    params: dict,
    design: _Design,
    users: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    regularization: float,
    bias_regularization: float,
) -> tuple[float, dict]:
    """:func:`fm_bpr_loss_and_gradients`, compiled (numba): what :class:`FactorizationMachine` trains with.

    The numpy version above is the readable reference (the tests check that both agree); this one
    walks each triple's few non-zero features instead of building sparse batch matrices, which on
    ML-100K is an order of magnitude faster.
    """
    Fu, Fi = design.Fu, design.Fi
    loss, gwI, gVU, gVI = _bpr_batch(
        Fu.indptr, Fu.indices, Fu.data, Fi.indptr, Fi.indices, Fi.data,
        params["wU"], params["wI"], params["VU"], params["VI"],
        np.ascontiguousarray(users, dtype=np.int64), np.ascontiguousarray(positives, dtype=np.int64),
        np.ascontiguousarray(negatives, dtype=np.int64), float(regularization), float(bias_regularization),
    )  # fmt: skip
    return float(loss), {"wI": gwI, "VU": gVU, "VI": gVI}


# --------------------------------------------------------------------------------------------- #
# The model.                                                                                    #
# --------------------------------------------------------------------------------------------- #


class FactorizationMachine(FactorModel):
    """A factorization machine over user id + user features and item id + item features, trained by BPR.

    Args:
        factors: dimension k of every feature's factor vector.
        iterations: epochs; each visits every training interaction once with one sampled negative.
        learning_rate: Adam's step size.
        regularization: L2 weight on the factor vectors of the features present in a triple
            (the defaults were chosen on ML-100K's validation split).
        bias_regularization: L2 weight on their linear weights; ``None`` = ``regularization``.
        batch_size: triples per step.
        init_std: factor vectors start ~ Normal(0, init_std); linear weights at 0.
        user_features, item_features: side features, sparse or dense, one row per user (item)
            index of ``X`` (see :func:`user_side_features`, :func:`item_side_features`), or ``None``.
        item_ids: include the one-hot item id as a feature (``False``: every item is described
            by its side features alone, a content model that scores a cold item like a warm
            one). Users always have their one-hot id.
        early_stopping, patience: stop when the callback's entry (``"val_ndcg@10"``) has not
            improved for ``patience`` epochs and keep the best epoch's parameters.
        num_threads: BLAS threads (1 = serial and reproducible, 0 = all cores).
        random_state: seed (default 0, so two fits agree), ``numpy.random.Generator`` or ``None`` (fresh entropy).

    Fitted: ``user_design_`` and ``item_design_`` (the feature matrices ``[ids | side features]``),
    ``w0_``, ``user_weights_``, ``item_weights_`` (linear terms), ``user_feature_factors_``,
    ``item_feature_factors_`` (one factor vector per feature), the factor form
    ``user_factors_``, ``item_factors_``, ``global_mean_``, ``user_bias_``, ``item_bias_`` (see
    the module docstring), ``n_users_``, ``n_items_``, ``best_iteration_`` and ``history_``.
    """

    defaults_source = "chosen on ML-100K validation data"

    learns_from = "positives"
    positive_values = "presence"

    def __init__(
        self,
        factors: int = 64,
        iterations: int = 50,
        learning_rate: float = 0.02,
        regularization: float = 0.03,
        bias_regularization: float | None = None,
        batch_size: int = 8192,
        init_std: float = 0.1,
        user_features=None,
        item_features=None,
        item_ids: bool = True,
        early_stopping: str | None = None,
        patience: int = 5,
        num_threads: int = 1,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.bias_regularization = bias_regularization
        self.batch_size = batch_size
        self.init_std = init_std
        self.user_features = user_features
        self.item_features = item_features
        self.item_ids = item_ids
        self.early_stopping = early_stopping
        self.patience = patience
        self.num_threads = num_threads
        self.random_state = random_state

    def _validate(self) -> float:
        for name in ("factors", "iterations", "batch_size"):
            check_integer(name, getattr(self, name), 1)
        check_integer("num_threads", self.num_threads, 0)
        check_positive(learning_rate=self.learning_rate, init_std=self.init_std)
        reg_b = self.regularization if self.bias_regularization is None else self.bias_regularization
        check_non_negative(regularization=self.regularization, bias_regularization=reg_b)
        check_flag("item_ids", self.item_ids)
        check_early_stopping(self.early_stopping, self.patience)
        check_seed("random_state", self.random_state)
        return float(reg_b)

    def _design(self, n_rows: int, features, name: str, ids: bool) -> sp.csr_matrix:
        side = _check_features(features, n_rows, name)
        blocks = ([sp.identity(n_rows, format="csr")] if ids else []) + [side]
        design = sp.hstack(blocks, format="csr", dtype=np.float32)
        if design.shape[1] == 0:
            raise ValueError(f"item_ids=False needs {name}: without ids or side features nothing describes an item")
        return design

    # -- the factor form ------------------------------------------------------------------------

    def _side_vectors(self, design: sp.csr_matrix, w: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(sum of the rows' factor vectors, their linear term plus within-side pairs)."""
        return np.asarray(design @ V), np.asarray(design @ w).ravel() + pairwise_interactions(design, V)

    def _expose(self) -> None:
        p = self.params_
        self.user_factors_, user_bias = self._side_vectors(self.user_design_, p["wU"], p["VU"])
        self.item_factors_, item_bias = self._side_vectors(self.item_design_, p["wI"], p["VI"])
        self.global_mean_ = float(p["w0"][0])
        self.user_bias_, self.item_bias_ = user_bias.astype(np.float32), item_bias.astype(np.float32)

    def item_vectors(self, item_features) -> tuple[np.ndarray, np.ndarray]:
        """Item vectors and item biases for items described by side features only (cold items).

        ``item_features`` has the columns of the fitted ``item_features``; the id part is absent
        (zero), so ``score = global_mean_ + user_bias_ + bias + user_factors_ . vector``.
        """
        self._check_fitted()
        offset = self.n_items_ if self.item_ids else 0
        n_side = self.item_design_.shape[1] - offset
        F = _check_features(item_features, np.shape(item_features)[0], "item_features")
        if F.shape[1] != n_side:
            raise ValueError(f"item_features has {F.shape[1]} columns, the model was fitted with {n_side}")
        w, V = self.params_["wI"][offset:], self.params_["VI"][offset:]
        vectors, biases = self._side_vectors(F.astype(np.float32), w, V)
        return vectors, biases

    def full_parameters(self) -> tuple[float, np.ndarray, np.ndarray]:
        """``(w0, w, V)`` over the concatenated features ``[user design | item design]`` (for :func:`fm_output`)."""
        p = self.params_
        return float(p["w0"][0]), np.concatenate([p["wU"], p["wI"]]), np.vstack([p["VU"], p["VI"]])

    def feature_vectors(self, users, items) -> sp.csr_matrix:
        """The FM input rows ``x = [user design row | item design row]`` of the pairs ``(users[j], items[j])``."""
        self._check_fitted()
        return sp.hstack([self.user_design_[np.asarray(users)], self.item_design_[np.asarray(items)]], format="csr")

    # -- training -------------------------------------------------------------------------------

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> FactorizationMachine:
        """Train on the users x items CSR ``X`` of positives; ``callback`` as in :data:`FitCallback`."""
        reg_b = self._validate()
        X, _ = check_fit_inputs(X, validation, positives=True)
        with threadpool_limits(int(self.num_threads) or None, "blas"):
            return self._fit(X, callback, reg_b)

    def _fit(self, X: sp.csr_matrix, callback: FitCallback | None, reg_b: float) -> FactorizationMachine:
        rng = random_generator(self.random_state)
        X = sp.csr_matrix(X)
        X.sort_indices()
        n_users, n_items = X.shape
        self.user_design_ = Fu = self._design(n_users, self.user_features, "user_features", True)
        self.item_design_ = Fi = self._design(n_items, self.item_features, "item_features", bool(self.item_ids))
        design = _Design(Fu, Fi)
        k = int(self.factors)
        self.params_ = params = {
            "w0": np.zeros(1, dtype=np.float32),
            "wU": np.zeros(Fu.shape[1], dtype=np.float32),
            "wI": np.zeros(Fi.shape[1], dtype=np.float32),
            "VU": rng.normal(0.0, self.init_std, size=(Fu.shape[1], k)).astype(np.float32),
            "VI": rng.normal(0.0, self.init_std, size=(Fi.shape[1], k)).astype(np.float32),
        }
        self.n_users_, self.n_items_ = n_users, n_items
        optimizer = Adam({n: params[n] for n in ("wI", "VU", "VI")}, self.learning_rate)
        reg = float(self.regularization)
        stopper = EarlyStopping(self.early_stopping, self.patience, active=callback is not None)

        def step(users, positives, negatives):
            return fm_bpr_loss_and_gradients_fast(params, design, users, positives, negatives, reg, reg_b)

        bpr_epochs(
            self,
            "FactorizationMachine",
            params,
            X,
            step,
            optimizer,
            stopper,
            callback,
            rng,
            self.batch_size,
            sample_negatives,
        )
        self._expose()
        check_finite_fit(self)
        return self
