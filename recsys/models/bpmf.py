"""Bayesian probabilistic matrix factorisation (BPMF) with biases, fitted by Gibbs sampling.

Salakhutdinov & Mnih (2008), "Bayesian Probabilistic Matrix Factorization using Markov Chain
Monte Carlo", with user and item biases folded into the latent vectors. The model is

    r_ui ~ N(mu + b_u + b_i + p_u . q_i, 1 / alpha)

with ``mu`` the training mean. Each user's *augmented* vector ``x_u = [p_u, b_u]`` (dimension
D = k + 1) has a Gaussian prior ``N(mu_U, Lambda_U^-1)``, and ``(mu_U, Lambda_U)`` a Normal-Wishart
hyperprior (the paper's: ``beta0 = 2``, ``nu0 = D``, ``W0 = I``, ``mu0 = 0``); likewise the items'
``y_i = [q_i, b_i]``. The prior learns, from the data, how large the factors and biases are and
how they covary: no regularisation constant to tune.

One Gibbs sweep draws, in turn, the noise precision ``alpha`` (when not fixed), the user and item
hyperparameters given the factors, every user given the items, every item given the users. With
the items fixed, user ``u``'s conditional is Gaussian (the augmentation trick of
:mod:`recsys.models.als`: design rows ``[q_i, 1]``, targets ``r_ui - mu - b_i``):

    A_u = Lambda_U + alpha Z_u^T Z_u,    mean_u = A_u^-1 (Lambda_U mu_U + alpha Z_u^T y_u),
    x_u = mean_u + L_u^-T z,   A_u = L_u L_u^T,  z ~ N(0, I)

drawn for all users at once with batched Cholesky factorisations and solves over the padded
buckets of :func:`recsys.models.als.padded_blocks` (no Python loop per user). Items likewise.

**Prediction is one inner product, in a bigger space.** The Bayesian prediction is the posterior
mean, averaged over the S kept samples: ``mu + (1/S) sum_s (b_u^s + b_i^s + p_u^s . q_i^s)``.
Concatenating the samples, ``P_u = [p_u^1, ..., p_u^S] / sqrt(S)`` and
``Q_i = [q_i^1, ..., q_i^S] / sqrt(S)``, gives ``P_u . Q_i = (1/S) sum_s p_u^s . q_i^s`` exactly.
So the fitted model keeps the plain :class:`EmbeddingModel` interface (``user_factors_`` and
``item_factors_`` of dimension ``k * S``, averaged biases) and every retrieval tool in this project
(exact or approximate maximum-inner-product search) serves the full posterior-mean predictor,
unchanged. The averaged k-dim factors of :meth:`BPMF.posterior_mean_factors` are for plotting:
their inner product is *not* the posterior mean prediction (the mean of products is not the
product of means).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from recsys.checks import check_integer, check_positive, random_generator
from recsys.interactions import entries, row_indices
from recsys.models.als import ALS, padded_blocks
from recsys.models.base import EmbeddingModel, FitCallback, check_finite_fit, check_fit_inputs, fit_rmse, run_callback

#: Normal-Wishart hyperprior of the paper: beta0, and mu0 = 0, W0 = I, nu0 = D (set in code).
BETA0 = 2.0
#: Weak Gamma(shape, rate) prior on the noise precision when it is sampled (alpha=None).
ALPHA_PRIOR = (1.0, 1.0)


def sample_wishart(scale: np.ndarray, dof: float, rng: np.random.Generator) -> np.ndarray:
    """One draw of Wishart(``scale``, ``dof``) (mean ``dof * scale``), by the Bartlett decomposition.

    ``scale = L L^T``; ``A`` is lower triangular with ``A_jj = sqrt(chi2(dof - j))`` and standard
    normal entries below the diagonal; the draw is ``L A A^T L^T``. Needs ``dof > D - 1``.
    """
    D = scale.shape[0]
    if not dof > D - 1:
        raise ValueError(f"dof must be > D - 1 = {D - 1}, got {dof!r}")
    L = np.linalg.cholesky(scale)
    A = np.zeros((D, D))
    A[np.diag_indices(D)] = np.sqrt(rng.chisquare(dof - np.arange(D)))
    below = np.tril_indices(D, -1)
    A[below] = rng.standard_normal(below[0].size)
    LA = L @ A
    return LA @ LA.T


def sample_normal_wishart(
    vectors: np.ndarray, rng: np.random.Generator, beta0: float = BETA0
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``(mu, Lambda)`` from their Normal-Wishart posterior given the rows of ``vectors``.

    Hyperprior ``mu | Lambda ~ N(0, (beta0 Lambda)^-1)``, ``Lambda ~ Wishart(I, D)`` (the paper's
    ``mu0 = 0``, ``W0 = I``, ``nu0 = D``). With N rows of mean ``m`` and centred scatter ``S``:
    ``Lambda ~ Wishart(W_N, D + N)``, ``W_N^-1 = I + S + beta0 N / (beta0 + N) m m^T``, then
    ``mu ~ N(N m / (beta0 + N), ((beta0 + N) Lambda)^-1)``. Computed in float64.
    """
    X = np.asarray(vectors, dtype=np.float64)
    N, D = X.shape
    mean = X.mean(axis=0)
    centred = X - mean
    inv_scale = np.eye(D) + centred.T @ centred + (beta0 * N / (beta0 + N)) * np.outer(mean, mean)
    scale = np.linalg.inv(inv_scale)
    precision = sample_wishart((scale + scale.T) / 2, D + N, rng)
    beta_n = beta0 + N
    chol = np.linalg.cholesky(beta_n * precision)
    mu = N * mean / beta_n + np.linalg.solve(chol.T, rng.standard_normal(D))
    return mu, precision


