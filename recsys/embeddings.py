"""Looking at learned vectors: projections, neighbours, and how to compare two embedding spaces.

What belongs here (notebook 04 and the chapters after it): functions that take factor matrices
(``model.item_factors_``, or ``model.inner_product_factors()``) and item metadata (a
:class:`recsys.catalogue.Catalogue`: titles, genres, popularity, title search), and return
numbers or coordinates:

* :func:`project`: 2-D coordinates by PCA, t-SNE or (when installed) UMAP;
* :func:`nearest_items`, :func:`neighbour_table`, :func:`neighbours_of_titles`: exact nearest
  items of items by dot product, cosine or Euclidean distance (:mod:`recsys.similarity`'s
  measures and its one top-k, :func:`recsys.similarity.top_k_rows`; the top items of a user
  vector are :func:`recsys.similarity.top_k_items`);
* :func:`genre_coherence`: how often an item's nearest neighbours share a genre with it, against
  a popularity-matched random baseline;
* :func:`norm_popularity_correlation`: the correlation of item vector length with log popularity;
* :func:`neighbour_overlap` (Jaccard@k), :func:`linear_cka` and :func:`procrustes_disparity`:
  how alike two spaces are, the last two invariant to rotation; :func:`axis_correlation` shows
  that single axes are not;
* :func:`space_summary`: coherence, norm-popularity, overlap and CKA of several spaces at once;
* :func:`spread_directions`, :func:`count_within_angle`, :func:`closeness_table`: choosing and
  describing users in a 2-factor plane by rule rather than by hand.

Why rotation invariance matters: a factorisation ``P Q^T`` is unchanged by ``P -> P R``,
``Q -> Q R`` for any orthogonal ``R`` (and so is an L2 penalty on ``P`` and ``Q``), so the axes
of one fit are an accident of its random start. Inner products, norms, angles and distances
survive the rotation; a single coordinate does not.

It may import :mod:`recsys.checks`, :mod:`recsys.similarity`, :mod:`recsys.catalogue`, numpy,
scipy, pandas and scikit-learn; it never imports models, evaluation or the notebook machinery:
vectors in, numbers out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from recsys.catalogue import Catalogue
from recsys.checks import check_choice, check_indices, check_integer, check_number, check_seed
from recsys.similarity import MEASURES, Measure, check_vectors, similarity, top_k_rows

__all__ = [
    "PROJECTIONS",
    "available_projections",
    "axis_correlation",
    "cka_matrix",
    "count_within_angle",
    "describe_correlation",
    "genre_coherence",
    "linear_cka",
    "closeness_table",
    "nearest_items",
    "neighbour_overlap",
    "neighbour_table",
    "neighbours_of_titles",
    "norm_popularity_correlation",
    "procrustes_disparity",
    "procrustes_matrix",
    "project",
    "space_summary",
    "spread_directions",
]

Projection = Literal["pca", "tsne", "umap"]
PROJECTIONS: tuple[str, ...] = ("pca", "tsne", "umap")

#: Rows of query vectors scored against the candidates at once (bounds the dense score block).
_QUERY_BATCH = 1024


# ---------------------------------------------------------------------------- users in a plane


def spread_directions(vectors, n: int, among=None) -> np.ndarray:
    """``n`` rows of 2-D ``vectors`` whose directions spread over the range of angles the rows span.

    Picks, among ``among`` (default all rows), the rows nearest to ``n`` evenly spaced quantiles
    of the angle: a few user arrows that point different ways, chosen by rule, not by hand.
    """
    vectors = check_vectors(vectors, dim=2)
    n = check_integer("n", n, 1)
    pool = (
        np.arange(vectors.shape[0]) if among is None else check_indices("among", among, vectors.shape[0], unique=True)
    )
    if n > pool.size:
        raise ValueError(f"n={n} but only {pool.size} rows to choose from")
    angles = np.arctan2(vectors[pool, 1], vectors[pool, 0])
    # measure angles from the middle of the widest empty arc, so the quantiles do not wrap around
    ordered = np.sort(angles)
    gaps = np.diff(np.append(ordered, ordered[0] + 2 * np.pi))
    cut = ordered[int(np.argmax(gaps))] + gaps.max() / 2
    unwrapped = np.mod(angles - cut, 2 * np.pi)
    targets = np.quantile(unwrapped, (np.arange(n) + 0.5) / n)
    chosen: list[int] = []
    for target in targets:
        distance = np.abs(unwrapped - target)
        distance[chosen] = np.inf
        chosen.append(int(np.argmin(distance)))
    return pool[np.array(chosen)]


# ------------------------------------------------------------------------------- projections


def available_projections() -> tuple[str, ...]:
    """The projections :func:`project` can run here: PCA and t-SNE always, UMAP if ``umap-learn`` is installed."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return ("pca", "tsne")
    return PROJECTIONS


