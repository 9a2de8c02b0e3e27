"""ALS on Spark (`pyspark.ml.recommendation.ALS`), exported as a likewise model.

Parameter mapping (docs/spark.md, "Parameters"):

* implicit feedback (``implicit=True``, the default): Spark's implicit ALS uses the same
  preference ``p = 1[r > 0]`` and linear confidence ``c = 1 + alpha |r|`` as likewise's ALS, so
  ``alpha`` is passed through. ``confidence="log"`` is mapped by handing Spark
  ``r' = sign(r) log(1 + |r| / epsilon)``: then Spark's ``1 + alpha |r'|`` is likewise's log
  confidence, exactly.
* regularisation: Spark solves row u with ``regParam * n_u`` on the diagonal (n_u = the row's
  interactions; Zhou et al.'s weighted-lambda), likewise with a constant ``reg``. No Spark
  parameter gives a constant ridge, so ``reg`` (likewise's meaning) becomes
  ``regParam = reg / mean(n_u)``: a user with the average number of interactions gets exactly
  likewise's ridge, heavier users more, lighter ones less. ``reg_param=`` passes Spark's own
  value instead (what a job moved from Spark already uses); the exported model's ``reg`` is then
  ``reg_param * mean(n_u)``, the ridge its fold-in applies.
* explicit ratings (``implicit=False``): Spark's explicit ALS minimises
  ``sum (r - x_u . y_i)^2 + regParam (sum n_u |x_u|^2 + sum n_i |y_i|^2)``: an unbiased
  factorisation with a per-rating penalty, which is likewise's ``SVD(biased=False)`` with
  ``fold_in_reg = regParam`` (its new-user solve is the same ridge). ``reg`` is that per-rating
  penalty.

Checkpointing: Spark's ALS keeps the whole lineage of its factor RDDs and overflows the JVM
stack after a few tens of iterations unless the SparkContext has a checkpoint directory (and
its ``checkpointInterval`` is silently ignored without one). When neither the call nor the
context names a directory, a temporary one is created for the fit and removed afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pyspark import SparkContext
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from likewise.exceptions import InvalidParameterError
from likewise.models import ALS, SVD

if TYPE_CHECKING:
    from likewise.distributed.spark._read import SparkInteractions

__all__ = ["checkpointing", "spark_reg_param", "train_als"]


def spark_reg_param(reg: float, n_interactions: int, n_users: int) -> float:
    """Spark's ``regParam`` giving likewise's constant ridge `reg` to a user of average activity."""
    mean_count = n_interactions / max(n_users, 1)
    return float(reg) / max(mean_count, 1e-12)


@contextmanager
def checkpointing(sc: SparkContext, directory: str | None) -> Iterator[str]:
    """A checkpoint directory for the duration of a fit.

    The given `directory`, else the context's own, else (local masters only) a temporary one
    that is removed, and unset from the context, afterwards. A cluster needs a directory on
    storage every executor can reach, which likewise cannot invent: it is asked for.
    """
    if directory is not None:
        sc.setCheckpointDir(str(directory))
        yield str(directory)
        return
    current = sc.getCheckpointDir()
    if current is not None:
        yield current
        return
    if not str(sc.master).startswith("local"):
        raise InvalidParameterError(
            f"ALS on {sc.master} needs checkpoint_dir= on storage every executor reads (e.g. hdfs://...); "
            "without checkpoints Spark's ALS overflows the stack after a few tens of iterations"
        )
    tmp = tempfile.mkdtemp(prefix="likewise-spark-checkpoints-")
    sc.setCheckpointDir(tmp)
    try:
        yield tmp
    finally:
        jsc = sc._jsc.sc()
        # SparkContext.checkpointDir is a Scala var: reset it so nothing writes into the removed dir
        getattr(jsc, "checkpointDir_$eq")(sc._jvm.scala.Option.empty())  # type: ignore[union-attr]
        shutil.rmtree(tmp, ignore_errors=True)


def _factors(frame: DataFrame, n_rows: int, rank: int) -> np.ndarray:
    """Spark's (id, features) factor table as a dense float32 (n_rows, rank) array by id."""
    table = frame.select("id", "features").toArrow()
    ids = np.asarray(table.column("id").to_numpy(), dtype=np.int64)
    flat = table.column("features").combine_chunks().flatten().to_numpy()
    out = np.zeros((n_rows, rank), dtype=np.float32)
    out[ids] = np.asarray(flat, dtype=np.float32).reshape(ids.size, rank)
    return out


