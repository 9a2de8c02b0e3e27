"""Item-kNN on Spark: sparse item-item cosine / dot products, pruned to the top k per item.

What is computed is exactly what `likewise.ItemKNN` stores for implicit "sum" scoring with
``similarity="cosine"`` or ``"dot"`` (optionally ``weighting="bm25"`` / ``"tfidf"``, whole-vector
norms), in DataFrame operations:

1. each interaction r_ui becomes its prepared value w_ui: r_ui, or BM25
   ``r (k1 + 1) / (k1 L_i + r) * idf_u`` with ``L_i = (1 - b) + b * rowsum_i / mean rowsum``,
   or TF-IDF ``sqrt(r) * idf_u``, where ``idf_u = log(n_items) - log(1 + n_items_of_u)``
   (implicit's definitions, as in `likewise.models.knn`);
2. co-occurrences: a self-join of the interactions on the user, summed per (i, j), i != j:
   the dot product and the co-support n (users in common);
3. ``sim = dot / (|w_i| |w_j|)`` for cosine (the plain dot product for "dot"), pairs with
   ``n < min_support`` dropped, shrunk by ``n / (n + shrinkage)``, kept when above 1e-10;
4. per item, the best `n_keep` neighbours by float32 similarity, descending, ties by the lower
   index (a window over each item), collected into the CSR ItemKNN keeps.

The self-join costs ``sum over users of n_u^2`` pairs: like every exact item-item method, it is
dominated by the heaviest users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from likewise.exceptions import InvalidParameterError
from likewise.models import ItemKNN
from likewise.models.knn import KNNConfig

if TYPE_CHECKING:
    import scipy.sparse as sp

    from likewise.distributed.spark._read import SparkInteractions

__all__ = ["item_similarities", "train_itemknn"]

MIN_SIMILARITY = 1e-10  # likewise.kernels.similarity.MIN_SIMILARITY: smaller is rounding noise


def _prepared(frame: DataFrame, config: KNNConfig, n_users: int, n_items: int) -> DataFrame:
    """(uidx, iidx, w): the value each interaction contributes to the item vectors."""
    value = F.col("value").cast("double")
    if config.weighting is None:
        return frame.select("uidx", "iidx", value.alias("w"))
    per_user = frame.groupBy("uidx").agg(F.count("*").alias("user_df"))
    idf = F.lit(float(np.log(max(n_items, 1)))) - F.log1p(F.col("user_df").cast("double"))
    weighted = frame.join(per_user, "uidx")
    if config.weighting == "tfidf":
        return weighted.select("uidx", "iidx", (F.sqrt(F.greatest(value, F.lit(0.0))) * idf).alias("w"))
    sums = frame.groupBy("iidx").agg(F.sum(value).alias("rowsum"))
    total = frame.agg(F.sum(value)).first()
    average = float(total[0] or 0.0) / max(n_items, 1) if total is not None else 0.0
    b, k1 = float(config.bm25_b), float(config.bm25_k1)
    length = F.lit(1.0 - b) + F.lit(b) * F.col("rowsum") / F.lit(average if average > 0 else 1.0)
    w = value * F.lit(k1 + 1.0) / (F.lit(k1) * length + value) * idf
    return weighted.join(sums, "iidx").select("uidx", "iidx", w.alias("w"))


def item_similarities(data: SparkInteractions, config: KNNConfig) -> DataFrame:
    """(item, neighbour, sim, rank) rows: each item's best ``config.n_neighbors_stored`` neighbours."""
    prepared = _prepared(data.frame, config, data.n_users, data.n_items).persist()
    left = prepared.select("uidx", F.col("iidx").alias("i"), F.col("w").alias("wi"))
    right = prepared.select("uidx", F.col("iidx").alias("j"), F.col("w").alias("wj"))
    pairs = (
        left.join(right, "uidx")
        .filter(F.col("i") != F.col("j"))
        .groupBy("i", "j")
        .agg(F.sum(F.col("wi") * F.col("wj")).alias("dot"), F.count("*").alias("n"))
        .filter(F.col("n") >= int(config.min_support))
    )
    sim = F.col("dot")
    if config.similarity == "cosine":
        norms = prepared.groupBy("iidx").agg(F.sqrt(F.sum(F.col("w") * F.col("w"))).alias("norm"))
        pairs = pairs.join(norms.select(F.col("iidx").alias("i"), F.col("norm").alias("ni")), "i").join(
            norms.select(F.col("iidx").alias("j"), F.col("norm").alias("nj")), "j"
        )
        denominator = F.col("ni") * F.col("nj")
        sim = F.when(denominator > 0, F.col("dot") / denominator).otherwise(F.lit(0.0))
    if config.shrinkage > 0:
        n = F.col("n").cast("double")
        sim = sim * n / (n + F.lit(float(config.shrinkage)))
    scored = pairs.select("i", "j", sim.cast("float").alias("sim")).filter(F.col("sim") > MIN_SIMILARITY)
    ranking = Window.partitionBy("i").orderBy(F.col("sim").desc(), F.col("j").asc())
    top = scored.withColumn("rank", F.row_number().over(ranking)).filter(
        F.col("rank") <= int(config.n_neighbors_stored)
    )
    return top


