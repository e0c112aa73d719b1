"""The intervals of recsys.stats: bootstrap over users, paired comparisons, t intervals over runs.

Each helper is held to a case with a known answer (normal theory, scipy's t and bootstrap), to
what pairing buys (a planted shift found, no shift found about 95 % of the time), to its seed,
to its chunked resampling (equal to drawing every resample at once) and to its refusals.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import scipy.stats

from recsys import stats
from recsys.evaluation import evaluate_lists
from recsys.stats import (
    Interval,
    bootstrap_mean,
    compare,
    comparison_table,
    interval_over_runs,
    paired_difference,
    paired_over_runs,
)


def _shared_users(n: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two models' per-user scores: a large spread between users they share, small noise of their own."""
    rng = np.random.default_rng(seed)
    user = rng.normal(0.0, 1.0, n)
    return user + shift + rng.normal(0.0, 0.1, n), user + rng.normal(0.0, 0.1, n)


def _unchunked(x: np.ndarray, n_resamples: int, seed: int, confidence: float = 0.95) -> np.ndarray:
    """The 95 % percentile bootstrap written plainly: every resample drawn at once."""
    units = np.random.default_rng(seed).integers(0, x.size, size=(n_resamples, x.size))
    return np.quantile(x[units].mean(axis=1), [(1 - confidence) / 2, (1 + confidence) / 2])


# -- known answers --------------------------------------------------------------------------------


def test_bootstrap_of_a_normal_sample_agrees_with_normal_theory():
    x = np.random.default_rng(1).normal(3.0, 2.0, 5_000)
    interval = bootstrap_mean(x)
    half = 1.959964 * x.std(ddof=1) / np.sqrt(x.size)
    width = 2 * half
    assert interval.estimate == pytest.approx(x.mean(), abs=1e-12)
    assert abs(interval.low - (x.mean() - half)) < 0.05 * width
    assert abs(interval.high - (x.mean() + half)) < 0.05 * width
    assert abs((interval.high - interval.low) - width) < 0.05 * width
    assert (interval.confidence, interval.n, interval.method) == (0.95, 5_000, "percentile bootstrap")


@pytest.mark.parametrize("method, scipy_method", [("percentile", "percentile"), ("bca", "BCa")])
def test_bootstrap_matches_scipy_on_a_skewed_sample(method, scipy_method):
    x = np.random.default_rng(2).lognormal(0.0, 1.0, 40)
    ours = bootstrap_mean(x, n_resamples=20_000, method=method)
    theirs = scipy.stats.bootstrap((x,), np.mean, n_resamples=20_000, method=scipy_method, rng=3).confidence_interval
    width = theirs.high - theirs.low
    assert abs(ours.low - theirs.low) < 0.04 * width
    assert abs(ours.high - theirs.high) < 0.04 * width


def test_bca_moves_the_interval_of_a_right_skewed_mean_upwards():
    x = np.random.default_rng(2).lognormal(0.0, 1.0, 40)
    percentile, bca = bootstrap_mean(x, n_resamples=20_000), bootstrap_mean(x, n_resamples=20_000, method="bca")
    assert bca.low > percentile.low and bca.high > percentile.high
    assert bca.method == "BCa bootstrap"


def test_constant_values_give_a_zero_width_interval():
    for method in ("percentile", "bca"):
        interval = bootstrap_mean(np.full(50, 0.25), method=method)
        assert (interval.low, interval.estimate, interval.high) == (0.25, 0.25, 0.25)
    same = paired_difference(np.arange(10.0), np.arange(10.0))  # an ANN index serving the exact lists
    assert (same.low, same.high, same.excludes_zero) == (0.0, 0.0, False)


# -- pairing --------------------------------------------------------------------------------------


def test_pairing_finds_a_planted_shift_that_separate_intervals_miss():
    a, b = _shared_users(500, shift=0.05, seed=3)
    paired = paired_difference(a, b)
    unpaired = paired_difference(a, np.random.default_rng(4).permutation(b))  # same means, pairs broken
    assert paired.estimate == pytest.approx(unpaired.estimate)
    assert (paired.high - paired.low) < (unpaired.high - unpaired.low) / 5
    assert paired.excludes_zero and paired.low > 0
    assert not unpaired.excludes_zero
    assert paired.method == "paired percentile bootstrap"


def test_with_no_shift_the_paired_interval_covers_zero_about_95_percent_of_the_time():
    covered = [
        not paired_difference(*_shared_users(50, 0.0, seed), n_resamples=400, seed=seed).excludes_zero
        for seed in range(200)
    ]
    assert 0.90 <= np.mean(covered) <= 0.99


