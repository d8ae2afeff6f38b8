"""MovieLens readers on the real shared copies, on zips of them, and on tiny files of each format."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import MovieLensDataset, load_movielens, rating_scale_of


def zip_folder(folder: Path, dest: Path, top: str | None) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"{top}/{f.name}" if top else f.name)
    return dest


def check_frames(ds: MovieLensDataset) -> None:
    r, m = ds.ratings, ds.movies
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert r["rating"].dtype == np.float64 and r["timestamp"].dtype == np.int64
    assert list(m.columns) == ["item_id", "title", "year"] + ["genres"]
    assert m["year"].dtype == "Int64"
    assert all(isinstance(g, list) for g in m["genres"])
    lo, hi = ds.rating_scale
    assert lo <= r["rating"].min() and r["rating"].max() <= hi


# ------------------------------------------------------------------ real data


@pytest.fixture(scope="module")
def ml100k(ml100k_dir):
    return load_movielens(ml100k_dir)


@pytest.fixture(scope="module")
def ml_small(ml_latest_small_dir):
    return load_movielens(ml_latest_small_dir)


def test_ml100k_counts_and_frames(ml100k):
    check_frames(ml100k)
    assert ml100k.name == "ml-100k"
    assert ml100k.rating_scale == (1.0, 5.0)
    assert len(ml100k.ratings) == 100_000
    assert ml100k.ratings["user_id"].nunique() == 943
    assert len(ml100k.movies) == 1682 and ml100k.n_items == 1682
    assert set(ml100k.ratings["rating"].unique()) == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_ml100k_titles_years_genres(ml100k):
    movies = ml100k.movies.set_index("item_id")
    toy = movies.loc[1]
    assert toy["title"] == "Toy Story" and toy["year"] == 1995
    assert toy["genres"] == ["Animation", "Children's", "Comedy"]
    assert movies.loc[2, "genres"] == ["Action", "Adventure", "Thriller"]
    # item 267 is "unknown" with only the unknown genre flag: no year, no genres
    assert movies.loc[267, "title"] == "unknown"
    assert pd.isna(movies.loc[267, "year"]) and movies.loc[267, "genres"] == []
    # "... (1995) (V)": year found, video marker dropped
    assert movies.loc[1412, "year"] == 1995
    assert movies.loc[1412, "title"] == "Land Before Time III: The Time of the Great Giving"
    # latin-1 titles decode (item 1633 is "Á köldum klaka (Cold Fever) (1994)")
    assert movies.loc[1633, "title"].startswith("\u00c1 k\u00f6ldum klaka")
    assert movies["year"].notna().sum() == 1681


def test_ml_latest_small_counts_and_frames(ml_small):
    check_frames(ml_small)
    assert ml_small.name == "ml-latest-small"
    assert ml_small.rating_scale == (0.5, 5.0)
    assert len(ml_small.ratings) == 100_836
    assert ml_small.ratings["user_id"].nunique() == 610
    assert len(ml_small.movies) == 9742
    assert ml_small.ratings["rating"].min() == 0.5


def test_ml_latest_small_titles_years_genres(ml_small):
    movies = ml_small.movies.set_index("item_id")
    assert movies.loc[1, "title"] == "Toy Story" and movies.loc[1, "year"] == 1995
    assert movies.loc[1, "genres"] == ["Adventure", "Animation", "Children", "Comedy", "Fantasy"]
    # trailing space after the year
    assert movies.loc[27008, "title"] == "From Dusk Till Dawn 2: Texas Blood Money"
    assert movies.loc[27008, "year"] == 1999
    # no year at all
    assert movies.loc[40697, "title"] == "Babylon 5" and pd.isna(movies.loc[40697, "year"])
    # "(no genres listed)"
    assert movies.loc[143410, "genres"] == []
    # quoted title with a comma: "American President, The (1995)"
    assert movies.loc[11, "title"] == "American President, The"
    assert not movies["title"].str.contains(r"\(\d{4}\)\s*$").any()


@pytest.mark.parametrize("top", ["ml-100k", None])
def test_ml100k_zip(tmp_path, ml100k_dir, ml100k, top):
    archive = zip_folder(ml100k_dir, tmp_path / "ml-100k.zip", top)
    ds = load_movielens(archive)
    assert ds.name == "ml-100k"
    pd.testing.assert_frame_equal(ds.ratings, ml100k.ratings)
    pd.testing.assert_frame_equal(ds.movies, ml100k.movies)


def test_ml_latest_small_zip(tmp_path, ml_latest_small_dir, ml_small):
    archive = zip_folder(ml_latest_small_dir, tmp_path / "whatever.zip", "ml-latest-small")
    ds = load_movielens(archive)
    assert ds.name == "ml-latest-small"
    pd.testing.assert_frame_equal(ds.ratings, ml_small.ratings)
    pd.testing.assert_frame_equal(ds.movies, ml_small.movies)


# ------------------------------------------------------------------ tiny files of each format


def write_dat(folder: Path, encoding: str, users: bool) -> Path:
    folder.mkdir()
    (folder / "ratings.dat").write_text(
        "1::10::5::978300760\n1::20::3.5::978302109\n2::10::1::978301968\n"
    )
    (folder / "movies.dat").write_bytes(
        "10::Toy Story (1995)::Animation|Children's|Comedy\n"
        "20::Cité des enfants perdus, La (City of Lost Children, The) (1995)::Adventure|Sci-Fi\n"
        "30::Untitled::(no genres listed)\n".encode(encoding)
    )
    if users:
        (folder / "users.dat").write_text("1::F::1::10::48067\n2::M::56::16::70072\n")
    return folder


@pytest.mark.parametrize(
    ("folder", "encoding", "users", "name", "scale"),
    [
        ("ml-1m", "latin-1", True, "ml-1m", (1.0, 5.0)),
        ("ml-10M100K", "utf-8", False, "ml-10m", (0.5, 5.0)),
        ("some-copy", "utf-8", False, "ml-10m", (0.5, 5.0)),
        ("other-copy", "latin-1", True, "ml-1m", (1.0, 5.0)),
    ],
)
def test_dat_family(tmp_path, folder, encoding, users, name, scale):
    path = write_dat(tmp_path / folder, encoding, users)
    ds = load_movielens(path)
    check_frames(ds)
    assert ds.name == name and ds.rating_scale == scale
    assert ds.ratings["user_id"].tolist() == [1, 1, 2]
    assert ds.ratings["item_id"].tolist() == [10, 20, 10]
    assert ds.ratings["rating"].tolist() == [5.0, 3.5, 1.0]
    assert ds.ratings["timestamp"].tolist() == [978300760, 978302109, 978301968]
    movies = ds.movies.set_index("item_id")
    assert movies.loc[20, "title"] == "Cité des enfants perdus, La (City of Lost Children, The)"
    assert movies.loc[20, "year"] == 1995
    assert movies.loc[10, "genres"] == ["Animation", "Children's", "Comedy"]
    assert movies.loc[30, "genres"] == [] and pd.isna(movies.loc[30, "year"])
    # and the same from a zip with a top folder
    archive = zip_folder(path, tmp_path / f"{folder}.zip", folder)
    pd.testing.assert_frame_equal(load_movielens(archive).movies, ds.movies)


def test_csv_family(tmp_path):
    folder = tmp_path / "ml-25m"
    folder.mkdir()
    (folder / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\n1,296,5.0,1147880044\n1,306,3.5,1147868817\n"
        "3,296,0.5,1439474476\n"
    )
    (folder / "movies.csv").write_text(
        "movieId,title,genres\n"
        "296,Pulp Fiction (1994),Comedy|Crime|Drama|Thriller\n"
        '306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n'
        '7,"Fawlty Towers (1975-1979)",Comedy\n'
        "8,The OA,(no genres listed)\n"
    )
    ds = load_movielens(folder)
    check_frames(ds)
    assert ds.name == "ml-25m" and ds.rating_scale == (0.5, 5.0)
    assert ds.ratings["rating"].tolist() == [5.0, 3.5, 0.5]
    movies = ds.movies.set_index("item_id")
    assert movies.loc[306, "title"] == "Three Colors: Red (Trois couleurs: Rouge)"
    assert movies.loc[7, "title"] == "Fawlty Towers" and movies.loc[7, "year"] == 1975
    assert movies.loc[8, "genres"] == [] and pd.isna(movies.loc[8, "year"])
    # unknown folder name: still the CSV family
    renamed = folder.rename(tmp_path / "my-export")
    assert load_movielens(renamed).name == "ml-latest"


def test_rating_scale_of():
    assert rating_scale_of(pd.DataFrame({"rating": [0.5, 4.0, 3.0]})) == (0.5, 4.0)
    with pytest.raises(ValueError, match="zero ratings"):
        rating_scale_of(np.array([]))


# ------------------------------------------------------------------ errors


def test_unrecognised_folder_names_what_it_found(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match=r"not a recognised MovieLens release.*notes\.txt"):
        load_movielens(tmp_path)


def test_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_movielens(tmp_path / "nope")


def test_not_a_zip(tmp_path):
    bogus = tmp_path / "ml-100k.zip"
    bogus.write_text("not a zip")
    with pytest.raises(ValueError, match="readable zip"):
        load_movielens(bogus)


def test_malformed_ratings_names_the_file(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,2,four,3\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n2,X (2000),Drama\n")
    with pytest.raises(ValueError, match=r"malformed MovieLens file .*ratings\.csv"):
        load_movielens(folder)


def test_malformed_csv_header_names_the_file(tmp_path):
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "ratings.csv").write_text("user,item,rating,timestamp\n1,2,4,3\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n2,X (2000),Drama\n")
    with pytest.raises(ValueError, match=r"ratings\.csv: header"):
        load_movielens(folder)


def test_malformed_dat_names_the_file(tmp_path):
    folder = write_dat(tmp_path / "ml-1m", "latin-1", True)
    (folder / "ratings.dat").write_text("1::10::5\n")
    with pytest.raises(ValueError, match=r"malformed MovieLens file .*ratings\.dat"):
        load_movielens(folder)
    folder = write_dat(tmp_path / "ml-10m", "utf-8", False)
    (folder / "movies.dat").write_text("10::Toy Story (1995)\n")
    with pytest.raises(ValueError, match=r"movies\.dat: line 1"):
        load_movielens(folder)


def test_malformed_u_item_names_the_file(tmp_path, ml100k_dir):
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    (folder / "u.data").write_bytes((ml100k_dir / "u.data").read_bytes()[:2000].rsplit(b"\n", 1)[0])
    (folder / "u.item").write_text("1|Toy Story (1995)|01-Jan-1995\n")
    with pytest.raises(ValueError, match=r"u\.item"):
        load_movielens(folder)