def project(
    vectors,
    method: Projection = "pca",
    *,
    seed: int = 0,
    perplexity: float = 30.0,
    metric: Literal["euclidean", "cosine"] = "cosine",
    max_iter: int = 1000,
    directions: bool = False,
) -> np.ndarray:
    """2-D coordinates of ``vectors`` (n, d): an (n, 2) float64 array.

    With ``directions=True`` each vector is first divided by its length (zero vectors stay at
    zero): the map of directions only, what cosine similarity sees, where a model whose lengths
    follow popularity no longer squeezes its rarely rated items into the centre.

    * ``"pca"``: the plane of largest variance (linear, keeps lengths: long vectors land far out);
    * ``"tsne"``: t-SNE (van der Maaten & Hinton 2008) on ``metric`` distances, ``perplexity``
      neighbours, PCA initialisation; it keeps neighbourhoods, not distances or lengths; runs on
      one thread (reproducible, and no oversubscription of a shared machine);
    * ``"umap"``: UMAP with ``metric``, if ``umap-learn`` is installed (``ImportError`` naming the
      package otherwise).

    The same ``seed`` gives the same coordinates (PCA's signs fixed: the largest coordinate of
    each axis is positive).
    """
    check_choice("method", method, PROJECTIONS)
    check_choice("metric", metric, ("euclidean", "cosine"))
    seed = check_integer("seed", seed, 0)
    X = check_vectors(vectors).astype(np.float64)
    if X.shape[0] < 3:
        raise ValueError(f"vectors must hold at least 3 rows to project, got {X.shape[0]}")
    if not isinstance(directions, (bool, np.bool_)):
        raise TypeError(f"directions must be True or False, got {directions!r}")
    if directions:
        lengths = np.linalg.norm(X, axis=1, keepdims=True)
        X = np.divide(X, lengths, out=np.zeros_like(X), where=lengths > 0)
    if method == "pca":
        from sklearn.decomposition import PCA

        n_components = min(2, X.shape[1])
        Y = PCA(n_components=n_components, random_state=seed).fit_transform(X)
        if n_components < 2:
            Y = np.hstack([Y, np.zeros((Y.shape[0], 1))])
        signs = np.sign(Y[np.abs(Y).argmax(axis=0), np.arange(2)])
        return Y * np.where(signs == 0, 1.0, signs)
    perplexity = check_number("perplexity", perplexity, 0, exclusive=True)
    if method == "tsne":
        from sklearn.manifold import TSNE
        from threadpoolctl import threadpool_limits

        if perplexity >= X.shape[0]:
            raise ValueError(f"perplexity must be below the number of vectors ({X.shape[0]}), got {perplexity!r}")
        max_iter = check_integer("max_iter", max_iter, 250)
        with threadpool_limits(1):
            tsne = TSNE(
                n_components=2,
                perplexity=perplexity,
                metric=metric,
                init="pca",
                random_state=seed,
                max_iter=max_iter,
                n_jobs=1,
            )
            return tsne.fit_transform(X).astype(np.float64)
    try:
        import umap
    except ImportError as error:
        raise ImportError("method='umap' needs the umap-learn package (pip install umap-learn)") from error
    reducer = umap.UMAP(n_components=2, metric=metric, random_state=seed, n_jobs=1)
    return np.asarray(reducer.fit_transform(X), dtype=np.float64)


# -------------------------------------------------------------------------------- neighbours


