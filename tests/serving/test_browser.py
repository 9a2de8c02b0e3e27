"""The service's web page, end to end in a real headless Chromium (issue 13, section 6).

A real ``likewise serve`` runs as a uvicorn subprocess on a free loopback port, with an ALS
model trained here (on ../shared/data/ml-latest-small when present, else on a small synthetic
log with titles) and a temporary SQLite event store. Playwright drives Debian's ``chromium``
package (``/usr/bin/chromium``); Playwright's own browser download is never used (these
machines have no internet). Without the browser or playwright the test is skipped with the
reason, unless ``LIKEWISE_REQUIRE_BROWSER=1`` (CI), where that is a failure.

What the page must do, checked against the API's own answers:

- a user's recommendations render with exactly ``n`` rows, in the API's order, none of them
  in the user's history, and the history table shows the user's items;
- a visitor's likes (found by title search) are folded in: the list appears, excludes the
  liked items, and changes when a second item is liked;
- an event posted from the page (with the token) removes the item from that user's
  recommendations and adds it to their history;
- the page loads nothing from outside the server and raises no script error.

A full-page screenshot is saved under the test's tmp folder, and into
``$LIKEWISE_SCREENSHOT_DIR`` when set.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests._paths import SHARED_DATA

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "browser-test-token"
N = 7
TIMEOUT_MS = 15_000


def _require_browser() -> Any:
    """playwright.sync_api, or skip (fail under LIKEWISE_REQUIRE_BROWSER=1) saying what is missing."""
    missing = None
    sync_api: Any = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    try:
        import playwright.sync_api

        sync_api = playwright.sync_api
    except ImportError as exc:
        missing = (
            missing or f"playwright is not importable ({exc}); pip install playwright (no browser download needed)"
        )
    if missing:
        if os.environ.get("LIKEWISE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"LIKEWISE_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing, allow_module_level=True)
    return sync_api


sync_api = _require_browser()
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
import httpx  # noqa: E402  (after the skips: a dev extra)

import likewise  # noqa: E402


def _training_data() -> tuple[Any, str]:
    folder = SHARED_DATA / "ml-latest-small"
    if (folder / "ratings.csv").exists() and (folder / "movies.csv").exists():
        from likewise.data.movielens import read_ml_latest

        return read_ml_latest(folder), "ml-latest-small"
    # Small, titled, and deterministic: always there, so CI never depends on shared data.
    return likewise.datasets.synthetic(400, 300, 8000, kind="implicit", random_state=0), "synthetic"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data, _ = _training_data()
    model = likewise.ALS(n_factors=16, n_epochs=8, reg=0.05, random_state=0, n_threads=1).fit(data)
    path = tmp_path_factory.mktemp("browser-model") / "als"
    model.save(path)
    return path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str, proc: subprocess.Popen[bytes], log: Path, deadline_s: float = 90.0) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the server was not ready within {deadline_s:.0f} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `likewise serve` on a free loopback port with a temporary SQLite store."""
    folder = tmp_path_factory.mktemp("browser-server")
    port = _free_port()
    log = folder / "server.log"
    env = {
        **os.environ,
        "LIKEWISE_API_TOKEN": TOKEN,
        "OPENBLAS_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(Path(likewise.__file__).parent.parent), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "likewise", "serve", str(model_dir),
        "--store", f"sqlite:///{folder / 'events.db'}",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


@dataclass
class PageLog:
    """What the page did besides rendering: every URL it requested, every script error."""

    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture(scope="module")
def page(server: str, page_log: PageLog) -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("request", lambda request: page_log.requests.append(request.url))
            page.on("pageerror", lambda exc: page_log.errors.append(str(exc)))
            page.goto(f"{server}/")
            page.wait_for_selector("body[data-ready='true']")
            yield page
        finally:
            browser.close()


def _wait(page: Any, condition: str) -> None:
    """Wait for a JS condition; on timeout, fail with what the page's error box says."""
    try:
        page.wait_for_function(condition)
    except sync_api.TimeoutError:
        shown = page.locator("#error").inner_text() if page.locator("#error").is_visible() else "(no error shown)"
        raise AssertionError(f"the page never reached {condition!r}; its error box: {shown}") from None


def _row_items(page: Any, table: str) -> list[str]:
    return [str(v) for v in page.locator(f"#{table} tbody tr").evaluate_all("rows => rows.map(r => r.dataset.item)")]


def _user_with_history(model_dir: Path) -> tuple[Any, set[str]]:
    """A user with a modest history (so the history table shows all of it) and their items."""
    model = likewise.load(model_dir)
    counts = np.diff(model.seen_.indptr)
    uidx = int(np.flatnonzero((counts >= 5) & (counts <= 40))[0])
    seen = model.seen_.indices[model.seen_.indptr[uidx] : model.seen_.indptr[uidx + 1]]
    return model.users_.ids[uidx].item(), {str(i) for i in model.items_.ids[seen].tolist()}


def _api_items(base: str, path: str, **params: Any) -> list[str]:
    response = httpx.get(f"{base}{path}", params=params, timeout=10.0)
    assert response.status_code == 200, response.text
    return [str(entry["item"]) for entry in response.json()["items"]]


def _screenshot(page: Any, tmp_path: Path) -> Path:
    shot = tmp_path / "likewise-page.png"
    page.screenshot(path=str(shot), full_page=True)
    target = os.environ.get("LIKEWISE_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)
    return shot


def test_user_recommendations_history_and_event(page: Any, server: str, model_dir: Path) -> None:
    user, seen = _user_with_history(model_dir)
    page.fill("#user-n", str(N))
    page.fill("#user-id", str(user))
    page.click("#user-form button[type=submit]")
    _wait(page, f"document.querySelectorAll('#recs tbody tr').length === {N}")
    shown = _row_items(page, "recs")
    assert shown == _api_items(server, f"/v1/users/{user}/recommendations", n=N)
    assert not set(shown) & seen, "a seen item was recommended"
    assert page.locator("#recs tbody tr").first.locator("td.reason").inner_text().strip(), "no reason shown"
    _wait(page, "document.querySelectorAll('#history tbody tr').length > 0")
    assert set(_row_items(page, "history")) == seen

    # Post an event for the top item: it leaves the user's list and joins their history.
    top = shown[0]
    page.fill("#token", TOKEN)
    assert page.input_value("#event-user") == str(user)
    page.fill("#event-item", top)
    page.click("#event-form button[type=submit]")
    _wait(page, "document.getElementById('event-result').textContent.startsWith('Accepted 1')")
    _wait(
        page,
        f"""() => {{
            const rows = [...document.querySelectorAll('#recs tbody tr')].map(r => r.dataset.item);
            return rows.length === {N} && !rows.includes({top!r});
        }}""",
    )
    assert top in _row_items(page, "history")
    assert top not in _api_items(server, f"/v1/users/{user}/recommendations", n=N)
    assert page.locator("#error").is_hidden()


def _like_first_match(page: Any, word: str) -> str:
    page.fill("#search-q", word)
    page.click("#search-form button[type=submit]")
    # The list of the previous search stays until this one answers: wait for this one.
    _wait(page, f"document.getElementById('found').dataset.query === {word!r}")
    first = page.locator("#found li").first
    first.wait_for()
    item = str(first.get_attribute("data-item"))
    first.get_by_role("button", name="Like").click()
    return item


def _search_word(server: str, model_dir: Path, skip: set[str]) -> str:
    """A word of a popular item's title, whose first search hit is not already liked."""
    model = likewise.load(model_dir)
    assert model.item_titles_ is not None, "the test model has no titles to search"
    by_popularity = np.argsort(-np.diff(model.seen_.tocsc().indptr), kind="stable")
    for iidx in by_popularity[:50]:
        for word in str(model.item_titles_[iidx]).split():
            if len(word) < 4 or not word.isalpha():
                continue
            found = httpx.get(f"{server}/v1/items", params={"q": word, "limit": 20}, timeout=10.0).json()["items"]
            if found and str(found[0]["item"]) not in skip:
                return word
    raise AssertionError("no searchable title word found")


def test_visitor_likes_change_recommendations(
    page: Any, page_log: PageLog, server: str, model_dir: Path, tmp_path: Path
) -> None:
    page.fill("#user-n", str(N))  # the visitor's list has the page's n too
    first = _like_first_match(page, _search_word(server, model_dir, set()))
    _wait(page, "document.querySelectorAll('#visitor-recs tbody tr').length > 0")
    before = _row_items(page, "visitor-recs")
    assert first not in before
    assert [str(v) for v in page.locator("#likes li").evaluate_all("ls => ls.map(l => l.dataset.item)")] == [first]

    second = _like_first_match(page, _search_word(server, model_dir, {first}))
    _wait(
        page,
        f"""() => {{
            const rows = [...document.querySelectorAll('#visitor-recs tbody tr')].map(r => r.dataset.item);
            return rows.length > 0 && rows.join() !== {",".join(before)!r};
        }}""",
    )
    after = _row_items(page, "visitor-recs")
    assert not {first, second} & set(after)
    body = {"history": [{"item": _raw(first), "weight": 5}, {"item": _raw(second), "weight": 5}], "n": N}
    expected = httpx.post(f"{server}/v1/recommendations", json=body, timeout=10.0).json()["items"]
    assert after == [str(entry["item"]) for entry in expected]

    shot = _screenshot(page, tmp_path)
    assert shot.stat().st_size > 10_000
    outside = [url for url in page_log.requests if not url.startswith(server)]
    assert not outside, f"the page fetched from outside the server: {outside}"
    assert not page_log.errors, f"script errors: {page_log.errors}"


def _raw(item: str) -> Any:
    """A page-side id back to the model's raw id (the test models have integer ids)."""
    return int(item)
