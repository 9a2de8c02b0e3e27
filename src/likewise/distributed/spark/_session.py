"""A SparkSession with likewise's defaults for a single machine (no network, no web UI)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pyspark.sql import SparkSession

__all__ = ["get_session"]

LOCAL_DEFAULTS: dict[str, str] = {
    # A laptop or a CI runner: bind to the loopback interface and keep the shuffle small
    # (Spark's default of 200 partitions costs seconds of scheduling on tiny data sets).
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.showConsoleProgress": "false",
}


def get_session(
    master: str | None = None, *, app_name: str = "likewise", config: Mapping[str, Any] | None = None
) -> SparkSession:
    """The active SparkSession, or a new one on `master` (default ``local[2]``).

    A ``local[...]`` master gets loopback-only networking, no UI and 4 shuffle partitions;
    `config` entries override these and are passed to the builder as they are. An existing
    session is returned unchanged (its configuration is the user's).
    """
    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    master = master or "local[2]"
    builder = SparkSession.builder.master(master).appName(app_name)
    settings: dict[str, Any] = {}
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        settings.update(LOCAL_DEFAULTS)
    settings.update(config or {})
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