def nearest_items(
    vectors,
    queries=None,
    k: int = 10,
    measure: Measure = "cosine",
    candidates=None,
) -> np.ndarray:
    """The ``k`` nearest items of each query item (itself left out), best first: (n_queries, k) indices.

    ``queries`` and ``candidates`` are item indices into ``vectors`` (default: all items);
    neighbours are searched among ``candidates`` only. Similarity is :func:`recsys.similarity.similarity`
    under ``measure``; ties go to the lower index. Exact, in batches of queries.
    """
    check_choice("measure", measure, MEASURES)
    vectors = check_vectors(vectors, "vectors")
    n = vectors.shape[0]
    pool = (
        np.arange(n, dtype=np.int64) if candidates is None else check_indices("candidates", candidates, n, unique=True)
    )
    asked = pool if queries is None else np.asarray(queries).ravel()
    asked = check_indices("queries", asked, n, unique=True) if asked.size else asked.astype(np.int64)
    k = check_integer("k", k, 1)
    if k > pool.size - 1:
        raise ValueError(f"k={k} but there are only {pool.size} candidates (one of them may be the query)")
    out = np.empty((asked.size, k), dtype=np.int64)
    position = np.full(n, -1, dtype=np.int64)
    position[pool] = np.arange(pool.size)
    pool_vectors = vectors[pool]
    for start in range(0, asked.size, _QUERY_BATCH):
        batch = asked[start : start + _QUERY_BATCH]
        scores = similarity(vectors[batch], pool_vectors, measure).astype(np.float64)
        own = position[batch]
        inside = own >= 0
        scores[np.nonzero(inside)[0], own[inside]] = -np.inf
        out[start : start + batch.size] = pool[top_k_rows(scores, k)]
    return out


def neighbour_table(
    spaces: Mapping[str, np.ndarray],
    catalogue: Catalogue,
    query: int | str,
    k: int = 10,
    measure: Measure = "cosine",
    candidates=None,
    width: int | None = 40,
) -> pd.DataFrame:
    """The ``k`` nearest titles of one item in each space: rows = rank (1..k), columns = space names.

    ``query`` is an item index or a title (found with :meth:`Catalogue.find`); ``spaces`` maps a
    name to an (n_items, d) matrix whose rows follow ``catalogue``.
    """
    index = catalogue.find(query) if isinstance(query, str) else check_integer("query", query, 0, len(catalogue) - 1)
    columns = {}
    for name, vectors in spaces.items():
        if len(vectors) != len(catalogue):
            raise ValueError(f"space {name!r} has {len(vectors)} rows, the catalogue {len(catalogue)} items")
        found = nearest_items(vectors, [index], k, measure, candidates)[0]
        columns[name] = catalogue.short_titles(found, width)
    return pd.DataFrame(columns, index=pd.RangeIndex(1, k + 1, name="rank"))


def neighbours_of_titles(
    vectors,
    catalogue: Catalogue,
    queries: Sequence[int | str],
    k: int = 10,
    measure: Measure = "cosine",
    candidates=None,
    width: int | None = 40,
) -> pd.DataFrame:
    """The ``k`` nearest titles of several items in one space: rows = rank, columns = the queries' titles."""
    vectors = check_vectors(vectors, "vectors")
    if vectors.shape[0] != len(catalogue):
        raise ValueError(f"vectors have {vectors.shape[0]} rows, the catalogue {len(catalogue)} items")
    indices = [
        catalogue.find(q) if isinstance(q, str) else check_integer("query", q, 0, len(catalogue) - 1) for q in queries
    ]
    found = nearest_items(vectors, indices, k, measure, candidates)
    columns = {
        title: catalogue.short_titles(row, width) for title, row in zip(catalogue.short_titles(indices, width), found)
    }
    return pd.DataFrame(columns, index=pd.RangeIndex(1, k + 1, name="rank"))


def count_within_angle(queries, vectors, degrees: float = 10.0) -> np.ndarray:
    """For each query vector, how many of ``vectors`` point within ``degrees`` of its direction."""
    degrees = check_number("degrees", degrees, 0, 180)
    vectors = check_vectors(vectors, "vectors")
    queries = check_vectors(queries, "queries", dim=vectors.shape[1])
    return (similarity(queries, vectors, "cosine") >= np.cos(np.radians(degrees))).sum(axis=1)