# -- seeds and chunks -----------------------------------------------------------------------------


def test_a_seed_fixes_the_interval_and_another_seed_moves_it_a_little():
    x = np.random.default_rng(5).normal(size=300)
    first, again, other = bootstrap_mean(x, seed=7), bootstrap_mean(x, seed=7), bootstrap_mean(x, seed=8)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    width = first.high - first.low
    assert abs(first.low - other.low) < 0.1 * width and abs(first.high - other.high) < 0.1 * width
    generator = bootstrap_mean(x, seed=np.random.default_rng(7))
    assert (generator.low, generator.high) == (first.low, first.high)


@pytest.mark.parametrize("resamples_per_chunk", [1, 3, 64, 10_000])
def test_chunked_resampling_equals_drawing_every_resample_at_once(monkeypatch, resamples_per_chunk):
    x = np.random.default_rng(6).exponential(size=97)
    a, b = x, np.random.default_rng(7).exponential(size=97)
    expected = _unchunked(x, 501, seed=11)
    expected_difference = _unchunked(a - b, 501, seed=11)
    monkeypatch.setattr(stats, "_CHUNK_ELEMENTS", resamples_per_chunk * x.size)
    interval = bootstrap_mean(x, n_resamples=501, seed=11)
    assert [interval.low, interval.high] == expected.tolist()
    difference = paired_difference(a, b, n_resamples=501, seed=11)
    assert [difference.low, difference.high] == expected_difference.tolist()


