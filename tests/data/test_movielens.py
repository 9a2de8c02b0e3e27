"""MovieLens and HetRec Last.fm readers: tiny folders with known answers, then the real sets."""

from __future__ import annotations

import csv
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from likewise.data import Interactions
from likewise.data.movielens import (
    FORMATS,
    detect_format,
    read_lastfm_hetrec,
    read_ml1m,
    read_ml100k,
    read_ml_latest,
    read_movielens,
)
from likewise.exceptions import DataError, InvalidParameterError
from tests._paths import SHARED_DATA

DATA = SHARED_DATA


def write(folder: Path, name: str, content: str | bytes, encoding: str = "utf-8") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content.encode(encoding) if isinstance(content, str) else content)
    return path


def dense(data: Interactions) -> list[list[float]]:
    return data.matrix.toarray().tolist()


def features_of(data: Interactions, raw_id: object, *, users: bool = False) -> dict[str, float]:
    feats = data.user_features if users else data.item_features
    idmap = data.users if users else data.items
    assert feats is not None
    row = feats.matrix.getrow(int(idmap.to_index([raw_id])[0]))
    return {str(feats.names[c]): float(v) for c, v in zip(row.indices, row.data, strict=True)}


# --------------------------------------------------------------------------- ml-100k
def ml100k(folder: Path, **replace: str) -> Path:
    files = {
        "u.data": "1\t10\t4\t881250949\n1\t20\t3\t881250950\n2\t10\t5\t881250951\n",
        "u.genre": "unknown|0\nAction|1\nComedy|2\n\n",
        "u.item": (
            "10|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n"
            "20|Café (1996)|05-Feb-1996||http://y|0|1|1\n"
            "30|Cold (1997)|||http://z|1|0|0\n"
        ),
        "u.user": "1|24|M|technician|85711\n2|53|F|other|94043\n3|17|F|student|55555\n",
    }
    files.update(replace)
    for name, text in files.items():
        write(folder, name, text, encoding="latin-1")
    return folder


