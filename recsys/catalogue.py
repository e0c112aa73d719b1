"""The items' side of the story: titles, genres and popularity aligned with a model's item indices,
and the title search that lets a chapter name films the way a reader writes them.

What belongs here: metadata about items, not vectors.

* :class:`Catalogue`: item ids, titles, genres (one frozenset per item, release spellings unified
  by :data:`GENRE_ALIASES`) and training popularity, entry ``j`` describing item index ``j``;
  :meth:`Catalogue.find` searches titles, :meth:`Catalogue.short_titles` prints them,
  :meth:`Catalogue.genre_groups` and :meth:`Catalogue.genre_masks` group items by genre,
  :meth:`Catalogue.most_popular` picks the most rated;
* :func:`find_title`: ``"The Godfather"`` finds ``"Godfather, The (1972)"``; an unknown or
  ambiguous title raises :class:`TitleNotFoundError` or :class:`AmbiguousTitleError`, listing
  the candidates; :func:`search_titles` and :meth:`Catalogue.search` return every match (two
  films may share a title and a year), marked ambiguous when there are several;
* :func:`normalize_title` (the comparable forms of a MovieLens title, and its year) and
  :func:`display_title` (a title as a reader writes it).

It may import :mod:`recsys.checks` and :mod:`recsys.interactions` (the :class:`IdMap` that
aligns metadata with indices), numpy and pandas; :mod:`recsys.embeddings` and the figures import
it, never the reverse.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from recsys.checks import check_indices, check_integer

if TYPE_CHECKING:  # pragma: no cover - typing only
    from recsys.interactions import IdMap

__all__ = [
    "GENRE_ALIASES",
    "AmbiguousTitleError",
    "Catalogue",
    "TitleNotFoundError",
    "display_title",
    "find_title",
    "normalize_title",
    "search_titles",
]

#: Genre names that mean the same thing in different releases (ML-100K spells "Children's").
GENRE_ALIASES: dict[str, str] = {"Children's": "Children"}

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
    """Several item titles match the query equally well; the message lists them, and
    ``matches`` holds every matching position."""

    matches: list[int]

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


def _variants(query: str) -> tuple[set[str], str, int | None]:
    """The comparable forms of a query (with and without a leading foreign article), the main
    one, and the year it asks for."""
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be a non-empty title, got {query!r}")
    main, year = _split_year(query.strip())
    main = _PARENTHESES.sub("", main)
    variants = {_bare(main), _bare(_LEADING_FOREIGN.sub("", main.strip()))} - {""}
    if not variants:
        raise ValueError(f"query {query!r} holds no words to search for")
    return variants, _bare(main) or next(iter(variants)), year


def search_titles(titles: Sequence[str], query: str) -> list[int]:
    """The positions in ``titles`` of *every* title that ``query`` names equally well (none: ``[]``).

    Matching as in :func:`find_title`: an exact match of the main or an alternative title first;
    failing that, titles that start with the query's words; failing that, titles that contain
    them. More than one position means the query is ambiguous: two films can share a title and
    even a year (ml-latest-small has five such pairs, "Emma (1996)" among them), and then only
    the position (or the item id) tells them apart.
    """
    variants, _, year = _variants(query)
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
        if hits:
            return hits
    return []


def find_title(titles: Sequence[str], query: str, item_ids: Sequence | None = None) -> int:
    """The position in ``titles`` of the one title that ``query`` names.

    Case, accents, punctuation and articles do not matter (``"the godfather"`` finds
    ``"Godfather, The (1972)"``); a year in parentheses at the end of the query must match the
    title's. An exact match of the main or an alternative title wins; failing that, a title that
    *starts* with the query's words (``"Star Wars (1977)"`` finds ``"Star Wars: Episode IV - A New
    Hope (1977)"``); failing that, one that contains them. Several equally good matches raise
    :class:`AmbiguousTitleError` listing every one of them with its position (and item id, when
    ``item_ids`` is given) in its ``matches`` attribute and its message; none raises
    :class:`TitleNotFoundError` with the closest titles. :func:`search_titles` returns all matches
    instead of raising.
    """
    variants, wanted, year = _variants(query)
    hits = search_titles(titles, query)
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:

        def named(i: int) -> str:
            where = f"position {i}" + (f", item id {item_ids[i]}" if item_ids is not None else "")
            return f"{str(titles[i])!r} ({where})"

        shown = "; ".join(named(i) for i in hits[:10]) + (" ..." if len(hits) > 10 else "")
        same = len({str(titles[i]) for i in hits}) < len(hits)
        if same:
            hint = "; some are different films with the same title: choose one by its position (Catalogue.search lists them)"
        elif year is None:
            hint = "; be more specific (add the year in parentheses, e.g. 'Title (1980)')"
        else:
            hint = "; be more specific"
        error = AmbiguousTitleError(f"{query!r} matches {len(hits)} titles: {shown}{hint}")
        error.matches = hits
        raise error
    normalised = [normalize_title(str(t)) for t in titles]
    pool: dict[str, int] = {}
    for i, (forms_, _) in enumerate(normalised):
        if forms_:
            pool.setdefault(forms_[0], i)
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
        """The item index of the title ``query`` names (see :func:`find_title`); an ambiguous one
        raises :class:`AmbiguousTitleError` listing every match with its index and item id."""
        return find_title(self.titles, query, self.item_ids)

    def search(self, query: str) -> pd.DataFrame:
        """Every item whose title ``query`` names (:func:`search_titles`), most popular first: one
        row per item index with ``item_id``, ``title``, ``popularity`` and ``ambiguous`` (True on
        every row when there is more than one). Empty when nothing matches."""
        hits = search_titles(self.titles, query)
        table = pd.DataFrame(
            {
                "item_id": self.item_ids[hits],
                "title": [str(self.titles[i]) for i in hits],
                "popularity": self.popularity[hits],
                "ambiguous": len(hits) > 1,
            },
            index=pd.Index(np.asarray(hits, dtype=np.int64), name="item_index"),
        )
        return table.sort_values("popularity", ascending=False, kind="stable")

    def short_titles(self, indices=None, width: int | None = 40, *, year: bool | str = False) -> list[str]:
        """:func:`display_title` of the items at ``indices`` (all when ``None``), with the year if asked.

        ``year=True`` adds every title's year; ``year="if needed"`` only to titles that would
        otherwise print alike (two films truncated to the same text, or sharing a title), so a
        figure never names two films the same way.
        """
        if year not in (True, False, "if needed"):
            raise ValueError(f"year must be True, False or 'if needed', got {year!r}")
        indices = range(len(self)) if indices is None else np.asarray(indices).ravel()
        names = [display_title(str(self.titles[i]), width) for i in indices]
        repeated = {name for name in names if names.count(name) > 1}
        out = []
        for i, name in zip(indices, names):
            wanted = year is True or (year == "if needed" and name in repeated)
            found = _split_year(str(self.titles[i]))[1] if wanted else None
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
        pool = np.arange(len(self)) if among is None else check_indices("among", among, len(self), unique=True)
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