@pytest.mark.slow
def test_two_hundred_thousand_users_never_hold_every_resample_at_once():
    x = np.random.default_rng(8).random(200_000)
    full = 200_000 * 2_000 * 8  # bytes of every resample's values at once
    tracemalloc.start()
    try:
        interval = bootstrap_mean(x, n_resamples=2_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < full / 20, f"peak {peak / 1e6:.0f} MB"
    half = 1.959964 * x.std() / np.sqrt(x.size)
    assert abs(interval.low - (x.mean() - half)) < 0.05 * 2 * half


# -- the table ------------------------------------------------------------------------------------


def test_comparison_table_rows_are_the_single_intervals_with_shared_resamples():
    a, b = _shared_users(400, shift=0.05, seed=9)
    c = b + np.random.default_rng(10).normal(0.0, 0.1, b.size)
    table = comparison_table({"als": a, "bpr": b, "pop": c}, reference="bpr", n_resamples=500, seed=3)
    assert list(table.columns) == [
        "mean",
        "low",
        "high",
        "difference",
        "difference_low",
        "difference_high",
        "detectable",
    ]
    assert list(table.index) == ["als", "bpr", "pop"] and table.index.name == "model"
    for name, values in {"als": a, "bpr": b, "pop": c}.items():
        single = bootstrap_mean(values, n_resamples=500, seed=3)
        assert (table.loc[name, "mean"], table.loc[name, "low"], table.loc[name, "high"]) == (
            single.estimate,
            single.low,
            single.high,
        )
        difference = paired_difference(values, b, n_resamples=500, seed=3)
        assert (table.loc[name, "difference_low"], table.loc[name, "difference_high"]) == (
            difference.low,
            difference.high,
        )
        assert table.loc[name, "detectable"] == difference.excludes_zero
    assert table.loc["als", "detectable"] and not table.loc["bpr", "detectable"]
    assert table.loc["bpr", ["difference", "difference_low", "difference_high"]].tolist() == [0.0, 0.0, 0.0]
    assert table["detectable"].dtype == bool
    assert table.attrs["n_units"] == 400 and table.attrs["reference"] == "bpr" and table.attrs["n_resamples"] == 500
    plain = comparison_table({"als": a, "bpr": b}, n_resamples=500, seed=3)
    assert list(plain.columns) == ["mean", "low", "high"]
    pd.testing.assert_frame_equal(plain, table.loc[["als", "bpr"], ["mean", "low", "high"]], check_names=True)


def test_per_user_arrays_of_one_evaluation_go_straight_into_the_table():
    """Exact lists against lists that lose a relevant item for some users: the chapters' ANN question."""
    rng = np.random.default_rng(12)
    n_users, n_items = 300, 50
    test = sp.csr_matrix((rng.random((n_users, n_items)) < 0.1).astype(np.float32))
    train = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    exact = np.argsort(-(test.toarray() + rng.random((n_users, n_items)) * 0.5), axis=1)[:, :10]
    approximate = exact.copy()
    approximate[::3, 0] = exact[::3, 9]  # every third user loses its first slot to its tenth item
    approximate[::3, 9] = -1
    runs = {
        name: evaluate_lists(lists, train, test, 10, return_per_user=True)
        for name, lists in [("exact", exact), ("ann", approximate)]
    }
    assert np.array_equal(runs["exact"]["per_user"]["users"], runs["ann"]["per_user"]["users"])
    ndcg = {name: run["per_user"]["ndcg"] for name, run in runs.items()}
    table = comparison_table(ndcg, reference="exact")
    assert table.loc["exact", "mean"] == pytest.approx(runs["exact"]["ndcg@10"])
    assert table.loc["ann", "difference"] < 0 and table.loc["ann", "detectable"]
    assert compare(ndcg["ann"], ndcg["exact"], names=("ann", "exact")).winner == "exact"


# -- t intervals over runs ------------------------------------------------------------------------


def test_t_interval_matches_scipy_and_the_table_value():
    folds = np.array([1.2, 0.9, 1.1, 1.0, 1.3])
    interval = interval_over_runs(folds)
    low, high = scipy.stats.t.interval(0.95, 4, loc=folds.mean(), scale=scipy.stats.sem(folds))
    assert (interval.low, interval.high) == (low, high)
    half = 2.7764451 * np.sqrt(0.025 / 5)  # t(0.975, 4 df) * sd / sqrt(n), sd**2 = 0.1 / 4
    assert interval.low == pytest.approx(1.1 - half, abs=1e-7) and interval.high == pytest.approx(1.1 + half, abs=1e-7)
    assert (interval.estimate, interval.n, interval.method) == (pytest.approx(1.1), 5, "t")
    wide = interval_over_runs(folds, confidence=0.99)
    assert wide.low < interval.low and wide.high > interval.high


def test_paired_t_interval_is_the_t_interval_of_the_differences():
    a = np.array([0.931, 0.925, 0.940, 0.928, 0.936])  # RMSE of two models over the same five folds
    b = a - np.array([0.010, 0.012, 0.008, 0.011, 0.009])
    paired = paired_over_runs(a, b)
    low, high = scipy.stats.t.interval(0.95, 4, loc=np.mean(a - b), scale=scipy.stats.sem(a - b))
    assert (paired.low, paired.high, paired.method) == (low, high, "paired t")
    assert paired.excludes_zero and not interval_over_runs(a - 0.93).excludes_zero
    same = interval_over_runs([0.9] * 5)
    assert (same.low, same.high) == (0.9, 0.9)


# -- what is printed ------------------------------------------------------------------------------


def test_interval_text():
    interval = Interval(0.0123, 0.004, 0.0205, 0.95, 100, "percentile bootstrap")
    assert str(interval) == "+0.0123 [+0.0040, +0.0205]"
    assert interval.format(2) == "+0.01 [+0.00, +0.02]"
    assert interval.excludes_zero
    assert Interval(-0.01, -0.02, -0.001, 0.95, 100, "t").excludes_zero
    assert not Interval(0.001, -0.006, 0.008, 0.95, 100, "t").excludes_zero
    assert not Interval(0.001, 0.0, 0.008, 0.95, 100, "t").excludes_zero  # touching zero is not excluding it
    with pytest.raises(ValueError, match="digits"):
        interval.format(-1)


def test_verdicts_name_a_winner_only_when_the_interval_excludes_zero():
    base = np.linspace(0.0, 1.0, 200)
    a_higher = compare(base + 0.012, base, names=("ALS", "BPR"))
    assert a_higher.verdict == "ALS higher: +0.012 [+0.012, +0.012]" and a_higher.winner == "ALS"
    b_higher = compare(base, base + 0.012, names=("ALS", "BPR"))
    assert str(b_higher) == "BPR higher: -0.012 [-0.012, -0.012]" and b_higher.winner == "BPR"
    default_names = compare(*_shared_users(500, shift=0.05, seed=3))
    assert default_names.verdict.startswith("A higher: +0.0") and default_names.names == ("A", "B")
    tie = compare(base, base, names=("exact", "hnsw"))
    assert tie.verdict == "no detectable difference: +0.000 [+0.000, +0.000]" and tie.winner is None
    for seed in range(20):
        result = compare(*_shared_users(60, shift=0.02, seed=seed), n_resamples=300, seed=seed, digits=4)
        assert (result.winner is not None) == result.difference.excludes_zero
        assert result.verdict == (
            f"A higher: {result.difference.format(4)}"
            if result.difference.excludes_zero
            else f"no detectable difference: {result.difference.format(4)}"
        )
        assert result.verdict.startswith("no detectable difference") or result.difference.low > 0


# -- refusals -------------------------------------------------------------------------------------

GOOD = np.linspace(0.0, 1.0, 10)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: paired_difference(GOOD, GOOD[:9]), "a and b must hold one value per unit.*a has 10 values, b has 9"),
        (lambda: paired_over_runs(GOOD, GOOD[:9]), "a and b must hold one value per unit"),
        (lambda: compare(GOOD[:9], GOOD), "a and b must hold one value per unit"),
        (
            lambda: comparison_table({"A": GOOD, "B": GOOD[:9]}),
            r"per_unit\['B'\] has 9 values but per_unit\['A'\] has 10",
        ),
        (lambda: bootstrap_mean(np.r_[GOOD, np.nan]), "values holds 1 non-finite value.*NaN.*position 10"),
        (lambda: paired_difference(GOOD, np.r_[np.inf, GOOD[1:]]), "b holds 1 non-finite value"),
        (lambda: comparison_table({"A": GOOD, "B": np.r_[GOOD[:-1], np.nan]}), r"per_unit\['B'\] holds 1 non-finite"),
        (lambda: interval_over_runs([0.9, float("nan"), 0.8]), "values holds 1 non-finite"),
        (lambda: bootstrap_mean([]), "values is empty"),
        (lambda: paired_difference([], []), "a is empty"),
        (lambda: interval_over_runs([]), "values is empty"),
        (lambda: bootstrap_mean([0.5]), "values has 1 value.*at least 2 units"),
        (lambda: paired_over_runs([0.5], [0.4]), "a has 1 value.*at least 2 units"),
        (lambda: bootstrap_mean(GOOD.reshape(2, 5)), r"values must be a 1-D array.*\(2, 5\)"),
        (lambda: paired_difference(GOOD, GOOD.reshape(5, 2)), r"b must be a 1-D array.*\(5, 2\)"),
        (lambda: bootstrap_mean(GOOD, confidence=0.0), "confidence must be a finite number > 0 and < 1, got 0.0"),
        (lambda: paired_difference(GOOD, GOOD, confidence=1.0), "confidence must be a finite number > 0 and < 1"),
        (lambda: comparison_table({"A": GOOD}, confidence=95), "confidence must be a finite number > 0 and < 1"),
        (lambda: interval_over_runs(GOOD, confidence=1.5), "confidence must be a finite number > 0 and < 1"),
        (lambda: paired_over_runs(GOOD, GOOD, confidence=-0.1), "confidence must be"),
        (lambda: bootstrap_mean(GOOD, n_resamples=0), "n_resamples must be an integer >= 1, got 0"),
        (lambda: compare(GOOD, GOOD, n_resamples=-5), "n_resamples must be an integer >= 1"),
        (lambda: comparison_table({"A": GOOD}, n_resamples=0), "n_resamples must be an integer >= 1"),
        (lambda: bootstrap_mean(GOOD, method="bootstrap-t"), "method must be one of 'percentile', 'bca'"),
        (lambda: bootstrap_mean(GOOD, seed=-1), "seed must be an integer >= 0"),
        (lambda: comparison_table({"A": GOOD}, reference="B"), "reference must be one of 'A'"),
        (lambda: comparison_table({}), "per_unit is empty"),
        (lambda: compare(GOOD, GOOD, names=("A", "A")), "names must be two different strings"),
        (lambda: compare(GOOD, GOOD, names=("A", "B", "C")), "names must be two different strings"),
        (lambda: compare(GOOD, GOOD, digits=-1), "digits must be an integer >= 0"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: bootstrap_mean(["0.1", "0.2"]), "values must be an array of numbers"),
        (lambda: paired_difference(GOOD > 0.5, GOOD > 0.2), "a must be an array of numbers, got dtype bool"),
        (lambda: bootstrap_mean(GOOD, n_resamples=100.0), "n_resamples must be an integer"),
        (lambda: bootstrap_mean(GOOD, confidence="95%"), "confidence must be a finite number"),
        (lambda: comparison_table([GOOD, GOOD]), "per_unit must be a mapping"),
        (lambda: compare(GOOD, GOOD, names="AB"), "names must be a pair of strings"),
    ],
)
def test_a_wrong_type_is_a_type_error_naming_the_argument(call, message):
    with pytest.raises(TypeError, match=message):
        call()


