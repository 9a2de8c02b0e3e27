"""Install LightFM 1.17 for the benchmarks, working around its broken setup.py.

LightFM's last release (1.17, 2023) cannot be installed with plain ``pip install lightfm``:
its ``setup.py`` runs ``__builtins__.__LIGHTFM_SETUP__ = True``, and under a PEP 517 build
``__builtins__`` is a dict, so the build dies with ``AttributeError: 'dict' object has no
attribute '__LIGHTFM_SETUP__'``. ``pip download lightfm==1.17`` fails the same way (it runs
that setup.py to generate the metadata, with or without ``--no-binary :all:``), so pip cannot
fetch the sdist for us either.

This script therefore finds the sdist where pip would: the locations of pip's own
configuration (``pip config list``, which includes ``PIP_INDEX_URL`` / ``PIP_EXTRA_INDEX_URL``
/ ``PIP_FIND_LINKS`` and every pip.conf, plus ``cert``): each ``find-links`` entry (a folder or
an HTML page), then ``index-url`` (default https://pypi.org/simple) and each
``extra-index-url``, reading the project page as PEP 691 JSON or PEP 503 HTML, local
``file://`` indexes included. The archive's sha256 must equal `SHA256`, pinned here from
PyPI; a mismatch, or an archive that cannot be read, is refused. Then it sets the flag through
the ``builtins`` module instead and installs the patched tree with pip (a C compiler is needed;
the generated C sources ship in the sdist, so Cython is not).

Usage: ``python benchmarks/install_lightfm.py`` (into the running interpreter's environment);
``--wheel-dir DIR`` only builds the wheel.
It exits 0 when LightFM is importable afterwards and 1 otherwise, printing why; the benchmark
suites then skip LightFM and say so in docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import ssl
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

VERSION = "1.17"
FILENAME = f"lightfm-{VERSION}.tar.gz"
SHA256 = "2b77ada182ccd768a8d7643ab3cfcd8b6e855db09087f7cc7329bd63316697a8"
"""sha256 of lightfm-1.17.tar.gz as PyPI publishes it (files.pythonhosted.org)."""
BROKEN = "__builtins__.__LIGHTFM_SETUP__ = True"
FIXED = "import builtins as _builtins; _builtins.__LIGHTFM_SETUP__ = True"
DEFAULT_INDEX = "https://pypi.org/simple"
ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


class HashMismatch(OSError):
    """The downloaded archive is not the pinned one."""


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def pip_settings() -> dict[str, list[str]]:
    """``index-url``, ``extra-index-url``, ``find-links``, ``cert`` and ``no-index`` from pip's own configuration.

    ``pip config list`` prints every file's and the environment's values (``global.index-url='...'``,
    ``:env:.find-links='...'``); later sources override earlier ones for single values, and
    list values (space-separated) accumulate, as pip does.
    """
    out = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    settings: dict[str, list[str]] = {}
    for line in out.splitlines():
        match = re.match(r"^[^.]*\.([a-z-]+)='(.*)'$", line.strip())
        if not match:
            continue
        key, value = match.groups()
        if key in ("index-url", "cert", "no-index"):
            settings[key] = [value]
        elif key in ("extra-index-url", "find-links"):
            settings.setdefault(key, []).extend(v for v in shlex.split(value) if v not in settings.get(key, []))
    return settings


def _ssl_context(settings: dict[str, list[str]]) -> ssl.SSLContext:
    cert = settings.get("cert")
    return ssl.create_default_context(cafile=cert[0]) if cert else ssl.create_default_context()


class _Links(HTMLParser):
    """Anchors of a PEP 503 page or a find-links page: (filename, absolute url)."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base = base
        self.links: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            url = urllib.parse.urljoin(self.base, href)
            name = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
            self.links.append((name, url))


def _read(url: str, context: ssl.SSLContext, accept: str | None = None) -> tuple[bytes, str]:
    """(body, content type) of a URL; a ``file://`` folder reads its index.html."""
    if url.startswith("file:"):
        path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
        if path.is_dir():
            path = path / "index.html"
        return path.read_bytes(), "text/html"
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    with urllib.request.urlopen(request, timeout=300, context=context) as response:
        return response.read(), response.headers.get("Content-Type", "")


def _project_links(index: str, context: ssl.SSLContext) -> list[tuple[str, str, str | None]]:
    """(filename, url, sha256 the index states or None) of lightfm's files on one simple index."""
    url = index.rstrip("/") + "/lightfm/"
    body, content_type = _read(url, context, ACCEPT)
    if "json" in content_type:
        files = json.loads(body)["files"]
        return [
            (f["filename"], urllib.parse.urljoin(url, f["url"]), (f.get("hashes") or {}).get("sha256")) for f in files
        ]
    parser = _Links(url)
    parser.feed(body.decode("utf-8", "replace"))
    links = []
    for name, link in parser.links:
        fragment = urllib.parse.urlsplit(link).fragment
        stated = fragment.split("=", 1)[1] if fragment.startswith("sha256=") else None
        links.append((name, link.split("#", 1)[0], stated))
    return links


