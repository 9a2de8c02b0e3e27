"""What likewise knows about a data set (`DatasetInfo`), and the built-in entries (private).

`likewise.data.datasets` registers `BUILTINS` at import and holds the registry, the
checksummed download cache and the loaders; this module holds only the descriptions, so the
list of archives, their digests and their terms can be read and reviewed in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from likewise.data.interactions import Interactions
from likewise.exceptions import InvalidParameterError

__all__ = ["BUILTINS", "DatasetInfo", "Reader"]

Reader = Callable[..., Interactions]

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_HEX = {"sha256": 64, "md5": 32}


@dataclass(frozen=True)
class DatasetInfo:
    """What likewise knows about one data set.

    Attributes
    ----------
    name
        Registry key and cache folder name (lower case letters, digits, ``.``, ``_``, ``-``).
    title, description
        For people (CLI listings, docs).
    reader
        ``"package.module:function"`` (imported on first use) or a callable. For downloaded
        sets it is called as ``reader(folder, **options)``; for generated sets (no ``url``)
        as ``reader(**options)``.
    url
        Official download address of the archive, or None for a generated data set.
    sha256, md5, size
        Expected digests and byte size of the archive (None when unknown).
    marker
        A file that identifies the extracted data folder (``"u.data"`` for ml-100k); used to
        find the folder inside an archive or a directory given by the user.
    homepage, license, redistributable, citation
        Where it is described, a summary of its terms, whether those terms allow passing
        the files on, and how to cite it.
    kind
        "explicit" (ratings) or "implicit" (counts, clicks).
    n_users, n_items, n_interactions
        Published size, for listings (informational; not checked).
    """

    name: str
    title: str
    reader: str | Reader
    description: str = ""
    url: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    marker: str | None = None
    homepage: str | None = None
    license: str = ""
    redistributable: bool = False
    citation: str = ""
    kind: Literal["explicit", "implicit"] = "explicit"
    n_users: int | None = None
    n_items: int | None = None
    n_interactions: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise InvalidParameterError(
                f"dataset name must be lower case letters, digits, '.', '_' or '-', got {self.name!r}"
            )
        for field, length in _HEX.items():
            value = getattr(self, field)
            if value is not None and not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
                raise InvalidParameterError(
                    f"{self.name}: {field} must be {length} lower-case hex digits, got {value!r}"
                )
        if self.kind not in ("explicit", "implicit"):
            raise InvalidParameterError(f"{self.name}: kind must be 'explicit' or 'implicit', got {self.kind!r}")

    @property
    def generated(self) -> bool:
        """True for data sets made in memory (no download)."""
        return self.url is None

    @property
    def archive_name(self) -> str | None:
        """File name of the archive (last part of the URL)."""
        return None if self.url is None else self.url.rstrip("/").rsplit("/", 1)[-1]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (the reader as its import path or qualified name)."""
        out = asdict(self)
        if not isinstance(self.reader, str):
            out["reader"] = f"{self.reader.__module__}:{getattr(self.reader, '__qualname__', '?')}"
        out["generated"] = self.generated
        return out


_MOVIELENS_CITATION = (
    "F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. "
    "ACM Transactions on Interactive Intelligent Systems (TiiS) 5, 4, Article 19. "
    "https://doi.org/10.1145/2827872"
)
_GROUPLENS_NO_REDISTRIBUTION = (
    "GroupLens terms: research use only; acknowledge the data set in publications; no "
    "endorsement by the University of Minnesota may be implied; no redistribution without "
    "separate permission; no commercial or revenue-bearing use without permission."
)
_GROUPLENS_SHARE_ALIKE = (
    "GroupLens terms: research use only; acknowledge the data set in publications; no "
    "endorsement by the University of Minnesota may be implied; may be redistributed, "
    "including transformations, under these same conditions; no commercial or revenue-bearing "
    "use without permission."
)
_ML = "https://files.grouplens.org/datasets/movielens/"

