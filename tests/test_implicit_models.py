"""Wrappers around implicit's ALS and BPR: they find planted clusters, score the right shapes,
handle BPR's bias column, stay reproducible where the library allows, and validate inputs."""

from __future__ import annotations

import warnings

import implicit.utils
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from recsys.models.implicit_models import BPR, ImplicitALS

N_USERS, N_ITEMS, N_CLUSTERS, K = 400, 300, 6, 10


@pytest.fixture(scope="module")
def planted():
    """Users and items in 6 clusters; users mostly interact inside their own cluster.

    30% of each user's positives are held out as the test set.
    """
    rng = np.random.default_rng(2024)
    user_cluster = rng.integers(0, N_CLUSTERS, N_USERS)
    item_cluster = rng.integers(0, N_CLUSTERS, N_ITEMS)
    same = user_cluster[:, None] == item_cluster[None, :]
    liked = rng.random((N_USERS, N_ITEMS)) < np.where(same, 0.35, 0.01)
    held_out = liked & (rng.random(liked.shape) < 0.3)
    train = sp.csr_matrix((liked & ~held_out).astype(np.float32))
    return dict(train=train, test=held_out, same=same)


def _top_k(model, train: sp.csr_matrix, k: int = K) -> np.ndarray:
    scores = model.score(np.arange(train.shape[0])).astype(np.float64)
    scores[train.nonzero()] = -np.inf  # recommend only unseen items
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def _precision(top: np.ndarray, relevant: np.ndarray) -> float:
    has_any = relevant.any(axis=1)
    hits = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
    return float(hits[has_any].mean() / top.shape[1])


class _Popularity:
    """Most-interacted items first: the baseline a personalised model must beat."""

    def __init__(self, train):
        self.counts = np.asarray(train.sum(axis=0)).ravel()

    def score(self, users):
        return np.tile(self.counts, (len(users), 1))


@pytest.fixture(scope="module")
def als(planted):
    return ImplicitALS(factors=16, regularization=0.1, alpha=5.0, iterations=10, random_state=0).fit(planted["train"])


@pytest.fixture(scope="module")
def bpr(planted):
    return BPR(factors=16, learning_rate=0.05, regularization=0.01, iterations=60, random_state=0).fit(planted["train"])


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_top10_finds_held_out_positives(planted, name, request):
    model = request.getfixturevalue(name)
    top = _top_k(model, planted["train"])
    precision = _precision(top, planted["test"])
    baseline = _precision(_top_k(_Popularity(planted["train"]), planted["train"]), planted["test"])
    in_cluster = np.take_along_axis(planted["same"], top, axis=1).mean()
    # each user has ~6 held-out positives, most among ~38 unseen items of their cluster: a model
    # that knows the clusters gets ~0.13; popularity ignores them (~0.02)
    assert precision > 0.1, precision
    assert precision > 3 * baseline, (precision, baseline)
    assert in_cluster > 0.9, in_cluster


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_score_shapes_and_fitted_attributes(planted, name, request):
    model = request.getfixturevalue(name)
    assert (model.n_users_, model.n_items_) == (N_USERS, N_ITEMS)
    assert model.user_factors_.shape == (N_USERS, 16) and model.item_factors_.shape == (N_ITEMS, 16)
    assert isinstance(model.user_factors_, np.ndarray) and isinstance(model.item_factors_, np.ndarray)
    scores = model.score([0, 5, 399])
    assert scores.shape == (3, N_ITEMS) and np.isfinite(scores).all()
    with pytest.raises(IndexError):
        model.score([N_USERS])


def test_als_score_is_the_dot_product(als):
    np.testing.assert_allclose(als.score([1, 2]), als.user_factors_[[1, 2]] @ als.item_factors_.T, rtol=1e-6)
    U, V = als.inner_product_factors()
    assert U is als.user_factors_ and V is als.item_factors_


def test_bpr_bias_column_is_split_off_and_scored(bpr):
    raw_u, raw_i = np.asarray(bpr.model_.user_factors), np.asarray(bpr.model_.item_factors)
    assert raw_u.shape[1] == 17 and np.all(raw_u[:, -1] == 1)  # implicit's layout: [x_u, 1]
    np.testing.assert_array_equal(bpr.item_bias_, raw_i[:, -1])
    expected = raw_u[[0, 3]] @ raw_i.T  # implicit's own scores
    np.testing.assert_allclose(bpr.score([0, 3]), expected, rtol=1e-5, atol=1e-6)
    U, V = bpr.inner_product_factors()
    np.testing.assert_allclose(U[[0, 3]] @ V.T, expected, rtol=1e-5, atol=1e-6)