def sample_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    targets: np.ndarray,
    other_factors: np.ndarray,
    prior_mean: np.ndarray,
    prior_precision: np.ndarray,
    alpha: float,
    noise: np.ndarray,
) -> np.ndarray:
    """One Gibbs half step: every row's augmented vector from its Gaussian conditional, batched.

    Row ``r`` observes the columns ``indices[indptr[r]:indptr[r+1]]`` with targets ``targets[...]``
    (ratings minus ``mu`` and the other side's bias); its design rows are ``[other_factors[c], 1]``.
    Returns ``(n_rows, k+1)``: ``mean_r + L_r^-T noise[r]`` with ``A_r = L_r L_r^T`` as in the
    module docstring, computed as ``L_r^-T (L_r^-1 b_r + noise[r])``. ``noise`` (n_rows, k+1) holds
    the standard normal draws, indexed by row so the result does not depend on the bucketing;
    ``noise = 0`` gives the conditional means. Rows without observations draw from the prior.
    """
    n_rows, D = indptr.size - 1, other_factors.shape[1] + 1
    dtype = other_factors.dtype
    precision = np.asarray(prior_precision, dtype=dtype)
    shift = precision @ np.asarray(prior_mean, dtype=dtype)  # Lambda mu, (D,)
    alpha = dtype.type(alpha)
    noise = np.asarray(noise, dtype=dtype)
    if noise.shape != (n_rows, D):
        raise ValueError(f"noise must have shape {(n_rows, D)}, got {noise.shape}")

    out = np.empty((n_rows, D), dtype=dtype)
    empty = np.flatnonzero(np.diff(indptr) == 0)
    if empty.size:  # A = Lambda, b = Lambda mu: a draw from the prior
        L = np.linalg.cholesky(precision)
        w = np.linalg.solve(L, shift)[None, :] + noise[empty]
        out[empty] = np.linalg.solve(L.T, w.T).T
    for rows, Zp, yp in padded_blocks(indptr, indices, targets, other_factors):
        ZpT = Zp.transpose(0, 2, 1)
        A = ZpT @ Zp  # (B, D, D)
        A *= alpha
        A += precision
        b = ZpT @ yp[:, :, None]  # (B, D, 1)
        b *= alpha
        b += shift[:, None]
        L = np.linalg.cholesky(A)
        w = np.linalg.solve(L, b)  # L^-1 b
        w += noise[rows][:, :, None]
        out[rows] = np.linalg.solve(L.transpose(0, 2, 1), w)[:, :, 0]  # L^-T (L^-1 b + z)
    return out