def closeness_table(user_vector, item_vectors, items) -> pd.DataFrame:
    """Dot product, cosine, angle (degrees) and Euclidean distance of one user to some items.

    One row per entry of ``items`` (indices into ``item_vectors``): the numbers behind "this user
    is closer to film A than to film C".
    """
    item_vectors = check_vectors(item_vectors, "item_vectors")
    user = check_vectors(np.atleast_2d(user_vector), "user_vector", dim=item_vectors.shape[1])
    items = check_indices("items", np.asarray(items).ravel(), item_vectors.shape[0], unique=True)
    chosen = item_vectors[items]
    cosine = similarity(user, chosen, "cosine")[0]
    return pd.DataFrame(
        {
            "dot": similarity(user, chosen, "dot")[0],
            "cosine": cosine,
            "angle_degrees": np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))),
            "distance": -similarity(user, chosen, "euclidean")[0],
            "item_norm": np.linalg.norm(chosen, axis=1),
        },
        index=pd.Index(items, name="item"),
    )


# ---------------------------------------------------------------------------- genre coherence


def _popularity_bins(popularity: np.ndarray, pool: np.ndarray, n_bins: int, rng) -> np.ndarray:
    """Bin of every pool item: ``n_bins`` groups of (nearly) equal size by popularity rank.

    Ties in popularity are ordered at random, so equal counts do not all fall into one bin.
    """
    order = np.lexsort((rng.random(pool.size), popularity[pool]))
    bins = np.empty(pool.size, dtype=np.int64)
    bins[order] = np.arange(pool.size) * n_bins // pool.size
    return bins


def genre_coherence(
    vectors,
    catalogue: Catalogue,
    *,
    k: int = 10,
    measure: Measure = "cosine",
    candidates=None,
    n_bins: int = 10,
    draws: int = 5,
    seed: int = 0,
) -> dict:
    """How often an item's ``k`` nearest neighbours share a genre with it, and what chance gives.

    For every candidate item with at least one genre, its ``k`` nearest candidates under
    ``measure`` are found (:func:`nearest_items`); ``coherence`` is the mean share of them that
    share at least one genre with it. ``baseline`` replaces each neighbour by a random candidate
    of the same popularity bin (``n_bins`` bins of equal size by training popularity), ``draws``
    times, so that a space which merely puts popular films next to each other, whose genres
    (Drama, Comedy) are common, gets no credit. ``lift = coherence / baseline``.
    Returns ``{"coherence", "baseline", "lift", "n_items", "k", "per_item"}``; ``per_item`` is a
    DataFrame indexed by the query items with each one's ``coherence`` and ``baseline`` share, for
    intervals and paired comparisons over the items (their means are the two numbers above).
    """
    vectors = check_vectors(vectors, "vectors")
    if vectors.shape[0] != len(catalogue):
        raise ValueError(f"vectors have {vectors.shape[0]} rows, the catalogue {len(catalogue)} items")
    n_bins = check_integer("n_bins", n_bins, 1)
    draws = check_integer("draws", draws, 1)
    check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    n = vectors.shape[0]
    pool = (
        np.arange(n, dtype=np.int64) if candidates is None else check_indices("candidates", candidates, n, unique=True)
    )
    masks = catalogue.genre_masks()
    queries = pool[masks[pool] != 0]
    if queries.size == 0:
        raise ValueError("no candidate item has a genre; genre coherence needs genres")
    neighbours = nearest_items(vectors, queries, k, measure, pool)
    shared = (masks[queries][:, None] & masks[neighbours]) != 0
    coherence = float(shared.mean())
    per_item_baseline = np.zeros(queries.size)

    n_bins = min(n_bins, pool.size)
    bins_of_pool = _popularity_bins(catalogue.popularity, pool, n_bins, rng)
    bin_of = np.full(n, -1, dtype=np.int64)
    bin_of[pool] = bins_of_pool
    by_bin = np.argsort(bins_of_pool, kind="stable")
    members = pool[by_bin]
    starts = np.searchsorted(bins_of_pool[by_bin], np.arange(n_bins))
    sizes = np.diff(np.append(starts, pool.size))
    target_bins = bin_of[neighbours]
    hits = 0.0
    for _ in range(draws):
        sample = members[starts[target_bins] + (rng.random(target_bins.shape) * sizes[target_bins]).astype(np.int64)]
        clash = sample == queries[:, None]  # the query itself is no neighbour: draw again
        while clash.any():
            b = target_bins[clash]
            sample[clash] = members[starts[b] + (rng.random(b.size) * sizes[b]).astype(np.int64)]
            clash = sample == queries[:, None]
        matches = (masks[queries][:, None] & masks[sample]) != 0
        hits += float(matches.mean())
        per_item_baseline += matches.mean(axis=1)
    baseline = hits / draws
    per_item = pd.DataFrame(
        {"coherence": shared.mean(axis=1), "baseline": per_item_baseline / draws},
        index=pd.Index(queries, name="item"),
    )
    return {
        "coherence": coherence,
        "baseline": baseline,
        "lift": coherence / baseline if baseline > 0 else float("nan"),
        "n_items": int(queries.size),
        "k": int(k),
        "per_item": per_item,
    }


