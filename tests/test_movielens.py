"""MovieLens parsers on tiny hand-written files, the real bundled and shared releases, the cache."""

from __future__ import annotations

import dataclasses
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys import datasets
from recsys.datasets.cache import MARKER
from recsys.datasets.dataset import RATING_COLUMNS, Dataset
from recsys.datasets.movielens import (
    read_csv_release,
    read_ml1m,
    read_ml10m,
    read_ml100k,
)
from recsys.datasets.registry import RELEASES


def write(folder: Path, files: dict[str, str | bytes], encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        data = content if isinstance(content, bytes) else content.encode(encoding)
        (folder / name).write_bytes(data)
    return folder


def assert_canonical(ds: Dataset) -> None:
    """The shape every loader promises."""
    r = ds.ratings
    assert list(r.columns) == list(RATING_COLUMNS)
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert isinstance(r.index, pd.RangeIndex) and r.index.start == 0 and r.index.step == 1
    assert ds.items.index.name == "item_id" and ds.items.index.dtype == np.int64
    assert list(ds.items.columns[:3]) == ["title", "year", "genres"]
    assert str(ds.items["year"].dtype) == "Int64"
    assert pd.api.types.is_string_dtype(ds.items["title"])
    assert all(isinstance(g, list) for g in ds.items["genres"])
    if ds.users is not None:
        assert ds.users.index.name == "user_id" and ds.users.index.dtype == np.int64
    lo, hi = ds.rating_scale
    assert r["rating"].between(lo, hi).all()


# ---------------------------------------------------------------------------------------------
# ML-100K format

FLAGS_NONE = "|".join(["0"] * 19)


def flags(*on: int) -> str:
    return "|".join("1" if j in on else "0" for j in range(19))


GENRES_100K = (
    "unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren's|4\nComedy|5\nCrime|6\n"
    "Documentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\n"
    "Romance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n\n"
)


def ml100k_files(**overrides: str) -> dict[str, str]:
    files = {
        "u.data": ("1\t1\t5\t881250949\n1\t2\t3\t881250950\n2\t3\t1\t891717742\n3\t1\t4\t878887116\n"),
        "u.item": (
            f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags(3, 4, 5)}\n"
            f"2|Misérables, Les (1995)|01-Jan-1995||http://x|{flags(8, 12)}\n"
            f"3|Title Without Year|05-Mar-1987||http://x|{flags(1)}\n"
            f"4|unknown||||{flags(0)}\n"
        ),
        "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n3|23|M|writer|T8H1N\n",
        "u.genre": GENRES_100K,
    }
    files.update(overrides)
    return files


