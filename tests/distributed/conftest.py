"""One SparkSession (local[2], loopback only, no UI) for every Spark test; skipped without pyspark or Java."""

from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def spark():
    pytest.importorskip("pyspark", reason="pyspark is not installed (the spark extra)")
    if shutil.which("java") is None:
        pytest.skip("Java is not installed (pyspark needs Java 17)")
    from likewise.distributed.spark import get_session

    session = get_session("local[2]", app_name="likewise-tests")
    yield session
    session.stop()
