"""recsys.catalogue: title search as a reader types titles, and metadata aligned with item indices.

Titles from MovieLens's own spellings (articles moved to the end, alternative titles in
parentheses, accents, years) and the bundled catalogue's landmark films.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys import catalogue as C
from recsys.datasets import load
from recsys.interactions import IdMap

TITLES = [
    "Godfather, The (1972)",
    "Godfather: Part II, The (1974)",
    "Tokyo Godfathers (2003)",
    "Shining, The (1980)",
    "The Shining (1997)",
    "Star Wars: Episode IV - A New Hope (1977)",
    "Star Wars: Episode V - The Empire Strikes Back (1980)",
    "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
    "Seven (a.k.a. Se7en) (1995)",
    "Toy Story (1995)",
    "Toy Story 2 (1999)",
    "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)",
    "Avventura, L' (1960)",
]


# ---------------------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    "query, expected",
    [
        ("The Godfather", "Godfather, The (1972)"),
        ("godfather, the (1972)", "Godfather, The (1972)"),
        ("GODFATHER", "Godfather, The (1972)"),
        ("The Godfather: Part II", "Godfather: Part II, The (1974)"),
        ("The Shining (1980)", "Shining, The (1980)"),
        ("Shining (1997)", "The Shining (1997)"),
        ("Star Wars (1977)", "Star Wars: Episode IV - A New Hope (1977)"),
        ("The Empire Strikes Back", "Star Wars: Episode V - The Empire Strikes Back (1980)"),
        ("the city of lost children", "City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
        ("La Cité des enfants perdus", "City of Lost Children, The (Cité des enfants perdus, La) (1995)"),
        ("Se7en", "Seven (a.k.a. Se7en) (1995)"),
        ("Amelie", "Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)"),
        ("L'Avventura", "Avventura, L' (1960)"),
        ("Toy Story", "Toy Story (1995)"),
    ],
)
def test_find_title_ignores_case_accents_articles_and_finds_the_right_film(query, expected):
    assert TITLES[C.find_title(TITLES, query)] == expected


@pytest.mark.parametrize("query, listed", [("Shining", "The Shining (1997)"), ("Star Wars", "Episode V")])
def test_an_ambiguous_title_fails_listing_the_candidates(query, listed):
    with pytest.raises(C.AmbiguousTitleError, match="add the year") as caught:
        C.find_title(TITLES, query)
    assert listed in str(caught.value) and repr(query) in str(caught.value)


def test_an_unknown_title_fails_with_the_closest_titles():
    with pytest.raises(C.TitleNotFoundError, match="no title matches 'Godfathr'") as caught:
        C.find_title(TITLES, "Godfathr")
    assert "Godfather, The (1972)" in str(caught.value)
    with pytest.raises(C.TitleNotFoundError, match="from 1990"):
        C.find_title(TITLES, "The Godfather (1990)")  # right title, wrong year
    with pytest.raises(LookupError):
        C.find_title(TITLES, "Casablanca")


@pytest.mark.parametrize("query", ["", "   ", None, 3])
def test_find_title_refuses_an_empty_query(query):
    with pytest.raises(ValueError, match="query"):
        C.find_title(TITLES, query)


def test_the_landmark_titles_resolve_on_the_bundled_catalogue():
    items = load("ml-latest-small").items
    titles = items["title"].to_numpy()
    found = {q: int(items.index[C.find_title(titles, q)]) for q in ("Toy Story (1995)", "The Godfather (1972)")}
    assert found == {"Toy Story (1995)": 1, "The Godfather (1972)": 858}
    assert items.loc[items.index[C.find_title(titles, "Star Wars (1977)")], "title"].startswith("Star Wars: Episode IV")
    assert int(items.index[C.find_title(titles, "The Shining (1980)")]) == 1258
    assert int(items.index[C.find_title(titles, "The Lion King (1994)")]) == 364
    assert int(items.index[C.find_title(titles, "Pulp Fiction")]) == 296


def test_display_title_puts_the_article_in_front_and_drops_the_rest():
    assert C.display_title("Godfather, The (1972)") == "The Godfather"
    assert C.display_title(TITLES[7]) == "The City of Lost Children"
    assert C.display_title("Avventura, L' (1960)") == "L'Avventura"
    assert C.display_title("Toy Story 2 (1999)", width=6) == "Toy S…"
    assert C.normalize_title(TITLES[7]) == (("city of lost children", "cite des enfants perdus"), 1995)


# ------------------------------------------------------------------------------------- catalogue


def test_catalogue_follows_the_idmap_not_the_metadata_order():
    items = pd.DataFrame(
        {"title": ["C (2001)", "A (1999)", "Z (1990)"], "genres": [["Drama"], ["Children's", "Comedy"], ["Horror"]]},
        index=pd.Index([30, 10, 99], name="item_id"),
    )
    idmap = IdMap(user_ids=np.array([1]), item_ids=np.array([10, 20, 30]))  # 20 has no metadata, 99 no ratings
    catalogue = C.Catalogue.from_items(items, idmap, popularity=[5, 1, 2])
    assert list(catalogue.titles) == ["A (1999)", "item 20", "C (2001)"]
    assert catalogue.genres == (frozenset({"Children", "Comedy"}), frozenset(), frozenset({"Drama"}))
    assert catalogue.find("a") == 0 and catalogue.short_titles([2], year=True) == ["C (2001)"]
    groups = catalogue.genre_groups({"Kids": ["Children's"], "Serious": ["Drama", "Horror"]})
    assert list(groups) == ["Kids", "other", "Serious"]
    masks = catalogue.genre_masks()
    assert masks[1] == 0 and masks[0] & masks[2] == 0
    assert list(catalogue.most_popular(2)) == [0, 2]
    with pytest.raises(ValueError, match="popularity has 2 entries"):
        C.Catalogue.from_items(items, idmap, popularity=[1, 2])
    with pytest.raises(TypeError, match="items must be a DataFrame"):
        C.Catalogue.from_items(items[["title"]], idmap, popularity=[1, 2, 3])


def test_two_films_with_one_title_are_both_returned_and_marked_ambiguous():
    """ml-latest-small holds two films called "Emma (1996)" (movieIds 838 and 26958): neither is
    dropped; find names both with their positions and ids, search lists both as ambiguous."""
    titles = ["Toy Story (1995)", "Emma (1996)", "Emma (2009)", "Emma (1996)"]
    assert C.search_titles(titles, "Emma (1996)") == [1, 3]
    assert C.search_titles(titles, "Emma") == [1, 2, 3]
    assert C.search_titles(titles, "Casablanca") == []
    catalogue = C.Catalogue(np.array([1, 838, 60000, 26958]), titles, (frozenset(),) * 4, np.array([5.0, 2, 9, 7]))
    with pytest.raises(C.AmbiguousTitleError, match="different films with the same title") as caught:
        catalogue.find("Emma (1996)")
    assert caught.value.matches == [1, 3]
    assert "position 1, item id 838" in str(caught.value) and "position 3, item id 26958" in str(caught.value)
    found = catalogue.search("emma (1996)")
    assert found.index.tolist() == [3, 1]  # most popular first
    assert found["item_id"].tolist() == [26958, 838] and found["ambiguous"].all()
    single = catalogue.search("Toy Story")
    assert single.index.tolist() == [0] and not single["ambiguous"].any()
    assert catalogue.search("Casablanca").empty


def test_short_titles_add_the_year_only_where_two_films_would_print_alike():
    titles = [
        "Lord of the Rings: The Fellowship of the Ring, The (2001)",
        "Lord of the Rings: The Two Towers, The (2002)",
        "Toy Story (1995)",
    ]
    catalogue = C.Catalogue(np.arange(3), titles, (frozenset(),) * 3, np.ones(3))
    plain = catalogue.short_titles(width=28)
    assert plain[0] == plain[1]  # truncated to the same text: a figure would name two films alike
    named = catalogue.short_titles(width=28, year="if needed")
    assert named[0].endswith("(2001)") and named[1].endswith("(2002)") and named[2] == "Toy Story"
    assert catalogue.short_titles(width=28, year=True)[2] == "Toy Story (1995)"
    with pytest.raises(ValueError, match="year must be"):
        catalogue.short_titles(year="sometimes")
