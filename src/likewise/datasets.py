"""Built-in data sets, in one place: ``likewise.datasets.load("ml-100k")``.

A thin public facade over `likewise.data.datasets` (registry, download cache, loaders) and
`likewise.data.synthetic` (the generator and the small ``sample`` data set).

Examples
--------
>>> from likewise import datasets
>>> [d.name for d in datasets.list_datasets()][:3]
['ml-100k', 'ml-1m', 'ml-latest-small']
>>> datasets.sample().n_users
600
"""

from likewise.data.datasets import (
    DatasetInfo,
    data_home,
    fetch,
    info,
    is_cached,
    list_datasets,
    load,
    register,
    remove,
    unregister,
)
from likewise.data.synthetic import GENRES, SyntheticTruth, sample, sample_truth, synthetic

__all__ = [
    "GENRES",
    "DatasetInfo",
    "SyntheticTruth",
    "data_home",
    "fetch",
    "info",
    "is_cached",
    "list_datasets",
    "load",
    "register",
    "remove",
    "sample",
    "sample_truth",
    "synthetic",
    "unregister",
]