BUILTINS: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        name="ml-100k",
        title="MovieLens 100K",
        description="100,000 ratings (1-5 stars) from 943 users on 1,682 movies, 1997-1998, with "
        "movie genres and user demographics. Every user has at least 20 ratings.",
        url=_ML + "ml-100k.zip",
        size=4_924_029,
        sha256="50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229",
        md5="0e33842e24a9c977be4e0107933c0723",
        marker="u.data",
        homepage="https://grouplens.org/datasets/movielens/100k/",
        license=_GROUPLENS_NO_REDISTRIBUTION,
        citation=_MOVIELENS_CITATION,
        reader="likewise.data.movielens:read_ml100k",
        n_users=943,
        n_items=1682,
        n_interactions=100_000,
    ),
    DatasetInfo(
        name="ml-1m",
        title="MovieLens 1M",
        description="1,000,209 ratings (1-5 stars) from 6,040 users on 3,706 movies, 2000-2003, with "
        "movie genres and user demographics.",
        url=_ML + "ml-1m.zip",
        size=5_917_549,
        sha256="a6898adb50b9ca05aa231689da44c217cb524e7ebd39d264c56e2832f2c54e20",
        md5="c4d9eecfca2ab87c1945afe126590906",
        marker="ratings.dat",
        homepage="https://grouplens.org/datasets/movielens/1m/",
        license=_GROUPLENS_NO_REDISTRIBUTION,
        citation=_MOVIELENS_CITATION,
        reader="likewise.data.movielens:read_ml1m",
        n_users=6040,
        n_items=3706,
        n_interactions=1_000_209,
    ),
    DatasetInfo(
        name="ml-latest-small",
        title="MovieLens Latest Small (2018-09)",
        description="100,836 ratings (0.5-5 stars in half steps) and 3,683 tags from 610 users on "
        "9,742 movies, 1996-2018. A development data set: GroupLens may regenerate it, "
        "so do not use it for published results.",
        url=_ML + "ml-latest-small.zip",
        size=978_202,
        sha256="696d65a3dfceac7c45750ad32df2c259311949efec81f0f144fdfb91ebc9e436",
        marker="ratings.csv",
        homepage="https://grouplens.org/datasets/movielens/latest/",
        license=_GROUPLENS_SHARE_ALIKE,
        redistributable=True,
        citation=_MOVIELENS_CITATION,
        reader="likewise.data.movielens:read_ml_latest",
        n_users=610,
        n_items=9724,
        n_interactions=100_836,
    ),
    DatasetInfo(
        name="ml-20m",
        title="MovieLens 20M",
        description="20,000,263 ratings (0.5-5 stars) and 465,564 tags from 138,493 users on 26,744 "
        "movies, 1995-2015, with the tag genome.",
        url=_ML + "ml-20m.zip",
        size=198_702_078,
        sha256="96f243c338a8665f6bcc89c53edf6ee39162a846940de6b7c8c48aeada765ff3",
        md5="cd245b17a1ae2cc31bb14903e1204af3",
        marker="ratings.csv",
        homepage="https://grouplens.org/datasets/movielens/20m/",
        license=_GROUPLENS_NO_REDISTRIBUTION,
        citation=_MOVIELENS_CITATION,
        reader="likewise.data.movielens:read_ml_latest",
        n_users=138_493,
        n_items=26_744,
        n_interactions=20_000_263,
    ),
    DatasetInfo(
        name="ml-25m",
        title="MovieLens 25M",
        description="25,000,095 ratings (0.5-5 stars) and 1,093,360 tags from 162,541 users on 59,047 "
        "movies, 1995-2019, with the tag genome.",
        url=_ML + "ml-25m.zip",
        size=261_978_986,
        sha256="8b21cfb7eb1706b4ec0aac894368d90acf26ebdfb6aced3ebd4ad5bd1eb9c6aa",
        md5="6b51fb2759a8657d3bfcbfc42b592ada",
        marker="ratings.csv",
        homepage="https://grouplens.org/datasets/movielens/25m/",
        license=_GROUPLENS_NO_REDISTRIBUTION,
        citation=_MOVIELENS_CITATION,
        reader="likewise.data.movielens:read_ml_latest",
        n_users=162_541,
        n_items=59_047,
        n_interactions=25_000_095,
    ),
    DatasetInfo(
        name="lastfm-2k",
        title="HetRec 2011 Last.fm 2K",
        description="92,834 (user, artist, play count) pairs from 1,892 Last.fm users on 17,632 "
        "artists, with artist names, tags and a friend graph.",
        url="https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip",
        size=2_589_075,
        sha256="6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
        md5="296d61afe4e8632b173fc2dd3be20ce2",
        marker="user_artists.dat",
        homepage="https://grouplens.org/datasets/hetrec-2011/",
        license="Non-commercial use only (data from Last.fm, released for HetRec 2011); "
        "redistribution is not addressed, so treat it as research-only.",
        citation="Cite the Last.fm website (http://www.lastfm.com) and: Ivan Cantador, Peter "
        "Brusilovsky and Tsvi Kuflik. 2011. 2nd Workshop on Information Heterogeneity and "
        "Fusion in Recommender Systems (HetRec 2011). In Proceedings of the 5th ACM "
        "Conference on Recommender Systems (RecSys 2011).",
        kind="implicit",
        reader="likewise.data.movielens:read_lastfm_hetrec",
        n_users=1892,
        n_items=17_632,
        n_interactions=92_834,
    ),
    DatasetInfo(
        name="sample",
        title="likewise sample (generated)",
        description="A small generated film catalogue: 600 users, 400 films with invented titles "
        "and genres, 30,000 ratings (kind='implicit' for play counts). Built in memory "
        "in a fraction of a second; used by the demo, the docs and the tests.",
        license="Generated by likewise; no restrictions.",
        redistributable=True,
        reader="likewise.data.synthetic:sample",
        n_users=600,
        n_items=400,
        n_interactions=30_000,
    ),
    DatasetInfo(
        name="synthetic",
        title="Synthetic log with planted structure (generated)",
        description="likewise.data.synthetic.synthetic(**options): any size, explicit or implicit, "
        "taste groups, genres, power-law popularity, heavy-tailed activity, timestamps.",
        license="Generated by likewise; no restrictions.",
        redistributable=True,
        reader="likewise.data.synthetic:synthetic",
        n_users=1000,
        n_items=500,
        n_interactions=20_000,
    ),
)
