"""`likewise serve` (registered on the app by `likewise.cli._app`); fastapi and uvicorn load only when it runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from likewise.cli._console import console, handle_errors
from likewise.exceptions import ConfigurationError

__all__ = ["serve"]


@handle_errors
def serve(
    model_dir: Annotated[Path, typer.Argument(help="A model directory written by `likewise train`.")],
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Event store URL (sqlite:///path or postgresql+psycopg://...); default: events.db next to the model.",
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    insecure: Annotated[
        bool, typer.Option("--insecure", help="Allow writes without LIKEWISE_API_TOKEN (local use only).")
    ] = False,
    read_only: Annotated[bool, typer.Option("--read-only", help="Disable the write and admin endpoints.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Reload the model when its directory changes.")] = False,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Worker processes (each loads the model; they share the store)."),
    ] = None,
) -> None:
    """Serve recommendations over HTTP (docs/serving.md); settings also come from LIKEWISE_* variables."""
    try:
        import uvicorn

        from likewise.serving import Settings, create_app
        from likewise.serving.app import freeze_startup_objects
    except ImportError as exc:
        raise ConfigurationError(
            f"likewise serve needs the serve extra: pip install 'likewise[serve]' ({exc})"
        ) from exc
    options: dict[str, Any] = {"model_dir": model_dir, "host": host, "port": port, "warmup": True}
    # Flags left at their defaults let LIKEWISE_* variables decide.
    for name, value in (
        ("store", store),
        ("insecure", insecure or None),
        ("read_only", read_only or None),
        ("watch", watch or None),
        ("workers", workers),
    ):
        if value is not None:
            options[name] = value
    settings = Settings(**options)  # keyword arguments, so LIKEWISE_* variables fill the rest
    if settings.workers > 1:
        _serve_workers(settings)
        return
    if settings.warmup:
        from likewise.kernels import warmup

        warmup(parallel=False)
    app = create_app(settings)
    freeze_startup_objects()
    if settings.insecure and settings.api_token is None:
        console.print("[yellow]warning:[/] writes need no token (--insecure); do not expose this server")
    console.print(f"serving {settings.model_dir} on http://{settings.host}:{settings.port} (docs at /docs)")
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")


def _serve_workers(settings: Any) -> None:
    """``--workers N``: uvicorn starts N processes, each building the app from LIKEWISE_* variables
    (`likewise.serving.app.app_from_environment`); the settings checked here are handed on so."""
    import os

    import uvicorn

    from likewise.serving import create_app

    # refuse bad settings (no token, unreadable model, store) here, before any worker starts
    create_app(settings).state.likewise.store.close()
    for name, value in settings.model_dump().items():
        if value is None or name == "api_token":  # the token is in the environment already, if set
            continue
        os.environ[f"LIKEWISE_{name.upper()}"] = str(value)
    console.print(
        f"serving {settings.model_dir} on http://{settings.host}:{settings.port} with {settings.workers} workers"
    )
    uvicorn.run(
        "likewise.serving.app:app_from_environment",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level="warning",
    )
