"""Autoencoder recommenders: a user's interaction row in, a score for every item out.

Two members of the family, behind the model interface of :mod:`recsys.models.base`
(``learns_from = "positives"``, the factor contract):

**EASE** (Steck 2019, "Embarrassingly shallow autoencoders for sparse data"). The encoder and
decoder collapse into one item-item matrix ``B``: the reconstruction of user ``u``'s row
``x_u`` is ``x_u B``, and ``B`` minimises

    ||X - X B||_F^2 + lambda ||B||_F^2      subject to  diag(B) = 0.

Without the constraint the best ``B`` tends to the identity (every item predicts itself, a
useless autoencoder); with it, each item must be reconstructed from the *other* items. The
Lagrangian gives the closed form, with ``P = (X^T X + lambda I)^-1``,

    B_ij = -P_ij / P_jj  (i != j),   B_jj = 0,      i.e.  B = I - P diag(1 / diag(P)).

So EASE is a linear autoencoder with a single full-rank hidden layer, tied to the input and
output through ``B``, whose identity shortcut is cut by the zero diagonal. ``dropout=p`` gives
Steck's EDLAE (2020, "Autoencoders that don't overfit towards the identity"): training on
inputs with a share ``p`` of entries dropped is, in expectation, the same quadratic problem
with the diagonal penalty ``Lambda = lambda + p / (1 - p) diag(X^T X)``, i.e. popular items are
penalised more; ``P = (X^T X + Lambda)^-1`` and the same zero-diagonal formula.

Two exact routes compute ``P``: ``"items"`` inverts the n_items x n_items Gram matrix
(Cholesky, O(n_items^3)); ``"users"`` uses the Woodbury identity

    (X^T X + Lambda)^-1 = Lambda^-1 - Lambda^-1 X^T (I + X Lambda^-1 X^T)^-1 X Lambda^-1,

an n_users x n_users solve plus one sparse-dense product, O(n_users^3 + nnz n_items). On
ml-latest-small (610 users, ~9,000 items) that was 44 s against 3 s on a busy 2-core machine.
``"auto"`` takes the smaller side.

*Its factor form.* EASE has no low-dimensional user vectors: the score is
``score(u, j) = x_u . B[:, j]``, so the honest inner-product form is the user's interaction row
as the user vector (``user_factors_``, dense, n_items wide) and column ``j`` of ``B`` as item
``j``'s vector (``item_factors_ = B^T``). Any index can serve that, but its dimension is the
catalogue size, which is exactly what makes EASE awkward for vector search.

**Mult-VAE** (Liang, Krishnan, Hoffman & Jebara 2018, "Variational autoencoders for
collaborative filtering"). The encoder maps the L2-normalised, dropout-corrupted row ``x_u`` to
a Gaussian over a ``factors``-dimensional latent ``z``; the decoder maps ``z`` to logits ``f(z)``
over the items, and the likelihood is multinomial: ``log p(x_u | z) = sum_i x_ui log softmax(f(z))_i``.
Training maximises the annealed evidence lower bound, per minibatch of users,

    L = mean_u [ -sum_i x_ui log softmax(f(z_u))_i + beta KL(N(mu_u, sigma_u^2) || N(0, I)) ],

with ``z_u = mu_u + sigma_u * eps`` (the reparameterisation trick) and ``beta`` rising linearly
from 0 to ``anneal_cap`` over the first ``anneal_epochs`` epochs (KL annealing; the paper counts
updates, 200,000 of them on ML-20M; counting epochs keeps the schedule of an early-stopped run
when it is refitted on more users, which takes more updates per epoch). Network:
``x -> tanh(x W1 + b1) -> [mu, log sigma^2] = h W2 + b2``; decoder ``"linear"``:
``f(z) = z W3 + b3``, or ``"mirror"`` (Liang's symmetric one): ``f(z) = tanh(z W3 + b3) W4 + b4``.
``variational=False`` drops the noise and the KL term: Mult-DAE. The backward pass is written by
hand (:func:`vae_loss_and_gradients`) and checked against finite differences in the tests;
optimisation is :class:`~recsys.models.training.Adam`; early stopping reads a validation entry
that the fit callback adds (``val_ndcg@10``), never computes it.

*Its factor form.* The score of item ``i`` for a user is the logit ``f(mu_u)_i`` (the softmax
is monotone per user, so it ranks the same). With the linear decoder that is
``mu_u . W3[:, i] + b3_i``: the encoder's mean is the user embedding, the decoder's weights are
the item embeddings and ``b3`` is an item bias. With the mirror decoder the user vector is the
decoder's last hidden layer ``tanh(mu_u W3 + b3)`` and the items are the columns of ``W4``.

Numpy and scipy only (no deep-learning framework): the network is small, the sparse input
layer is one sparse-dense product, and the hand-written gradient is part of the lesson.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.linalg as la
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.checks import (
    check_choice,
    check_fraction,
    check_integer,
    check_non_negative,
    check_positive,
    check_seed,
    random_generator,
)
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, run_callback
from recsys.models.training import Adam, EarlyStopping, check_early_stopping, minibatches

__all__ = ["EASE", "MultVAE", "ease_weights", "vae_loss_and_gradients"]

_SOLVERS = ("auto", "items", "users")
_DECODERS = ("linear", "mirror")
_DTYPES = ("float32", "float64")


# --------------------------------------------------------------------------------------------- #
# EASE                                                                                          #
# --------------------------------------------------------------------------------------------- #


def _diagonal_penalty(X: sp.csr_matrix, regularization: float, dropout: float) -> np.ndarray:
    """``lambda + p / (1 - p) diag(X^T X)``: EASE's (p = 0) or EDLAE's per-item penalty."""
    gram_diagonal = np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
    return regularization + dropout / (1.0 - dropout) * gram_diagonal


def _inverse_items(X: sp.csr_matrix, penalty: np.ndarray) -> np.ndarray:
    """``(X^T X + diag(penalty))^-1`` by Cholesky on the item Gram matrix."""
    G = (X.T @ X).toarray().astype(np.float64, copy=False)
    G[np.diag_indices_from(G)] += penalty
    factor, info = la.lapack.dpotrf(G, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"the item Gram matrix plus the penalty is not positive definite (dpotrf {info})")
    inverse, info = la.lapack.dpotri(factor, lower=False, overwrite_c=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"inverting the item Gram matrix failed (dpotri {info})")
    upper = np.triu_indices_from(inverse, 1)
    inverse[(upper[1], upper[0])] = inverse[upper]  # dpotri fills the upper triangle only
    return inverse


def _inverse_users(X: sp.csr_matrix, penalty: np.ndarray) -> np.ndarray:
    """``(X^T X + diag(penalty))^-1`` by the Woodbury identity (an n_users x n_users solve)."""
    inv_penalty = 1.0 / penalty
    Y = sp.csr_matrix(X.multiply(inv_penalty[None, :]), dtype=np.float64)  # X Lambda^-1
    S = (Y @ X.T).toarray().astype(np.float64, copy=False)  # X Lambda^-1 X^T
    S[np.diag_indices_from(S)] += 1.0
    K = la.cho_solve(la.cho_factor(S, overwrite_a=True, check_finite=False), np.eye(S.shape[0]), check_finite=False)
    KY = np.ascontiguousarray(np.asarray(Y.T @ K).T)  # K Y through the sparse side: O(nnz n_users)
    P = np.asarray(Y.T @ KY)  # Lambda^-1 X^T (I + X Lambda^-1 X^T)^-1 X Lambda^-1
    np.negative(P, out=P)
    P[np.diag_indices_from(P)] += inv_penalty
    return P


def ease_weights(X, regularization: float = 500.0, dropout: float = 0.0, solver: str = "auto") -> np.ndarray:
    """EASE's (EDLAE's with ``dropout > 0``) item-item matrix ``B`` (n_items x n_items, float64).

    ``B = I - P diag(1 / diag(P))`` with ``P = (X^T X + Lambda)^-1``; its diagonal is exactly 0.
    ``solver`` picks the route (see the module docstring); both give the same ``B``. The result
    is the transpose of a C-ordered array (``B.T`` is the contiguous item-vector matrix).
    """
    X, _ = check_fit_inputs(X, positives=True)
    check_positive(regularization=regularization)
    dropout = float(dropout)
    if dropout:
        check_fraction("dropout", dropout)
    check_choice("solver", solver, _SOLVERS)
    X = X.astype(np.float64)
    penalty = _diagonal_penalty(X, float(regularization), dropout)
    if solver == "auto":
        solver = "users" if X.shape[0] < X.shape[1] else "items"
    P = _inverse_users(X, penalty) if solver == "users" else _inverse_items(X, penalty)
    # B_ij = -P_ij / P_jj: column j scaled. P is symmetric, so B^T is P with row j scaled,
    # which keeps the item vectors (rows of B^T) contiguous.
    P /= -np.diag(P).copy()[:, None]
    np.fill_diagonal(P, 0.0)
    return P.T


class EASE(FactorModel):
    """Embarrassingly shallow autoencoder (Steck 2019); with ``dropout > 0``, EDLAE (Steck 2020).

    Args:
        regularization: ``lambda``, the ridge penalty on ``B`` (Steck used 500 on ML-20M-sized data).
        dropout: EDLAE's emphasised-dropout share ``p`` in [0, 1); 0 = plain EASE.
        solver: ``"auto"``, ``"items"`` (invert the item Gram matrix) or ``"users"`` (Woodbury).
        dtype: ``"float32"`` or ``"float64"``, the dtype ``B`` is kept in (it is computed in float64).

    Fitted: ``weights_`` (``B``, n_items x n_items, zero diagonal), ``item_factors_`` (``B^T``:
    row ``j`` is column ``j`` of ``B``), ``user_factors_`` (each user's training row, dense),
    ``interactions_`` (the same rows, sparse), ``n_users_``, ``n_items_``, and a one-entry
    ``history_`` (a closed form has one "iteration"; a callback runs once).
    """

    learns_from = "positives"
    positive_values = "strength"

    def __init__(
        self, regularization: float = 500.0, dropout: float = 0.0, solver: str = "auto", dtype: str = "float32"
    ) -> None:
        self.regularization = regularization
        self.dropout = dropout
        self.solver = solver
        self.dtype = dtype

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> EASE:
        """Solve for ``B`` on the users x items CSR ``X`` (every stored entry a positive)."""
        check_choice("dtype", self.dtype, _DTYPES)
        check_non_negative(dropout=self.dropout)
        X, _ = check_fit_inputs(X, validation, positives=True)
        start = time.perf_counter()
        B = ease_weights(X, self.regularization, self.dropout, self.solver)
        self.item_factors_ = B.T.astype(self.dtype, copy=False)
        self.interactions_ = sp.csr_matrix(X, dtype=self.dtype)
        self.n_users_, self.n_items_ = X.shape
        record = {"iteration": 1, "seconds": time.perf_counter() - start}
        run_callback(callback, self, 1, record)
        self.history_ = [record]
        check_finite_fit(self)
        return self

    @property
    def weights_(self) -> np.ndarray:
        """``B`` itself (a transposed view of ``item_factors_``)."""
        return self.item_factors_.T

    @property
    def user_factors_(self) -> np.ndarray:
        """Each user's training row as a dense vector: EASE's user "embedding" (n_items wide)."""
        if not hasattr(self, "interactions_"):
            raise AttributeError("user_factors_")
        return self.interactions_.toarray()

    def score(self, users) -> np.ndarray:
        """``x_u B`` for ``users``: the same numbers as the factor form, from the sparse rows."""
        users = self._check_users(users)
        return np.asarray(self.interactions_[users] @ self.weights_)


# --------------------------------------------------------------------------------------------- #
# Mult-VAE / Mult-DAE                                                                           #
# --------------------------------------------------------------------------------------------- #


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def _weight_names(decoder: str) -> tuple[str, ...]:
    return ("W1", "W2", "W3") + (("W4",) if decoder == "mirror" else ())


def vae_forward(params: dict, X_in, eps: np.ndarray | None, decoder: str, variational: bool) -> dict:
    """The network's activations for the (sparse or dense) encoder input ``X_in``.

    ``eps`` (batch x factors) is the reparameterisation noise; ``None`` gives ``z = mu`` (how the
    fitted model scores). Returns a dict with ``h1``, ``mu``, ``logvar`` (variational only),
    ``z``, ``h3`` (mirror decoder only) and ``logits``.
    """
    a = {"h1": np.tanh(np.asarray(X_in @ params["W1"]) + params["b1"])}
    out = a["h1"] @ params["W2"] + params["b2"]
    if variational:
        k = out.shape[1] // 2
        a["mu"], a["logvar"] = out[:, :k], out[:, k:]
        a["z"] = a["mu"] if eps is None else a["mu"] + eps * np.exp(0.5 * a["logvar"])
    else:
        a["mu"] = a["z"] = out
    if decoder == "mirror":
        a["h3"] = np.tanh(a["z"] @ params["W3"] + params["b3"])
        a["logits"] = a["h3"] @ params["W4"] + params["b4"]
    else:
        a["logits"] = a["z"] @ params["W3"] + params["b3"]
    return a


def vae_loss_and_gradients(
    params: dict,
    X_in,
    X_target,
    eps: np.ndarray | None,
    beta: float,
    *,
    decoder: str = "linear",
    variational: bool = True,
    regularization: float = 0.0,
) -> tuple[float, dict, dict]:
    """The minibatch loss of Mult-VAE/DAE and its gradient with respect to every parameter.

    ``X_in`` is the encoder input (normalised, dropped out), ``X_target`` the raw rows the
    multinomial likelihood scores (both batch x n_items, sparse or dense), ``eps`` the noise
    (``None``: no sampling). Loss = mean over the batch of the negative log-likelihood, plus
    ``beta`` times the mean KL (variational), plus ``regularization / 2`` times the squared
    norm of the weight matrices. Returns ``(loss, grads, parts)`` with ``parts`` holding the
    ``nll`` and ``kl`` terms.

    The backward pass, layer by layer (``B`` = batch size, ``N_u = sum_i x_ui``):
    ``dlogits = (softmax(logits) N_u - x) / B``; through a linear layer ``y = h W + b``:
    ``dW = h^T dy``, ``db = sum_rows dy``, ``dh = dy W^T``; through ``tanh``: ``da = dh (1 - h^2)``;
    through ``z = mu + eps exp(logvar / 2)``: ``dmu = dz``, ``dlogvar = dz eps exp(logvar / 2) / 2``;
    the KL adds ``beta mu / B`` to ``dmu`` and ``beta (exp(logvar) - 1) / (2 B)`` to ``dlogvar``.
    """
    a = vae_forward(params, X_in, eps, decoder, variational)
    B = a["logits"].shape[0]
    target = X_target.toarray() if sp.issparse(X_target) else np.asarray(X_target)
    log_p = _log_softmax(a["logits"])
    counts = target.sum(axis=1, keepdims=True)
    nll = -float(np.sum(target * log_p)) / B
    grads: dict = {}
    dlogits = (np.exp(log_p) * counts - target) / B
    if decoder == "mirror":
        grads["W4"] = a["h3"].T @ dlogits
        grads["b4"] = dlogits.sum(axis=0)
        da3 = (dlogits @ params["W4"].T) * (1.0 - a["h3"] ** 2)
        grads["W3"] = a["z"].T @ da3
        grads["b3"] = da3.sum(axis=0)
        dz = da3 @ params["W3"].T
    else:
        grads["W3"] = a["z"].T @ dlogits
        grads["b3"] = dlogits.sum(axis=0)
        dz = dlogits @ params["W3"].T
    kl = 0.0
    if variational:
        mu, logvar = a["mu"], a["logvar"]
        kl = float(-0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar))) / B
        dmu = dz + beta * mu / B
        dlogvar = beta * 0.5 * (np.exp(logvar) - 1.0) / B
        if eps is not None:
            dlogvar = dlogvar + dz * eps * 0.5 * np.exp(0.5 * logvar)
        dout = np.hstack([dmu, dlogvar])
    else:
        dout = dz
    grads["W2"] = a["h1"].T @ dout
    grads["b2"] = dout.sum(axis=0)
    da1 = (dout @ params["W2"].T) * (1.0 - a["h1"] ** 2)
    grads["W1"] = np.asarray(X_in.T @ da1)
    grads["b1"] = da1.sum(axis=0)
    penalty = 0.0
    if regularization:
        for name in _weight_names(decoder):
            penalty += 0.5 * regularization * float(np.sum(params[name] ** 2))
            grads[name] = grads[name] + regularization * params[name]
    loss = nll + beta * kl + penalty
    return loss, grads, {"nll": nll, "kl": kl}


def _normalise_rows(X: sp.csr_matrix) -> sp.csr_matrix:
    """Rows scaled to unit L2 norm (empty rows stay empty)."""
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return sp.csr_matrix(sp.diags(scale.astype(X.dtype)) @ X)


class MultVAE(FactorModel):
    """Mult-VAE (Liang et al. 2018) in numpy; ``variational=False`` gives Mult-DAE.

    Args:
        factors: latent dimension (200 in the paper).
        hidden: width of the encoder's hidden layer (and of the mirror decoder's; 600 in the paper).
        decoder: ``"linear"`` (``z W3 + b3``: the factor form is the encoder mean) or
            ``"mirror"`` (the paper's ``tanh(z W3 + b3) W4 + b4``).
        variational: sample ``z`` and add the KL term (Mult-VAE); ``False``: Mult-DAE.
        iterations: epochs (passes over the users).
        learning_rate: Adam's step size.
        batch_size: users per step.
        dropout: share of input entries dropped at training time (the inputs are rescaled by
            ``1 / (1 - dropout)``, as inverted dropout does).
        anneal_cap: the largest KL weight ``beta``.
        anneal_epochs: epochs over which ``beta`` rises linearly (update by update) from 0 to
            ``anneal_cap``; it then stays there.
        regularization: L2 weight on the weight matrices (0 in the paper's VAE).
        dtype: ``"float32"`` (fast) or ``"float64"``.
        early_stopping, patience: stop when the callback's ``early_stopping`` entry (e.g.
            ``"val_ndcg@10"``) has not improved for ``patience`` epochs and keep the best epoch's
            weights (:class:`~recsys.models.training.EarlyStopping`); ignored without a callback.
        num_threads: BLAS threads for the dense products (1 = serial and reproducible, 0 = all
            cores). On a busy machine one thread is much faster than several fighting for cores.
        random_state: seed (default 0, so two fits agree), ``numpy.random.Generator`` or ``None`` (fresh entropy) (initial weights, batches,
            dropout masks and noise).

    Fitted: ``params_`` (the weights), ``user_factors_``, ``item_factors_``, ``item_bias_`` (the
    factor form above, computed from each user's full training row without dropout or noise),
    ``n_users_``, ``n_items_``, ``best_iteration_`` and ``history_`` (per epoch: ``iteration``,
    ``seconds``, ``train_loss`` (mean minibatch loss), ``nll``, ``kl``, ``beta``, and what the
    callback returns).
    """

    learns_from = "positives"
    positive_values = "presence"

    def __init__(
        self,
        factors: int = 200,
        hidden: int = 600,
        decoder: str = "linear",
        variational: bool = True,
        iterations: int = 100,
        learning_rate: float = 1e-3,
        batch_size: int = 100,
        dropout: float = 0.5,
        anneal_cap: float = 0.2,
        anneal_epochs: int = 50,
        regularization: float = 0.0,
        dtype: str = "float32",
        early_stopping: str | None = None,
        patience: int = 10,
        num_threads: int = 1,
        random_state: int | np.random.Generator | None = 0,
    ) -> None:
        self.factors = factors
        self.hidden = hidden
        self.decoder = decoder
        self.variational = variational
        self.iterations = iterations
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.dropout = dropout
        self.anneal_cap = anneal_cap
        self.anneal_epochs = anneal_epochs
        self.regularization = regularization
        self.dtype = dtype
        self.early_stopping = early_stopping
        self.patience = patience
        self.num_threads = num_threads
        self.random_state = random_state

    def _validate(self) -> None:
        check_integer("num_threads", self.num_threads, 0)
        for name in ("factors", "hidden", "iterations", "batch_size"):
            check_integer(name, getattr(self, name), 1)
        check_integer("anneal_epochs", self.anneal_epochs, 1)
        check_positive(learning_rate=self.learning_rate)
        check_non_negative(anneal_cap=self.anneal_cap, regularization=self.regularization, dropout=self.dropout)
        if self.dropout >= 1:
            raise ValueError(f"dropout must be a share in [0, 1), got {self.dropout!r}")
        check_choice("decoder", self.decoder, _DECODERS)
        check_choice("dtype", self.dtype, _DTYPES)
        if not isinstance(self.variational, (bool, np.bool_)):
            raise TypeError(f"variational must be True or False, got {self.variational!r}")
        check_early_stopping(self.early_stopping, self.patience)
        check_seed("random_state", self.random_state)

    def _initial_params(self, n_items: int, rng: np.random.Generator) -> dict:
        """Glorot-normal weights, zero biases (the paper: Xavier weights, near-zero biases)."""
        k, h = int(self.factors), int(self.hidden)
        shapes = {"W1": (n_items, h), "W2": (h, 2 * k if self.variational else k)}
        if self.decoder == "mirror":
            shapes.update(W3=(k, h), W4=(h, n_items))
        else:
            shapes["W3"] = (k, n_items)
        params = {}
        for index, (name, (fan_in, fan_out)) in enumerate(shapes.items(), start=1):
            std = np.sqrt(2.0 / (fan_in + fan_out))
            params[name] = rng.normal(0.0, std, size=(fan_in, fan_out)).astype(self.dtype)
            params[f"b{index}"] = np.zeros(fan_out, dtype=self.dtype)
        return params

    def _expose(self, X_normalised: sp.csr_matrix) -> None:
        """Set the factor form from the current weights: encoder means and decoder weights."""
        a = vae_forward(self.params_, X_normalised, None, self.decoder, bool(self.variational))
        if self.decoder == "mirror":
            self.user_factors_, self.item_factors_, self.item_bias_ = a["h3"], self.params_["W4"].T, self.params_["b4"]
        else:
            self.user_factors_, self.item_factors_, self.item_bias_ = a["z"], self.params_["W3"].T, self.params_["b3"]

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> MultVAE:
        """Train on the users x items CSR ``X`` of positives; ``callback`` as in :data:`FitCallback`."""
        self._validate()
        with threadpool_limits(int(self.num_threads) or None, "blas"):
            return self._fit(X, validation, callback)

    def _fit(self, X, validation, callback) -> MultVAE:
        X, _ = check_fit_inputs(X, validation, positives=True)
        rng = random_generator(self.random_state)
        X = sp.csr_matrix(X, dtype=self.dtype)
        X.data[:] = 1.0
        n_users, n_items = X.shape
        normalised = _normalise_rows(X)
        self.n_users_, self.n_items_ = n_users, n_items
        self.params_ = params = self._initial_params(n_items, rng)
        optimizer = Adam(params, self.learning_rate)
        batch, variational, keep = int(self.batch_size), bool(self.variational), 1.0 - float(self.dropout)
        steps_per_epoch = -(-n_users // batch)
        anneal_steps = int(self.anneal_epochs) * steps_per_epoch
        stopper = EarlyStopping(self.early_stopping, self.patience, active=callback is not None)
        self.history_, self.best_iteration_ = [], None
        order = np.arange(n_users)
        step, seconds = 0, 0.0
        for iteration in range(1, self.iterations + 1):
            start = time.perf_counter()
            rng.shuffle(order)
            totals = np.zeros(3)
            for rows in minibatches(order, batch):
                beta = min(float(self.anneal_cap), self.anneal_cap * step / anneal_steps) if variational else 0.0
                X_in = normalised[rows]
                if keep < 1.0:
                    X_in = X_in.copy()
                    X_in.data *= (rng.random(X_in.nnz) < keep) / keep
                eps = rng.standard_normal((rows.size, int(self.factors))).astype(self.dtype) if variational else None
                loss, grads, parts = vae_loss_and_gradients(
                    params,
                    X_in,
                    X[rows],
                    eps,
                    beta,
                    decoder=self.decoder,
                    variational=variational,
                    regularization=float(self.regularization),
                )
                optimizer.step(grads)
                totals += (loss * rows.size, parts["nll"] * rows.size, parts["kl"] * rows.size)
                step += 1
            if not np.isfinite(totals[0]):
                raise FloatingPointError(f"MultVAE diverged at epoch {iteration}; lower learning_rate")
            seconds += time.perf_counter() - start
            record = {"iteration": iteration, "seconds": seconds, "train_loss": totals[0] / n_users}
            record.update(nll=totals[1] / n_users, kl=totals[2] / n_users, beta=beta)
            if callback is not None:
                self._expose(normalised)
                run_callback(callback, self, iteration, record)
            self.history_.append(record)
            if stopper.update(iteration, record, lambda: {n: a.copy() for n, a in params.items()}):
                break
        if stopper.best_state is not None:
            for name, array in params.items():
                array[...] = stopper.best_state[name]
            self.best_iteration_ = stopper.best_iteration
        self._expose(normalised)
        check_finite_fit(self)
        return self
