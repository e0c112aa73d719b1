"""recsys.embeddings: neighbours, genre coherence, norms, and comparisons of spaces.

Planted data throughout: items in known groups (coherence must beat its baseline), spaces that are
rotations of each other (CKA and Procrustes must not notice), vectors whose length is popularity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import embeddings as E
from recsys.catalogue import Catalogue


def _rotation(d: int, seed: int) -> np.ndarray:
    Q, R = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return Q * np.sign(np.diag(R))


def _catalogue(genres, popularity, titles=None) -> Catalogue:
    n = len(genres)
    titles = titles or [f"Film {i} (2000)" for i in range(n)]
    return Catalogue(np.arange(1, n + 1), np.array(titles, dtype=object), tuple(map(frozenset, genres)), popularity)


def _planted_groups(n_groups=6, per_group=60, dim=8, noise=0.35, seed=0):
    """Item vectors = a group centre + noise; each group is a genre; popularity long-tailed."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_groups, dim))
    labels = np.repeat(np.arange(n_groups), per_group)
    vectors = centres[labels] + noise * rng.standard_normal((labels.size, dim))
    popularity = np.floor(rng.pareto(1.2, labels.size) * 10) + 1
    genres = [{f"genre {g}"} for g in labels]
    return vectors, _catalogue(genres, popularity), labels


# ------------------------------------------------------------------------------------ neighbours


def test_nearest_items_match_brute_force_and_leave_the_item_out():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((40, 5))
    found = E.nearest_items(X, k=4, measure="cosine")
    unit = X / np.linalg.norm(X, axis=1, keepdims=True)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    np.testing.assert_array_equal(found, np.argsort(-scores, axis=1, kind="stable")[:, :4])
    assert not (found == np.arange(40)[:, None]).any()
    candidates = np.arange(0, 40, 2)
    restricted = E.nearest_items(X, [1, 2], k=3, measure="dot", candidates=candidates)
    assert np.isin(restricted, candidates).all() and 2 not in restricted[1]


def test_ties_go_to_the_lower_index():
    X = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(E.nearest_items(X, [3], k=2, measure="cosine"), [[0, 1]])


def test_neighbour_search_checks_its_arguments():
    X = np.eye(3)
    with pytest.raises(ValueError, match="k=3 but there are only 3 candidates"):
        E.nearest_items(X, k=3)
    with pytest.raises(ValueError, match="measure must be one of"):
        E.nearest_items(X, k=1, measure="manhattan")
    with pytest.raises(IndexError, match="queries: item index 5"):
        E.nearest_items(X, [5], k=1)
    with pytest.raises(TypeError, match="queries must be integer"):
        E.nearest_items(X, [0.5], k=1)


def test_neighbour_tables_name_the_films():
    X = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    catalogue = _catalogue(
        [{"a"}] * 4, [1, 2, 3, 4], ["Alpha (2000)", "Beta (2001)", "Gamma, The (2002)", "Delta (2003)"]
    )
    table = E.neighbour_table({"m": X, "rotated": X @ _rotation(2, 0)}, catalogue, "alpha", k=2)
    assert list(table["m"]) == ["Beta", "Delta"] and list(table["rotated"]) == list(table["m"])
    by_title = E.neighbours_of_titles(X, catalogue, ["The Gamma", 1], k=1)
    assert list(by_title.columns) == ["The Gamma", "Beta"] and by_title.iloc[0].tolist() == ["Delta", "Alpha"]


def test_closeness_table_and_angles():
    table = E.closeness_table([1.0, 0.0], np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]), [0, 1, 2])
    np.testing.assert_allclose(table["dot"], [2, 0, -1])
    np.testing.assert_allclose(table["angle_degrees"], [0, 90, 180])
    np.testing.assert_allclose(table["distance"], [1, np.sqrt(2), 2])
    np.testing.assert_array_equal(E.count_within_angle(np.array([[1.0, 0.0]]), np.array([[1, 0.1], [0, 1.0]]), 10), [1])