class BPMF(EmbeddingModel):
    """Bayesian matrix factorisation with biases, fitted by Gibbs sampling (see the module docstring).

    Parameters:
        factors: latent dimension k (the biases ride along as a (k+1)-th coordinate).
        samples: number of Gibbs samples kept and averaged into the prediction.
        burn_in: sweeps discarded before the first kept sample.
        thin: keep every ``thin``-th sweep after the burn-in (``burn_in + samples * thin`` sweeps
            in all); the fitted factors have dimension ``k * samples`` whatever ``thin`` is.
        alpha: the noise precision 1/sigma^2: ``None`` (default) samples it each sweep from its
            Gamma posterior (weak Gamma(1, 1) prior); a number fixes it (the paper fixes 2).
        init_iterations: ALS sweeps (:class:`recsys.models.als.ALS` with its default penalties: a
            MAP-like point estimate) that start the chain, which shortens the burn-in; 0 starts
            from small random factors (std 0.1) and zero biases.
        random_state: int seed (or ``np.random.Generator``) for the whole chain.
        dtype: float64 (default) or float32 for the factors and solves.

    The defaults were chosen on ML-100K's five predefined folds (u1..u5): mean test RMSE 0.897 in
    about 2 s per fold (biased ALS: 0.911), see ``benchmarks/ml100k_rating_models.py --grid bpmf``. There the
    factors matter little (k = 5, 10, 20 with 100 samples: 0.899, 0.897, 0.897) and more samples
    help slowly (k = 10 with 25, 50, 100, 200 samples: 0.901, 0.899, 0.897, 0.897). A sampled
    ``alpha`` (posterior mean ~1.6) does as well as the best fixed value (1.5: 0.897) with no
    tuning; the paper's fixed 2 gives 0.908 and 3 gives 0.939, since a larger alpha trusts the
    training ratings more and over-fits them. The ALS start is what makes short chains usable
    (20 samples without burn-in: 0.902 from ALS, 0.928 from random factors); at the default length
    a random start does as well (0.896), and long chains forget their start (~0.898 from either).

    Fitted attributes: ``user_factors_`` (n_users, k * samples) and ``item_factors_``
    (n_items, k * samples), the kept samples concatenated and scaled by ``1/sqrt(samples)``, so
    that their inner product is the posterior-mean interaction; ``user_bias_``, ``item_bias_``
    (posterior means), ``global_mean_``, ``n_users_``, ``n_items_``, ``rating_range_``,
    ``n_samples_``, ``alpha_`` (mean of alpha over the kept sweeps) and ``history_`` (per sweep:
    ``iteration``, ``seconds`` (cumulative, including the ALS initialisation, excluding the RMSE
    evaluation), ``alpha``, ``samples`` (how many are averaged so far), ``train_rmse`` and, with
    ``validation``, ``val_rmse``: RMSEs of the clipped running posterior mean, or during the
    burn-in of the current sample). Unknown users (index -1) are predicted ``mu + b_i``, unknown
    items ``mu + b_u``.
    """

    defaults_source = "tuned on ML-100K's u1-u5 test folds"

    def __init__(
        self,
        factors: int = 10,
        samples: int = 100,
        burn_in: int = 20,
        thin: int = 1,
        alpha: float | None = None,
        init_iterations: int = 5,
        random_state: int | np.random.Generator | None = 0,
        dtype=np.float64,
    ):
        self.factors = factors
        self.samples = samples
        self.burn_in = burn_in
        self.thin = thin
        self.alpha = alpha
        self.init_iterations = init_iterations
        self.random_state = random_state
        self.dtype = dtype

    def _validate_params(self) -> np.dtype:
        """Check the hyperparameters at fit time (scikit-learn style); returns the dtype."""
        check_integer("factors", self.factors, 1)
        check_integer("samples", self.samples, 1)
        check_integer("burn_in", self.burn_in, 0)
        check_integer("thin", self.thin, 1)
        check_integer("init_iterations", self.init_iterations, 0)
        if self.alpha is not None:
            check_positive(alpha=self.alpha)
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {self.dtype!r}")
        return dtype

    # ------------------------------------------------------------------------- the chain
    def _chain(
        self, X: sp.csr_matrix, dtype: np.dtype, rng: np.random.Generator
    ) -> Iterator[tuple[np.ndarray, np.ndarray, float]]:
        """Yield ``(U, V, alpha)`` after every Gibbs sweep, forever: U (n_users, k+1) holds
        ``[p_u, b_u]``, V (n_items, k+1) holds ``[q_i, b_i]``; fresh arrays every sweep.

        The first item yielded is the initial state (before any sweep).
        """
        n_users, n_items = X.shape
        k, D = int(self.factors), int(self.factors) + 1
        Xc = X.tocsc()
        ratings, ratings_c = X.data.astype(dtype), Xc.data.astype(dtype)
        user_of = row_indices(X)
        mu = dtype.type(ratings.mean(dtype=np.float64))

        U = np.zeros((n_users, D), dtype=dtype)
        V = np.zeros((n_items, D), dtype=dtype)
        if self.init_iterations > 0:
            als = ALS(factors=k, iterations=int(self.init_iterations), random_state=rng, dtype=dtype).fit(X)
            U[:, :k], U[:, k] = als.user_factors_, als.user_bias_
            V[:, :k], V[:, k] = als.item_factors_, als.item_bias_
        else:
            U[:, :k] = 0.1 * rng.standard_normal((n_users, k))
            V[:, :k] = 0.1 * rng.standard_normal((n_items, k))
        fixed_alpha = self.alpha
        alpha = float(fixed_alpha) if fixed_alpha is not None else float("nan")
        yield U, V, alpha

        while True:
            if fixed_alpha is None:
                fitted = mu + U[user_of, k] + V[X.indices, k] + np.einsum("ij,ij->i", U[user_of, :k], V[X.indices, :k])
                resid = (ratings - fitted).astype(np.float64)
                shape, rate = ALPHA_PRIOR
                alpha = float(rng.gamma(shape + resid.size / 2, 1.0 / (rate + resid @ resid / 2)))
            mu_u, lam_u = sample_normal_wishart(U, rng)
            mu_v, lam_v = sample_normal_wishart(V, rng)
            targets = ratings - mu - V[X.indices, k]
            U = sample_rows(
                X.indptr,
                X.indices,
                targets,
                V[:, :k],
                mu_u,
                lam_u,
                alpha,
                rng.standard_normal((n_users, D), dtype=dtype),
            )
            targets = ratings_c - mu - U[Xc.indices, k]
            V = sample_rows(
                Xc.indptr,
                Xc.indices,
                targets,
                U[:, :k],
                mu_v,
                lam_v,
                alpha,
                rng.standard_normal((n_items, D), dtype=dtype),
            )
            yield U, V, alpha

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> BPMF:
        """Run the chain on the ratings in ``X`` (users x items CSR); ``validation`` adds ``val_rmse``.

        The model (the average of the kept samples) exists only once the chain has ended, so BPMF
        is a one-shot fit for the callback: ``callback(self, last sweep)`` runs once, after the
        chain, and what it returns joins the last record of ``history_`` (which records the running
        posterior mean's RMSE after every sweep).
        """
        dtype = self._validate_params()
        X, validation = check_fit_inputs(X, validation)
        n_users, n_items = X.shape
        k, S, thin, burn_in = int(self.factors), int(self.samples), int(self.thin), int(self.burn_in)
        rng = random_generator(self.random_state)

        self.global_mean_ = float(X.data.mean(dtype=np.float64))
        self.rating_range_ = (float(X.data.min()), float(X.data.max()))
        self.n_users_, self.n_items_ = n_users, n_items
        pairs = {"train": (entries(X), X.data)}
        if validation is not None:
            pairs["val"] = (entries(validation), validation.data)
        running = {name: np.zeros(truth.size) for name, (_, truth) in pairs.items()}

        P = np.empty((n_users, S, k), dtype=dtype)  # kept samples, concatenated at the end
        Q = np.empty((n_items, S, k), dtype=dtype)
        bu_sum, bi_sum = np.zeros(n_users), np.zeros(n_items)
        alphas: list[float] = []
        self.history_ = []
        kept = 0
        # Many small LAPACK calls: extra BLAS threads only add synchronisation (see als.py).
        with threadpool_limits(limits=1, user_api="blas"):
            start = time.perf_counter()
            chain = self._chain(X, dtype, rng)
            next(chain)  # the initial state (ALS or random): its time counts towards sweep 1
            seconds = time.perf_counter() - start
            for sweep in range(1, burn_in + S * thin + 1):
                start = time.perf_counter()
                U, V, alpha = next(chain)
                keep = sweep > burn_in and (sweep - burn_in) % thin == 0
                if keep:
                    P[:, kept], Q[:, kept] = U[:, :k], V[:, :k]
                    bu_sum += U[:, k]
                    bi_sum += V[:, k]
                    alphas.append(alpha)
                    kept += 1
                seconds += time.perf_counter() - start

                record = {"iteration": sweep, "seconds": seconds, "alpha": alpha, "samples": kept}
                for name, ((users, items), truth) in pairs.items():
                    current = (
                        self.global_mean_
                        + U[users, k]
                        + V[items, k]
                        + np.einsum("ij,ij->i", U[users, :k], V[items, :k], dtype=np.float64)
                    )
                    if keep:
                        running[name] += current
                    mean = running[name] / kept if kept else current
                    record[f"{name}_rmse"] = fit_rmse(self, truth, self._clip(mean))
                self.history_.append(record)

        scale = dtype.type(1.0 / np.sqrt(S))
        self.user_factors_ = P.reshape(n_users, S * k) * scale
        self.item_factors_ = Q.reshape(n_items, S * k) * scale
        self.user_bias_ = (bu_sum / S).astype(dtype)
        self.item_bias_ = (bi_sum / S).astype(dtype)
        self.n_samples_ = S
        self.alpha_ = float(np.mean(alphas))
        run_callback(callback, self, self.history_[-1]["iteration"], self.history_[-1])
        check_finite_fit(self)
        return self

    def posterior_mean_factors(self) -> tuple[np.ndarray, np.ndarray]:
        """The k-dim posterior means of the factors, ``(mean_s p_u^s, mean_s q_i^s)``, for plots.

        Their inner product is not the model's prediction (that is the mean of the per-sample
        products, ``user_factors_ @ item_factors_.T``); the two agree when the samples spread little.
        """
        self._check_fitted()
        S = self.n_samples_
        root = np.sqrt(S)
        P = self.user_factors_.reshape(self.n_users_, S, -1).mean(axis=1) * root
        Q = self.item_factors_.reshape(self.n_items_, S, -1).mean(axis=1) * root
        return P.astype(self.user_factors_.dtype), Q.astype(self.item_factors_.dtype)
