"""Looking at learned vectors: projections, neighbours, and how to compare two embedding spaces.

What belongs here (notebook 04 and the chapters after it): functions that take factor matrices
(``model.item_factors_``, or ``model.inner_product_factors()``) and item metadata, and return
numbers or coordinates:

* :class:`Catalogue`: item titles, genres and training popularity aligned with a model's item
  indices, and :meth:`Catalogue.find`, the title search (``"The Godfather"`` finds
  ``"Godfather, The (1972)"``; an unknown or ambiguous title is an error listing candidates);
* :func:`project`: 2-D coordinates by PCA, t-SNE or (when installed) UMAP;
* :func:`top_items`, :func:`nearest_items`, :func:`neighbour_table`: exact nearest items by
  dot product, cosine or Euclidean distance (:mod:`recsys.similarity`'s measures);
* :func:`genre_coherence`: how often an item's nearest neighbours share a genre with it, against
  a popularity-matched random baseline;
* :func:`norm_popularity_correlation`: the correlation of item vector length with log popularity;
* :func:`neighbour_overlap` (Jaccard@k), :func:`linear_cka` and :func:`procrustes_disparity`:
  how alike two spaces are, the last two invariant to rotation; :func:`axis_correlation` shows
  that single axes are not;
* :func:`space_summary`: coherence, norm-popularity, overlap and CKA of several spaces at once;
* :func:`spread_directions`, :func:`count_within_angle`, :func:`measure_table`: choosing and
  describing users in a 2-factor plane by rule rather than by hand.

Why rotation invariance matters: a factorisation ``P Q^T`` is unchanged by ``P -> P R``,
``Q -> Q R`` for any orthogonal ``R`` (and so is an L2 penalty on ``P`` and ``Q``), so the axes
of one fit are an accident of its random start. Inner products, norms, angles and distances
survive the rotation; a single coordinate does not.

It may import :mod:`recsys.checks`, :mod:`recsys.similarity`, numpy, scipy, pandas and
scikit-learn; it never imports models, evaluation or the notebook machinery: vectors in, numbers
out.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy import stats

from recsys.checks import check_choice, check_integer, check_number, check_seed
from recsys.similarity import MEASURES, Measure, check_vectors, similarity

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recsys.interactions import IdMap

__all__ = [
    "GENRE_ALIASES",
    "PROJECTIONS",
    "AmbiguousTitleError",
    "Catalogue",
    "TitleNotFoundError",
    "available_projections",
    "axis_correlation",
    "cka_matrix",
    "count_within_angle",
    "describe_correlation",
    "display_title",
    "find_title",
    "genre_coherence",
    "linear_cka",
    "measure_table",
    "nearest_items",
    "neighbour_overlap",
    "neighbour_table",
    "neighbours_of_titles",
    "norm_popularity_correlation",
    "normalize_title",
    "procrustes_disparity",
    "procrustes_matrix",
    "project",
    "space_summary",
    "spread_directions",
    "top_items",
]

Projection = Literal["pca", "tsne", "umap"]
PROJECTIONS: tuple[str, ...] = ("pca", "tsne", "umap")

#: Genre names that mean the same thing in different releases (ML-100K spells "Children's").
GENRE_ALIASES: dict[str, str] = {"Children's": "Children"}

#: Rows of query vectors scored against the candidates at once (bounds the dense score block).
_QUERY_BATCH = 1024

# ----------------------------------------------------------------------------------- titles

_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
#: Articles MovieLens moves to the end of a title ("Godfather, The", "Haine, La", "Avventura, L'").
_ARTICLES = (
    "the",
    "a",
    "an",
    "les",
    "le",
    "la",
    "l'",
    "il",
    "el",
    "der",
    "die",
    "das",
    "den",
    "det",
    "lo",
    "los",
    "las",
    "gli",
    "une",
    "un",
)
_TRAILING_ARTICLE = re.compile(r",\s*(" + "|".join(re.escape(a) for a in _ARTICLES) + r")$", re.IGNORECASE)
#: Leading articles removed from every title and query: English ones (newer MovieLens titles keep
#: "The" in front). A query's leading foreign article is tried both with and without.
_LEADING_ENGLISH = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_LEADING_FOREIGN = re.compile(
    r"^(l'|(?:" + "|".join(a for a in _ARTICLES if a not in ("the", "a", "an", "l'")) + r")\s+)", re.IGNORECASE
)
_PARENTHESES = re.compile(r"\s*\(([^()]*)\)")
_AKA = re.compile(r"^a\.?k\.?a\.?\s+", re.IGNORECASE)


class TitleNotFoundError(LookupError):
    """No item title matches the query; the message lists the closest titles."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AmbiguousTitleError(LookupError):
    """Several item titles match the query equally well; the message lists them."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def _fold(text: str) -> str:
    """Lower case, accents removed, apostrophes dropped, other punctuation as spaces, single spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"[^\w']+", " ", text).replace("'", "")
    return " ".join(text.split())


