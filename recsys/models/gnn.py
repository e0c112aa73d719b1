"""Graph neural network recommenders on the user-item bipartite graph: LightGCN.

**LightGCN** (He, Deng, Wang, Li, Zhang & Wang 2020) keeps of a graph convolutional network only
what helps collaborative filtering: neighbourhood aggregation. Users and items are the nodes of
the bipartite graph whose edges are the training interactions ``R`` (n_users x n_items). Each
node has a free "ego" embedding (layer 0); a layer replaces every node's vector by the
normalised sum of its neighbours', with no weight matrix and no non-linearity:

    e_u^(l+1) = sum_{i in N(u)} e_i^(l) / sqrt(|N(u)| |N(i)|),
    e_i^(l+1) = sum_{u in N(i)} e_u^(l) / sqrt(|N(i)| |N(u)|).

In matrix form, with the adjacency ``A = [[0, R], [R^T, 0]]`` and its degree matrix ``D``, one
layer is ``E^(l+1) = A_hat E^(l)`` with ``A_hat = D^-1/2 A D^-1/2``; on the bipartite graph only
``R_hat = D_u^-1/2 R D_i^-1/2`` is needed (users take ``R_hat E_items``, items ``R_hat^T E_users``).
The final embedding averages the layers,

    E = 1/(L+1) sum_{l=0..L} A_hat^l E^(0) = M E^(0),

and the score is the inner product ``e_u . e_i``. After two layers a user's vector mixes the ego
vectors of the other users who watched the same items, after three those of the items these
users watched: the propagation is neighbourhood-based collaborative filtering built into the
embedding.

*Training.* BPR (Rendle et al. 2009) on sampled triples (user, watched item, random unwatched
item), with an L2 penalty on the ego embeddings of the batch, as in the paper:

    L = mean_batch softplus(-(e_u . e_i - e_u . e_j))
        + regularization / 2 * mean_batch (|e_u^(0)|^2 + |e_i^(0)|^2 + |e_j^(0)|^2).

*The gradient, by hand.* The propagation is linear, ``E = M E^(0)``, and ``M`` is a polynomial
in the symmetric ``A_hat``, so ``M^T = M``: the gradient with respect to the ego embeddings is
the *same* propagation applied to the gradient with respect to the final ones,
``dL/dE^(0) = M (dL/dE)`` (plus the penalty's term). The BPR part of ``dL/dE`` touches only the
batch's rows: with ``s = sigmoid(-(x_ui - x_uj)) / b``, ``de_u = -s (e_i - e_j)``, ``de_i = -s e_u``,
``de_j = s e_u``. :func:`lightgcn_bpr_loss_and_gradients` computes it; the tests check it against finite
differences. Every step costs ``2 L`` sparse-dense products forward and ``2 L`` backward, each
O(nnz(R) k), with numpy/scipy only.

*Start and steps* (where we depart from the paper's recipe, to train in a fraction of the time).
The ego embeddings start from the leading singular vectors of ``R_hat`` (:func:`spectral_embeddings`;
``init="normal"`` is the paper's random start), and each epoch is by default one full-batch
:class:`~recsys.models.training.Adam` step on all its triples: a step's cost is the propagation,
whatever its batch. On ML-100K both reached the validation nDCG of the paper's recipe in a few
dozen epochs instead of a few hundred. Early stopping reads a validation entry the fit callback
returns (``val_ndcg@10``), never computes it. The fitted model follows the factor contract with
``user_factors_``/``item_factors_`` = the layer-averaged embeddings (no biases).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from threadpoolctl import threadpool_limits

from recsys.checks import check_choice, check_integer, check_non_negative, check_positive, check_seed, random_generator
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs
from recsys.models.training import (
    Adam,
    EarlyStopping,
    bpr_epochs,
    check_early_stopping,
    sample_negatives,
    scatter_rows,
)

__all__ = [
    "LightGCN",
    "lightgcn_bpr_loss_and_gradients",
    "normalized_adjacency",
    "propagate",
    "spectral_embeddings",
]


def normalized_adjacency(X) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """``R_hat = D_u^-1/2 R D_i^-1/2`` and its transpose (both CSR) for the 0/1 pattern of ``X``.

    A user or item without an edge has degree 0; its row (column) is empty, so it receives nothing
    and sends nothing (its propagated vectors are ``E^(0) / (L + 1)``).
    """
    R = sp.csr_matrix(X, dtype=np.float64, copy=True)
    R.data[:] = 1.0
    du = np.asarray(R.sum(axis=1)).ravel()
    di = np.asarray(R.sum(axis=0)).ravel()
    su = np.divide(1.0, np.sqrt(du), out=np.zeros_like(du), where=du > 0)
    si = np.divide(1.0, np.sqrt(di), out=np.zeros_like(di), where=di > 0)
    R_hat = sp.csr_matrix(sp.diags(su) @ R @ sp.diags(si))
    R_hat.sort_indices()
    return R_hat, sp.csr_matrix(R_hat.T)


def propagate(R_hat: sp.csr_matrix, R_hat_T: sp.csr_matrix, users: np.ndarray, items: np.ndarray, layers: int):
    """``M E = 1/(L+1) sum_l A_hat^l E`` for ``E = [users; items]``, returned as (users, items) parts.

    Also the backward pass: ``M`` is symmetric, so the gradient with respect to the layer-0
    embeddings is this same function applied to the gradient with respect to the output.
    """
    dtype = users.dtype
    R_hat, R_hat_T = R_hat.astype(dtype, copy=False), R_hat_T.astype(dtype, copy=False)
    sum_u, sum_i = users.copy(), items.copy()
    eu, ei = users, items
    for _ in range(layers):
        eu, ei = np.asarray(R_hat @ ei), np.asarray(R_hat_T @ eu)
        sum_u += eu
        sum_i += ei
    scale = dtype.type(1.0 / (layers + 1))
    sum_u *= scale
    sum_i *= scale
    return sum_u, sum_i


def lightgcn_bpr_loss_and_gradients(
    user_embeddings: np.ndarray,
    item_embeddings: np.ndarray,
    R_hat: sp.csr_matrix,
    R_hat_T: sp.csr_matrix,
    layers: int,
    users: np.ndarray,
    positives: np.ndarray,
    negatives: np.ndarray,
    regularization: float,
) -> tuple[float, np.ndarray, np.ndarray]:
    """LightGCN's minibatch BPR loss and its gradient with respect to the layer-0 embeddings.

    ``users[j]`` watched ``positives[j]`` and not ``negatives[j]``. Returns
    ``(loss, d_user_embeddings, d_item_embeddings)``; see the module docstring for the formulas.
    """
    U, V = propagate(R_hat, R_hat_T, user_embeddings, item_embeddings, layers)
    b = users.size
    eu, diff = U[users], V[positives] - V[negatives]
    margin = np.einsum("ij,ij->i", eu, diff)
    # softplus(-margin) = log(1 + exp(-margin)), computed without overflow
    loss = float(np.mean(np.logaddexp(0.0, -margin)))
    s = (expit(-margin) / b).astype(U.dtype)  # sigmoid(-margin) / b, without overflow
    gU = scatter_rows(U.shape[0], users, diff, -s)
    gV = scatter_rows(V.shape[0], positives, eu, -s)
    scatter_rows(V.shape[0], negatives, eu, s, out=gV)
    gU0, gV0 = propagate(R_hat, R_hat_T, gU, gV, layers)
    if regularization:
        u0, i0, j0 = user_embeddings[users], item_embeddings[positives], item_embeddings[negatives]
        loss += 0.5 * regularization * float(np.sum(u0**2) + np.sum(i0**2) + np.sum(j0**2)) / b
        c = np.full(b, regularization / b, dtype=U.dtype)
        scatter_rows(U.shape[0], users, u0, c, out=gU0)
        scatter_rows(V.shape[0], positives, i0, c, out=gV0)
        scatter_rows(V.shape[0], negatives, j0, c, out=gV0)
    return loss, gU0, gV0


def spectral_embeddings(R_hat: sp.csr_matrix, k: int, rms: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``c [U_k S_k^1/2; V_k S_k^1/2]`` from the truncated SVD ``R_hat ~ U_k S_k V_k^T``, entries of RMS ``rms``.

    The leading singular vectors of the normalised adjacency are the directions propagation
    amplifies most (``A_hat`` has eigenvalues ``+-s`` with eigenvectors ``[u; +-v]``), and their
    inner products ``u_u S v_i`` already rank items like PureSVD on ``R_hat``. Starting there,
    BPR only has to refine: on ML-100K LightGCN reached its best validation nDCG in about a
    fifth of the epochs it needs from a random start. At most ``min(shape) - 1`` columns.
    """
    from scipy.sparse.linalg import svds

    rank = min(k, min(R_hat.shape) - 1)
    if rank < 1:
        return np.zeros((R_hat.shape[0], 0), np.float32), np.zeros((R_hat.shape[1], 0), np.float32)
    start = np.random.default_rng(seed).standard_normal(min(R_hat.shape))
    u, sv, vt = svds(R_hat.astype(np.float64), k=rank, v0=start)
    U, V = u * np.sqrt(sv), vt.T * np.sqrt(sv)
    scale = rms / np.sqrt((np.sum(U**2) + np.sum(V**2)) / (U.size + V.size))
    return (U * scale).astype(np.float32), (V * scale).astype(np.float32)