def test_als_history_records_loss_per_iteration(als):
    history = als.history_
    assert [h["iteration"] for h in history] == list(range(1, 11))
    assert all(b["seconds"] >= a["seconds"] for a, b in zip(history, history[1:], strict=False))
    losses = [h["train_loss"] for h in history]
    assert losses[-1] < losses[0]


def test_bpr_history_records_sampled_auc(bpr):
    history = bpr.history_
    assert len(history) == 60
    assert history[-1]["train_auc"] > 0.9 > history[0]["train_auc"]
    assert all(0 <= h["skipped"] < 1 for h in history)


def test_eval_callback_sees_current_factors_and_adds_metrics(planted):
    seen = []

    def callback(model, epoch):
        seen.append(model.user_factors_.copy())
        return {"precision": _precision(_top_k(model, planted["train"]), planted["test"])}

    model = ImplicitALS(factors=8, iterations=3, random_state=0, calculate_training_loss=False)
    model.fit(planted["train"], callback=callback)
    assert [h["iteration"] for h in model.history_] == [1, 2, 3]
    assert all("precision" in h and "train_loss" not in h for h in model.history_)
    assert not np.array_equal(seen[0], seen[-1])
    np.testing.assert_array_equal(seen[-1], model.user_factors_)

    bpr = BPR(factors=8, iterations=2, random_state=0).fit(planted["train"], callback=lambda m, e: {"e": e})
    assert [h["e"] for h in bpr.history_] == [1, 2]


@pytest.mark.parametrize("name", ["als", "bpr"])
def test_models_plug_into_the_shared_evaluation(planted, name, request):
    """score() is all recsys.evaluation needs: ranking metrics and a validation-nDCG callback."""
    from recsys.evaluation import evaluate_ranking

    train, test = planted["train"], sp.csr_matrix(planted["test"].astype(np.float32))
    model = request.getfixturevalue(name)
    assert evaluate_ranking(model, train, test, k=K)["precision@10"] > 0.1

    def val_ndcg(current, epoch):
        return {"val_ndcg@10": evaluate_ranking(current, train, test, k=K)["ndcg@10"]}

    refit = clone(model).set_params(iterations=4).fit(train, callback=val_ndcg)
    assert [0 <= h["val_ndcg@10"] <= 1 for h in refit.history_] == [True] * 4


def test_als_is_deterministic_for_any_thread_count(planted):
    def fit(seed, num_threads):
        model = ImplicitALS(factors=8, iterations=3, num_threads=num_threads, random_state=seed)
        return model.fit(planted["train"])

    a, b, c = fit(5, 1), fit(5, 2), fit(6, 2)
    np.testing.assert_array_equal(a.user_factors_, b.user_factors_)  # each user's solve is independent
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_bpr_single_thread_is_deterministic(planted):
    def fit(seed):
        return BPR(factors=8, iterations=5, random_state=seed).fit(planted["train"])

    a, b, c = fit(5), fit(5), fit(6)
    assert BPR().num_threads == 1  # the reproducible default
    np.testing.assert_array_equal(a.item_factors_, b.item_factors_)
    np.testing.assert_array_equal(a.item_bias_, b.item_bias_)
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_confidence_is_one_plus_alpha_times_weight(planted):
    X = planted["train"][:50].copy()
    X.data = np.arange(1, X.nnz + 1, dtype=np.float32) % 4 + 1
    C = ImplicitALS(alpha=3.0).confidence(X)
    assert C.dtype == np.float32
    np.testing.assert_array_equal(C.indptr, X.indptr)
    np.testing.assert_array_equal(C.indices, X.indices)
    np.testing.assert_allclose(C.data, 1 + 3.0 * X.data)