# ------------------------------------------------------------------------------ norm vs popularity


def norm_popularity_correlation(vectors, popularity, items=None) -> dict:
    """Correlation of item vector length with log popularity.

    ``popularity`` holds training interactions per item; items with none are left out (their
    vectors are whatever the initialisation and the penalty left). Returns ``pearson`` (of the norm
    against ``log(popularity)``), ``spearman`` (rank correlation, the same for any monotone
    transform), the slope of norm on log popularity and ``n_items``.
    """
    vectors = check_vectors(vectors, "vectors")
    popularity = np.asarray(popularity, dtype=np.float64).ravel()
    if popularity.size != vectors.shape[0]:
        raise ValueError(f"popularity has {popularity.size} entries for {vectors.shape[0]} vectors")
    chosen = (
        np.arange(vectors.shape[0]) if items is None else check_indices("items", items, vectors.shape[0], unique=True)
    )
    chosen = chosen[popularity[chosen] > 0]
    if chosen.size < 3:
        raise ValueError("norm_popularity_correlation needs at least 3 items with a positive popularity")
    norms = np.linalg.norm(vectors[chosen], axis=1)
    log_popularity = np.log(popularity[chosen])
    if np.ptp(norms) == 0 or np.ptp(log_popularity) == 0:
        raise ValueError("norms or popularities are all equal: no correlation to measure")
    pearson = float(stats.pearsonr(norms, log_popularity).statistic)
    spearman = float(stats.spearmanr(norms, log_popularity).statistic)
    slope = float(np.polyfit(log_popularity, norms, 1)[0])
    return {"pearson": pearson, "spearman": spearman, "slope": slope, "n_items": int(chosen.size)}


def describe_correlation(r: float) -> str:
    """A correlation in words: "strong positive" (|r| >= 0.5), "moderate" (>= 0.3), "weak" (>= 0.1), else "no clear"."""
    r = check_number("r", r, -1, 1)
    size = abs(r)
    if size < 0.1:
        return "no clear"
    strength = "strong" if size >= 0.5 else "moderate" if size >= 0.3 else "weak"
    return f"{strength} {'positive' if r > 0 else 'negative'}"


# ---------------------------------------------------------------------------- comparing spaces


def _indicator(neighbours: np.ndarray, n: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(neighbours.shape[0]), neighbours.shape[1])
    return sp.csr_matrix((np.ones(neighbours.size), (rows, neighbours.ravel())), shape=(neighbours.shape[0], n))