class LightGCN(FactorModel):
    """LightGCN (He et al. 2020): layer-averaged propagation of free embeddings, trained by BPR.

    Args:
        factors: embedding dimension k (64 in the paper).
        layers: propagation layers L (3 in the paper; 0 = plain BPR matrix factorisation).
        iterations: epochs; each visits every training interaction once, with one sampled negative.
            ``0`` fits the starting embeddings alone, propagated through the layers: what the
            spectral start scores before any gradient step.
        learning_rate: Adam's step size (0.05 suits full batches; the paper's 0.001 its 2048).
        regularization: L2 weight on the batch's ego embeddings, averaged over the batch as in
            the paper's code (whose 1e-4 suits its larger graphs; ML-100K's validation chose 3e-3).
        batch_size: (user, positive, negative) triples per step; ``None`` = all of an epoch's
            triples in one step (full-batch Adam). Every step propagates over the whole graph
            whatever its batch, so large batches are cheap: on ML-100K (128 factors) an epoch
            of 8192-triple steps took about five times as long as one full-batch step, and the
            full-batch runs reached the same validation nDCG in about half the wall time.
        init: ``"spectral"`` (start from the leading singular vectors of ``R_hat``, scaled to
            entries of RMS ``init_std``: :func:`spectral_embeddings`) or ``"normal"`` (the
            paper's random start, ~ Normal(0, init_std)). Both end at similar validation nDCG
            on ML-100K; the spectral start gets there in far fewer epochs.
        init_std: the scale of the starting embeddings (RMS of an entry).
        early_stopping, patience: stop when the callback's entry (``"val_ndcg@10"``) has not
            improved for ``patience`` epochs and keep the best epoch's embeddings; ignored
            without a callback.
        num_threads: BLAS threads (1 = serial and reproducible, 0 = all cores).
        random_state: seed (default 0, so two fits agree), ``numpy.random.Generator`` or ``None`` (fresh entropy).

    Fitted: ``adjacency_`` (``R_hat``, float32 CSR), ``user_embeddings_``, ``item_embeddings_``
    (layer 0, float32), ``user_factors_``,
    ``item_factors_`` (the propagated, layer-averaged embeddings the score uses), ``n_users_``,
    ``n_items_``, ``best_iteration_`` and ``history_`` (per epoch: ``iteration``, ``seconds``,
    ``train_loss`` (mean minibatch loss) and what the callback returns).
    """

    learns_from = "positives"
    positive_values = "presence"

    def __init__(
        self,
        factors: int = 64,
        layers: int = 3,
        iterations: int = 100,
        learning_rate: float = 0.05,
        regularization: float = 3e-3,
        batch_size: int | None = None,
        init: str = "spectral",
        init_std: float = 0.2,
        early_stopping: str | None = None,
        patience: int = 5,
        num_threads: int = 1,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.layers = layers
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.batch_size = batch_size
        self.init = init
        self.init_std = init_std
        self.early_stopping = early_stopping
        self.patience = patience
        self.num_threads = num_threads
        self.random_state = random_state

    def _validate(self) -> None:
        check_integer("factors", self.factors, 1)
        check_integer("iterations", self.iterations, 0)  # 0: the start alone, propagated (no gradient step)
        if self.batch_size is not None:
            check_integer("batch_size", self.batch_size, 1)
        check_integer("layers", self.layers, 0)
        check_integer("num_threads", self.num_threads, 0)
        check_choice("init", self.init, ("spectral", "normal"))
        check_positive(learning_rate=self.learning_rate, init_std=self.init_std)
        check_non_negative(regularization=self.regularization)
        check_early_stopping(self.early_stopping, self.patience)
        check_seed("random_state", self.random_state)

    def _expose(self) -> None:
        self.user_factors_, self.item_factors_ = propagate(
            self.adjacency_, self._adjacency_T, self.user_embeddings_, self.item_embeddings_, int(self.layers)
        )

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> LightGCN:
        """Train on the users x items CSR ``X`` of positives; ``callback`` as in :data:`FitCallback`."""
        self._validate()
        X, _ = check_fit_inputs(X, validation, positives=True)
        with threadpool_limits(int(self.num_threads) or None, "blas"):
            return self._fit(X, callback)

    def _fit(self, X: sp.csr_matrix, callback: FitCallback | None) -> LightGCN:
        rng = random_generator(self.random_state)
        X = sp.csr_matrix(X)
        X.sort_indices()
        n_users, n_items = X.shape
        k, layers, reg = int(self.factors), int(self.layers), float(self.regularization)
        R_hat, R_hat_T = normalized_adjacency(X)
        self.adjacency_, self._adjacency_T = R_hat.astype(np.float32), R_hat_T.astype(np.float32)
        params = {
            "users": rng.normal(0.0, self.init_std, size=(n_users, k)).astype(np.float32),
            "items": rng.normal(0.0, self.init_std, size=(n_items, k)).astype(np.float32),
        }
        if self.init == "spectral":
            U0, V0 = spectral_embeddings(R_hat, k, float(self.init_std), int(rng.integers(2**31)))
            params["users"][:, : U0.shape[1]] = U0
            params["items"][:, : V0.shape[1]] = V0
        self.user_embeddings_, self.item_embeddings_ = params["users"], params["items"]
        self.n_users_, self.n_items_ = n_users, n_items
        optimizer = Adam(params, self.learning_rate)
        stopper = EarlyStopping(self.early_stopping, self.patience, active=callback is not None)

        def step(users, positives, negatives):
            loss, gU, gV = lightgcn_bpr_loss_and_gradients(
                params["users"],
                params["items"],
                self.adjacency_,
                self._adjacency_T,
                layers,
                users,
                positives,
                negatives,
                reg,
            )
            return loss, {"users": gU, "items": gV}

        bpr_epochs(
            self,
            "LightGCN",
            params,
            X,
            step,
            optimizer,
            stopper,
            callback,
            rng,
            self.batch_size or X.nnz,
            sample_negatives,
        )
        self._expose()
        check_finite_fit(self)
        return self
