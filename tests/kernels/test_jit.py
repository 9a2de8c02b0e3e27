"""likewise.kernels._jit: the serial and parallel builds of a kernel never load each other's cache."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

_MODULE = textwrap.dedent(
    """
    import numpy as np
    from numba import prange

    from likewise.kernels._jit import serial_and_parallel


    def impl(out):
        for t in prange(out.shape[0]):
            out[t] = t


    par, ser = serial_and_parallel(impl)
    """
)

_RUN = textwrap.dedent(
    """
    import sys
    import numpy as np
    import kernel_under_test as m

    fn = m.par if sys.argv[1] == "par" else m.ser
    out = np.zeros(4)
    fn(out)
    assert out.tolist() == [0.0, 1.0, 2.0, 3.0]
    print(sum(fn.stats.cache_hits.values()), fn.py_func.__qualname__)
    """
)


def run(variant: str, folder: Path) -> str:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(folder / "cache")}
    env.pop("NUMBA_DISABLE_JIT", None)  # about compiled caches, so compile even in CI's no-JIT pass
    env["PYTHONPATH"] = os.pathsep.join([str(folder), str(ROOT / "src"), env.get("PYTHONPATH", "")])
    result = subprocess.run(
        [sys.executable, "-c", _RUN, variant], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_serial_build_does_not_serve_the_parallel_one(tmp_path):
    (tmp_path / "kernel_under_test.py").write_text(_MODULE)
    assert run("ser", tmp_path) == "0 impl_serial"  # compiled and cached
    assert run("par", tmp_path) == "0 impl"  # a miss: not the serial build from the cache
    assert run("par", tmp_path) == "1 impl"  # its own cache entry next time
    assert run("ser", tmp_path) == "1 impl_serial"


def test_no_two_kernels_share_a_cache_name():
    """Every numba dispatcher in likewise.kernels has its own cache entry name (module, qualified
    name, first line): two builds of one function must come from `serial_and_parallel`."""
    import importlib
    import pkgutil

    import numba
    from numba.core.registry import CPUDispatcher

    import likewise.kernels

    if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        pytest.skip("NUMBA_DISABLE_JIT: no dispatchers to compare")
    owners: dict[tuple[str, str, int], set[int]] = {}
    for info in pkgutil.iter_modules(likewise.kernels.__path__):
        module = importlib.import_module(f"likewise.kernels.{info.name}")
        for value in vars(module).values():
            if isinstance(value, CPUDispatcher):
                fn = value.py_func
                key = (fn.__module__, fn.__qualname__, fn.__code__.co_firstlineno)
                owners.setdefault(key, set()).add(id(value))
    assert len(owners) > 20  # the scan found the kernels
    shared = {key: ids for key, ids in owners.items() if len(ids) > 1}
    assert not shared, f"dispatchers sharing a numba cache entry: {sorted(shared)}"


def test_compile_time_counts_compilation_once_and_nothing_else():
    import time

    import numba

    from likewise.kernels._jit import compile_time

    def add_one(x):
        return x + 1

    with compile_time() as idle:
        time.sleep(0.05)
    assert idle.seconds == 0.0
    fresh = numba.njit(add_one)  # a new dispatcher: its first call compiles
    started = time.perf_counter()
    with compile_time() as compiling:
        assert fresh(1) == 2
    wall = time.perf_counter() - started
    if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]
        assert compiling.seconds == 0.0
    else:
        assert 0.0 < compiling.seconds <= wall