def candidates(
    settings: dict[str, list[str]], context: ssl.SSLContext
) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Where lightfm-VERSION.tar.gz is offered, in pip's order: ([(url or path, stated sha256)], problems)."""
    found: list[tuple[str, str | None]] = []
    problems: list[str] = []
    for location in settings.get("find-links", []):
        path = (
            Path(urllib.request.url2pathname(urllib.parse.urlsplit(location).path))
            if location.startswith("file:")
            else Path(location)
        )
        if path.is_dir():
            if (path / FILENAME).is_file():
                found.append((str(path / FILENAME), None))
            continue
        try:
            body, _ = _read(location, context)
            parser = _Links(location)
            parser.feed(body.decode("utf-8", "replace"))
            found += [(url.split("#", 1)[0], None) for name, url in parser.links if name == FILENAME]
        except (OSError, ValueError) as exc:
            problems.append(f"find-links {location}: {exc}")
    indexes = [] if settings.get("no-index") else [*settings.get("index-url", [DEFAULT_INDEX])]
    indexes += [] if settings.get("no-index") else settings.get("extra-index-url", [])
    for index in indexes:
        try:
            found += [(url, stated) for name, url, stated in _project_links(index, context) if name == FILENAME]
        except (OSError, ValueError, KeyError) as exc:
            problems.append(f"index {index}: {exc}")
    return found, problems


def fetch_sdist(folder: Path) -> Path:
    """Download lightfm-VERSION.tar.gz from pip's configured locations into `folder`, sha256-checked.

    Raises
    ------
    HashMismatch
        When an offered archive (or the hash its index states) is not the pinned `SHA256`.
    OSError
        When no configured location offers the archive.
    """
    settings = pip_settings()
    context = _ssl_context(settings)
    found, problems = candidates(settings, context)
    target = folder / FILENAME
    for location, stated in found:
        if stated is not None and stated != SHA256:
            raise HashMismatch(f"{location}: the index states sha256 {stated}, expected {SHA256}")
        data = Path(location).read_bytes() if not re.match(r"^[a-z]+:", location) else _read(location, context)[0]
        digest = hashlib.sha256(data).hexdigest()
        if digest != SHA256:
            raise HashMismatch(f"{location}: sha256 {digest}, expected {SHA256}; refusing to build it")
        target.write_bytes(data)
        print(f"fetched {FILENAME} from {location} (sha256 {digest} checked)")
        return target
    detail = "; ".join(problems) if problems else "no configured index or find-links location offers it"
    raise OSError(f"{FILENAME} not found ({detail})")


def installed() -> bool:
    """Whether ``import lightfm`` works in this interpreter."""
    probe = subprocess.run([sys.executable, "-c", "import lightfm"], capture_output=True)
    return probe.returncode == 0


def main(argv: list[str] | None = None) -> int:
    """Install (or, with ``--wheel-dir DIR``, only build a wheel of) the patched LightFM."""
    argv = sys.argv[1:] if argv is None else argv
    wheel_dir = argv[argv.index("--wheel-dir") + 1] if "--wheel-dir" in argv else None
    if wheel_dir is None and installed():
        print("lightfm is already installed")
        return 0
    with tempfile.TemporaryDirectory(prefix="lightfm-build-") as tmp:
        root = Path(tmp)
        try:
            archive = fetch_sdist(root)
            with tarfile.open(archive) as tar:
                tar.extractall(root, filter="data")
            setup = root / f"lightfm-{VERSION}" / "setup.py"
            text = setup.read_text(encoding="utf-8")
            if BROKEN not in text:
                print(f"lightfm {VERSION}: setup.py no longer has the line to patch; trying it as is")
            setup.write_text(text.replace(BROKEN, FIXED), encoding="utf-8")
            if wheel_dir is not None:
                _pip("wheel", "--no-deps", "-w", wheel_dir, str(setup.parent))
                print(f"built a lightfm {VERSION} wheel in {wheel_dir}")
                return 0
            _pip("install", str(setup.parent))
        except (subprocess.CalledProcessError, OSError, tarfile.TarError, KeyError, ValueError) as exc:
            print(f"could not install lightfm {VERSION}: {exc}; the benchmarks will skip it", file=sys.stderr)
            return 1
    if not installed():
        print("lightfm installed but does not import; the benchmarks will skip it", file=sys.stderr)
        return 1
    print(f"lightfm {VERSION} installed (patched setup.py)")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    sys.exit(main())