def neighbour_overlap(
    spaces: Mapping[str, np.ndarray], k: int = 10, measure: Measure = "cosine", candidates=None
) -> pd.DataFrame:
    """Mean Jaccard@``k`` of the item neighbour lists of every pair of spaces: a square DataFrame.

    For each candidate item, ``|A & B| / |A | B|`` of its ``k`` nearest candidates in space A and in
    space B (itself left out), averaged over items. 1 on the diagonal; two unrelated spaces give
    about ``k / (2 n)`` for ``n`` candidates.
    """
    names = list(spaces)
    if not names:
        raise ValueError("spaces is empty")
    n = len(next(iter(spaces.values())))
    lists = {}
    for name in names:
        if len(spaces[name]) != n:
            raise ValueError(f"space {name!r} has {len(spaces[name])} rows, the first space {n}")
        pool = np.arange(n) if candidates is None else candidates
        lists[name] = _indicator(nearest_items(spaces[name], pool, k, measure, pool), n)
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a_pos, a in enumerate(names):
        for b in names[a_pos + 1 :]:
            inter = np.asarray(lists[a].multiply(lists[b]).sum(axis=1)).ravel()
            jaccard = float(np.mean(inter / (2 * k - inter)))
            out.loc[a, b] = out.loc[b, a] = jaccard
    return out


def _centred(X, name: str) -> np.ndarray:
    X = check_vectors(X, name).astype(np.float64)
    return X - X.mean(axis=0)


def _pair(X, Y) -> tuple[np.ndarray, np.ndarray]:
    X, Y = _centred(X, "X"), _centred(Y, "Y")
    if X.shape[0] != Y.shape[0]:
        raise ValueError(f"X and Y must describe the same items: {X.shape[0]} and {Y.shape[0]} rows")
    if not np.linalg.norm(X) or not np.linalg.norm(Y):
        raise ValueError("X or Y is constant after centring: nothing to compare")
    return X, Y


def linear_cka(X, Y) -> float:
    """Linear centred kernel alignment of two representations of the same items (Kornblith et al. 2019).

    ``||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)`` on column-centred ``X`` (n, p) and ``Y`` (n, q):
    1 when one is a rotation (or reflection, or uniform scaling) of the other, near 0 for unrelated
    spaces. ``p`` and ``q`` may differ.
    """
    X, Y = _pair(X, Y)
    cross = np.linalg.norm(Y.T @ X) ** 2
    return float(cross / (np.linalg.norm(X.T @ X) * np.linalg.norm(Y.T @ Y)))


def procrustes_disparity(X, Y) -> float:
    """What is left after the best rotation and scaling of one space onto the other, in [0, 1].

    Both are column-centred and scaled to unit Frobenius norm; then
    ``min_{R orthogonal, s} ||Y - s X R||_F^2 = 1 - ||X^T Y||_*^2`` (nuclear norm), scipy's
    ``procrustes`` disparity, extended to spaces of different dimension (zero-padding the smaller
    one changes nothing). 0 = the same up to rotation and scale.
    """
    X, Y = _pair(X, Y)
    X, Y = X / np.linalg.norm(X), Y / np.linalg.norm(Y)
    nuclear = np.linalg.svd(X.T @ Y, compute_uv=False).sum()
    return float(max(0.0, 1.0 - nuclear**2))


def procrustes_matrix(X, Y) -> np.ndarray:
    """The orthogonal ``R`` (p, p) minimising ``||X R - Y||_F`` for same-shaped ``X``, ``Y`` (not centred)."""
    X, Y = check_vectors(X, "X"), check_vectors(Y, "Y", dim=np.asarray(X).shape[1])
    if X.shape != Y.shape:
        raise ValueError(f"X and Y must have the same shape, got {X.shape} and {Y.shape}")
    U, _, Vt = np.linalg.svd(X.T.astype(np.float64) @ Y.astype(np.float64))
    return U @ Vt


def cka_matrix(spaces: Mapping[str, np.ndarray], items=None, method: Literal["cka", "procrustes"] = "cka"):
    """:func:`linear_cka` (or ``1 -`` :func:`procrustes_disparity`) of every pair of spaces, on ``items``."""
    check_choice("method", method, ("cka", "procrustes"))
    names = list(spaces)
    if not names:
        raise ValueError("spaces is empty")
    chosen = {n: (np.asarray(v) if items is None else np.asarray(v)[np.asarray(items)]) for n, v in spaces.items()}
    out = pd.DataFrame(np.eye(len(names)), index=names, columns=names)
    for a_pos, a in enumerate(names):
        for b in names[a_pos + 1 :]:
            value = (
                linear_cka(chosen[a], chosen[b]) if method == "cka" else 1 - procrustes_disparity(chosen[a], chosen[b])
            )
            out.loc[a, b] = out.loc[b, a] = value
    return out


