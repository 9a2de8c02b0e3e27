"""Fixtures of the service tests: tiny models with known answers, clients, live servers, PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi) is not installed")
pytest.importorskip("sqlalchemy", reason="the serve extra (sqlalchemy) is not installed")

from fastapi.testclient import TestClient

from likewise.models import ItemKNN
from likewise.serving import Settings, create_app
from likewise.testing import serving as serving_checks
from likewise.testing.fixtures import checkerboard

SRC = Path(__file__).resolve().parents[2] / "src"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
TOKEN = "s3cret-token"


@pytest.fixture(scope="session")
def checker_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ItemKNN on the 8x8 checkerboard: user u's best item is the one withheld from u."""
    data, _withheld = checkerboard()
    path = tmp_path_factory.mktemp("checker") / "model"
    ItemKNN(k=8).fit(data).save(path)
    return path


@pytest.fixture
def model_dir(checker_dir: Path, tmp_path: Path) -> Path:
    """A private copy (the default store is a file next to the model)."""
    target = tmp_path / "model"
    shutil.copytree(checker_dir, target)
    return target


def make_client(model_dir: Path, **settings: object) -> TestClient:
    values: dict[str, object] = {"model_dir": model_dir, "insecure": True}
    values.update(settings)
    return TestClient(create_app(Settings(**values)))  # type: ignore[arg-type]


@pytest.fixture
def client(model_dir: Path) -> Iterator[TestClient]:
    with make_client(model_dir) as c:
        yield c


class LiveServer(serving_checks.LiveServer):
    """`likewise serve` in a subprocess (likewise.testing.serving), with the tests' token."""

    def __init__(self, model_dir: Path, store: str, *, token: str = TOKEN) -> None:
        super().__init__(model_dir, store, token=token)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL: LIKEWISE_TEST_POSTGRES_URL, else a throwaway server of our own.

    Without either the tests skip, unless LIKEWISE_REQUIRE_POSTGRES=1 (CI), where they fail.
    """
    given = os.environ.get("LIKEWISE_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with contextlib.ExitStack() as stack:
        try:
            url = stack.enter_context(serving_checks.throwaway_postgres())
        except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
            detail = getattr(exc, "stderr", b"") or b""
            message = f"cannot start PostgreSQL: {exc} {detail.decode(errors='replace')[:500]}"
            if os.environ.get("LIKEWISE_REQUIRE_POSTGRES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        yield url


@pytest.fixture
def pg_store_url(postgres_url: str) -> Iterator[str]:
    """A fresh database per test on the PostgreSQL server."""
    with serving_checks.fresh_database(postgres_url) as url:
        yield url
