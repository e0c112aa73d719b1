"""The neighbourhood models: item-kNN, user-kNN, P3alpha and RP3beta against their formulas written densely."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from planted_data import planted_positives

from recsys.experiments import ranking_callback
from recsys.models.neighbours import ItemKNN, P3Alpha, RP3Beta, UserKNN, cosine_neighbours
from recsys.similarity import similarity


@pytest.fixture(scope="module")
def data():
    return planted_positives()


def _binary(n_users=50, n_items=30, density=0.2, seed=0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    return sp.csr_matrix((rng.random((n_users, n_items)) < density).astype(np.float64))


def _keep_top(dense: np.ndarray, k: int) -> np.ndarray:
    """Each row's k largest positive entries, the diagonal left out, ties to the smaller column."""
    out = np.zeros_like(dense)
    for i, row in enumerate(dense):
        row = row.copy()
        row[i] = -np.inf
        order = np.lexsort((np.arange(len(row)), -row))[:k]
        order = order[row[order] > 0]
        out[i, order] = row[order]
    return out


def test_cosine_neighbours_are_shrunk_cosines_of_the_top_k():
    X = _binary()
    V = X.T.toarray()
    norms = np.linalg.norm(V, axis=1)
    shrink = 3.0
    dense = (V @ V.T) / (norms[:, None] * norms[None, :] + shrink)
    got = cosine_neighbours(X.T, 4, shrink).toarray()
    np.testing.assert_allclose(got, _keep_top(dense, 4), rtol=1e-6, atol=1e-7)
    assert (np.diff(cosine_neighbours(X.T, 4, shrink).indptr) <= 4).all()


def test_item_knn_with_no_shrink_uses_notebook_05s_cosine_of_its_item_vectors():
    X = _binary(seed=1)
    model = ItemKNN(neighbours=29, shrink=0.0).fit(X)  # every other item kept
    V = model.item_vectors()
    assert V.shape == (30, 50)
    cosine = similarity(V.toarray(), V.toarray(), "cosine")
    np.fill_diagonal(cosine, 0.0)
    np.testing.assert_allclose(model.similarity_.toarray(), np.where(cosine > 0, cosine, 0.0), rtol=1e-5, atol=1e-6)
    users = np.arange(X.shape[0])
    np.testing.assert_allclose(model.score(users), X.toarray() @ model.similarity_.toarray().T, rtol=1e-6)


def test_user_knn_scores_are_neighbours_votes():
    X = _binary(seed=2)
    model = UserKNN(neighbours=6, shrink=1.0).fit(X)
    R = X.toarray()
    norms = np.linalg.norm(R, axis=1)
    dense = (R @ R.T) / (norms[:, None] * norms[None, :] + 1.0)
    S = _keep_top(dense, 6)
    np.testing.assert_allclose(model.score(np.arange(50)), S @ R, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("alpha, beta, normalize", [(1.0, 0.0, False), (0.7, 0.4, False), (1.3, 0.8, True)])
def test_rp3beta_is_the_three_step_walk_reweighted_by_popularity(alpha, beta, normalize):
    X = _binary(seed=3)
    R = X.toarray()
    P_ui = (R / R.sum(axis=1, keepdims=True).clip(min=1)) ** alpha
    P_iu = (R.T / R.T.sum(axis=1, keepdims=True).clip(min=1)) ** alpha
    popularity = R.sum(axis=0)
    W = (P_iu @ P_ui) * np.where(popularity > 0, popularity.clip(min=1) ** -beta, 0.0)
    W = _keep_top(W, 5)
    if normalize:
        sums = W.sum(axis=1, keepdims=True)
        W = np.divide(W, sums, out=np.zeros_like(W), where=sums > 0)
    model = RP3Beta(alpha=alpha, beta=beta, neighbours=5, normalize=normalize).fit(X)
    np.testing.assert_allclose(model.similarity_.toarray(), W, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(model.score(np.arange(50)), R @ W, rtol=1e-5, atol=1e-7)


def test_p3alpha_is_rp3beta_without_the_popularity_weight():
    X = _binary(seed=4)
    a = P3Alpha(alpha=0.9, neighbours=7).fit(X)
    b = RP3Beta(alpha=0.9, beta=0.0, neighbours=7).fit(X)
    assert (a.similarity_ != b.similarity_).nnz == 0
    assert P3Alpha(alpha=0.9).get_params() == {"alpha": 0.9, "neighbours": 100, "normalize": False}


@pytest.mark.parametrize(
    "model",
    [ItemKNN(20, 5.0), UserKNN(30, 5.0), RP3Beta(1.0, 0.3, 20), P3Alpha(1.0, 20)],
    ids=lambda m: type(m).__name__,
)
def test_every_neighbourhood_model_recommends_the_planted_groups(data, model):
    train, validation, oracle = data
    model.fit(train, callback=ranking_callback(train, validation, k=5))
    assert model.history_[0]["val_ndcg@5"] > 0.85 * oracle


def test_values_count_once_and_fits_repeat_exactly(data):
    train = data[0]
    weighted = train.copy()
    weighted.data = weighted.data * np.arange(1, weighted.nnz + 1)  # strengths: read as presence
    for cls in (ItemKNN, UserKNN, RP3Beta):
        a, b = cls().fit(train), cls().fit(weighted)
        assert (a.similarity_ != b.similarity_).nnz == 0
        assert (cls().fit(train).similarity_ != a.similarity_).nnz == 0


@pytest.mark.parametrize(
    "model, error, name",
    [
        (ItemKNN(neighbours=0), ValueError, "neighbours"),
        (ItemKNN(shrink=-1.0), ValueError, "shrink"),
        (UserKNN(neighbours=2.5), TypeError, "neighbours"),
        (RP3Beta(alpha=0.0), ValueError, "alpha"),
        (RP3Beta(beta=-0.1), ValueError, "beta"),
        (RP3Beta(neighbours=-3), ValueError, "neighbours"),
    ],
)
def test_bad_hyperparameters_are_named(data, model, error, name):
    with pytest.raises(error, match=name):
        model.fit(data[0])


def test_an_item_nobody_has_gets_no_neighbours_and_scores_zero():
    X = _binary(seed=5).tolil()
    X[:, 7] = 0
    X = X.tocsr()
    X.eliminate_zeros()
    for model in (ItemKNN(10, 1.0).fit(X), RP3Beta(1.0, 0.5, 10).fit(X)):
        assert model.similarity_[7].nnz == 0 and model.similarity_[:, 7].nnz == 0
        assert np.all(model.score(np.arange(X.shape[0]))[:, 7] == 0)