def test_spread_directions_cover_the_range_of_angles():
    angles = np.radians(np.linspace(10, 80, 50))
    vectors = np.c_[np.cos(angles), np.sin(angles)]
    chosen = E.spread_directions(vectors, 4)
    assert len(set(chosen.tolist())) == 4
    picked = np.degrees(np.arctan2(vectors[chosen, 1], vectors[chosen, 0]))
    assert picked.min() < 25 and picked.max() > 65
    with pytest.raises(ValueError, match="only 2 rows"):
        E.spread_directions(vectors, 3, among=[0, 1])


# ------------------------------------------------------------------------------- genre coherence


@pytest.mark.parametrize("measure, at_least", [("cosine", 0.9), ("euclidean", 0.9), ("dot", 0.6)])
def test_genre_coherence_beats_the_baseline_on_planted_groups(measure, at_least):
    # the dot product also rewards long vectors, which pulls neighbours towards the longest centres
    vectors, catalogue, _ = _planted_groups()
    found = E.genre_coherence(vectors, catalogue, k=10, measure=measure, seed=0)
    assert found["coherence"] > at_least
    assert found["baseline"] == pytest.approx(1 / 6, abs=0.05)  # six equal groups, popularity unrelated
    assert found["lift"] > 3 and found["n_items"] == 360


def test_genre_coherence_of_random_vectors_is_the_baseline():
    _, catalogue, _ = _planted_groups()
    noise = np.random.default_rng(5).standard_normal((360, 8))
    found = E.genre_coherence(noise, catalogue, k=10, seed=1)
    assert found["lift"] == pytest.approx(1, abs=0.2)


def test_the_baseline_is_popularity_matched():
    # vectors encode popularity only, and genre follows popularity: neighbours share a genre,
    # but no more than random films of the same popularity do, so the lift is ~1
    rng = np.random.default_rng(2)
    popularity = np.floor(rng.pareto(1.0, 400) * 20) + 1
    vectors = np.c_[np.log(popularity) + 0.01 * rng.standard_normal(400), np.ones(400)]
    genres = [{"blockbuster"} if p >= np.median(popularity) else {"arthouse"} for p in popularity]
    found = E.genre_coherence(vectors, _catalogue(genres, popularity), k=10, measure="euclidean", seed=0)
    assert found["coherence"] > 0.9
    assert found["baseline"] > 0.85  # a uniform random baseline would give ~0.5
    assert found["lift"] == pytest.approx(1, abs=0.1)


def test_genre_coherence_is_reproducible_and_skips_films_without_genre():
    vectors, catalogue, _ = _planted_groups(per_group=20)
    genres = list(catalogue.genres)
    genres[0] = frozenset()
    catalogue = _catalogue(genres, catalogue.popularity)
    a = E.genre_coherence(vectors, catalogue, seed=3, candidates=np.arange(100))
    b = E.genre_coherence(vectors, catalogue, seed=3, candidates=np.arange(100))
    a_items, b_items = a.pop("per_item"), b.pop("per_item")
    assert a == b and a["n_items"] == 99
    pd.testing.assert_frame_equal(a_items, b_items)
    assert 0 not in a_items.index and len(a_items) == 99  # the film without a genre is no query
    assert a_items["coherence"].mean() == pytest.approx(a["coherence"])
    assert a_items["baseline"].mean() == pytest.approx(a["baseline"])
    with pytest.raises(ValueError, match="vectors have 5 rows"):
        E.genre_coherence(vectors[:5], catalogue)
    with pytest.raises(ValueError, match="no candidate item has a genre"):
        E.genre_coherence(vectors, catalogue, candidates=[0], k=1)


# ---------------------------------------------------------------------------- norm and popularity


def test_norm_popularity_correlation_finds_length_that_is_popularity():
    rng = np.random.default_rng(3)
    popularity = rng.integers(0, 500, 300).astype(float)
    directions = rng.standard_normal((300, 4))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    vectors = directions * (1 + np.log1p(popularity))[:, None]
    found = E.norm_popularity_correlation(vectors, popularity)
    assert found["spearman"] == pytest.approx(1.0, abs=1e-4)  # ties in popularity: equal norms up to round-off
    assert found["pearson"] > 0.99 and found["n_items"] == int((popularity > 0).sum())
    unrelated = E.norm_popularity_correlation(rng.standard_normal((300, 4)), popularity + 1)
    assert abs(unrelated["pearson"]) < 0.2
    with pytest.raises(ValueError, match="popularity has 2 entries"):
        E.norm_popularity_correlation(vectors, [1, 2])
    with pytest.raises(ValueError, match="all equal"):
        E.norm_popularity_correlation(vectors, np.ones(300))