def _bare(name: str) -> str:
    """A title without its article, wherever MovieLens put it ("Godfather, The" / "The Godfather")."""
    name = _TRAILING_ARTICLE.sub("", name.strip())
    return _fold(_LEADING_ENGLISH.sub("", name))


def _split_year(title: str) -> tuple[str, int | None]:
    match = _YEAR.search(title)
    return (title[: match.start()], int(match.group(1))) if match else (title, None)


@functools.lru_cache(maxsize=1 << 17)
def normalize_title(title: str) -> tuple[tuple[str, ...], int | None]:
    """The comparable forms of a MovieLens title, and its year.

    ``"City of Lost Children, The (Cité des enfants perdus, La) (1995)"`` gives
    ``(("city of lost children", "cite des enfants perdus"), 1995)``: the main title and any
    alternative title in parentheses (``a.k.a.`` dropped), each lower-cased, without accents,
    punctuation or article (moved to the end, as MovieLens does, or in front), and the year when
    the title ends with one.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    title, year = _split_year(title)
    alternatives = [_AKA.sub("", a) for a in _PARENTHESES.findall(title)]
    forms = [_bare(_PARENTHESES.sub("", title))] + [_bare(a) for a in alternatives]
    return tuple(dict.fromkeys(f for f in forms if f)), year


def display_title(title: str, width: int | None = None) -> str:
    """A title as a reader writes it: article in front, alternative titles and year dropped.

    ``"Godfather, The (1972)"`` -> ``"The Godfather"``; ``width`` truncates with an ellipsis.
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {type(title).__name__}")
    match = _YEAR.search(title)
    name = title[: match.start()] if match else title
    name = _PARENTHESES.sub("", name).strip()
    article = _TRAILING_ARTICLE.search(name)
    if article:
        word = article.group(1)
        name = f"{word}{'' if word.endswith(chr(39)) else ' '}{name[: article.start()]}"
    if width is not None:
        width = check_integer("width", width, 2)
        if len(name) > width:
            name = name[: width - 1].rstrip() + "…"
    return name