def test_ml100k_parser(tmp_path: Path):
    folder = write(tmp_path / "ml-100k", ml100k_files(), encoding="latin-1")
    ds = read_ml100k(folder)
    assert_canonical(ds)
    assert ds.name == "ml-100k" and ds.path == folder
    assert ds.rating_scale == (1.0, 5.0) and ds.rating_step == 1.0
    assert ds.ratings["user_id"].tolist() == [1, 1, 2, 3]
    assert ds.ratings["rating"].tolist() == [5.0, 3.0, 1.0, 4.0]
    assert ds.ratings["timestamp"].iloc[2] == 891717742
    items = ds.items
    assert items.loc[2, "title"] == "Misérables, Les (1995)"  # latin-1 decoded
    assert items.loc[1, "genres"] == ["Animation", "Children's", "Comedy"]
    assert items.loc[2, "genres"] == ["Drama", "Musical"]
    assert items.loc[4, "genres"] == []  # the 'unknown' flag means no genre
    assert items["year"].tolist()[:3] == [1995, 1995, 1987]  # 1987 from the release date
    assert pd.isna(items.loc[4, "year"])
    assert ds.users.loc[3].to_dict() == {
        "gender": "M", "age": 23, "occupation": "writer", "zip_code": "T8H1N",
    }  # fmt: skip
    assert ds.users["age"].dtype == np.int64


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("u.data", "1\t1\t5\t881250949\t7\n", r"u\.data.*expected 4"),
        ("u.data", "1\t1\t5\t881250949\n2\t2\t3\n", r"u\.data"),
        ("u.data", "1\t1\t5\t881250949\nbob\t2\t3\t881250949\n", r"u\.data.*bob"),
        (
            "u.data",
            "1\t1\t5\t881250949\n2\t2\t6\t881250949\n",
            r"u\.data.*rating 6 on line 2.*outside",
        ),
        ("u.data", "1\t1\t0\t881250949\n", r"u\.data.*outside the scale \[1, 5\]"),
        ("u.data", "1\t1\t2.5\t881250949\n", r"u\.data.*not a multiple of 1"),
        # a truncated timestamp (a digit lost) used to be read as a date in 1972
        ("u.data", "1\t1\t5\t881250949\n2\t2\t3\t88125094\n", r"u\.data.*timestamp 88125094 on line 2 is 1972-"),
        (
            "u.item",
            f"1|Toy Story (1995)|01-Jan-1995||http://x|{flags(3)}|0\n",
            r"u\.item.*expected 24",
        ),
        ("u.item", f"x|Toy Story (1995)|01-Jan-1995||http://x|{flags(3)}\n", r"u\.item"),
        (
            "u.item",
            f"1|A (1995)|||x|{flags(3)}\n1|B (1996)|||x|{flags(3)}\n",
            "item id 1 is listed more",
        ),
        ("u.user", "1|24|M|technician\n", r"u\.user.*expected 5"),
    ],
)
def test_ml100k_malformed(tmp_path: Path, filename: str, content: str, match: str):
    folder = write(tmp_path / "ml-100k", ml100k_files(**{filename: content}), encoding="latin-1")
    with pytest.raises(ValueError, match=match):
        read_ml100k(folder)


@pytest.mark.parametrize("line", [0, 2])
@pytest.mark.parametrize(
    ("filename", "n_fields", "separator"), [("u.data", 4, "\t"), ("u.item", 24, "|"), ("u.user", 5, "|")]
)
def test_ml100k_a_separator_too_many_is_named_with_its_line(tmp_path: Path, filename, n_fields, separator, line):
    """An extra separator anywhere (the first line too, from which pandas infers the width) is
    refused with the file, the line and both counts, never read with the fields moved along."""
    files = ml100k_files()
    lines = files[filename].split("\n")
    lines[line] = lines[line].replace(separator, separator * 2, 1)
    folder = write(tmp_path / "ml-100k", {**files, filename: "\n".join(lines)})
    with pytest.raises(
        ValueError,
        match=rf"{filename}: malformed file: line {line + 1}: expected {n_fields} fields, found {n_fields + 1}",
    ):
        read_ml100k(folder)


def test_ml100k_missing_file(tmp_path: Path):
    files = ml100k_files()
    del files["u.user"]
    with pytest.raises(FileNotFoundError, match=r"u\.user"):
        read_ml100k(write(tmp_path / "ml-100k", files))


# ---------------------------------------------------------------------------------------------
# ML-1M format

ML1M_MOVIES = (
    "1::Toy Story (1995)::Animation|Children's|Comedy\n"
    "2::Misérables, Les (1995)::Drama|Musical\n"
    "3::Star Wars: Episode IV - A New Hope (1977)::Action|Adventure|Fantasy|Sci-Fi\n"
)
ML1M_USERS = "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n"


def ml1m_files(**overrides: str) -> dict[str, str]:
    files = {
        "ratings.dat": ("1::1::5::978300760\n1::2::3::978302109\n2::3::4::978301968\n3::3::1::978300275\n"),
        "movies.dat": ML1M_MOVIES,
        "users.dat": ML1M_USERS,
    }
    files.update(overrides)
    return files


