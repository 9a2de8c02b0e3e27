"""schemathesis against the app's own OpenAPI schema: no 5xx and no response outside the schema."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is not installed")
from hypothesis import HealthCheck, settings  # noqa: E402

from likewise.models import ItemKNN  # noqa: E402
from likewise.serving import Settings, create_app  # noqa: E402
from likewise.testing.fixtures import checkerboard  # noqa: E402
from tests.serving.conftest import TOKEN  # noqa: E402


def _app():  # built at import: schemathesis generates its tests from the schema at collection time
    root = Path(tempfile.mkdtemp(prefix="likewise-schema-"))
    ItemKNN(k=4).fit(checkerboard()[0]).save(root / "model")
    app = create_app(Settings(model_dir=root / "model", api_token=TOKEN))  # type: ignore[arg-type]
    return app, root


APP, ROOT = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _cleanup():
    yield
    shutil.rmtree(ROOT, ignore_errors=True)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_schema(case):
    # half the write calls carry the token, so both the 401 and the real handlers are exercised
    headers = {"Authorization": f"Bearer {TOKEN}"} if case.method != "GET" else None
    case.call_and_validate(headers=headers)
