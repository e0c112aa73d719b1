"""Tests of recsys.evaluation against a per-user reference loop, with a tiny fixed-factor model."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError

from recsys.evaluation import default_batch_size, evaluate_lists, evaluate_ranking, evaluate_ratings, recommend
from recsys.models.base import EmbeddingModel, Recommender

N_USERS, N_ITEMS, RANK = 30, 25, 3


class FixedFactors(EmbeddingModel):
    """An embedding model whose factors are given, not learned: r_ui = mu + p_u . q_i."""

    def __init__(self, user_factors=None, item_factors=None, global_mean=0.0):
        self.user_factors = user_factors
        self.item_factors = item_factors
        self.global_mean = global_mean

    def fit(self, X=None):
        self.user_factors_ = np.asarray(self.user_factors, dtype=np.float64)
        self.item_factors_ = np.asarray(self.item_factors, dtype=np.float64)
        self.global_mean_ = float(self.global_mean)
        self.n_users_, self.n_items_ = self.user_factors_.shape[0], self.item_factors_.shape[0]
        return self


class WrongShape(Recommender):
    def fit(self, X):
        self.n_users_, self.n_items_ = X.shape
        return self

    def score(self, users):
        return np.zeros((len(users), self.n_items_ - 1))


def random_split(seed: int = 0, density: float = 0.25):
    """A random train/test pair of disjoint rating matrices (ratings 1..5)."""
    rng = np.random.default_rng(seed)
    mask = rng.random((N_USERS, N_ITEMS)) < density
    ratings = rng.integers(1, 6, size=(N_USERS, N_ITEMS)).astype(np.float64)
    in_test = rng.random((N_USERS, N_ITEMS)) < 0.3
    train = sp.csr_matrix(np.where(mask & ~in_test, ratings, 0.0))
    test = sp.csr_matrix(np.where(mask & in_test, ratings, 0.0))
    return train, test


@pytest.fixture
def setup():
    rng = np.random.default_rng(42)
    model = FixedFactors(rng.standard_normal((N_USERS, RANK)), rng.standard_normal((N_ITEMS, RANK)), 3.0).fit()
    train, test = random_split()
    return model, train, test


def reference_evaluation(model, train, test, k, threshold=None, exclude_train=True):
    """One user at a time: rank every non-training item by score, then textbook metrics."""
    per_user = {name: [] for name in ("precision", "recall", "ndcg", "map", "hit_rate", "mrr")}
    users = []
    for u in range(train.shape[0]):
        row = test.getrow(u)
        relevant = {int(i) for i, r in zip(row.indices, row.data) if threshold is None or r >= threshold}
        if not relevant:
            continue
        users.append(u)
        scores = model.user_factors_[u] @ model.item_factors_.T
        seen = set(train.getrow(u).indices.tolist()) if exclude_train else set()
        ranked = sorted((i for i in range(train.shape[1]) if i not in seen), key=lambda i: (-scores[i], i))[:k]
        hits = [i in relevant for i in ranked] + [False] * (k - len(ranked))
        dcg = sum(1 / math.log2(j + 2) for j, h in enumerate(hits) if h)
        idcg = sum(1 / math.log2(j + 2) for j in range(min(k, len(relevant))))
        precisions = [sum(hits[: j + 1]) / (j + 1) for j, h in enumerate(hits) if h]
        per_user["precision"].append(sum(hits) / k)
        per_user["recall"].append(sum(hits) / len(relevant))
        per_user["ndcg"].append(dcg / idcg)
        per_user["map"].append(sum(precisions) / min(k, len(relevant)))
        per_user["hit_rate"].append(float(any(hits)))
        per_user["mrr"].append(1 / (hits.index(True) + 1) if any(hits) else 0.0)
    return users, {name: np.array(values) for name, values in per_user.items()}


@pytest.mark.parametrize("k", [1, 5, 30])  # 30 > N_ITEMS: the lists are padded
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_evaluate_ranking_matches_reference(setup, k, threshold):
    model, train, test = setup
    result = evaluate_ranking(model, train, test, k=k, relevance_threshold=threshold, return_per_user=True)
    users, expected = reference_evaluation(model, train, test, k, threshold)
    assert result["n_users"] == len(users) > 0
    np.testing.assert_array_equal(result["per_user"]["users"], users)
    for name, values in expected.items():
        np.testing.assert_allclose(result["per_user"][name], values, rtol=1e-12, err_msg=name)
        assert result[f"{name}@{k}"] == pytest.approx(values.mean()), name


def test_training_items_are_never_recommended(setup):
    model, train, test = setup
    result = evaluate_ranking(model, train, test, k=N_ITEMS, return_per_user=True)
    recommended = result["per_user"]["recommended"]
    for u, row in zip(result["per_user"]["users"], recommended):
        assert not set(row[row >= 0]) & set(train.getrow(u).indices)
        # everything else is recommended: the list is the whole non-training catalogue
        assert np.count_nonzero(row >= 0) == N_ITEMS - train.getrow(u).nnz
    kept = evaluate_ranking(model, train, test, k=N_ITEMS, exclude_train=False, return_per_user=True)
    assert (kept["per_user"]["recommended"] >= 0).all()
    users, expected = reference_evaluation(model, train, test, 5, exclude_train=False)
    assert evaluate_ranking(model, train, test, k=5, exclude_train=False)["ndcg@5"] == pytest.approx(
        expected["ndcg"].mean()
    )


def test_batch_size_does_not_change_results(setup):
    model, train, test = setup
    whole = evaluate_ranking(model, train, test, k=7, return_per_user=True)
    for batch_size in (1, 4, 1000):
        batched = evaluate_ranking(model, train, test, k=7, batch_size=batch_size, return_per_user=True)
        np.testing.assert_array_equal(batched["per_user"]["recommended"], whole["per_user"]["recommended"])
        assert {k: v for k, v in batched.items() if k != "per_user"} == {
            k: v for k, v in whole.items() if k != "per_user"
        }


def test_users_subset_and_beyond_accuracy_figures(setup):
    model, train, test = setup
    subset = np.array([3, 0, 17])
    result = evaluate_ranking(model, train, test, k=4, users=subset, return_per_user=True)
    with_items = [u for u in subset if test.getrow(u).nnz > 0]
    np.testing.assert_array_equal(result["per_user"]["users"], with_items)
    recommended = result["per_user"]["recommended"]
    assert result["coverage@4"] == pytest.approx(np.unique(recommended[recommended >= 0]).size / N_ITEMS)
    popularity = np.asarray((train != 0).sum(axis=0)).ravel()
    assert result["mean_popularity@4"] == pytest.approx(popularity[recommended[recommended >= 0]].mean())
    assert result["mean_popularity_norm@4"] == pytest.approx(result["mean_popularity@4"] / N_USERS)
    assert set(result) >= {"precision@4", "recall@4", "ndcg@4", "map@4", "hit_rate@4", "mrr@4", "n_users"}


def test_nothing_to_evaluate_is_an_error_not_nan_means(setup):
    model, train, test = setup
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_ranking(model, train, sp.csr_matrix((N_USERS, N_ITEMS)), k=3)
    with pytest.raises(ValueError, match="nothing to evaluate.*>= 99"):
        evaluate_ranking(model, train, test, k=3, relevance_threshold=99.0)
    with pytest.raises(ValueError, match="no ratings"):
        evaluate_ratings(model, sp.csr_matrix((N_USERS, N_ITEMS)))


@pytest.mark.parametrize("k", [1, 5, 30])
@pytest.mark.parametrize("threshold", [None, 4.0])
def test_a_model_and_its_lists_get_the_same_scores(setup, k, threshold):
    model, train, test = setup
    ranked = evaluate_ranking(model, train, test, k=k, relevance_threshold=threshold, return_per_user=True)
    users = ranked["per_user"]["users"]
    lists = evaluate_lists(
        ranked["per_user"]["recommended"],
        train,
        test,
        k,
        users=users,
        relevance_threshold=threshold,
        return_per_user=True,
    )
    assert {key: v for key, v in lists.items() if key != "per_user"} == {
        key: v for key, v in ranked.items() if key != "per_user"
    }
    for name, values in ranked["per_user"].items():
        np.testing.assert_array_equal(lists["per_user"][name], values, err_msg=name)


def test_evaluate_lists_leaves_out_users_without_a_relevant_item_and_cuts_at_k(setup):
    model, train, test = setup
    every = recommend(model, np.arange(N_USERS), 8, exclude=train)  # lists for every user, 8 wide
    ranked = evaluate_ranking(model, train, test, k=5, relevance_threshold=4.0)
    lists = evaluate_lists(every, train, test, 5, relevance_threshold=4.0)
    assert lists == ranked and lists["n_users"] < N_USERS


def test_evaluate_lists_by_hand():
    train = sp.csr_matrix(np.array([[1, 0, 0, 0], [1, 1, 0, 0]], dtype=np.float64))
    test = sp.csr_matrix(np.array([[0, 1, 0, 1], [0, 0, 0, 0]], dtype=np.float64))
    result = evaluate_lists([[3, 2], [2, 3]], train, test, 2)  # user 1 has nothing relevant: left out
    assert result["n_users"] == 1
    assert result["precision@2"] == 0.5 and result["recall@2"] == 0.5 and result["mrr@2"] == 1.0
    assert result["ndcg@2"] == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert result["coverage@2"] == 0.5  # items 2 and 3 of 4
    assert result["mean_popularity@2"] == 0.0 and result["mean_popularity_norm@2"] == 0.0


def test_evaluate_lists_validation_errors(setup):
    model, train, test = setup
    lists = recommend(model, [0, 1], 3)
    with pytest.raises(ValueError, match=r"recommended has shape \(2, 3\), expected .* \(3, 3\)"):
        evaluate_lists(lists, train, test, 3, users=[0, 1, 2])
    with pytest.raises(ValueError, match=r"expected .* \(2, 4\)"):
        evaluate_lists(lists, train, test, 4, users=[0, 1])
    with pytest.raises(IndexError, match="user index 30 out of range"):
        evaluate_lists(lists, train, test, 3, users=[0, 30])
    with pytest.raises(ValueError, match=r"train has shape \(30, 24\) but test has \(30, 25\)"):
        evaluate_lists(lists, train[:, :24], test, 3, users=[0, 1])
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_lists(lists, train, sp.csr_matrix((N_USERS, N_ITEMS)), 3, users=[0, 1])
    with pytest.raises(ValueError, match="more than once"):
        evaluate_lists([[1, 1, 2], [0, 2, 3]], train, test, 3, users=[0, 1])


def test_recommend_is_top_k_of_scores(setup):
    model, train, _ = setup
    got = recommend(model, [5, 2], k=3, exclude=train, batch_size=1)
    for row, u in zip(got, [5, 2]):
        scores = model.score([u])[0]
        scores[train.getrow(u).indices] = -np.inf
        np.testing.assert_array_equal(row, np.argsort(-scores, kind="stable")[:3])


def test_evaluate_ratings_numbers(setup):
    model, _, test = setup
    result = evaluate_ratings(model, test)
    users, items = test.nonzero()
    predicted = 3.0 + np.einsum("ij,ij->i", model.user_factors_[users], model.item_factors_[items])
    errors = np.asarray(test[users, items]).ravel() - predicted
    assert result["n"] == test.nnz
    assert result["rmse"] == pytest.approx(np.sqrt(np.mean(errors**2)))
    assert result["mae"] == pytest.approx(np.mean(np.abs(errors)))

    # the same ratings as index arrays: integer indices score the same; float ones are refused
    # (2.7 truncated to 2 would score another user's rating), as are NaN ratings
    truth = np.asarray(test[users, items]).ravel()
    assert evaluate_ratings(model, (users, items, truth)) == result
    with pytest.raises(TypeError, match="test users must be integer user indices"):
        evaluate_ratings(model, (users + 0.7, items, truth))
    with pytest.raises(TypeError, match="test items must be integer item indices"):
        evaluate_ratings(model, (users, items.astype(float), truth))
    with pytest.raises(ValueError, match="NaN"):
        evaluate_ratings(model, (users, items, np.where(np.arange(truth.size) == 3, np.nan, truth)))


def test_validation_errors(setup):
    model, train, test = setup
    with pytest.raises(ValueError, match=r"train has shape \(30, 24\)"):
        evaluate_ranking(model, train[:, :24], test)
    with pytest.raises(ValueError, match=r"test has shape \(29, 25\)"):
        evaluate_ratings(model, test[:29])
    with pytest.raises(ValueError, match="k must be an integer >= 1, got 0"):
        evaluate_ranking(model, train, test, k=0)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_ranking(model, train, test, batch_size=0)
    with pytest.raises(IndexError, match="user index 30"):
        evaluate_ranking(model, train, test, users=[0, 30])
    with pytest.raises(ValueError, match="repeated"):
        evaluate_ranking(model, train, test, users=[1, 1])
    with pytest.raises(ValueError, match="threshold"):
        evaluate_ranking(model, train, test, relevance_threshold=float("nan"))
    with pytest.raises(TypeError, match="scipy.sparse"):
        evaluate_ranking(model, train.toarray(), test)
    with pytest.raises(NotFittedError):
        evaluate_ranking(FixedFactors(), train, test)
    wrong_shape = r"WrongShape.score returned shape \(\d+, 24\) for \d+ users, expected \(\d+, 25\)"
    with pytest.raises(ValueError, match=wrong_shape):
        evaluate_ranking(WrongShape().fit(train), train, test)
    with pytest.raises(TypeError, match="no predict"):
        evaluate_ratings(WrongShape().fit(train), test)
    with pytest.raises(ValueError, match="no ratings"):
        evaluate_ratings(model, sp.csr_matrix((N_USERS, N_ITEMS)))


def test_default_batch_size_bounds_memory():
    assert default_batch_size(1682) * 1682 * 8 <= 64 * 2**20 < (default_batch_size(1682) + 1) * 1682 * 8
    assert default_batch_size(10**9) == 1


def test_evaluate_ratings_on_triplets_with_unknown_ids():
    import scipy.sparse as sp

    from recsys.models import BiasModel

    X = sp.csr_matrix(np.array([[5.0, 3.0, 0.0], [4.0, 0.0, 1.0]]))
    model = BiasModel(iterations=3, user_damping=0.0, item_damping=0.0).fit(X)
    users = np.array([0, -1, 1, -1])
    items = np.array([2, 0, -1, -1])
    truth = np.array([2.0, 4.0, 3.0, 3.0])
    predicted = model.predict(users, items)
    out = evaluate_ratings(model, (users, items, truth))
    assert out["n"] == 4
    assert out["rmse"] == pytest.approx(np.sqrt(np.mean((predicted - truth) ** 2)))
    assert predicted[3] == pytest.approx(model.global_mean_)  # both unknown: the global mean
    with pytest.raises(ValueError, match="differ in length"):
        evaluate_ratings(model, (users, items, truth[:2]))
    with pytest.raises(ValueError, match="no ratings"):
        evaluate_ratings(model, (users[:0], items[:0], truth[:0]))