def test_ml1m_parser(tmp_path: Path):
    folder = write(tmp_path / "ml-1m", ml1m_files(), encoding="latin-1")
    ds = read_ml1m(folder)
    assert_canonical(ds)
    assert ds.rating_scale == (1.0, 5.0) and ds.rating_step == 1.0
    assert ds.ratings.values.tolist() == [
        [1, 1, 5, 978300760], [1, 2, 3, 978302109], [2, 3, 4, 978301968], [3, 3, 1, 978300275],
    ]  # fmt: skip
    assert ds.items.loc[2, "title"] == "Misérables, Les (1995)"
    assert ds.items.loc[3, "title"] == "Star Wars: Episode IV - A New Hope (1977)"
    assert ds.items.loc[3, "year"] == 1977
    assert ds.items.loc[3, "genres"] == ["Action", "Adventure", "Fantasy", "Sci-Fi"]
    assert ds.users.loc[1].to_dict() == {
        "gender": "F", "age": 1, "age_group": "Under 18", "occupation": "K-12 student",
        "zip_code": "48067",
    }  # fmt: skip
    assert ds.users.loc[2, "occupation"] == "self-employed"
    assert ds.users.loc[3, "age_group"] == "25-34"


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        ("ratings.dat", "1::1::5::978300760::9\n2::3::4::978301968\n", r"ratings\.dat.*'::'"),
        ("ratings.dat", "1::1::5::978300760\n2::3::4\n", r"ratings\.dat"),
        ("ratings.dat", "1:x:1::5::978300760\n", r"ratings\.dat.*'::'"),
        ("ratings.dat", "1::1::5::978300760\nu2::3::4::978301968\n", r"ratings\.dat.*u2"),
        ("ratings.dat", "1::1::9::978300760\n", r"ratings\.dat.*rating 9 on line 1 is outside"),
        ("movies.dat", "1::Toy Story (1995)\n", r"movies\.dat.*line 1.*MovieID::Title::Genres"),
        ("movies.dat", "one::Toy Story (1995)::Comedy\n", r"movies\.dat.*'one' is not an integer"),
        # one separator too many: never read with the fields moved along
        ("movies.dat", "1::Toy Story (1995)::Animation::Comedy\n", r"movies\.dat.*line 1.*\(3 fields\), got 4"),
        ("movies.dat", "2::Jumanji (1995)::Adventure\n1::Toy Story (1995)::Animation|Comedy::\n", r"line 2.*got 4"),
        ("movies.dat", "1::Toy Story (1995)::Animaton|Comedy\n", r"line 1: genre 'Animaton' is not a MovieLens genre"),
        ("users.dat", "1::F::1::21::48067\n", r"users\.dat.*occupation code 21"),
        ("users.dat", "1::F::2::10::48067\n", r"users\.dat.*age code 2"),
        ("users.dat", "1::F::1::10\n", r"users\.dat"),
    ],
)
def test_ml1m_malformed(tmp_path: Path, filename: str, content: str, match: str):
    folder = write(tmp_path / "ml-1m", ml1m_files(**{filename: content}), encoding="latin-1")
    with pytest.raises(ValueError, match=match):
        read_ml1m(folder)


# ---------------------------------------------------------------------------------------------
# ML-10M format


def ml10m_files(**overrides: str) -> dict[str, str]:
    files = {
        "ratings.dat": "1::122::5::838985046\n1::185::4.5::838983525\n2::292::0.5::838983421\n",
        "movies.dat": (
            "122::Boomerang (1992)::Comedy|Romance\n"
            "185::Net, The (1995)::Action|Crime|Thriller\n"
            "292::Outbreak (1995)::(no genres listed)\n"
            "300::Amélie (Fabuleux destin d'Amélie Poulain, Le) (2001)::Comedy|Romance\n"
        ),
    }
    files.update(overrides)
    return files


def test_ml10m_parser(tmp_path: Path):
    folder = write(tmp_path / "ml-10M100K", ml10m_files())
    ds = read_ml10m(folder)
    assert_canonical(ds)
    assert ds.users is None
    assert ds.rating_scale == (0.5, 5.0) and ds.rating_step == 0.5
    assert ds.ratings["rating"].tolist() == [5.0, 4.5, 0.5]
    assert ds.items.loc[292, "genres"] == []
    assert ds.items.loc[300, "title"].startswith("Amélie")
    assert ds.items.loc[300, "year"] == 2001
    assert len(ds.items) == 4 and ds.n_items == 3