def _to_csr_parts(top: DataFrame, n_items: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = top.select("i", "j", "sim", "rank").toArrow()
    i = np.asarray(table.column("i").to_numpy(), dtype=np.int64)
    j = np.asarray(table.column("j").to_numpy(), dtype=np.int32)
    sims = np.asarray(table.column("sim").to_numpy(), dtype=np.float32)
    rank = np.asarray(table.column("rank").to_numpy(), dtype=np.int64)
    order = np.lexsort((rank, i))
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(np.bincount(i, minlength=n_items), out=indptr[1:])
    return indptr, j[order], sims[order]


def _mean_std(
    index: np.ndarray, ratings: np.ndarray, size: int, global_mean: float, overall_std: float
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row mean and population std (ItemKNN's statistics; unused by "sum" scoring but stored)."""
    counts = np.bincount(index, minlength=size).astype(np.float64)
    sums = np.bincount(index, weights=ratings, minlength=size)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), global_mean)
    centred = ratings - mean[index]
    std = np.sqrt(np.bincount(index, weights=centred * centred, minlength=size) / np.maximum(counts, 1))
    std[(counts == 0) | (std == 0.0)] = overall_std
    return mean, std


def _model_state(
    seen: sp.csr_matrix, parts: tuple[np.ndarray, ...], config: KNNConfig
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The arrays and JSON state `ItemKNN` persists, for a model whose similarities came from Spark."""
    ratings = seen.data.astype(np.float64)
    users = np.repeat(np.arange(seen.shape[0]), np.diff(seen.indptr))
    global_mean = float(ratings.mean()) if ratings.size else 0.0
    overall_std = float(ratings.std()) if ratings.size else 0.0
    overall_std = overall_std or 1.0
    user_mean, user_std = _mean_std(users, ratings, seen.shape[0], global_mean, overall_std)
    item_mean, item_std = _mean_std(seen.indices, ratings, seen.shape[1], global_mean, overall_std)
    arrays = {
        "sim_indptr": parts[0],
        "sim_indices": parts[1],
        "sim_data": parts[2],
        "user_mean": user_mean,
        "item_mean": item_mean,
        "user_std": user_std,
        "item_std": item_std,
        "user_bias": np.zeros(seen.shape[0]),
        "item_bias": np.zeros(seen.shape[1]),
    }
    return arrays, {"config": config.to_state(), "global_mean": global_mean, "overall_std": overall_std}


def train_itemknn(
    data: SparkInteractions,
    *,
    k: int = 40,
    similarity: Literal["cosine", "dot"] = "cosine",
    weighting: Literal["bm25", "tfidf"] | None = None,
    bm25_k1: float = 1.2,
    bm25_b: float = 0.75,
    shrinkage: float | None = None,
    min_support: int = 1,
    weighted: bool = True,
    n_neighbors_stored: int | None = None,
) -> ItemKNN:
    """Item-item similarities on Spark, returned as a fitted `likewise.ItemKNN` ("sum" scoring).

    Parameters mean what they mean in `likewise.ItemKNN` (implicit scoring: ``prediction="sum"``,
    whole-vector norms). Other similarity measures and the rating prediction modes are not
    offered on Spark (they need per-pair statistics of centred values).

    Returns
    -------
    likewise.ItemKNN
        With the neighbours computed on Spark and the training matrix collected to the driver.
    """
    if similarity not in ("cosine", "dot"):
        raise InvalidParameterError(f"similarity on Spark must be 'cosine' or 'dot', got {similarity!r}")
    model = ItemKNN(
        k=k, min_k=1, similarity=similarity, prediction="sum", shrinkage=shrinkage, min_support=min_support,
        norms="full", weighting=weighting, bm25_k1=bm25_k1, bm25_b=bm25_b, weighted=weighted,
        n_neighbors_stored=n_neighbors_stored,
    )  # fmt: skip
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    config = KNNConfig.resolve(model.get_params(), kind=data.kind, n_compared=data.n_items, owner="ItemKNN")
    parts = _to_csr_parts(item_similarities(data, config), data.n_items)
    interactions = data.to_interactions()
    model.users_, model.items_, model.seen_ = interactions.users, interactions.items, interactions.matrix
    model.kind_, model.rating_scale_, model.item_titles_ = interactions.kind, interactions.rating_scale, None
    arrays, state = _model_state(interactions.matrix, parts, config)
    model._set_state(arrays, state)  # the persistence hook: checks the arrays as `load` does
    return model