@pytest.mark.parametrize(
    "r, words", [(0.95, "strong positive"), (-0.4, "moderate negative"), (0.2, "weak positive"), (0.05, "no clear")]
)
def test_describe_correlation(r, words):
    assert E.describe_correlation(r) == words


# ---------------------------------------------------------------------------- comparing spaces


def test_cka_and_procrustes_do_not_see_a_rotation():
    X = np.random.default_rng(4).standard_normal((200, 8))
    R = _rotation(8, 1)
    assert E.linear_cka(X, X @ R) == pytest.approx(1.0)
    assert E.linear_cka(X, 3.0 * X @ R + 5.0) == pytest.approx(1.0)  # scale and shift too
    assert E.procrustes_disparity(X, X @ R) == pytest.approx(0.0, abs=1e-12)
    assert E.procrustes_disparity(X, -2.0 * X @ R) == pytest.approx(0.0, abs=1e-12)  # reflection and scale
    padded = np.hstack([X @ R, np.zeros((200, 3))])  # different dimension
    assert E.linear_cka(X, padded) == pytest.approx(1.0)
    assert E.procrustes_disparity(X, padded) == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(E.procrustes_matrix(X, X @ R), R, atol=1e-10)
    # the single axes do change: that is the point
    assert E.axis_correlation(X, X @ R).max() < 0.99
    np.testing.assert_allclose(E.axis_correlation(X, X), 1.0)


def test_cka_and_procrustes_tell_unrelated_spaces_apart():
    rng = np.random.default_rng(6)
    X, Y = rng.standard_normal((500, 5)), rng.standard_normal((500, 5))
    assert E.linear_cka(X, Y) < 0.1
    assert E.procrustes_disparity(X, Y) > 0.7
    noisy = X @ _rotation(5, 2) + 0.3 * rng.standard_normal((500, 5))
    assert 0.8 < E.linear_cka(X, noisy) < 1.0 and 0 < E.procrustes_disparity(X, noisy) < 0.2
    with pytest.raises(ValueError, match="same items"):
        E.linear_cka(X, Y[:10])
    with pytest.raises(ValueError, match="constant"):
        E.linear_cka(X, np.ones((500, 2)))


def test_neighbour_overlap_is_one_for_a_rotation_and_chance_for_noise():
    vectors, _, _ = _planted_groups(per_group=30)
    rng = np.random.default_rng(7)
    spaces = {"a": vectors, "rotated": vectors @ _rotation(8, 3), "noise": rng.standard_normal(vectors.shape)}
    overlap = E.neighbour_overlap(spaces, k=5)
    assert list(overlap.index) == ["a", "rotated", "noise"]
    assert overlap.loc["a", "rotated"] == pytest.approx(1.0)
    assert overlap.loc["a", "noise"] < 0.05 and overlap.loc["noise", "a"] == overlap.loc["a", "noise"]
    cka = E.cka_matrix(spaces)
    assert cka.loc["a", "rotated"] == pytest.approx(1.0) and cka.loc["a", "noise"] < 0.2
    similarity = E.cka_matrix(spaces, method="procrustes")
    assert similarity.loc["a", "rotated"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="space 'short' has 3 rows"):
        E.neighbour_overlap({"a": vectors, "short": vectors[:3]})


