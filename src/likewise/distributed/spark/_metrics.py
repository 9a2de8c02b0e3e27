"""Ranking metrics on Spark, with the definitions of `likewise.evaluation.metrics`.

Inputs are long tables: the recommendations (user, item, rank) with rank 1 the best, and the
relevant items (user, item[, gain]). A user counts when they have at least one relevant item
(positive gain), as the local metrics' NaN-means: a user with relevant items and no
recommendations scores 0, a user with recommendations and nothing relevant is left out.
For each user, with h_j = 1 when the item at rank j <= k is relevant:

* precision@k = sum h_j / k
* recall@k = sum h_j / |R_u|
* NDCG@k = sum_j g_j / log2(j + 1) divided by the same sum over the user's relevant gains
  sorted best first, truncated at k (linear gains)
* AP@k = sum_j h_j P@j / min(k, |R_u|)
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from likewise.exceptions import InvalidParameterError

__all__ = ["ranking_metrics"]

METRICS = ("precision", "recall", "ndcg", "map")


def ranking_metrics(
    recs: DataFrame,
    relevant: DataFrame,
    k: int,
    *,
    user: str = "user",
    item: str = "item",
    rank: str = "rank",
    gain: str | None = None,
) -> dict[str, float]:
    """Mean precision@k, recall@k, NDCG@k and MAP@k over users with a relevant item.

    Parameters
    ----------
    recs : DataFrame
        Columns `user`, `item`, `rank` (1 = best; an item at most once per user).
    relevant : DataFrame
        Columns `user`, `item` and optionally `gain` (default gain 1; gains <= 0 are not relevant).
    k : int
        Cut-off.

    Returns
    -------
    dict
        ``{"precision": ..., "recall": ..., "ndcg": ..., "map": ..., "n_users": ...}``.
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InvalidParameterError(f"k must be a positive integer, got {k!r}")
    rel = relevant.select(
        F.col(user).alias("u"), F.col(item).alias("i"), (F.col(gain) if gain else F.lit(1.0)).cast("double").alias("g")
    ).filter(F.col("g") > 0)
    rel = rel.groupBy("u", "i").agg(F.sum("g").alias("g"))  # repeated pairs add up, as sum_duplicates does
    listed = recs.select(F.col(user).alias("u"), F.col(item).alias("i"), F.col(rank).cast("int").alias("r"))
    listed = listed.filter(F.col("r") <= k)
    by_rank = Window.partitionBy("u").orderBy("r")
    hits = (
        listed.join(rel, ["u", "i"])
        .withColumn("hits_so_far", F.count("*").over(by_rank.rowsBetween(Window.unboundedPreceding, 0)))
        .groupBy("u")
        .agg(
            F.count("*").alias("hits"),
            F.sum(F.col("g") / F.log2(F.col("r") + 1.0)).alias("dcg"),
            F.sum(F.col("hits_so_far") / F.col("r")).alias("ap_sum"),
        )
    )
    by_gain = Window.partitionBy("u").orderBy(F.col("g").desc())
    ideal = (
        rel.withColumn("pos", F.row_number().over(by_gain))
        .filter(F.col("pos") <= k)
        .groupBy("u")
        .agg(F.sum(F.col("g") / F.log2(F.col("pos") + 1.0)).alias("idcg"))
    )
    counts = rel.groupBy("u").agg(F.count("*").alias("n_rel"))
    per_user = counts.join(ideal, "u").join(hits, "u", "left").fillna(0, subset=["hits", "dcg", "ap_sum"])
    row = per_user.agg(
        F.avg(F.col("hits") / F.lit(float(k))).alias("precision"),
        F.avg(F.col("hits") / F.col("n_rel")).alias("recall"),
        F.avg(F.col("dcg") / F.col("idcg")).alias("ndcg"),
        F.avg(F.col("ap_sum") / F.least(F.col("n_rel"), F.lit(k))).alias("map"),
        F.count("*").alias("n_users"),
    ).first()
    assert row is not None
    out = {name: float("nan") if row[name] is None else float(row[name]) for name in METRICS}
    out["n_users"] = int(row["n_users"])
    return out