# ------------------------------------------------------------------------------- the leader


def test_the_leader_names_a_winner_only_when_every_paired_difference_excludes_zero():
    a, b = _shared_users(800, 0.05, seed=1)
    _, c = _shared_users(800, 0.0, seed=1)  # c: the same users as a, no shift
    clear = stats.leader({"B": b, "A": a}, "nDCG@10")
    assert clear.best == "A" and clear.winner == "A" and clear.ties == []
    assert "ahead of every other model (closest: B, -0.04" in str(clear)
    assert clear.differences["B"] == paired_difference(b, a)  # the same resamples, seed 0
    assert clear.means["A"] == bootstrap_mean(a)
    close = stats.leader({"A": a, "A again": a + np.random.default_rng(2).normal(0, 0.1, a.size) * 0.01})
    assert close.winner is None and len(close.ties) == 1 and "no detectable difference from" in str(close)
    # lower is better (an error): the best is the smallest mean, differences are model - best >= 0
    errors = stats.leader({"worse": b + 1.0, "better": b}, "RMSE", higher_is_better=False)
    assert errors.best == "better" and errors.differences["worse"].estimate == pytest.approx(1.0)
    assert str(errors).startswith("lowest RMSE: better")


def test_the_leader_over_runs_uses_the_paired_t_and_orders_by_closeness():
    folds = {
        "ALS": [0.91, 0.92, 0.93, 0.90, 0.92],
        "SGD": [0.95, 0.96, 0.97, 0.94, 0.96],
        "BPMF": [0.905, 0.915, 0.93, 0.899, 0.918],
    }
    result = stats.leader(folds, "test RMSE", higher_is_better=False, over="runs")
    assert result.best == "BPMF" and list(result.differences) == ["ALS", "SGD"]
    assert result.differences["ALS"] == paired_over_runs(folds["ALS"], folds["BPMF"])
    assert result.means["SGD"] == interval_over_runs(folds["SGD"])
    assert result.ties == ["ALS"] and result.winner is None  # 5 folds cannot tell ALS from BPMF


