"""Settings of the service: every field also from a ``LIKEWISE_<NAME>`` environment variable."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """What `create_app` needs; ``LIKEWISE_MODEL_DIR=... LIKEWISE_API_TOKEN=...`` work too."""

    model_config = SettingsConfigDict(env_prefix="LIKEWISE_", extra="forbid", protected_namespaces=())

    model_dir: Path = Field(description="The saved model directory to serve.")
    store: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the event store (default: sqlite file events.db next to the model).",
    )
    host: str = Field(default="127.0.0.1", description="Interface to bind (loopback by default).")
    port: int = Field(default=8000, ge=0, le=65535)
    api_token: SecretStr | None = Field(default=None, description="Bearer token for write and admin endpoints.")
    insecure: bool = Field(default=False, description="Allow writes without a token (local use only).")
    read_only: bool = Field(default=False, description="Disable the write and admin endpoints altogether.")
    watch: bool = Field(default=False, description="Reload the model when its directory changes.")
    watch_interval: float = Field(default=2.0, gt=0, description="Seconds between checks of the model directory.")
    refresh_interval: float = Field(
        default=0.25, gt=0, description="Seconds between reads of new events from the store (other workers' writes)."
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="Largest request body accepted.")
    model_threads: int = Field(default=1, ge=1, description="n_threads given to the served model.")
    warmup: bool = Field(default=False, description="Compile the serial kernels before serving.")
    workers: int = Field(
        default=1, ge=1, description="uvicorn worker processes (each loads the model; all share the store)."
    )
