"""Training on Spark, exported into likewise's model format (extra ``spark``: pyspark, Java 17).

The model Spark trains is saved as a standard likewise model directory, so `likewise.load`,
``likewise recommend`` / ``serve`` and `likewise.evaluation` use it like a local one::

    from likewise.distributed import spark as lws

    session = lws.get_session("local[4]")
    data = lws.read_interactions("ratings.parquet", weight="plays")
    model = lws.train_als(data, n_factors=64, reg=20.0, alpha=1.0, n_epochs=15)
    model.save("model/")

See docs/spark.md for the parameter mapping, checkpointing and limitations. Importing
`likewise` never imports this module (nor pyspark).
"""

from likewise.distributed.spark._als import checkpointing, spark_reg_param, train_als
from likewise.distributed.spark._knn import train_itemknn
from likewise.distributed.spark._metrics import ranking_metrics
from likewise.distributed.spark._progress import StageProgress, StageSnapshot
from likewise.distributed.spark._read import SparkInteractions, from_interactions, read_interactions
from likewise.distributed.spark._session import get_session

__all__ = [
    "SparkInteractions",
    "StageProgress",
    "StageSnapshot",
    "checkpointing",
    "from_interactions",
    "get_session",
    "ranking_metrics",
    "read_interactions",
    "spark_reg_param",
    "train_als",
    "train_itemknn",
]