def test_the_leader_reads_a_users_by_models_frame_and_refuses_bad_input():
    a, b = _shared_users(100, 0.5, seed=4)
    frame = pd.DataFrame({"a": a, "b": b})
    assert stats.leader(frame).best == "a"
    with pytest.raises(ValueError, match="non-empty mapping"):
        stats.leader({})
    with pytest.raises(TypeError, match="higher_is_better"):
        stats.leader(frame, higher_is_better="yes")
    with pytest.raises(ValueError, match="over"):
        stats.leader(frame, over="folds")
    with pytest.raises(ValueError, match="has 50 values but"):
        stats.leader({"a": a, "b": b[:50]})


def test_paired_rmse_difference_resamples_whole_users():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(30), rng.integers(1, 20, size=30))
    truth_error = rng.standard_normal(users.size)
    a, b = truth_error * 1.3, truth_error
    got = stats.paired_rmse_difference(a, b, users, n_resamples=500, seed=4)
    rmse = lambda e: np.sqrt(np.mean(e * e))  # noqa: E731
    assert got.estimate == pytest.approx(rmse(a) - rmse(b))
    # the same resamples by hand: users drawn with replacement, both RMSEs from their ratings
    draws = np.random.default_rng(4).integers(0, 30, size=(500, 30))
    by_hand = []
    for drawn in draws:
        rows = np.concatenate([np.flatnonzero(users == u) for u in drawn])
        by_hand.append(rmse(a[rows]) - rmse(b[rows]))
    assert (got.low, got.high) == pytest.approx(tuple(np.quantile(by_hand, [0.025, 0.975])))
    assert got.low > 0 and got.n == 30  # a is worse on every rating
    same = stats.paired_rmse_difference(b, b, users, n_resamples=200)
    assert same.estimate == same.low == same.high == 0
    with pytest.raises(ValueError, match="one length"):
        stats.paired_rmse_difference(a, b[:-1], users)
    with pytest.raises(ValueError, match="two units"):
        stats.paired_rmse_difference(a, b, np.zeros(users.size))


@pytest.mark.parametrize(
    "estimate, low, high, word",
    [(0.001, -0.002, 0.004, "agree"), (0.006, 0.002, 0.010, "DISAGREE"), (0.003, -0.001, 0.007, "not settled")],
)
def test_agreement_is_shown_only_by_the_whole_interval(estimate, low, high, word):
    assert stats.agreement_verdict(estimate, low, high, 0.005).startswith(
        {"agree": "they agree", "DISAGREE": "they DISAGREE", "not settled": "not settled"}[word]
    )


def test_agreement_verdict_checks_its_arguments():
    with pytest.raises(ValueError, match="tolerance"):
        stats.agreement_verdict(0.0, -1.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="within its interval"):
        stats.agreement_verdict(2.0, -1.0, 1.0, 0.5)