def find_title(titles: Sequence[str], query: str) -> int:
    """The position in ``titles`` of the one title that ``query`` names.

    Case, accents, punctuation and articles do not matter (``"the godfather"`` finds
    ``"Godfather, The (1972)"``); a year in parentheses at the end of the query must match the
    title's. An exact match of the main or an alternative title wins; failing that, a title that
    *starts* with the query's words (``"Star Wars (1977)"`` finds ``"Star Wars: Episode IV - A New
    Hope (1977)"``); failing that, one that contains them. Several equally good matches raise
    :class:`AmbiguousTitleError` listing them (add the year); none raises
    :class:`TitleNotFoundError` with the closest titles.
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be a non-empty title, got {query!r}")
    main, year = _split_year(query.strip())
    main = _PARENTHESES.sub("", main)
    variants = {_bare(main), _bare(_LEADING_FOREIGN.sub("", main.strip()))} - {""}
    if not variants:
        raise ValueError(f"query {query!r} holds no words to search for")
    wanted = _bare(main) or next(iter(variants))
    normalised = [normalize_title(str(t)) for t in titles]
    candidates = [i for i, (_, y) in enumerate(normalised) if year is None or y == year]

    def padded(text: str) -> str:
        return f" {text} "

    tests = (
        lambda form: form in variants,
        lambda form: any(padded(form).startswith(padded(v)) for v in variants),
        lambda form: any(padded(v) in padded(form) for v in variants),
    )
    for test in tests:
        hits = [i for i in candidates if any(test(form) for form in normalised[i][0])]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            shown = "; ".join(repr(str(titles[i])) for i in hits[:10]) + (" ..." if len(hits) > 10 else "")
            hint = "" if year is not None else " (add the year in parentheses, e.g. 'Title (1980)')"
            raise AmbiguousTitleError(f"{query!r} matches {len(hits)} titles: {shown}; be more specific{hint}")
    pool = {forms_[0]: i for i, (forms_, _) in enumerate(normalised) if forms_}
    close = difflib.get_close_matches(wanted, list(pool), n=5, cutoff=0.6)
    suggestion = f"; closest titles: {'; '.join(repr(str(titles[pool[c]])) for c in close)}" if close else ""
    within = f" from {year}" if year is not None else ""
    raise TitleNotFoundError(f"no title{within} matches {query!r}{suggestion}")


def _genre_set(value) -> frozenset[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return frozenset()
    if isinstance(value, str):
        value = [value]
    return frozenset(GENRE_ALIASES.get(str(g), str(g)) for g in value)


@dataclass(frozen=True)
class Catalogue:
    """Item metadata aligned with a model's item indices: entry ``j`` describes item index ``j``.

    Attributes: ``item_ids`` (raw ids, from the training :class:`~recsys.interactions.IdMap`),
    ``titles``, ``genres`` (one frozenset per item; ML-100K's "Children's" spelled "Children" as
    in the other releases, see :data:`GENRE_ALIASES`) and ``popularity`` (training interactions
    per item, e.g. :func:`recsys.metrics.item_popularity`).
    """

    item_ids: np.ndarray
    titles: np.ndarray
    genres: tuple[frozenset[str], ...]
    popularity: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.item_ids)
        for name in ("titles", "genres", "popularity"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Catalogue.{name} has {len(getattr(self, name))} entries for {n} items")
        popularity = np.asarray(self.popularity, dtype=np.float64)
        if popularity.ndim != 1 or not np.isfinite(popularity).all() or (popularity < 0).any():
            raise ValueError("Catalogue.popularity must be finite counts >= 0, one per item")
        object.__setattr__(self, "popularity", popularity)
        object.__setattr__(self, "titles", np.asarray(self.titles, dtype=object))

    @classmethod
    def from_items(cls, items: pd.DataFrame, idmap: IdMap, popularity) -> Catalogue:
        """Align ``items`` (indexed by raw ``item_id``, with ``title`` and ``genres``) with ``idmap``.

        Items the metadata does not describe get the title ``"item <id>"`` and no genre; items
        described but absent from ``idmap`` (nobody rated them in training) are left out.
        """
        if not isinstance(items, pd.DataFrame) or not {"title", "genres"} <= set(items.columns):
            raise TypeError("items must be a DataFrame indexed by item_id with 'title' and 'genres' columns")
        n_items = idmap.n_items
        positions = idmap.item_index(items.index.to_numpy(), unknown="mark")
        known = positions >= 0
        titles = np.array([f"item {i}" for i in idmap.item_ids], dtype=object)
        genres: list[frozenset[str]] = [frozenset()] * n_items
        titles[positions[known]] = items["title"].to_numpy(dtype=object)[known]
        for position, value in zip(positions[known], items["genres"].to_numpy(dtype=object)[known]):
            genres[position] = _genre_set(value)
        popularity = np.asarray(popularity, dtype=np.float64).ravel()
        if popularity.size != n_items:
            raise ValueError(f"popularity has {popularity.size} entries, the IdMap {n_items} items")
        return cls(np.asarray(idmap.item_ids), titles, tuple(genres), popularity)

    def __len__(self) -> int:
        return len(self.item_ids)

    def find(self, query: str) -> int:
        """The item index of the title ``query`` names (see :func:`find_title`)."""
        return find_title(self.titles, query)

    def short_titles(self, indices=None, width: int | None = 40, *, year: bool = False) -> list[str]:
        """:func:`display_title` of the items at ``indices`` (all when ``None``), with the year if asked."""
        indices = range(len(self)) if indices is None else np.asarray(indices).ravel()
        out = []
        for i in indices:
            title = str(self.titles[i])
            name = display_title(title, width)
            found = _split_year(title)[1] if year else None
            out.append(f"{name} ({found})" if found is not None else name)
        return out

    def genre_names(self) -> list[str]:
        """Every genre that occurs, most frequent first (ties alphabetical)."""
        counts = pd.Series([g for gs in self.genres for g in gs], dtype=object).value_counts()
        return sorted(counts.index, key=lambda g: (-counts[g], g))

    def genre_masks(self) -> np.ndarray:
        """One int64 bit mask per item, a bit per genre: ``masks[i] & masks[j] != 0`` = a shared genre."""
        names = self.genre_names()
        if len(names) > 62:
            raise ValueError(f"{len(names)} genres do not fit a 64-bit mask")
        bit = {g: np.int64(1) << np.int64(b) for b, g in enumerate(names)}
        return np.array([sum((bit[g] for g in gs), np.int64(0)) for gs in self.genres], dtype=np.int64)

    def most_popular(self, n: int, among=None) -> np.ndarray:
        """Indices of the ``n`` most popular items (ties: lower index first), optionally ``among`` a subset."""
        n = check_integer("n", n, 0)
        pool = np.arange(len(self)) if among is None else _check_indices(among, len(self), "among")
        order = np.lexsort((pool, -self.popularity[pool]))
        return pool[order[:n]]

    def genre_groups(self, groups: Mapping[str, Collection[str]], other: str = "other") -> np.ndarray:
        """Each item's first group (in ``groups``' order) that holds one of its genres; ``other`` if none.

        ``groups`` maps a label to genre names, e.g. ``{"Horror": ["Horror"], "Children & animation":
        ["Children", "Animation"]}``: one colour per group in a genre map. Aliases (ML-100K's
        "Children's") are understood.
        """
        if not isinstance(groups, Mapping) or not groups:
            raise ValueError("groups must be a non-empty mapping of label -> genre names")
        out = np.full(len(self), other, dtype=object)
        for label, names in reversed(list(groups.items())):
            if isinstance(names, str):
                raise TypeError(f"groups[{label!r}] must be a collection of genre names, not one string")
            wanted = {GENRE_ALIASES.get(g, g) for g in names}
            has = np.fromiter((bool(gs & wanted) for gs in self.genres), dtype=bool, count=len(self))
            out[has] = label
        return out


def spread_directions(vectors, n: int, among=None) -> np.ndarray:
    """``n`` rows of 2-D ``vectors`` whose directions spread over the range of angles the rows span.

    Picks, among ``among`` (default all rows), the rows nearest to ``n`` evenly spaced quantiles
    of the angle: a few user arrows that point different ways, chosen by rule, not by hand.
    """
    vectors = check_vectors(vectors, dim=2)
    n = check_integer("n", n, 1)
    pool = np.arange(vectors.shape[0]) if among is None else _check_indices(among, vectors.shape[0], "among")
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
) -> np.ndarray:
    """2-D coordinates of ``vectors`` (n, d): an (n, 2) float64 array.

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