@pytest.mark.parametrize("weighting", ["bm25", "tfidf"])
def test_weighting_changes_confidences_not_the_pattern(planted, weighting):
    X = planted["train"]
    plain = ImplicitALS(weighting="none").confidence(X)
    weighted = ImplicitALS(weighting=weighting).confidence(X)
    np.testing.assert_array_equal(weighted.indices, X.indices)
    assert (weighted.data >= 1).all() and not np.allclose(weighted.data, plain.data)
    model = ImplicitALS(factors=8, iterations=5, weighting=weighting, random_state=0).fit(X)
    assert _precision(_top_k(model, X), planted["test"]) > 0.06


def test_bm25_damps_heavy_users(planted):
    """BM25 treats users as terms: a user with many items gets a lower idf, so lower confidences."""
    X = planted["train"]
    C = ImplicitALS(weighting="bm25", alpha=1.0).confidence(X)
    counts = np.diff(X.indptr)
    mean_conf = np.array([C.data[C.indptr[u] : C.indptr[u + 1]].mean() for u in range(N_USERS)])
    assert np.corrcoef(counts, mean_conf)[0, 1] < -0.5


def test_fit_does_not_trigger_the_blas_threads_warning(planted, monkeypatch):
    monkeypatch.setattr(implicit.utils, "_checked_blas_config", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        ImplicitALS(factors=4, iterations=1, random_state=0).fit(planted["train"])


def test_get_params_and_clone(planted):
    model = ImplicitALS(factors=8, alpha=2.0, weighting="bm25", bm25_k1=50.0, iterations=2, random_state=3)
    params = model.get_params()
    model.fit(planted["train"])
    assert model.get_params() == params
    fresh = clone(model)
    assert fresh.get_params() == params and not hasattr(fresh, "user_factors_")
    assert clone(BPR(factors=4, learning_rate=0.1)).get_params()["learning_rate"] == 0.1


def test_score_before_fit_raises():
    with pytest.raises(NotFittedError):
        ImplicitALS().score([0])
    with pytest.raises(NotFittedError):
        BPR().score([0])


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"iterations": 1.5}, TypeError, "iterations"),
        ({"regularization": -1}, ValueError, "regularization"),
        ({"alpha": -0.5}, ValueError, "alpha"),
        ({"weighting": "bm26"}, ValueError, "weighting"),
        ({"bm25_b": 1.5}, ValueError, "bm25_b"),
        ({"bm25_k1": -1}, ValueError, "bm25_k1"),
        ({"num_threads": -1}, ValueError, "num_threads"),
    ],
)
def test_als_bad_hyperparameters_are_named(planted, params, error, match):
    with pytest.raises(error, match=match):
        ImplicitALS(**params).fit(planted["train"])


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"factors": -2}, ValueError, "factors"),
        ({"learning_rate": 0}, ValueError, "learning_rate"),
        ({"num_threads": 1.0}, TypeError, "num_threads"),
    ],
)
def test_bpr_bad_hyperparameters_are_named(planted, params, error, match):
    with pytest.raises(error, match=match):
        BPR(**params).fit(planted["train"])


@pytest.mark.parametrize("cls", [ImplicitALS, BPR])
def test_bad_inputs_raise_clear_errors(planted, cls):
    with pytest.raises(TypeError, match="scipy.sparse"):
        cls().fit(planted["train"].toarray())
    negative = planted["train"].copy()
    negative.data[0] = -1
    with pytest.raises(ValueError, match="negative"):
        cls().fit(negative)
    with pytest.raises(ValueError, match="no entries"):
        cls().fit(sp.csr_matrix((4, 5)))


@pytest.mark.parametrize("cls", [ImplicitALS, BPR])
def test_ranking_callback_records_a_convergence_curve(planted, cls):
    from recsys.evaluation import evaluate_ranking
    from recsys.experiments import ranking_callback

    train, test = planted["train"], sp.csr_matrix(planted["test"].astype(np.float32))
    model = cls(factors=8, iterations=3, random_state=0).fit(train, callback=ranking_callback(train, test))
    assert [h["iteration"] for h in model.history_] == [1, 2, 3]
    last = evaluate_ranking(model, train, test, k=10)
    assert model.history_[-1]["val_ndcg@10"] == pytest.approx(last["ndcg@10"])
    assert model.history_[-1]["val_precision@10"] == pytest.approx(last["precision@10"])
    with pytest.raises(ValueError, match="shape"):
        cls(factors=8, iterations=1).fit(train, callback=ranking_callback(train, test[:, :10]))
