"""Planted low-rank rating data shared by the model tests (imported, not collected: no test_ prefix)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import subspace_angles

from recsys.evaluation import evaluate_ranking

NOISE = 0.1


def planted(n_users=400, n_items=300, rank=5, noise=NOISE, density=0.3, test_fraction=0.1, seed=0, mu=3.5):
    """Ratings mu + b_u + b_i + p_u . q_i + noise on a random `density` of the pairs.

    Returns (train CSR, test CSR, truth dict with P, Q, bu, bi, mu). The factor part has unit
    variance per entry, so the signal dominates the noise.
    """
    rng = np.random.default_rng(seed)
    scale = rank**-0.25
    P = rng.standard_normal((n_users, rank)) * scale
    Q = rng.standard_normal((n_items, rank)) * scale
    bu, bi = rng.normal(0, 0.3, n_users), rng.normal(0, 0.3, n_items)
    observed = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(observed)
    ratings = mu + bu[users] + bi[items] + np.einsum("ij,ij->i", P[users], Q[items])
    ratings += noise * rng.standard_normal(ratings.size)
    test = rng.random(ratings.size) < test_fraction

    def csr(mask):
        return sp.csr_matrix((ratings[mask], (users[mask], items[mask])), shape=(n_users, n_items))

    return csr(~test), csr(test), {"P": P, "Q": Q, "bu": bu, "bi": bi, "mu": mu}


def rmse(model, test: sp.csr_matrix) -> float:
    """RMSE of ``model.predict`` on the stored entries of ``test``."""
    coo = test.tocoo()
    return float(np.sqrt(np.mean((model.predict(coo.row, coo.col) - coo.data) ** 2)))


def max_angle_degrees(learned: np.ndarray, true: np.ndarray) -> float:
    """Largest principal angle between the column spans, after centring the columns.

    A constant shift of every item vector, q_i + c, is absorbed by the user biases
    (b_u - p_u . c), so the factors are only identified up to the all-ones direction.
    """
    centre = lambda A: A - A.mean(axis=0)  # noqa: E731
    return float(np.degrees(subspace_angles(centre(learned), centre(true)).max()))


def planted_positives(n_users=120, n_items=60, groups=3, p_in=0.6, p_out=0.03, held_out=0.3, seed=0):
    """Users in ``groups`` taste groups, each mostly watching its own share of the items.

    Returns (train, validation) CSRs of 1s (every user keeps at least one training item) and
    the ranking quality of the oracle that knows the groups (nDCG@5 on validation).
    """
    rng = np.random.default_rng(seed)
    user_group = rng.integers(0, groups, n_users)
    item_group = np.arange(n_items) % groups
    watched = rng.random((n_users, n_items)) < np.where(user_group[:, None] == item_group, p_in, p_out)
    hold = (rng.random(watched.shape) < held_out) & watched
    first = watched.argmax(axis=1)
    hold[np.arange(n_users), first] = False
    train = sp.csr_matrix((watched & ~hold).astype(np.float64))
    validation = sp.csr_matrix(hold.astype(np.float64))
    oracle = Scores(np.where(user_group[:, None] == item_group, 1.0, 0.0) + 1e-3 * rng.random(watched.shape))
    ndcg = evaluate_ranking(oracle, train, validation, k=5)["ndcg@5"]
    return train, validation, ndcg


class Scores:
    """A 'model' with fixed scores, for reference rankings."""

    def __init__(self, scores):
        self.scores = scores
        self.n_users_, self.n_items_ = scores.shape

    def score(self, users):
        return self.scores[users]