def _check_indices(indices, n: int, name: str) -> np.ndarray:
    array = np.asarray(indices)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of item indices, got shape {array.shape}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{name} must hold integer item indices, got dtype {array.dtype}")
    array = array.astype(np.int64, copy=False)
    bad = (array < 0) | (array >= n)
    if bad.any():
        raise IndexError(f"{name}: item index {array[bad][0]} out of range for {n} items")
    if np.unique(array).size != array.size:
        raise ValueError(f"{name} holds repeated item indices")
    return array


def _best(scores: np.ndarray, k: int) -> np.ndarray:
    """Column positions of the ``k`` best scores of each row, best first, ties to the lower position."""
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        # widen to every column tied with the k-th best, so the tie-break below sees them all
        kth = np.take_along_axis(scores, part, axis=1).min(axis=1, keepdims=True)
        if (np.count_nonzero(scores >= kth, axis=1) > k).any():
            part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    rows = np.arange(scores.shape[0])[:, None]
    order = np.lexsort((part, -scores[rows, part]), axis=1)[:, :k]
    return part[rows, order]


def top_items(query, vectors, k: int = 10, measure: Measure = "dot", exclude=None) -> np.ndarray:
    """The ``k`` items of ``vectors`` most similar to the one vector ``query``, best first.

    ``exclude`` holds item indices that may not be returned (a user's training items, say).
    Exact; ties go to the lower index.
    """
    check_choice("measure", measure, MEASURES)
    vectors = check_vectors(vectors, "vectors")
    query = check_vectors(np.atleast_2d(query), "query", dim=vectors.shape[1])
    if query.shape[0] != 1:
        raise ValueError(f"query must be one vector, got {query.shape[0]}")
    k = check_integer("k", k, 1)
    scores = similarity(query, vectors, measure).astype(np.float64)
    if exclude is not None:
        scores[0, _check_indices(exclude, vectors.shape[0], "exclude")] = -np.inf
    available = int(np.isfinite(scores).sum())
    if k > available:
        raise ValueError(f"k={k} but only {available} items can be returned")
    return _best(scores, k)[0].astype(np.int64)


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
    pool = np.arange(n, dtype=np.int64) if candidates is None else _check_indices(candidates, n, "candidates")
    asked = pool if queries is None else np.asarray(queries).ravel()
    asked = _check_indices(asked, n, "queries") if asked.size else asked.astype(np.int64)
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
        out[start : start + batch.size] = pool[_best(scores, k)]
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


