"""`create_app(settings)`: the FastAPI application of ``likewise serve`` (docs/serving.md)."""

import gc
import hmac
import logging
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from likewise.exceptions import ConfigurationError, LikewiseError, NotFittedError, StoreError, UnknownIdError
from likewise.serving import recommending as rec
from likewise.serving.runtime import Catalogue, Overlay, ServedModel, model_signature
from likewise.serving.schemas import (
    FILTER_PATTERN,
    MAX_ID_TEXT,
    MAX_LIST,
    MAX_N,
    Accepted,
    EventsIn,
    HistoryItem,
    HistoryOut,
    ItemIn,
    ItemOut,
    ItemsOut,
    ModelInfo,
    Problem,
    RecsOut,
    ReloadIn,
    ReloadOut,
    VisitorIn,
)
from likewise.serving.settings import Settings
from likewise.serving.store import EventStore, NewEvent, sqlite_url

__all__ = ["ConfigurationError", "app_from_environment", "create_app", "freeze_startup_objects"]

log = logging.getLogger("likewise.serving")

# The web page (plain HTML/JS/CSS, no build step): "/" and its files under "/static/".
STATIC = Path(__file__).parent / "static"


class _BodyLimit:
    """Pure ASGI middleware: 413 for a body over the limit, declared or streamed."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await JSONResponse({"detail": f"request body over {self.limit} bytes"}, 413)(scope, receive, send)


class _TooLarge(Exception):
    """Raised inside `_BodyLimit` once a streamed body passes the limit (answered with a 413)."""


class _State:
    """Everything a process holds (see runtime.py); the served model is swapped under `lock`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.lock = threading.Lock()
        url = settings.store or sqlite_url(Path(settings.model_dir).resolve().parent / "events.db")
        self.store = EventStore(url)
        self.catalogue = Catalogue(self.store)
        self.served = self._prepared(ServedModel(settings.model_dir, threads=settings.model_threads))
        self.overlay = Overlay(self.store)
        self.overlay.refresh()
        self.stop = threading.Event()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "likewise_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "likewise_request_seconds",
            "Request latency",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.ingested = Counter("likewise_events_ingested", "Events stored", registry=self.registry)
        self.duplicates = Counter("likewise_events_duplicate", "Duplicate events", registry=self.registry)
        self.model_info = Gauge("likewise_model_info", "Served model", ["name", "version"], registry=self.registry)
        self.reloads = Counter("likewise_model_reloads", "Model reloads", registry=self.registry)
        self._publish(self.served)

    def _publish(self, served: ServedModel) -> None:
        self.model_info.clear()
        self.model_info.labels(served.name, served.version).set(served.trained_ts)

    def _prepared(self, served: ServedModel) -> ServedModel:
        """`served` with the stored items added and its caches filled, ready to swap in.

        Measured on a 60k-item ALS model: without this, the first requests after a reload
        each computed Y^T Y (~5 ms) and the packed rows of their filter (~1-2 ms), several at
        once, and the first request of a fresh worker imported pyarrow and pandas (~0.35 s).
        """
        served = self._with_stored_items(served)
        served.model.fill_caches(self.catalogue.cached_masks(served.items_key))
        return served

    def _with_stored_items(self, served: ServedModel) -> ServedModel:
        """Items PUT with features before (by any worker) and not in the model: added again."""
        if not served.takes_new_items:
            return served
        stored = {item: features for item, (_t, _a, features) in self.store.all_items().items() if features}
        return served.with_items(stored)

    def _new_items(self, features: dict[str, dict[str, float]]) -> None:
        """Items with features another worker PUT: into this worker's model too (cold start)."""
        if not features or not self.served.takes_new_items:
            return
        with self.lock:
            new = self.served.with_items(features)  # the same model when it knows them all
            self.served = new
        self._publish(new)

    def put_item(
        self, item: str, title: str | None, attributes: dict[str, list[str]], features: dict[str, float]
    ) -> None:
        """Store an item; a model with ``add_items`` gets it too when it has features (cold start).

        The model copy is made first, so features the model refuses (an error, 422) store nothing.
        """
        with self.lock:  # one writer at a time: two PUTs must not both start from the same model
            new = self.served.with_items({item: features}) if features else self.served
            self.store.put_item(item, title, attributes, features)
            self.served = new
        self.catalogue.put(item, title, attributes)
        self._publish(new)

    def reload(self, path: Path | None = None) -> ServedModel:
        """Load a model (the current path by default) and swap it in; the old one serves until then."""
        new = self._prepared(ServedModel(path or self.served.path, threads=self.settings.model_threads))
        with self.lock:
            self.served = new
        self.catalogue.refresh()  # other workers' PUT /v1/items (also polled in `background`)
        self._publish(new)
        self.reloads.inc()
        return new

    def background(self) -> None:
        """Poll the store for other workers' events and, with --watch, the model directory."""
        last_watch = time.monotonic()
        while not self.stop.wait(self.settings.refresh_interval):
            try:
                self.overlay.refresh()
                self._new_items(self.catalogue.refresh())
            except Exception as exc:  # a store hiccup must not end the poll
                log.warning("reading new events or items failed: %s", exc)
            if self.settings.watch and time.monotonic() - last_watch >= self.settings.watch_interval:
                last_watch = time.monotonic()
                signature = model_signature(self.served.path)
                if signature is not None and signature != self.served.signature:
                    try:
                        self.reload()
                        log.warning("reloaded the model from %s", self.served.path)
                    except Exception as exc:  # keep serving the old model
                        log.warning("reloading %s failed, keeping the old model: %s", self.served.path, exc)


