"""schemathesis against the app's own OpenAPI schema: no 5xx and no response outside the schema."""

from __future__ import annotations

import pytest

pytest.importorskip("schemathesis", reason="schemathesis is not installed")

from likewise.models import ItemKNN
from likewise.serving import Settings, create_app
from likewise.testing.fixtures import checkerboard
from likewise.testing.serving import check_schema
from tests.serving.conftest import TOKEN


def test_api_conforms_to_its_schema(tmp_path):
    ItemKNN(k=4).fit(checkerboard()[0]).save(tmp_path / "model")
    app = create_app(Settings(model_dir=tmp_path / "model", api_token=TOKEN))  # type: ignore[arg-type]
    found = check_schema(app, token=TOKEN, max_examples=25)
    operations = {(m, p) for p, item in app.openapi()["paths"].items() for m in item}
    assert found.operations == len(operations) >= 12
    assert found.examples >= found.operations
    assert found.failures == []
    assert found.server_errors == 0 and found.violations == 0


def test_the_schema_check_reports_server_errors_and_violations():
    from fastapi import FastAPI
    from pydantic import BaseModel

    class Out(BaseModel):
        value: int

    app = FastAPI()

    @app.get("/crash/{k}")
    def crash(k: int) -> dict:
        raise RuntimeError("boom")

    @app.get("/wrong", response_model=Out)
    def wrong():
        from fastapi.responses import JSONResponse

        return JSONResponse({"value": "not a number"})

    found = check_schema(app, token=TOKEN, max_examples=5)
    assert found.operations == 2
    assert found.server_errors >= 1 and found.violations >= 1
    assert sorted(f.split(":")[0] for f in found.failures) == ["GET /crash/{k}", "GET /wrong"]
    assert not found.ok