def train_als(
    data: SparkInteractions,
    *,
    n_factors: int = 64,
    reg: float = 20.0,
    alpha: float = 1.0,
    confidence: Literal["linear", "log"] = "linear",
    epsilon: float = 1.0,
    n_epochs: int = 15,
    implicit: bool = True,
    reg_param: float | None = None,
    random_state: int | None = 0,
    checkpoint_dir: str | None = None,
    checkpoint_interval: int = 10,
    num_blocks: int | None = None,
) -> ALS | SVD:
    """Train ALS on Spark and return the fitted likewise model (save it with ``.save(dir)``).

    Parameters
    ----------
    data : SparkInteractions
        From `read_interactions`.
    n_factors, reg, alpha, confidence, epsilon, n_epochs, random_state
        As in `likewise.ALS` (``reg`` mapped to Spark's count-scaled ``regParam``, see the
        module docstring); for ``implicit=False``, ``reg`` is the per-rating penalty.
    implicit : bool
        Hu et al.'s implicit ALS (exported as `likewise.ALS`) or explicit ALS-WR (exported
        as ``likewise.SVD(biased=False)``).
    reg_param : float, optional
        Spark's ``regParam`` as it is, instead of `reg` (implicit only).
    checkpoint_dir : str, optional
        Where Spark checkpoints the factor RDDs; default the context's, else a temporary
        directory removed after the fit (local masters).
    checkpoint_interval : int
        Iterations between checkpoints.
    num_blocks : int, optional
        Spark's ``numUserBlocks`` = ``numItemBlocks`` (default: the context's default
        parallelism, i.e. its cores, rather than Spark's fixed 10).

    Returns
    -------
    likewise.ALS or likewise.SVD
        Fitted: factors from Spark, ids, the training matrix (seen items, fold-in, explain).
    """
    from pyspark.ml.recommendation import ALS as SparkALS

    _check(n_factors=n_factors, reg=reg, alpha=alpha, epsilon=epsilon, n_epochs=n_epochs, confidence=confidence)
    if reg_param is not None and (not implicit or reg_param < 0):
        raise InvalidParameterError(f"reg_param must be >= 0 and applies to implicit=True, got {reg_param!r}")
    mean_count = data.nnz / max(data.n_users, 1)
    if implicit:
        param = reg_param if reg_param is not None else spark_reg_param(reg, data.nnz, data.n_users)
        local_reg = reg if reg_param is None else reg_param * mean_count
    else:
        param, local_reg = float(reg), float(reg)
    ratings = data.frame
    if implicit and confidence == "log":
        value = F.col("value")
        ratings = ratings.withColumn("value", (F.signum(value) * F.log1p(F.abs(value) / float(epsilon))).cast("float"))
    # Spark's default of 10 blocks schedules 10 tasks per half-step however few cores there are
    n_blocks = int(num_blocks or max(ratings.sparkSession.sparkContext.defaultParallelism, 1))
    estimator = SparkALS(
        rank=int(n_factors), maxIter=int(n_epochs), regParam=float(param), implicitPrefs=bool(implicit),
        alpha=float(alpha), userCol="uidx", itemCol="iidx", ratingCol="value", nonnegative=False,
        checkpointInterval=int(checkpoint_interval), seed=int(random_state or 0), coldStartStrategy="nan",
        numUserBlocks=n_blocks, numItemBlocks=n_blocks,
    )  # fmt: skip
    with checkpointing(ratings.sparkSession.sparkContext, checkpoint_dir):
        fitted = estimator.fit(ratings)
        user_factors = _factors(fitted.userFactors, data.n_users, int(n_factors))
        item_factors = _factors(fitted.itemFactors, data.n_items, int(n_factors))
    interactions = data.to_interactions()
    if implicit:
        model: ALS | SVD = ALS(
            n_factors=int(n_factors), reg=float(local_reg), alpha=float(alpha), confidence=confidence,
            epsilon=float(epsilon), n_epochs=0, solver="cholesky", random_state=random_state,
        ).fit(interactions)  # fmt: skip
    else:
        # one SGD epoch builds every attribute of a fitted SVD; Spark's factors replace its own
        model = SVD(
            n_factors=int(n_factors), n_epochs=1, biased=False, reg=float(reg), fold_in_reg=float(reg),
            random_state=random_state,
        ).fit(interactions)  # fmt: skip
        model.best_epoch_ = int(n_epochs) - 1
        model.loss_history_ = type(model.loss_history_)()
    model.set_params(n_epochs=int(n_epochs))
    model.user_factors_ = user_factors
    model.item_factors_ = item_factors
    model.n_iter_ = int(n_epochs)
    return model


def _check(**params: Any) -> None:
    """The bounds likewise's ALS puts on the same parameters (they mean the same thing)."""
    for name in ("n_factors", "n_epochs"):
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InvalidParameterError(f"{name} must be a positive integer on Spark, got {value!r}")
    for name in ("reg", "alpha"):
        if not float(params[name]) >= 0:
            raise InvalidParameterError(f"{name} must be >= 0, got {params[name]!r}")
    if not float(params["epsilon"]) > 0:
        raise InvalidParameterError(f"epsilon must be > 0, got {params['epsilon']!r}")
    if params["confidence"] not in ("linear", "log"):
        raise InvalidParameterError(f"confidence must be 'linear' or 'log', got {params['confidence']!r}")