class _Metrics:
    """Pure ASGI middleware: count and time every request per route template.

    Decision, measured: `app.middleware("http")` (Starlette's BaseHTTPMiddleware) runs each
    request through an extra task and memory streams, about a tenth of a cheap request's time.
    """

    def __init__(self, app: Any, state: _State) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # what an exception escaping the app becomes

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")  # the router fills scope["route"]
            self.state.requests.labels(scope["method"], path, str(status)).inc()
            self.state.latency.labels(scope["method"], path).observe(time.perf_counter() - start)


def _problem(status: int, message: str, errors: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"detail": message}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        text = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)
        return _problem(422, f"invalid request: {text}", errors)

    @app.exception_handler(UnknownIdError)
    async def unknown(_request: Request, exc: UnknownIdError) -> JSONResponse:
        return _problem(404, str(exc.args[0]) if exc.args else "unknown id")

    @app.exception_handler(NotFittedError)
    async def not_fitted(_request: Request, exc: NotFittedError) -> JSONResponse:
        return _problem(503, str(exc))

    @app.exception_handler(LikewiseError)
    async def likewise_error(_request: Request, exc: LikewiseError) -> JSONResponse:
        return _problem(422, str(exc))

    @app.exception_handler(StoreError)
    async def store_error(_request: Request, exc: StoreError) -> JSONResponse:
        return _problem(503, f"event store unavailable: {exc}")

    @app.exception_handler(Exception)
    async def crash(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # the trace goes to the log, never to the client
        return _problem(500, "internal error")


def create_app(settings: Settings) -> FastAPI:
    """The service for `settings`: loads the model and opens the store now (errors surface at start)."""
    writes = not settings.read_only
    if writes and settings.api_token is None and not settings.insecure:
        raise ConfigurationError(
            "write endpoints are enabled but no token is set: set LIKEWISE_API_TOKEN, or pass --insecure "
            "(local use only), or --read-only"
        )
    state = _State(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        thread = threading.Thread(target=state.background, name="likewise-refresh", daemon=True)
        thread.start()
        try:
            yield
        finally:
            state.stop.set()
            thread.join(timeout=5)
            state.store.close()

    app = FastAPI(
        title="likewise",
        summary="Recommendations from a likewise model and the users' latest events.",
        version="1",
        lifespan=lifespan,
        responses={
            400: {"model": Problem, "description": "The body is not valid JSON"},
            422: {"model": Problem, "description": "Invalid request"},
            413: {"model": Problem, "description": "Request body too large"},
        },
    )
    app.state.likewise = state
    _install_errors(app)
    bearer = HTTPBearer(auto_error=False)

    def authorized(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        if not writes:
            raise HTTPException(403, "this server is read-only")
        token = settings.api_token
        if token is None:
            return  # --insecure
        given = credentials.credentials if credentials else ""
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise HTTPException(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})

    app.add_middleware(_Metrics, state=state)
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)
    _routes(app, state, authorized)
    _page(app)
    return app


def app_from_environment() -> FastAPI:
    """The app of one uvicorn worker (``likewise serve --workers N``): settings from ``LIKEWISE_*``."""
    settings = Settings()  # type: ignore[call-arg]  # model_dir comes from LIKEWISE_MODEL_DIR
    if settings.warmup:
        from likewise.kernels import warmup

        warmup(parallel=False)
    app = create_app(settings)
    freeze_startup_objects()
    return app


def freeze_startup_objects() -> None:
    """Put what a server process has loaded before serving out of the cyclic collector's reach.

    Modules, the model, the catalogue's entries: ~400k objects on a 60k-item catalogue, alive
    as long as the process. Left in the collector's oldest generation, each full collection
    walks them all while every request of the worker waits (measured: 179 ms on that heap).
    Reference counting still frees them; only a reference cycle among them would now stay.
    Called by ``likewise serve`` once the app is built, not by `create_app` (a test process
    keeps its collector as it is).
    """
    gc.collect()
    gc.freeze()


def _page(app: FastAPI) -> None:
    """Serve the web page at "/" (after the API routes, so it never shadows them)."""

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")


def _ids(text: str | None) -> list[str]:
    """A comma-separated id list (its length is bounded by MAX_ID_TEXT characters in the schema)."""
    if text is None or text == "":
        return []
    return [part.strip() for part in text.split(",") if part.strip()]


def _routes(app: FastAPI, state: _State, authorized: Any) -> None:
    NParam = Annotated[int, Query(ge=1, le=MAX_N, description="Number of items wanted.")]
    IdList = Annotated[str | None, Query(max_length=MAX_ID_TEXT, description="Comma-separated item ids.")]
    Filter = Annotated[
        list[Annotated[str, Query(pattern=FILTER_PATTERN, max_length=1000)]] | None,
        Query(max_length=MAX_LIST, description="attribute:value or attribute:a|b (several: all must hold)."),
    ]
    auth = [Depends(authorized)]
    no_such: dict[int | str, dict[str, Any]] = {
        404: {"model": Problem, "description": "No such item or user, or the model has no such notion"}
    }
    guarded: dict[int | str, dict[str, Any]] = {
        401: {"model": Problem, "description": "Missing or wrong bearer token"},
        403: {"model": Problem, "description": "The server is read-only"},
    }

    def out(answer: rec.Answer, served: ServedModel) -> JSONResponse:
        # Decision, measured: the hot endpoints build their JSON directly. Their bodies are made
        # here in the shape of RecsOut (declared as response_model, so the OpenAPI schema and
        # schemathesis still hold them to it) instead of being re-validated by pydantic.
        return JSONResponse({"items": answer.items, "model": served.info(), "fallback": answer.fallback})

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """The process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "Not ready (the store does not answer)"}})
    def readyz() -> JSONResponse:
        """The model is loaded and the store answers."""
        ok = state.store.ping()
        body = {"status": "ready" if ok else "store unreachable", "model": state.served.info()}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
    def metrics() -> PlainTextResponse:
        """Prometheus text format."""
        return PlainTextResponse(generate_latest(state.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/users/{user}/recommendations", response_model=RecsOut, tags=["recommendations"])
    def user_recommendations(
        user: str,
        n: NParam = 10,
        exclude: IdList = None,
        candidates: IdList = None,
        filter: Filter = None,
        explain: bool = False,
    ) -> JSONResponse:
        """Top-n for a user: the model's answer plus the user's latest events; a new user gets a named fallback."""
        served = state.served
        query = rec.Query(
            n=n,
            exclude=_ids(exclude),
            candidates=None if candidates is None else _ids(candidates),
            filters=rec.parse_filters(filter),
            explain=explain,
        )
        events = state.overlay.events_for(user, served.trained_ts)
        return out(rec.recommend_for_user(served, state.catalogue, user, events, query), served)

    @app.post("/v1/recommendations", response_model=RecsOut, tags=["recommendations"])
    def visitor_recommendations(body: VisitorIn) -> JSONResponse:
        """Top-n for an anonymous visitor from a posted history (fold-in, no retraining)."""
        served = state.served
        query = rec.Query(
            n=body.n,
            exclude=[str(v) for v in body.exclude or []],
            candidates=None if body.candidates is None else [str(v) for v in body.candidates],
            filters=rec.parse_filters(body.filter),
            explain=body.explain,
        )
        history = [(str(h.item), h.weight) for h in body.history]
        return out(rec.recommend_for_history(served, state.catalogue, history, query), served)

    @app.get("/v1/items/{item}/similar", response_model=RecsOut, tags=["recommendations"], responses=no_such)
    def similar_items(item: str, n: NParam = 10) -> JSONResponse:
        """The n items most similar to an item, where the model has a notion of item similarity."""
        served = state.served
        iidx = int(served.item_indices([item])[0])
        if iidx < 0:
            raise HTTPException(404, f"item {item!r} is not in the model's catalogue")
        if not served.model.supports_similar_items:
            raise HTTPException(404, f"{served.name} has no notion of similar items")
        recs = served.model.similar_items(served.model.items_.ids[[iidx]], n=n)
        rows = rec.response_rows(served, state.catalogue, recs.indices[0], recs.scores[0])
        return out(rec.Answer(rows, None), served)

    @app.get("/v1/users/{user}/similar", response_model=RecsOut, tags=["recommendations"], responses=no_such)
    def similar_users(user: str, n: NParam = 10) -> dict[str, Any]:
        """The n users most similar to a user the model knows (``item`` holds user ids here)."""
        served = state.served
        uidx = served.user_index(user)
        if uidx < 0:
            raise HTTPException(404, f"user {user!r} is not in the model's training data")
        if not served.model.supports_similar_users:
            raise HTTPException(404, f"{served.name} has no notion of similar users")
        recs = served.model.similar_users(served.model.users_.ids[[uidx]], n=n)
        rows = [
            {"item": served.raw_user(int(u)), "score": float(s), "rank": r}
            for r, (u, s) in enumerate(zip(recs.indices[0].tolist(), recs.scores[0].tolist(), strict=True), 1)
            if u >= 0
        ]
        return {"items": rows, "model": served.info(), "fallback": None}

    @app.get("/v1/items", response_model=ItemsOut, tags=["catalogue"])
    def search_items(
        q: Annotated[str, Query(max_length=200, description="Case-insensitive title substring.")] = "",
        limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 20,
    ) -> dict[str, Any]:
        """Items whose title contains q (all items, in index order, when q is empty)."""
        served, catalogue = state.served, state.catalogue
        needle = q.casefold()
        found: list[dict[str, Any]] = []
        for iidx in range(served.n_items):
            text = served.item_text(iidx)
            title = catalogue.title(text) or served.title(iidx)
            if needle and (title is None or needle not in title.casefold()):
                continue
            attrs = catalogue.entries.get(text, (None, {}))[1]
            found.append({"item": served.raw_item(iidx), "title": title, "attributes": attrs, "in_model": True})
            if len(found) >= limit:
                break
        return {"items": found}

    @app.get("/v1/users/{user}/history", response_model=HistoryOut, tags=["catalogue"])
    def user_history(user: str, limit: Annotated[int, Query(ge=1, le=MAX_LIST)] = 50) -> dict[str, Any]:
        """Stored events (newest first), then the training history."""
        served = state.served
        rows: list[HistoryItem] = []
        for event in state.store.user_events(user, limit=limit, newest_first=True):
            iidx = int(served.item_indices([event.item])[0])
            title = state.catalogue.title(event.item) or (served.title(iidx) if iidx >= 0 else None)
            item: Any = served.raw_item(iidx) if iidx >= 0 else event.item
            rows.append(
                HistoryItem(item=item, value=event.value, title=title, source="event", timestamp=event.timestamp)
            )
        uidx = served.user_index(user)
        if uidx >= 0:
            items, values = served.training_row(uidx)
            for iidx, value in zip(items.tolist(), values.tolist(), strict=True):
                if len(rows) >= limit:
                    break
                title = state.catalogue.title(served.item_text(iidx)) or served.title(iidx)
                rows.append(HistoryItem(item=served.raw_item(iidx), value=value, title=title, source="training"))
        return {"user": user, "known": uidx >= 0, "items": rows[:limit]}

    @app.post("/v1/events", response_model=Accepted, tags=["events"], dependencies=auth, responses=guarded)
    def post_events(body: EventsIn) -> dict[str, int]:
        """Store events; acknowledged only after the commit. A repeated event_id is a duplicate."""
        batch = [NewEvent(str(e.user), str(e.item), e.value, e.timestamp, e.event_id) for e in body.events]
        stored, duplicates = state.store.add_events(batch)
        state.overlay.apply(stored)
        state.ingested.inc(len(stored))
        state.duplicates.inc(duplicates)
        return {"accepted": len(stored), "duplicates": duplicates}

    @app.put("/v1/items/{item}", response_model=ItemOut, tags=["catalogue"], dependencies=auth, responses=guarded)
    def put_item(item: str, body: ItemIn) -> dict[str, Any]:
        """Store an item's title, attributes (for filter=) and features; a model that scores items
        from features (HybridMF, ContentKNN) can recommend a new item at once (no retraining)."""
        attributes = {k: [v] if isinstance(v, str) else list(v) for k, v in body.attributes.items()}
        state.put_item(item, body.title, attributes, dict(body.features))
        in_model = bool(state.served.item_indices([item])[0] >= 0)
        return {"item": item, "title": body.title, "attributes": attributes, "in_model": in_model}

    not_loadable: dict[int | str, dict[str, Any]] = {
        **guarded,
        409: {"model": Problem, "description": "The directory holds no loadable model; the old one keeps serving"},
    }

    @app.post("/v1/admin/reload", response_model=ReloadOut, tags=["admin"], dependencies=auth, responses=not_loadable)
    def reload(body: ReloadIn | None = None) -> dict[str, Any]:
        """Load a model directory (the served one by default) and swap it in without dropping requests."""
        path = Path(body.path) if body and body.path else None
        try:
            served = state.reload(path)
        except (LikewiseError, OSError) as exc:
            # 409, not 422: the request is well formed; the directory it names is what is wrong
            raise HTTPException(409, f"cannot load the model: {exc}") from exc
        return {"model": ModelInfo(**served.info()), "path": str(served.path)}