def measure_table(user_vector, item_vectors, items) -> pd.DataFrame:
    """Dot product, cosine, angle (degrees) and Euclidean distance of one user to some items.

    One row per entry of ``items`` (indices into ``item_vectors``): the numbers behind "this user
    is closer to film A than to film C".
    """
    item_vectors = check_vectors(item_vectors, "item_vectors")
    user = check_vectors(np.atleast_2d(user_vector), "user_vector", dim=item_vectors.shape[1])
    items = _check_indices(np.asarray(items).ravel(), item_vectors.shape[0], "items")
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
    Returns ``{"coherence", "baseline", "lift", "n_items", "k"}``.
    """
    vectors = check_vectors(vectors, "vectors")
    if vectors.shape[0] != len(catalogue):
        raise ValueError(f"vectors have {vectors.shape[0]} rows, the catalogue {len(catalogue)} items")
    n_bins = check_integer("n_bins", n_bins, 1)
    draws = check_integer("draws", draws, 1)
    check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    n = vectors.shape[0]
    pool = np.arange(n, dtype=np.int64) if candidates is None else _check_indices(candidates, n, "candidates")
    masks = catalogue.genre_masks()
    queries = pool[masks[pool] != 0]
    if queries.size == 0:
        raise ValueError("no candidate item has a genre; genre coherence needs genres")
    neighbours = nearest_items(vectors, queries, k, measure, pool)
    shared = (masks[queries][:, None] & masks[neighbours]) != 0
    coherence = float(shared.mean())

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
        hits += float(((masks[queries][:, None] & masks[sample]) != 0).mean())
    baseline = hits / draws
    return {
        "coherence": coherence,
        "baseline": baseline,
        "lift": coherence / baseline if baseline > 0 else float("nan"),
        "n_items": int(queries.size),
        "k": int(k),
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
    chosen = np.arange(vectors.shape[0]) if items is None else _check_indices(items, vectors.shape[0], "items")
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
) -> dict[str, pd.DataFrame]:
    """The chapter's four measurements of several item spaces at once (rows follow ``catalogue``).

    Returns DataFrames: ``"coherence"`` (one row per space; per measure the genre coherence of
    the ``k`` nearest ``candidates``, its popularity-matched baseline and the lift, see
    :func:`genre_coherence`), ``"norm_popularity"`` (:func:`norm_popularity_correlation` over every item with a
    training rating), ``"overlap"`` (cosine Jaccard@k between spaces, :func:`neighbour_overlap`) and
    ``"cka"`` (:func:`linear_cka` between spaces, on the candidates).
    """
    for measure in measures:
        check_choice("measures", measure, MEASURES)
    coherence, norms = {}, {}
    for name, vectors in spaces.items():
        row = {}
        for measure in measures:
            found = genre_coherence(
                vectors, catalogue, k=k, measure=measure, candidates=candidates, n_bins=n_bins, draws=draws, seed=seed
            )
            row[measure] = found["coherence"]
            row[f"{measure}_baseline"] = found["baseline"]
            row[f"{measure}_lift"] = found["lift"]
        row["n_items"] = found["n_items"]
        coherence[name] = row
        norms[name] = norm_popularity_correlation(vectors, catalogue.popularity)
    return {
        "coherence": pd.DataFrame.from_dict(coherence, orient="index"),
        "norm_popularity": pd.DataFrame.from_dict(norms, orient="index"),
        "overlap": neighbour_overlap(spaces, k, "cosine", candidates),
        "cka": cka_matrix(spaces, candidates),
    }