def test_ml10m_latin1_movies_fall_back(tmp_path: Path):
    folder = write(tmp_path / "ml-10M100K", ml10m_files())
    (folder / "movies.dat").write_bytes("1::Café (1999)::Drama\n".encode("latin-1"))
    assert read_ml10m(folder).items.loc[1, "title"] == "Café (1999)"


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("1::122::5.5::838985046\n", r"rating 5\.5 on line 1 is outside the scale \[0\.5, 5\]"),
        ("1::122::0::838985046\n", "outside the scale"),
        ("1::122::1.25::838985046\n", r"not a multiple of 0\.5"),
        ("1::122::4::838985046::\n", "'::'"),
    ],
)
def test_ml10m_malformed(tmp_path: Path, content: str, match: str):
    folder = write(tmp_path / "ml-10M100K", ml10m_files(**{"ratings.dat": content}))
    with pytest.raises(ValueError, match=r"ratings\.dat.*" + match):
        read_ml10m(folder)


# ---------------------------------------------------------------------------------------------
# CSV format (ML-20M, ML-25M, latest-small)

CSV_MOVIES = (
    "movieId,title,genres\n"
    "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n"
    '11,"American President, The (1995)",Comedy|Drama|Romance\n'
    '12,"""Great Performances"" Cats (1998)",Musical\n'
    "13,Babylon 5,Sci-Fi\n"
    "14,Death Note: Desu nôto (2006\u20132007),(no genres listed)\n"  # en dash, as in the data
    "15,NA,Drama\n"
    "16,From Dusk Till Dawn 2 (1999) ,Horror\n"
)


def csv_files(**overrides: str) -> dict[str, str]:
    files = {
        "ratings.csv": ("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,11,0.5,964981247\n2,12,5.0,964982224\n"),
        "movies.csv": CSV_MOVIES,
    }
    files.update(overrides)
    return files


