"""Install LightFM 1.17 for the benchmarks, working around its broken setup.py.

LightFM's last release (1.17, 2023) cannot be installed with plain ``pip install lightfm``:
its ``setup.py`` runs ``__builtins__.__LIGHTFM_SETUP__ = True``, and under a PEP 517 build
``__builtins__`` is a dict, so the build dies with ``AttributeError: 'dict' object has no
attribute '__LIGHTFM_SETUP__'``. Even ``pip download`` fails, because it builds the metadata
by running that setup.py. So this script fetches the sdist through the package index's simple
API (PEP 691 JSON; ``$PIP_INDEX_URL`` or pypi.org), checks its sha256, sets the flag through
the ``builtins`` module instead, and installs the patched tree with pip (a C compiler is
needed; the generated C sources ship in the sdist, so Cython is not).

Usage: ``python benchmarks/install_lightfm.py`` (into the running interpreter's environment);
``--wheel-dir DIR`` only builds the wheel.
It exits 0 when LightFM is importable afterwards and 1 otherwise, printing why; the benchmark
suites then skip LightFM and say so in docs/benchmarks.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "1.17"
BROKEN = "__builtins__.__LIGHTFM_SETUP__ = True"
FIXED = "import builtins as _builtins; _builtins.__LIGHTFM_SETUP__ = True"


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def fetch_sdist(folder: Path) -> Path:
    """Download lightfm-VERSION.tar.gz from the index's simple API into `folder` (sha256 checked)."""
    index = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
    request = urllib.request.Request(f"{index}/lightfm/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=120) as response:
        files = json.load(response)["files"]
    name = f"lightfm-{VERSION}.tar.gz"
    entry = next((f for f in files if f["filename"] == name), None)
    if entry is None:
        raise OSError(f"{name} is not on {index}")
    target = folder / name
    with urllib.request.urlopen(entry["url"], timeout=300) as response:
        target.write_bytes(response.read())
    expected = entry.get("hashes", {}).get("sha256")
    if expected and hashlib.sha256(target.read_bytes()).hexdigest() != expected:
        raise OSError(f"{name}: sha256 mismatch")
    return target


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
    sys.exit(main())
