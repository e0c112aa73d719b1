"""Content-based model, hybrid, tag reader, and the cold-item split and protocol of notebooks 05 and 07
(recsys.experiments.cold_start)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from recsys import experiments
from recsys.datasets import Dataset, load
from recsys.datasets.tags import load_tags, read_tags
from recsys.evaluation import evaluate_ranking
from recsys.experiments import cold_start
from recsys.experiments import similarity as similarity_eval
from recsys.interactions import IdMap, binarize
from recsys.models import FactorizationMachine, ImplicitALS, Popularity
from recsys.models.content import ContentModel, HybridModel, genre_features, normalize_tag, tag_features

GENRES = ("Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi")


def genre_world(n_users=240, n_items=300, per_user=30, seed=0):
    """Ratings where taste follows genres: each user watches mostly films of one favourite genre.

    Items have one or two of six genres and a Zipf-like popularity, so popularity is strong on
    warm items while only genres can say which cold film a user will watch.
    """
    rng = np.random.default_rng(seed)
    first = rng.integers(0, len(GENRES), n_items)
    second = np.where(rng.random(n_items) < 0.4, rng.integers(0, len(GENRES), n_items), first)
    genres = [sorted({GENRES[a], GENRES[b]}) for a, b in zip(first, second)]
    appeal = 1.0 / np.arange(1, n_items + 1) ** 0.6
    appeal = appeal[rng.permutation(n_items)]
    member = np.zeros((n_items, len(GENRES)), dtype=bool)
    member[np.arange(n_items), first] = member[np.arange(n_items), second] = True
    rows = []
    for user in range(n_users):
        favourite = rng.integers(0, len(GENRES))
        weight = appeal * np.where(member[:, favourite], 1.0, 0.03)
        items = rng.choice(n_items, size=per_user, replace=False, p=weight / weight.sum())
        rows += [(user + 1, int(i) + 1, float(rng.integers(1, 6)), user * 1000 + j) for j, i in enumerate(items)]
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings["rating"] = ratings["rating"].astype(np.float32)
    index = pd.Index(np.arange(1, n_items + 1), name="item_id")
    items = pd.DataFrame(
        {"title": [f"film {i}" for i in index], "year": pd.array([2000] * n_items, "Int64"), "genres": genres},
        index=index,
    )
    return Dataset("genre-world", ratings, items, None, (1.0, 5.0))


@pytest.fixture(scope="module")
def world():
    data = genre_world()
    idmap = IdMap.from_ratings(data.ratings)
    split = cold_start.cold_item_split(data.ratings, cold_fraction=0.2, train_ratio=0.75, seed=1, idmap=idmap)
    genres, names = genre_features(data.items, idmap.item_ids)
    return data, idmap, split, genres


# -------------------------------------------------------------------------- features


def test_genre_features_are_one_hot_rows_in_the_ids_order():
    items = pd.DataFrame({"genres": [["Comedy", "Drama"], [], ["Drama"]]}, index=pd.Index([10, 20, 30], name="item_id"))
    matrix, names = genre_features(items, [30, 10, 99, 20])
    assert names == ["Comedy", "Drama"]
    np.testing.assert_array_equal(matrix.toarray(), [[0, 1], [1, 1], [0, 0], [0, 0]])
    with pytest.raises(TypeError, match="genres"):
        genre_features(pd.DataFrame({"x": [1]}), [1])
    with pytest.raises(ValueError, match="repeated"):
        genre_features(items, [10, 10])


def test_tag_features_count_normalised_tags_and_keep_shared_ones():
    tags = pd.DataFrame(
        {
            "item_id": [1, 1, 2, 2, 3, 3],
            "tag": ["Time Travel", "time  travel", "time travel", "pixar", "Pixar ", "one-off"],
        }
    )
    assert normalize_tag("  Time   TRAVEL ") == "time travel"
    matrix, vocabulary = tag_features(tags, [1, 2, 3, 4], min_items=2)
    assert vocabulary == ["pixar", "time travel"]  # "one-off" is on one film only
    np.testing.assert_array_equal(matrix.toarray(), [[0, 2], [1, 1], [1, 0], [0, 0]])
    matrix, vocabulary = tag_features(tags, [1, 2, 3], min_items=1)
    assert "one-off" in vocabulary
    with pytest.raises(ValueError, match="min_items"):
        tag_features(tags, [1], min_items=0)


# -------------------------------------------------------------------------- the tag reader


def test_read_tags_reads_the_bundled_file():
    data = load("ml-latest-small")
    tags = load_tags(data)
    assert list(tags.columns) == ["user_id", "item_id", "tag", "timestamp"]
    assert len(tags) == 3683 and tags["item_id"].dtype == np.int64
    assert (tags["tag"].str.len() > 0).all()


@pytest.mark.parametrize(
    "text, message",
    [
        ("userId,movieId,tag,timestamp\n1,2,funny,3\n1,2,a,b,4\n", "line 3"),
        ("userId,movieId,tag,timestamp\n1,2,funny,3\n1,x,sad,4\n", "malformed"),
        ("userId,movieId,tag,timestamp\n1,2,funny,3\n1,3,  ,4\n", "empty tag on line 3"),
        ("user,movie,tag,time\n1,2,funny,3\n", "expected columns"),
    ],
)
def test_read_tags_names_the_file_and_the_problem(tmp_path, text, message):
    path = tmp_path / "tags.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        read_tags(path)
    assert str(path) in str(error.value)


def test_load_tags_says_which_releases_have_tags(tmp_path):
    data = load("synthetic", n_users=20, n_items=10, n_ratings=100)
    with pytest.raises(FileNotFoundError, match="ml-latest-small"):
        load_tags(data)
    with pytest.raises(FileNotFoundError, match="no such"):
        read_tags(tmp_path / "tags.csv")
    with pytest.raises(TypeError, match="Dataset"):
        load_tags("ml-latest-small")


# -------------------------------------------------------------------------- ContentModel


def test_content_model_is_tfidf_unit_items_and_mean_users():
    features = sp.csr_matrix(np.array([[1, 0, 0], [1, 1, 0], [0, 1, 1], [1, 0, 0]], dtype=float))
    X = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]], dtype=float))
    model = ContentModel(features).fit(X)
    df = np.array([3, 2, 1])
    idf = np.log((1 + 4) / (1 + df)) + 1
    weighted = features.toarray() * idf
    expected_items = weighted / np.linalg.norm(weighted, axis=1, keepdims=True)
    np.testing.assert_allclose(model.item_factors_, expected_items)
    np.testing.assert_allclose(model.user_factors_[0], expected_items[:2].mean(axis=0))
    np.testing.assert_allclose(model.user_factors_[2], 0.0)  # a user without items has no profile
    np.testing.assert_allclose(model.score([0])[0], expected_items @ expected_items[:2].mean(axis=0))
    U, V = model.inner_product_factors()
    np.testing.assert_allclose(U @ V.T, model.score(np.arange(3)))
    assert model.n_features_ == 3


def test_content_model_blocks_add_their_cosines_and_svd_gives_unit_vectors():
    rng = np.random.default_rng(0)
    a = sp.csr_matrix(rng.random((30, 5)) < 0.4, dtype=float)
    b = sp.csr_matrix(rng.random((30, 8)) < 0.3, dtype=float)
    X = sp.csr_matrix(rng.random((10, 30)) < 0.3, dtype=float)
    both = ContentModel([a, b]).fit(X)
    alone = [ContentModel(block).fit(X) for block in (a, b)]
    np.testing.assert_allclose(both.score(np.arange(10)), alone[0].score(np.arange(10)) + alone[1].score(np.arange(10)))
    reduced = ContentModel([a, b], factors=4, random_state=0).fit(X)
    norms = np.linalg.norm(reduced.item_factors_, axis=1)
    assert reduced.item_factors_.shape == (30, 4)
    np.testing.assert_allclose(norms[norms > 0], 1.0)
    again = ContentModel([a, b], factors=4, random_state=0).fit(X)
    np.testing.assert_array_equal(reduced.item_factors_, again.item_factors_)


def test_content_model_refuses_bad_hyperparameters_and_misaligned_features():
    X = sp.csr_matrix(np.eye(3))
    with pytest.raises(ValueError, match="3 item columns"):
        ContentModel(np.ones((4, 2))).fit(X)
    with pytest.raises(ValueError, match="weighting"):
        ContentModel(np.ones((3, 2)), weighting="bm25").fit(X)
    with pytest.raises(ValueError, match="factors"):
        ContentModel(np.ones((3, 2)), factors=0).fit(X)
    with pytest.raises(ValueError, match="negative"):
        ContentModel(-np.ones((3, 2))).fit(X)
    with pytest.raises(TypeError, match="None"):
        ContentModel(None).fit(X)
    with pytest.raises(ValueError, match="number of items"):
        ContentModel([np.ones((3, 2)), np.ones((2, 2))]).fit(X)
    assert ContentModel(-np.ones((3, 2)), weighting="none").fit(X).n_items_ == 3
    assert clone(ContentModel(np.ones((3, 2)), factors=1)).get_params()["factors"] == 1


# -------------------------------------------------------------------------- warm and cold items


def test_cold_item_split_holds_items_out_entirely(world):
    data, idmap, split, _ = world
    assert split.idmap is idmap and split.train.shape == idmap.shape
    assert not (split.cold & split.warm).any()
    assert split.cold.sum() == round(0.2 * data.ratings["item_id"].nunique())
    assert split.train[:, split.cold].nnz == 0  # not a single training interaction
    assert split.test[:, split.cold].nnz > 0 and split.test[:, split.warm].nnz > 0
    cold_ids = set(idmap.item_ids[split.cold])
    cold_rows = data.ratings[data.ratings["item_id"].isin(cold_ids)]
    assert split.test[:, split.cold].nnz == len(cold_rows)  # every rating of a cold item is tested
    per_user = np.diff(split.train.indptr)
    assert per_user.min() >= 1
    report = split.report
    assert report["n_cold_items"] == int(split.cold.sum()) and report["n_test_cold"] == len(cold_rows)
    with pytest.raises(ValueError, match="cold_fraction"):
        cold_start.cold_item_split(data.ratings, cold_fraction=1.0)
    with pytest.raises(ValueError, match="candidates"):
        split.mask("lukewarm")


def test_tie_broken_scores_keep_the_order_and_randomise_ties():
    scores = np.array([[3.0, 1.0, 1.0, 1.0, 1.0 + 1e-15, 2.0]] * 200)
    broken = cold_start.tie_broken_scores(scores, seed=0)
    order = np.argsort(-broken, axis=1)
    assert (order[:, 0] == 0).all() and (order[:, 1] == 5).all()  # distinct scores keep their order
    # the four (near-)tied items come in every order, not by index: 1e-15 is round-off, not a preference
    assert len({tuple(row[2:]) for row in order}) > 10
    np.testing.assert_array_equal(broken, cold_start.tie_broken_scores(scores, seed=0))


def test_content_beats_popularity_on_cold_items(world):
    data, idmap, split, genres = world
    models = {
        "popularity": Popularity(),
        "implicit ALS": ImplicitALS(factors=8, iterations=5, regularization=1.0, num_threads=1, random_state=0),
        "content": ContentModel(genres),
    }
    table = cold_start.cold_start_table(models, split, candidates=cold_start.CANDIDATES, k=10, seed=0, progress=False)
    ndcg = table["ndcg@10"].unstack()
    # the only model that can rank items nobody has seen: popularity and ALS rank them at random
    assert ndcg.loc["content", "cold"] > 2 * ndcg.loc["popularity", "cold"]
    assert ndcg.loc["content", "cold"] > ndcg.loc["popularity", "cold"] + 0.1
    assert ndcg.loc["content", "cold"] > 2 * ndcg.loc["implicit ALS", "cold"]
    assert ndcg.loc["popularity", "warm"] > 0  # and popularity is a real baseline where it can see
    assert table.loc[("content", "cold"), "mean_popularity@10"] == 0.0  # cold items have no training count
    # per user, for paired verdicts: within a candidate set, the same users for every model
    again, per_user = cold_start.cold_start_table(
        models, split, candidates=cold_start.CANDIDATES, k=10, seed=0, progress=False, return_per_user=True
    )
    assert again.equals(table)
    for part in cold_start.CANDIDATES:
        sizes = {per_user[(m, part)].size for m in models}
        assert sizes == {int(table.loc[("content", part), "n_users"])}
        for m in models:
            assert per_user[(m, part)].mean() == pytest.approx(table.loc[(m, part), "ndcg@10"])
    from recsys import stats

    cold = stats.leader({m: per_user[(m, "cold")] for m in models}, "cold nDCG@10")
    assert cold.winner == "content"


def test_evaluate_cold_start_ranks_each_candidate_set_among_its_own_items_only(world):
    _, _, split, genres = world
    model = Popularity().fit(binarize(split.train))  # prefers warm items: a cold list must still be all cold
    results = cold_start.evaluate_cold_start(model, split, candidates=cold_start.CANDIDATES, k=5, seed=2)
    scores = cold_start.tie_broken_scores(model.score(np.arange(model.n_users_)), seed=2)

    class Masked:  # the reference: every item a candidate in name, the others scored -inf
        n_users_, n_items_ = scores.shape

        def __init__(self, mask):
            self.mask = mask

        def score(self, users):
            out = scores[users].copy()
            out[:, ~self.mask] = -np.inf
            return out

    relevant = binarize(split.test)
    for part in cold_start.CANDIDATES:
        mask = split.mask(part)
        on_part = sp.csr_matrix(relevant.multiply(mask[None, :].astype(float)))
        on_part.eliminate_zeros()
        reference = evaluate_ranking(Masked(mask), split.train, on_part, k=5, return_per_user=True)
        recommended = reference["per_user"]["recommended"]
        assert mask[recommended[recommended >= 0]].all()
        for metric in ("ndcg@5", "recall@5", "precision@5", "mean_popularity@5", "n_users"):
            assert results[part][metric] == pytest.approx(reference[metric]), (part, metric)
        shown = np.unique(recommended[recommended >= 0]).size / mask.sum()
        assert results[part]["coverage@5"] == pytest.approx(shown)
        assert results[part]["cold_share@5"] == pytest.approx(split.cold[recommended[recommended >= 0]].mean())
    assert results["warm"]["cold_share@5"] == 0.0 and results["cold"]["cold_share@5"] == 1.0


def test_one_protocol_whichever_candidates_a_chapter_names(world):
    _, _, split, genres = world
    model = experiments.fit(ContentModel(genres), split.train)
    every = cold_start.evaluate_cold_start(model, split, candidates=cold_start.CANDIDATES, k=5, seed=4)
    cold_only = cold_start.evaluate_cold_start(model, split, candidates=["cold"], k=5, seed=4)  # notebook 07's view
    assert list(cold_only) == ["cold"] and cold_only["cold"] == every["cold"]
    scores = model.score(np.arange(model.n_users_))
    assert cold_start.evaluate_cold_start(scores, split, candidates="cold", k=5, seed=4) == cold_only
    with pytest.raises(TypeError, match="candidates"):
        cold_start.evaluate_cold_start(model, split, k=5)  # no default: a chapter says which question it asks
    with pytest.raises(ValueError, match="candidates"):
        cold_start.evaluate_cold_start(model, split, candidates=["lukewarm"])
    with pytest.raises(ValueError, match="candidates is empty"):
        cold_start.cold_start_table({"content": ContentModel(genres)}, split, candidates=[], progress=False)


def test_cold_start_table_scores_scorers_like_models(world):
    data, idmap, split, genres = world
    held_out = split.test.multiply(split.cold[None, :].astype(float)).toarray()

    def oracle(s):  # knows the held-out ratings
        assert s is split
        return held_out

    table = cold_start.cold_start_table(
        {"oracle": oracle, "popularity": Popularity()}, split, candidates=["cold"], k=10, seed=0, progress=False
    )
    assert table.loc[("oracle", "cold"), "ndcg@10"] == pytest.approx(1.0)
    assert table.loc[("popularity", "cold"), "ndcg@10"] < 0.3
    with pytest.raises(TypeError, match="neither a model nor a scorer"):
        cold_start.cold_start_table({"genres": genres}, split, candidates=["cold"], progress=False)


def test_side_feature_scorer_places_cold_items_by_their_features_alone(world):
    data, idmap, split, _ = world
    fm = FactorizationMachine(factors=8, iterations=15, learning_rate=0.05, random_state=0)
    scorer = cold_start.side_feature_scorer(fm, data.items)
    scores = scorer(split)
    assert scores.shape == idmap.shape
    # two cold films with the same genres and year are the same film to it
    features = data.items.loc[idmap.item_ids[split.cold]]
    keys = [(tuple(g), y) for g, y in zip(features["genres"], features["year"])]
    first = {}
    for column, key in zip(np.flatnonzero(split.cold), keys):
        if key in first:
            np.testing.assert_allclose(scores[:, column], scores[:, first[key]], rtol=1e-5, atol=1e-6)
            break
        first[key] = column
    else:  # pragma: no cover - the genre world has six genres and one year: twins are certain
        raise AssertionError("no two cold films share their features")
    table = cold_start.cold_start_table(
        {"FM + side features": scorer, "popularity": Popularity()},
        split,
        candidates=["cold"],
        k=10,
        seed=0,
        progress=False,
    )
    ndcg = table["ndcg@10"].xs("cold", level="candidates")
    assert ndcg["FM + side features"] > 2 * ndcg["popularity"]
    with pytest.raises(TypeError, match="FactorizationMachine"):
        cold_start.side_feature_scorer(Popularity(), data.items)


# -------------------------------------------------------------------------- the hybrid


def _z(scores):
    return (scores - scores.mean(axis=1, keepdims=True)) / scores.std(axis=1, keepdims=True)


def test_hybrid_adds_standardised_scores_and_keeps_the_factor_contract(world):
    _, _, split, genres = world
    X = binarize(split.train)
    collaborative = ImplicitALS(factors=6, iterations=4, regularization=1.0, num_threads=1, random_state=0)
    hybrid = HybridModel(collaborative, ContentModel(genres), weight=0.3).fit(X)
    users = np.arange(X.shape[0])
    warm_users = users[np.diff(X.indptr) > 0]
    parts = [np.asarray(p.score(warm_users), dtype=np.float64) for p in (hybrid.collaborative_, hybrid.content_)]
    expected = 0.3 * _z(parts[0]) + 0.7 * _z(parts[1])
    np.testing.assert_allclose(hybrid.score(warm_users), expected, atol=1e-5)
    U, V = hybrid.inner_product_factors()
    np.testing.assert_allclose(U @ V.T, hybrid.score(users), atol=1e-8)
    for weight, part in ((1.0, 0), (0.0, 1)):
        ranked = np.argsort(-hybrid.reweighted(weight).score(warm_users), axis=1, kind="stable")[:, :10]
        alone = np.argsort(-_z(parts[part]), axis=1, kind="stable")[:, :10]
        assert (ranked == alone).mean() > 0.99
    refit = HybridModel(collaborative, ContentModel(genres), weight=0.8).fit(X)
    np.testing.assert_allclose(hybrid.reweighted(0.8).score(users), refit.score(users), atol=1e-6)
    assert hybrid.weight == 0.3  # reweighted returns a copy


def test_hybrid_refuses_bad_weights_and_parts():
    X = sp.csr_matrix(np.eye(4))
    content = ContentModel(np.eye(4))
    with pytest.raises(ValueError, match="weight"):
        HybridModel(Popularity(), content, weight=1.5).fit(X)
    with pytest.raises(TypeError, match="collaborative"):
        HybridModel(object(), content).fit(X)
    with pytest.raises(TypeError, match="content"):
        HybridModel(Popularity(), "genres").fit(X)


def test_hybrid_weight_is_chosen_on_training_data_only(world, monkeypatch):
    data, idmap, split, genres = world
    prototype = HybridModel(
        ImplicitALS(factors=6, iterations=4, regularization=1.0, num_threads=1, random_state=0), ContentModel(genres)
    )
    outer_test = set(zip(*split.test.nonzero()))
    evaluated = []
    real = cold_start.evaluate_cold_start

    def spy(model, inner, **kwargs):
        evaluated.append(inner)
        return real(model, inner, **kwargs)

    monkeypatch.setattr(cold_start, "evaluate_cold_start", spy)
    weights = [0.0, 0.5, 1.0]
    best, table = cold_start.tune_hybrid(prototype, weights, split.train_ratings, idmap, k=10, seed=3)
    assert best in weights and list(table.index) == weights
    assert best == table.index[int(np.argmax(table["ndcg@10"].to_numpy()))]
    assert len(evaluated) == len(weights)
    for inner in evaluated:  # every pair the validation scores or trains on comes from the training side
        pairs = set(zip(*inner.test.nonzero())) | set(zip(*inner.train.nonzero()))
        assert not pairs & outer_test
        assert pairs <= set(zip(*split.train.nonzero()))
    with pytest.raises(TypeError, match="HybridModel"):
        cold_start.tune_hybrid(Popularity(), weights, split.train_ratings, idmap)


def test_measure_table_and_overlaps_on_a_small_split(world):
    data, _, _, _ = world
    from recsys import splits

    ranking_split = splits.stratified_holdout(data.ratings, 0.75, seed=0)
    m = experiments.Matrices.from_split(ranking_split)
    fitted, seconds = experiments.fit_models(
        {"ials": ImplicitALS(factors=6, iterations=4, regularization=1.0, num_threads=1, random_state=0)},
        m.train,
        progress=False,
    )
    table, lists = similarity_eval.measure_table(fitted, m.train, m.test, k=5, progress=False)
    assert list(table.index) == [("ials", s) for s in ("dot", "cosine", "euclidean")]
    direct = evaluate_ranking(fitted["ials"], m.train, binarize(m.test), k=5)
    assert table.loc[("ials", "dot"), "ndcg@5"] == pytest.approx(direct["ndcg@5"])
    # per user, for paired verdicts: the same users for every measure, means equal to the table's
    _, _, per_user = similarity_eval.measure_table(fitted, m.train, m.test, k=5, progress=False, return_per_user=True)
    for measure in ("dot", "cosine", "euclidean"):
        assert per_user[("ials", measure)].mean() == pytest.approx(table.loc[("ials", measure), "ndcg@5"])
    leaders = similarity_eval.measure_leaders(per_user, "nDCG@5")
    assert list(leaders) == ["ials"]
    assert leaders["ials"].best == table.loc["ials", "ndcg@5"].idxmax()
    assert set(leaders["ials"].differences) == {"dot", "cosine", "euclidean"} - {leaders["ials"].best}
    assert leaders["ials"].kind == "measure" and "other model" not in str(leaders["ials"])
    with pytest.raises(ValueError, match="empty"):
        similarity_eval.measure_leaders({})
    overlap = similarity_eval.overlaps(lists)["ials"]
    assert set(overlap) == {"dot vs cosine", "dot vs euclidean", "cosine vs euclidean"}
    assert all(((v >= 0) & (v <= 1)).all() for v in overlap.values())
    items = similarity_eval.item_overlaps(fitted, k=5, n_items=20, seed=0)
    assert items.shape == (1, 3) and ((items >= 0) & (items <= 1)).all().all()
    norm_pop = similarity_eval.norm_popularity_table(fitted, m.train)
    assert -1 <= norm_pop.loc["ials", "spearman"] <= 1
    titles = np.array([f"film {i}" for i in m.idmap.item_ids])
    more = similarity_eval.more_like_this(fitted["ials"], 0, titles, np.ones(m.idmap.n_items), k=3)
    assert len(more) == 9 and "film 1" not in set(more["title"])  # the film itself is never its own neighbour