def test_space_summary_puts_it_together():
    vectors, catalogue, _ = _planted_groups(per_group=30)
    spaces = {"planted": vectors, "noise": np.random.default_rng(8).standard_normal(vectors.shape)}
    summary = E.space_summary(spaces, catalogue, k=5, seed=0)
    assert set(summary) == {"coherence", "norm_popularity", "overlap", "cka", "coherence_excess", "coherence_per_item"}
    excess = summary["coherence_excess"]["cosine"]  # items x spaces, for paired comparisons over items
    assert list(excess.columns) == ["planted", "noise"] and len(excess) == summary["coherence"]["n_items"].iloc[0]
    assert excess["planted"].mean() == pytest.approx(
        summary["coherence"].loc["planted", "cosine"] - summary["coherence"].loc["planted", "cosine_baseline"]
    )
    shares = summary["coherence_per_item"]["dot"]
    assert shares["noise"].mean() == pytest.approx(summary["coherence"].loc["noise", "dot"])
    coherence = summary["coherence"]
    assert coherence.loc["planted", "cosine"] > coherence.loc["planted", "cosine_baseline"]
    assert coherence.loc["planted", "cosine_lift"] > coherence.loc["noise", "cosine_lift"]
    assert {"dot", "dot_baseline", "dot_lift", "n_items"} <= set(coherence.columns)
    assert list(summary["norm_popularity"].index) == ["planted", "noise"]
    assert "spearman_candidates" not in summary["norm_popularity"]
    assert summary["overlap"].shape == summary["cka"].shape == (2, 2)
    # given candidates, the correlation is measured among them too (where shrinkage cannot explain it)
    among = np.flatnonzero(catalogue.popularity >= np.median(catalogue.popularity))
    with_candidates = E.space_summary(spaces, catalogue, k=5, seed=0, candidates=among)["norm_popularity"]
    expected = E.norm_popularity_correlation(vectors, catalogue.popularity, among)
    assert with_candidates.loc["planted", "spearman_candidates"] == pytest.approx(expected["spearman"])
    assert with_candidates.loc["planted", "n_candidates"] == expected["n_items"]
    assert with_candidates.loc["planted", "pearson"] == pytest.approx(
        summary["norm_popularity"].loc["planted", "pearson"]
    )


# ----------------------------------------------------------------------------------- projections


def test_pca_projection_is_deterministic_with_fixed_signs():
    X = np.random.default_rng(9).standard_normal((50, 6)) * [5, 3, 1, 1, 1, 1]
    a, b = E.project(X, "pca"), E.project(-X, "pca")
    assert a.shape == (50, 2)
    np.testing.assert_allclose(a, b, atol=1e-10)  # the sign rule removes PCA's sign freedom
    assert a[:, 0].var() > a[:, 1].var()


def test_a_map_of_directions_ignores_lengths():
    X = np.random.default_rng(3).standard_normal((40, 5))
    lengths = np.random.default_rng(4).uniform(0.01, 100.0, size=(40, 1))
    X[7] = 0.0  # a zero vector stays at the centre of the directions
    a = E.project(X * lengths, "pca", directions=True)
    b = E.project(X, "pca", directions=True)
    np.testing.assert_allclose(a, b, atol=1e-10)  # rescaling any vector moves nothing
    unit = X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)
    np.testing.assert_allclose(a, E.project(unit, "pca"), atol=1e-10)
    assert not np.allclose(E.project(X * lengths, "pca"), a)
    with pytest.raises(TypeError, match="directions"):
        E.project(X, "pca", directions="yes")


def test_tsne_projection_runs_and_repeats():
    X, _, labels = _planted_groups(n_groups=3, per_group=20)
    a = E.project(X, "tsne", seed=1, perplexity=10, max_iter=250)
    b = E.project(X, "tsne", seed=1, perplexity=10, max_iter=250)
    np.testing.assert_allclose(a, b)
    centres = np.array([a[labels == g].mean(axis=0) for g in range(3)])
    spread = np.mean([a[labels == g].std(axis=0).mean() for g in range(3)])
    assert np.min([np.linalg.norm(centres[i] - centres[j]) for i in range(3) for j in range(i)]) > 2 * spread


def test_projection_checks_its_arguments():
    X = np.zeros((5, 3))
    with pytest.raises(ValueError, match="method must be one of"):
        E.project(X, "mds")
    with pytest.raises(ValueError, match="perplexity must be below"):
        E.project(X, "tsne", perplexity=10)
    with pytest.raises(ValueError, match="at least 3 rows"):
        E.project(X[:2])
    assert set(E.available_projections()) >= {"pca", "tsne"}
    if "umap" not in E.available_projections():
        with pytest.raises(ImportError, match="umap-learn"):
            E.project(np.random.default_rng(0).standard_normal((20, 3)), "umap")