def test_ml100k_tiny_exact(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="likewise.data"):
        data = read_ml100k(ml100k(tmp_path))
    assert data.kind == "explicit" and data.rating_scale == (1.0, 5.0)
    assert data.users.ids.tolist() == [1, 2, 3]  # user 3 has demographics but no rating
    assert data.items.ids.tolist() == [10, 20, 30]  # item 30 is a cold-start catalogue item
    assert dense(data) == [[4.0, 3.0, 0.0], [5.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    assert data.timestamps.tolist() == [881250949, 881250950, 881250951]
    info = data.item_info
    assert info.index.tolist() == [10, 20, 30] and info.index.name == "item_id"
    assert info["title"].tolist() == ["Toy Story (1995)", "Café (1996)", "Cold (1997)"]  # ISO-8859-1
    assert info["genres"].tolist() == ["Comedy", "Action|Comedy", "unknown"]
    assert info.loc[20, "release_date"] == pd.Timestamp("1996-02-05")
    assert pd.isna(info.loc[30, "release_date"])
    assert data.item_features.names.tolist() == ["genre=Action", "genre=Comedy", "genre=unknown"]
    assert features_of(data, 20) == {"genre=Action": 1.0, "genre=Comedy": 1.0}
    assert data.user_info.loc[3].to_dict() == {
        "age": 17,
        "age_group": "<18",
        "gender": "F",
        "occupation": "student",
        "zip_code": "55555",
    }
    assert features_of(data, 3, users=True) == {"age=<18": 1.0, "gender=F": 1.0, "occupation=student": 1.0}
    assert features_of(data, 2, users=True) == {"age=50-55": 1.0, "gender=F": 1.0, "occupation=other": 1.0}
    assert data.report.n_items == 3 and data.report.n_users == 3
    assert any("1 items have metadata but no interactions (cold-start)" in r.getMessage() for r in caplog.records)
    assert data.item_titles().tolist() == ["Toy Story (1995)", "Café (1996)", "Cold (1997)"]


def test_ml100k_rating_errors_name_file_and_line(tmp_path: Path) -> None:
    folder = ml100k(tmp_path, **{"u.data": "1\t10\t4\t1\n1\t20\tx\t2\n2\t10\t6\t3\n"})
    with pytest.raises(DataError, match=re.escape(f"{folder / 'u.data'}, line 2: rating: is not a number (got 'x')")):
        read_ml100k(folder)
    data = read_ml100k(folder, on_error="skip")
    assert data.report.skipped == {"rating: is not a number": 1, "rating: is outside the rating scale [1, 5]": 1}
    assert dense(data) == [[4.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]


def test_ml100k_malformed_lines(tmp_path: Path) -> None:
    folder = ml100k(tmp_path, **{"u.data": "1\t10\t4\t1\n\n1\t20\t2\n"})
    with pytest.raises(
        DataError, match=re.escape(f"{folder / 'u.data'}, line 3: wrong number of fields: expected 4, got 3")
    ):
        read_ml100k(folder)
    assert read_ml100k(folder, on_error="skip").report.skipped == {"wrong number of fields": 1}


@pytest.mark.parametrize(
    ("item_line", "message"),
    [
        ("20|Café (1996)|05-Feb-1996||http://y|0|1", "line 2: wrong number of fields: expected 8, got 7"),
        ("20|Café (1996)|05-Feb-1996||http://y|0|2|1", "line 2: genre Action: expected 0 or 1 (got '2')"),
        ("20|Café (1996)|1996-02-05||http://y|0|1|1", "line 2: release_date: not a date like '01-Jan-1995'"),
        ("10|Again|05-Feb-1996||http://y|0|1|1", "line 2: duplicate item id '10' (first on line 1)"),
        ("|Café (1996)|05-Feb-1996||http://y|0|1|1", "line 2: item id is missing"),
    ],
)
def test_ml100k_item_errors(tmp_path: Path, item_line: str, message: str, caplog: pytest.LogCaptureFixture) -> None:
    items = f"10|Toy Story (1995)|01-Jan-1995||http://x|0|0|1\n{item_line}\n30|Cold (1997)|||http://z|1|0|0\n"
    folder = ml100k(tmp_path, **{"u.item": items})
    with pytest.raises(DataError, match=re.escape(f"{folder / 'u.item'}, {message}")):
        read_ml100k(folder)
    with caplog.at_level(logging.WARNING, logger="likewise.data"):
        data = read_ml100k(folder, on_error="skip")
    assert any("u.item: skipped 1 bad line" in r.getMessage() for r in caplog.records)
    assert data.items.ids.tolist() == [10, 20, 30]  # item 20 is rated, so it stays
    assert data.item_info.loc[10, "title"] == "Toy Story (1995)"
    assert pd.isna(data.item_info.loc[20, "title"])  # its metadata line was dropped


def test_ml100k_user_errors(tmp_path: Path) -> None:
    folder = ml100k(tmp_path, **{"u.user": "1|24|M|technician|85711\n2|old|F|other|94043\n"})
    with pytest.raises(
        DataError, match=re.escape(f"{folder / 'u.user'}, line 2: age: expected an integer >= 0 (got 'old')")
    ):
        read_ml100k(folder)


def test_ml100k_optional_files_and_missing_ratings(tmp_path: Path) -> None:
    folder = tmp_path / "only"
    write(folder, "u.data", "1\t10\t4\t1\n")
    data = read_ml100k(folder)
    assert data.item_info is None and data.user_features is None and dense(data) == [[4.0]]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"u\.data not found"):
        read_ml100k(empty)
    with pytest.raises(DataError, match="not a folder"):
        read_ml100k(tmp_path / "nowhere")


def test_ml100k_id_types_must_agree(tmp_path: Path) -> None:
    folder = ml100k(tmp_path, **{"u.item": "x10|T|01-Jan-1995||u|0|0|1\n"})
    with pytest.raises(DataError, match=r"u\.item: item ids are text but in .*u\.data they are integers"):
        read_ml100k(folder)


# --------------------------------------------------------------------------- ml-1m
def ml1m(folder: Path, **replace: str) -> Path:
    files = {
        "ratings.dat": "1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978298413\n",
        "movies.dat": (
            "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n"
            "661::James and the Giant Peach (1996)::Animation|Children's|Musical\n"
            "5::Père (1990)::Comedy\n"
        ),
        "users.dat": "1::F::1::10::48067\n2::M::56::16::70072\n3::M::25::15::55117\n",
    }
    files.update(replace)
    for name, text in files.items():
        write(folder, name, text, encoding="latin-1")
    return folder


def test_ml1m_tiny_exact(tmp_path: Path) -> None:
    data = read_ml1m(ml1m(tmp_path))
    assert data.items.ids.tolist() == [5, 661, 1193] and data.users.ids.tolist() == [1, 2, 3]
    assert dense(data) == [[0.0, 3.0, 5.0], [0.0, 0.0, 4.0], [0.0, 0.0, 0.0]]
    assert data.rating_scale == (1.0, 5.0)
    assert data.item_info.loc[5, "title"] == "Père (1990)"
    assert data.item_info.loc[661, "genres"] == "Animation|Children's|Musical"
    assert features_of(data, 661) == {"genre=Animation": 1.0, "genre=Children's": 1.0, "genre=Musical": 1.0}
    assert data.user_info["occupation"].tolist() == ["K-12 student", "self-employed", "scientist"]
    assert data.user_info["age_group"].tolist() == ["<18", "56+", "25-34"]
    assert features_of(data, 1, users=True) == {"age=<18": 1.0, "gender=F": 1.0, "occupation=K-12 student": 1.0}


def test_ml1m_errors(tmp_path: Path) -> None:
    folder = ml1m(tmp_path / "a", **{"ratings.dat": "1::1193::5::978300760\n1::661\n"})
    with pytest.raises(
        DataError, match=re.escape(f"{folder / 'ratings.dat'}, line 2: wrong number of fields: expected 4, got 2")
    ):
        read_ml1m(folder)
    folder = ml1m(tmp_path / "b", **{"users.dat": "1::F::1::10::48067\n2::M::56::21::70072\n"})
    with pytest.raises(
        DataError,
        match=re.escape(f"{folder / 'users.dat'}, line 2: occupation: expected an integer in [0, 20] (got '21')"),
    ):
        read_ml1m(folder)
    data = read_ml1m(folder, on_error="skip")
    assert data.user_info["occupation"].isna().tolist() == [False, True]  # user 2's line was dropped


# --------------------------------------------------------------------------- ml-latest
def ml_latest(folder: Path, **replace: str) -> Path:
    files = {
        "ratings.csv": (
            "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n2,1,0.5,964982224\r\n"
        ),
        "movies.csv": (
            "movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation\r\n"
            '3,"American President, The (1995)",Comedy|Drama|Romance\r\n7,Nothing (2000),(no genres listed)\r\n'
        ),
        "tags.csv": (
            "userId,movieId,tag,timestamp\r\n2,1,pixar,1445714994\r\n5,1,pixar,1445714996\r\n"
            '2,3,"politics, US",1445714997\r\n2,99,orphan,1\r\n'
        ),
        "links.csv": "movieId,imdbId,tmdbId\r\n1,0114709,862\r\n3,0112346,\r\n",
    }
    files.update(replace)
    for name, text in files.items():
        write(folder, name, text)
    return folder


def test_ml_latest_tiny_exact(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="likewise.data"):
        data = read_ml_latest(ml_latest(tmp_path))
    assert data.rating_scale == (0.5, 5.0)
    assert data.items.ids.tolist() == [1, 3, 7] and data.users.ids.tolist() == [1, 2]
    assert dense(data) == [[4.0, 4.5, 0.0], [0.5, 0.0, 0.0]]
    info = data.item_info
    assert info["title"].tolist() == ["Toy Story (1995)", "American President, The (1995)", "Nothing (2000)"]
    assert info["genres"].tolist() == ["Adventure|Animation", "Comedy|Drama|Romance", ""]
    assert info["imdb_id"].tolist()[:2] == ["0114709", "0112346"]  # leading zeros kept
    assert info.loc[1, "tmdb_id"] == 862 and pd.isna(info.loc[3, "tmdb_id"])
    assert features_of(data, 1) == {"genre=Adventure": 1.0, "genre=Animation": 1.0, "tag=pixar": 2.0}
    assert features_of(data, 3)["tag=politics, US"] == 1.0
    assert features_of(data, 7) == {}
    messages = [r.getMessage() for r in caplog.records]
    assert any("tags.csv: 1 feature assignments name an id" in m for m in messages)  # movie 99
    assert any("1 items have metadata but no interactions" in m for m in messages)


def test_ml_latest_errors(tmp_path: Path) -> None:
    folder = ml_latest(
        tmp_path / "a", **{"ratings.csv": "userId,movieId,rating,timestamp\r\n1,1,4.0,1\r\n1,3,5.5,2\r\n"}
    )
    with pytest.raises(
        DataError, match=re.escape(f"{folder / 'ratings.csv'}, line 3: rating: is outside the rating scale [0.5, 5]")
    ):
        read_ml_latest(folder)
    folder = ml_latest(
        tmp_path / "b", **{"movies.csv": 'movieId,title,genres\r\n1,"Toy Story (1995),Adventure\r\n3,B,Drama\r\n'}
    )
    with pytest.raises(DataError, match=re.escape(f"{folder / 'movies.csv'}, line 2: unterminated quote")):
        read_ml_latest(folder)
    data = read_ml_latest(folder, on_error="skip")
    assert pd.isna(data.item_info.loc[1, "title"]) and data.item_info.loc[3, "title"] == "B"
    folder = ml_latest(tmp_path / "c", **{"ratings.csv": "user,movie,rating,timestamp\r\n1,1,4,1\r\n"})
    with pytest.raises(DataError, match=r"missing columns 'userId' \(user\), 'movieId' \(item\)"):
        read_ml_latest(folder)


# --------------------------------------------------------------------------- Last.fm
def lastfm(folder: Path) -> Path:
    write(folder, "user_artists.dat", "userID\tartistID\tweight\r\n2\t51\t13883\r\n2\t52\t11690\r\n3\t51\t5\r\n")
    write(
        folder,
        "artists.dat",
        'id\tname\turl\tpictureURL\n51\tDuran Duran\thttp://a\thttp://p\n52\t"Weird Al" Yankovic\thttp://b\t\n'
        "53\tBjörk\thttp://c\thttp://q\n",
    )
    write(folder, "tags.dat", "tagID\ttagValue\r\n1\tmetal\r\n2\tschön\r\n", encoding="latin-1")
    write(
        folder,
        "user_taggedartists.dat",
        "userID\tartistID\ttagID\tday\tmonth\tyear\n2\t51\t1\t1\t4\t2009\n3\t51\t1\t1\t4\t2009\n"
        "2\t53\t2\t1\t4\t2009\n2\t999\t1\t1\t1\t2010\n2\t52\t77\t1\t1\t2010\n",
    )
    return folder


def test_lastfm_tiny_exact(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="likewise.data"):
        data = read_lastfm_hetrec(lastfm(tmp_path))
    assert data.kind == "implicit" and data.timestamps is None
    assert data.items.ids.tolist() == [51, 52, 53] and data.users.ids.tolist() == [2, 3]
    assert dense(data) == [[13883.0, 11690.0, 0.0], [5.0, 0.0, 0.0]]
    assert data.item_info["title"].tolist() == ["Duran Duran", '"Weird Al" Yankovic', "Björk"]
    assert features_of(data, 51) == {"tag=metal": 2.0}
    assert features_of(data, 53) == {"tag=schön": 1.0}  # tags.dat is ISO-8859-1
    assert features_of(data, 52) == {}
    messages = [r.getMessage() for r in caplog.records]
    assert any("1 tag assignments name a tag id missing from tags.dat" in m for m in messages)
    assert any("user_taggedartists.dat: 1 feature assignments name an id" in m for m in messages)


def test_lastfm_bad_weight(tmp_path: Path) -> None:
    folder = lastfm(tmp_path)
    write(folder, "user_artists.dat", "userID\tartistID\tweight\r\n2\t51\t10\r\n2\t52\t-1\r\n")
    with pytest.raises(DataError, match=re.escape(f"{folder / 'user_artists.dat'}, line 3: weight: must be positive")):
        read_lastfm_hetrec(folder)


# --------------------------------------------------------------------------- dispatch
def test_detect_and_dispatch(tmp_path: Path) -> None:
    folders = {
        "ml-100k": ml100k(tmp_path / "a"),
        "ml-1m": ml1m(tmp_path / "b"),
        "ml-latest": ml_latest(tmp_path / "c"),
        "lastfm-hetrec": lastfm(tmp_path / "d"),
    }
    for name, folder in folders.items():
        assert detect_format(folder) == name
        assert read_movielens(folder) == FORMATS[name](folder)
    assert read_movielens(folders["ml-latest"], format="ml-25m").nnz == 3
    assert {"ml-100k", "ml-1m", "ml-latest", "ml-25m", "ml-20m", "ml-latest-small", "lastfm-hetrec"} <= set(FORMATS)
    other = tmp_path / "other"
    write(other, "x.txt", "")
    with pytest.raises(DataError, match=r"not a known data set layout .*\['x\.txt'\]"):
        read_movielens(other)
    with pytest.raises(InvalidParameterError, match="unknown format 'ml-2m'"):
        read_movielens(folders["ml-1m"], format="ml-2m")


# --------------------------------------------------------------------------- real data
@pytest.mark.skipif(not (DATA / "ml-100k").is_dir(), reason="ml-100k not available")
def test_real_ml100k() -> None:
    data = read_movielens(DATA / "ml-100k")
    assert (data.nnz, data.n_users, data.n_items) == (100_000, 943, 1682)
    values, counts = np.unique(data.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        1.0: 6110,
        2.0: 11370,
        3.0: 27145,
        4.0: 34174,
        5.0: 21201,
    }
    assert data.item_info.loc[1, "title"] == "Toy Story (1995)"
    assert data.item_info.loc[1, "genres"] == "Animation|Children's|Comedy"
    assert data.item_features.matrix.shape == (1682, 19)
    assert data.user_info.loc[1, "occupation"] == "technician" and data.user_info.loc[1, "age"] == 24
    assert data.user_features.matrix.sum() == 943 * 3  # one gender, occupation and age group each
    assert data.report.rows_read == 100_000 and data.report.rows_skipped == 0


@pytest.mark.skipif(not (DATA / "ml-latest-small").is_dir(), reason="ml-latest-small not available")
def test_real_ml_latest_small() -> None:
    data = read_movielens(DATA / "ml-latest-small")
    assert (data.nnz, data.n_users, data.n_items) == (100_836, 610, 9742)
    assert int((data.item_counts() > 0).sum()) == 9724  # 18 catalogue movies have no rating
    values, counts = np.unique(data.values, return_counts=True)
    assert dict(zip(values.tolist(), counts.tolist(), strict=True)) == {
        0.5: 1370,
        1.0: 2811,
        1.5: 1791,
        2.0: 7551,
        2.5: 5550,
        3.0: 20047,
        3.5: 13136,
        4.0: 26818,
        4.5: 8551,
        5.0: 13211,
    }
    assert data.item_info.loc[1, "title"] == "Toy Story (1995)"
    assert data.item_info.loc[11, "title"] == "American President, The (1995)"
    feats = data.item_features
    is_tag = np.char.startswith(feats.names.astype(str), "tag=")
    assert feats.matrix[:, is_tag].sum() == 3683  # every tag application is counted
    assert data.timestamps.min() == 828124615  # 1996-03-29 18:36:55 UTC


@pytest.mark.skipif(not (DATA / "hetrec2011-lastfm-2k").is_dir(), reason="Last.fm not available")
def test_real_lastfm() -> None:
    folder = DATA / "hetrec2011-lastfm-2k"
    data = read_movielens(folder)
    assert (data.nnz, data.n_users, data.n_items) == (92_834, 1892, 17_632)
    assert data.values.astype(np.float64).sum() == 69_183_975
    assert data.values.max() == 352_698
    # independent count (with pandas' parser) of the tag assignments whose artist and tag are known
    artists = pd.read_csv(folder / "artists.dat", sep="\t", quoting=csv.QUOTE_NONE, usecols=["id"])["id"]
    tags = pd.read_csv(folder / "tags.dat", sep="\t", encoding="latin-1", usecols=["tagID"])["tagID"]
    assigned = pd.read_csv(folder / "user_taggedartists.dat", sep="\t", usecols=["artistID", "tagID"])
    assert len(assigned) == 186_479
    known = int((assigned["artistID"].isin(artists) & assigned["tagID"].isin(tags)).sum())
    assert data.item_features.matrix.sum() == known
    assert data.item_info.loc[1, "title"] == "MALICE MIZER"