def axis_correlation(X, Y) -> np.ndarray:
    """For each column of ``X``, its largest absolute Pearson correlation with any column of ``Y``.

    Two fits of one model from different seeds: near 1 would mean the axes are the same features;
    MF's rotation freedom makes them much lower while :func:`linear_cka` stays near 1.
    """
    X, Y = _pair(X, Y)
    sx, sy = np.linalg.norm(X, axis=0), np.linalg.norm(Y, axis=0)
    corr = (X.T @ Y) / np.outer(np.where(sx > 0, sx, 1), np.where(sy > 0, sy, 1))
    return np.abs(corr).max(axis=1)


# --------------------------------------------------------------------------------- one summary


def space_summary(
    spaces: Mapping[str, np.ndarray],
    catalogue: Catalogue,
    *,
    k: int = 10,
    measures: Sequence[str] = ("cosine", "dot"),
    candidates=None,
    n_bins: int = 10,
    draws: int = 5,
    seed: int = 0,
) -> dict:
    """The chapter's four measurements of several item spaces at once (rows follow ``catalogue``).

    Returns DataFrames: ``"coherence"`` (one row per space; per measure the genre coherence of
    the ``k`` nearest ``candidates``, its popularity-matched baseline and the lift, see
    :func:`genre_coherence`), ``"norm_popularity"`` (:func:`norm_popularity_correlation` over every item with a
    training rating and, given ``candidates``, over those alone: ``pearson_candidates``,
    ``spearman_candidates``, ``n_candidates``; among rarely rated items the penalty alone shrinks
    vectors towards zero, so the correlation over all items says less), ``"overlap"`` (cosine Jaccard@k between spaces, :func:`neighbour_overlap`) and
    ``"cka"`` (:func:`linear_cka` between spaces, on the candidates). ``"coherence_excess"`` holds,
    per measure, an items x spaces frame of each item's coherence minus its baseline share (the
    same items for every space), for paired comparisons over items (:func:`recsys.stats.leader`);
    ``"coherence_per_item"`` the items x spaces coherence shares per measure.
    """
    for measure in measures:
        check_choice("measures", measure, MEASURES)
    coherence, norms = {}, {}
    excess: dict[str, dict[str, pd.Series]] = {measure: {} for measure in measures}
    shares: dict[str, dict[str, pd.Series]] = {measure: {} for measure in measures}
    for name, vectors in spaces.items():
        row = {}
        for measure in measures:
            found = genre_coherence(
                vectors, catalogue, k=k, measure=measure, candidates=candidates, n_bins=n_bins, draws=draws, seed=seed
            )
            per_item = found["per_item"]
            excess[measure][name] = per_item["coherence"] - per_item["baseline"]
            shares[measure][name] = per_item["coherence"]
            row[measure] = found["coherence"]
            row[f"{measure}_baseline"] = found["baseline"]
            row[f"{measure}_lift"] = found["lift"]
        row["n_items"] = found["n_items"]
        coherence[name] = row
        norms[name] = norm_popularity_correlation(vectors, catalogue.popularity)
        if candidates is not None:  # the same among well-rated items, where shrinkage alone cannot explain it
            among = norm_popularity_correlation(vectors, catalogue.popularity, candidates)
            norms[name].update(
                pearson_candidates=among["pearson"],
                spearman_candidates=among["spearman"],
                n_candidates=among["n_items"],
            )
    return {
        "coherence": pd.DataFrame.from_dict(coherence, orient="index"),
        "norm_popularity": pd.DataFrame.from_dict(norms, orient="index"),
        "overlap": neighbour_overlap(spaces, k, "cosine", candidates),
        "cka": cka_matrix(spaces, candidates),
        "coherence_excess": {measure: pd.DataFrame(by_space) for measure, by_space in excess.items()},
        "coherence_per_item": {measure: pd.DataFrame(by_space) for measure, by_space in shares.items()},
    }