def test_csv_parser(tmp_path: Path):
    folder = write(tmp_path / "ml-20m", csv_files())
    ds = read_csv_release(folder, name="ml-20m")
    assert_canonical(ds)
    assert ds.name == "ml-20m" and ds.rating_scale == (0.5, 5.0) and ds.rating_step == 0.5
    assert ds.ratings["rating"].tolist() == [4.0, 0.5, 5.0]
    items = ds.items
    assert items.loc[11, "title"] == "American President, The (1995)"
    assert items.loc[12, "title"] == '"Great Performances" Cats (1998)'
    assert items.loc[12, "genres"] == ["Musical"]
    assert items.loc[14, "genres"] == []
    assert items.loc[14, "year"] == 2006
    assert pd.isna(items.loc[13, "year"])
    assert items.loc[15, "title"] == "NA"  # a title, not a missing value
    assert items.loc[16, "title"] == "From Dusk Till Dawn 2 (1999)" and items.loc[16, "year"] == 1999
    assert items.loc[1, "genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]


H = "userId,movieId,rating,timestamp\n"


@pytest.mark.parametrize(
    ("filename", "content", "match"),
    [
        (
            "ratings.csv",
            "user,movie,rating,timestamp\n1,1,4,1\n",
            r"ratings\.csv.*expected columns",
        ),
        (
            "ratings.csv",
            H + "1,1,4.0,964982703,9\n",
            r"ratings\.csv: malformed file: line 2: expected 4 fields, found 5",
        ),
        # every line one field too long: pandas alone would shift every field one column left
        ("ratings.csv", H + "1,1,4.0,964982703,9\n2,1,4.0,964982703,9\n", r"line 2: expected 4 fields, found 5"),
        ("ratings.csv", H + "1,1,4.0,964982703\n2,1,,4.0,964982703\n", r"line 3: expected 4 fields, found 5"),
        ("movies.csv", CSV_MOVIES.replace("\n", ",x\n", 2).replace("genres,x", "genres"), r"line 2: expected 3"),
        ("ratings.csv", H + "1,one,4.0,964982703\n", r"ratings\.csv.*one"),
        ("ratings.csv", H + "1,1,4,964982703\n1,2,7,964982703\n", r"ratings\.csv.*rating 7 on line 3 is outside"),
        # a truncated timestamp reads as a date in 1973, one from the future as corrupt
        (
            "ratings.csv",
            H + "1,1,4,964982703\n1,2,4,96498270\n",
            r"timestamp 96498270 on line 3 is 1973-01-2\d, before",
        ),
        ("ratings.csv", H + "1,1,4,99964982703\n", r"timestamp 99964982703 on line 2 is 5137-.*in the future"),
        ("ratings.csv", H + "1,1,,964982703\n", r"ratings\.csv.*missing rating"),
        ("movies.csv", "movieId,title\n1,Toy Story (1995)\n", r"movies\.csv.*expected columns"),
        ("movies.csv", "movieId,title,genres\nx,Toy Story (1995),Comedy\n", r"movies\.csv"),
    ],
)
def test_csv_malformed(tmp_path: Path, filename: str, content: str, match: str):
    folder = write(tmp_path / "ml-25m", csv_files(**{filename: content}))
    with pytest.raises(ValueError, match=match):
        read_csv_release(folder, name="ml-25m")


# ---------------------------------------------------------------------------------------------
# The real releases


def test_ml_latest_small_bundled_offline(isolated_data_dir: Path):
    ds = datasets.load("ml-latest-small", download=False)
    assert_canonical(ds)
    assert ds.name == "ml-latest-small"
    assert len(ds.ratings) == 100_836
    assert ds.n_users == 610
    assert ds.n_items == 9_724
    assert len(ds.items) == 9_742
    assert ds.users is None
    assert ds.rating_scale == (0.5, 5.0) and ds.rating_step == 0.5
    assert set(np.unique(ds.ratings["rating"])) == set(np.arange(1, 11) / 2)
    assert ds.path is not None and ds.path.name == "ml-latest-small"
    assert list(isolated_data_dir.iterdir()) == []  # bundled: nothing cached
    toy = ds.items.loc[1]
    assert toy["title"] == "Toy Story (1995)" and toy["year"] == 1995
    assert toy["genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    assert sum(len(g) == 0 for g in ds.items["genres"]) == 34  # '(no genres listed)'
    assert ds.items["year"].notna().sum() == 9_742 - 12
    assert ds.items["year"].min() == 1902 and ds.items["year"].max() == 2018


def test_ml100k_from_shared_datasets(shared_datasets_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MOVIELENS_DIR", str(shared_datasets_dir))
    cache = tmp_path / "cache"
    ds = datasets.load("ml-100k", download=False, data_dir=cache)
    assert_canonical(ds)
    assert len(ds.ratings) == 100_000
    assert ds.n_users == 943 and ds.n_items == 1_682
    assert len(ds.items) == 1_682
    assert ds.users is not None and len(ds.users) == 943
    assert ds.users["gender"].isin(["M", "F"]).all()
    assert ds.path == shared_datasets_dir / "ml-100k"  # read in place
    assert not cache.exists()  # nothing written
    assert ds.items.loc[1633, "title"] == "Á köldum klaka (Cold Fever) (1994)"
    assert ds.items["year"].isna().sum() == 1  # only item 267, 'unknown'
    # every user rated at least 20 movies in ML-100K
    assert ds.ratings.groupby("user_id").size().min() == 20


# ---------------------------------------------------------------------------------------------
# The cache marker


def ml1m_release(tmp_path: Path):
    """A fake ML-1M archive and the registry entry pointing at it (never downloaded)."""
    files = ml1m_files()
    archive = tmp_path / "src" / "ml-1m.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for name, content in files.items():
            zf.writestr(f"ml-1m/{name}", content.encode("latin-1"))
    data = archive.read_bytes()
    release = dataclasses.replace(
        RELEASES["ml-1m"],
        url="http://127.0.0.1:1/unreachable.zip",
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        n_ratings=4,
    )
    return archive, release


def test_folder_without_marker_is_reextracted(tmp_path: Path, isolated_data_dir: Path):
    archive, release = ml1m_release(tmp_path)
    (isolated_data_dir / "ml-1m.zip").write_bytes(archive.read_bytes())
    stale = write(isolated_data_dir / "ml-1m", {**ml1m_files(), "ratings.dat": "9::9::1::978300760\n"})
    assert read_ml1m(stale).ratings["user_id"].tolist() == [9]  # readable, but not trusted
    ds = datasets.load(release, download=False)
    assert ds.ratings["user_id"].tolist() == [1, 1, 2, 3]
    assert (stale / MARKER).read_text().splitlines()[0] == release.checksum


def test_marker_with_other_checksum_is_not_trusted(tmp_path: Path, isolated_data_dir: Path):
    archive, release = ml1m_release(tmp_path)
    (isolated_data_dir / "ml-1m.zip").write_bytes(archive.read_bytes())
    folder = write(isolated_data_dir / "ml-1m", {**ml1m_files(), "ratings.dat": "9::9::1::978300760\n"})
    (folder / MARKER).write_text("sha256:" + "0" * 64 + "\n")
    assert datasets.load(release, download=False).n_users == 3


def test_marked_folder_is_used_without_the_archive(tmp_path: Path, isolated_data_dir: Path):
    archive, release = ml1m_release(tmp_path)
    (isolated_data_dir / "ml-1m.zip").write_bytes(archive.read_bytes())
    datasets.load(release, download=False)
    (isolated_data_dir / "ml-1m.zip").unlink()
    ds = datasets.load(release, download=False)
    assert ds.path == isolated_data_dir / "ml-1m" and len(ds.ratings) == 4
    # a marked folder missing a file is not trusted any more
    (isolated_data_dir / "ml-1m" / "users.dat").unlink()
    with pytest.raises(datasets.DatasetUnavailableError, match=r"ml-1m\.zip"):
        datasets.load(release, download=False)


def test_a_marker_is_not_enough_a_changed_file_makes_the_folder_untrusted(tmp_path: Path, isolated_data_dir: Path):
    archive, release = ml1m_release(tmp_path)
    (isolated_data_dir / "ml-1m.zip").write_bytes(archive.read_bytes())
    datasets.load(release, download=False)
    ratings = isolated_data_dir / "ml-1m" / "ratings.dat"
    ratings.write_text(ratings.read_text().splitlines(keepends=True)[0])  # truncated behind the marker's back
    ds = datasets.load(release, download=False)  # re-extracted from the verified archive
    assert len(ds.ratings) == 4
    # an edit of the same length (a rating changed from 5 to 1): the content hash notices, sizes would not
    original = ratings.read_bytes()
    edited = original.replace(b"::5::", b"::1::", 1)
    assert edited != original and len(edited) == len(original)
    ratings.write_bytes(edited)
    with pytest.warns(UserWarning, match="ratings.dat was changed after it was extracted"):
        ds = datasets.load(release, download=False)
    assert ratings.read_bytes() == original and len(ds.ratings) == 4
    (isolated_data_dir / "ml-1m.zip").unlink()
    ratings.write_text(ratings.read_text().splitlines(keepends=True)[0])
    with pytest.raises(datasets.DatasetUnavailableError, match="changed after it was extracted"):
        datasets.load(release, download=False)  # no archive to restore it from: refused, saying why


def test_a_copy_read_in_place_must_hold_the_release_row_count(tmp_path: Path, isolated_data_dir: Path):
    _, release = ml1m_release(tmp_path)
    shared = tmp_path / "shared"
    files = ml1m_files()
    files["ratings.dat"] = "".join(files["ratings.dat"].splitlines(keepends=True)[:3])  # one rating missing
    write(shared / "ml-1m", files, encoding="latin-1")
    with pytest.raises(ValueError, match=r"should hold 4 ratings, found 3"):
        datasets.load(release, download=False, movielens_dir=shared)


def test_the_bundled_copy_is_checked_against_its_pins(monkeypatch, tmp_path: Path):
    import shutil

    from recsys import paths

    copy = tmp_path / "data"
    shutil.copytree(paths.bundled_dir() / "ml-latest-small", copy / "ml-latest-small")
    monkeypatch.setattr(paths, "bundled_dir", lambda: copy)
    assert len(datasets.load("ml-latest-small").ratings) == 100_836
    with open(copy / "ml-latest-small" / "ratings.csv", "a") as fh:
        fh.write("1,1,5.0,964982703\n")
    with pytest.raises(datasets.ChecksumError, match="bundled copy.*git checkout"):
        datasets.load("ml-latest-small")
