"""The benchmark harness's bookkeeping: rows, JSON, Markdown rendering (fast; no benchmark runs)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from benchmarks import report
from benchmarks import run as run_module
from benchmarks.harness import (
    BenchContext,
    BenchmarkError,
    Row,
    default_threads,
    dumps,
    first_calls,
    git_state,
    machine_info,
    peak_rss_mb,
    ranking_metrics,
    run_isolated,
    scale_name,
    scale_shape,
    timed,
)
from benchmarks.run import discover, main

from likewise import Interactions


def _rows() -> list[Row]:
    return [
        Row("als", "top-10", "ml-100k", "likewise", "ALS", {"n_factors": 64}, {"ndcg@10": 0.4}, fit_s=1.0,
            predict_s=0.5, peak_mb=300.0, threads=2),
        Row("als", "top-10", "ml-100k", "implicit", "AlternatingLeastSquares", {"factors": 64}, {"ndcg@10": 0.45},
            fit_s=2.0, predict_s=0.25, peak_mb=600.0, threads=2, pair="als"),
        Row("als", "top-10", "ml-100k", "likewise", "Popularity", {}, {"ndcg@10": 0.2, "coverage": math.nan},
            fit_s=0.01, threads=2),
    ]  # fmt: skip


def test_row_round_trips_through_json_with_nan_as_null() -> None:
    row = _rows()[2]
    data = json.loads(dumps({"rows": [row.to_dict()]}))["rows"][0]
    assert data["metrics"]["coverage"] is None
    assert data["predict_s"] is None
    back = Row.from_dict({**data, "unknown_future_field": 1})
    assert back.algorithm == "Popularity" and back.metrics == {"ndcg@10": 0.2, "coverage": None}


def test_compare_key_uses_pair_or_normalised_algorithm() -> None:
    rows = _rows()
    assert rows[0].compare_key == "als"
    assert rows[1].compare_key == "als"
    assert Row("s", "t", "d", "x", "Item-KNN", {}, {}, None).compare_key == "itemknn"


def test_render_table_keeps_filled_columns_only() -> None:
    lines = report.render_table(_rows())
    header = lines[0]
    assert header.startswith("| library | algorithm | params | ndcg@10 | coverage | fit s |")
    assert "cold fit s" not in header and "notes" not in header
    assert "| likewise | ALS | n_factors=64 | 0.4000 |" in lines[2]
    assert "n/a" in lines[4]  # NaN coverage
    assert len(lines) == 2 + 3


def test_ratio_table_compares_paired_rows_of_the_same_run() -> None:
    lines = report._ratio_table(_rows())
    assert len(lines) == 3  # header, rule, one pair (Popularity has no peer)
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[:6] == ["ALS", "implicit AlternatingLeastSquares", "2", "0.50×", "2.00×", "0.50×"]
    assert cells[6] == "ndcg@10 0.4000 vs 0.4500"


def test_render_markdown_has_a_section_per_suite_with_machine_and_skips() -> None:
    payload = {
        "suite": "als",
        "description": "ALS against implicit.",
        "generated": "2026-01-01 00:00 UTC",
        "command": "python -m benchmarks.run als --threads 2",
        "quick": True,
        "threads": 2,
        "duration_s": 12.5,
        "machine": {"cpu": "Test CPU", "cores": 2, "ram_gb": 8.0, "python": "3.11", "versions": {"likewise": "0.1"}},
        "skipped": {"lightfm": "not importable (ModuleNotFoundError: No module named 'lightfm')"},
        "notes": ["a note"],
        "rows": [r.to_dict() for r in _rows()],
    }
    page = report.render_markdown([payload, {**payload, "suite": "baselines", "rows": []}])
    assert page.index("## baselines") < page.index("## als")  # ORDER puts baselines first
    assert "### top-10 — ml-100k" in page
    assert "Test CPU" in page and "2 thread(s)" in page and "quick run" in page
    assert "**lightfm skipped**" in page and "a note" in page
    assert "python -m benchmarks.run als --threads 2" in page
    assert "pip install -e '.[bench]' && python -m benchmarks.run" in page
    assert "likewise against its peers" in page
    assert report.render_markdown([]).count("No results yet") == 1


def test_rerunning_one_suite_keeps_the_published_sections_of_the_others() -> None:
    def payload(suite: str, stamp: str) -> dict:
        return {"suite": suite, "generated": stamp, "threads": 2, "machine": {}, "rows": [r.to_dict() for r in _rows()]}

    first = report.render_markdown([payload("als", "2026-01-01 00:00 UTC"), payload("knn", "2026-01-01 00:00 UTC")])
    kept = report.published_sections(first)
    assert sorted(kept) == ["als", "knn"]
    # Only "knn" re-ran (no results file for "als" any more): als's old section stays word for word.
    page = report.render_markdown([payload("knn", "2026-02-02 00:00 UTC")], kept)
    assert kept["als"] in page
    assert "2026-02-02" in page.split("## knn")[1] and "2026-01-01" not in page.split("## knn")[1]
    assert page.count("## als") == 1 and page.count("## knn") == 1
    assert report.published_sections(page)["als"] == kept["als"]


def test_load_results_reads_every_suite_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "zeta.json").write_text(dumps({"suite": "zeta", "rows": []}))
    (tmp_path / "scale.json").write_text(dumps({"suite": "scale", "rows": []}))
    (tmp_path / "broken.json").write_text("{")
    assert [p["suite"] for p in report.load_results(tmp_path)] == ["scale", "zeta"]


def test_ranking_metrics_on_a_hand_checked_case() -> None:
    data = Interactions.from_arrays([1, 1, 2, 2], [10, 20, 10, 30], [1.0, 1.0, 1.0, 1.0], kind="implicit")
    test = data.subset(np.array([1, 3]))  # user 1 -> item 20, user 2 -> item 30
    recs = np.array([[1, 0], [0, 1]])  # user 1: item 20 first (hit); user 2: no hit
    out = ranking_metrics(recs, test, k=2)
    assert out["ndcg@2"] == pytest.approx(0.5)
    assert out["precision@2"] == pytest.approx(0.25)
    assert out["hit_rate@2"] == pytest.approx(0.5)
    assert out["coverage"] == pytest.approx(2 / 3)


def test_timed_scale_helpers_and_context() -> None:
    value, seconds = timed(sum, [1, 2, 3])
    assert value == 6 and seconds >= 0
    assert scale_shape(25_000_000) == (160_000, 60_000)
    assert scale_name(5_000_000) == "synthetic-5M implicit"
    ctx = BenchContext(quick=True, threads=1)
    assert ctx.peer("no_such_peer_module_xyz") is None
    assert "no_such_peer_module_xyz" in ctx.skipped


def test_run_isolated_returns_result_and_child_peak_memory() -> None:
    result, peak = run_isolated(math.factorial, 5)
    assert result == 120 and peak > 1.0


def _allocate_mb(megabytes: int) -> int:
    import numpy as np

    block = np.ones(megabytes * 1024 * 1024, dtype=np.uint8)  # written, so resident
    return int(block[::4096].sum())


def test_child_peak_is_the_childs_own_not_the_parents() -> None:
    """Issue 11, finding 1: after the parent peaked at 1 GB, a child allocating 100 MB reports
    about 100 MB plus its interpreter and imports, not the parent's gigabyte."""
    import numpy as np

    parent_block = np.ones(1024 * 1024 * 1024, dtype=np.uint8)
    try:
        assert peak_rss_mb() > 1000.0  # the premise: this process did peak above 1 GB
        _, idle = run_isolated(_allocate_mb, 0)
        _, busy = run_isolated(_allocate_mb, 100)
    finally:
        del parent_block
    assert idle < 400.0, idle  # the interpreter + numpy, nowhere near the parent's 1 GB
    assert 80.0 < busy - idle < 140.0, (idle, busy)  # the child's own 100 MB
    assert busy < 500.0, busy
    with pytest.raises(BenchmarkError, match="ValueError"):
        run_isolated(math.factorial, -1)


def test_machine_info_and_suite_discovery(capsys) -> None:  # type: ignore[no-untyped-def]
    info = machine_info()
    assert info["cores"] >= 1 and info["python"]
    suites = discover()
    assert {"baselines", "scale"} <= set(suites)
    assert main(["--list"]) == 0
    assert "baselines" in capsys.readouterr().out
    assert main(["no-such-suite", "--no-docs"]) == 2


# --------------------------------------------------------------------------- threads


def _child_threads() -> dict:
    import os

    import numba
    from threadpoolctl import threadpool_info

    return {
        "numba": numba.get_num_threads(),
        "blas": sorted({pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"}),
        "env": {
            name: os.environ.get(name) for name in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")
        },
    }


def test_run_isolated_gives_the_child_the_requested_threads() -> None:
    seen, _ = run_isolated(_child_threads, threads=1)
    assert seen["numba"] == 1
    assert seen["blas"] == [1]
    assert seen["env"] == {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def test_default_threads_respect_cpu_affinity(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import os

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {3}, raising=False)
    assert default_threads() == 1
    assert BenchContext().threads == 1


def _threads_rows(peer_threads: int) -> list[Row]:
    mine, peer = _rows()[:2]
    peer.threads = peer_threads
    return [mine, peer]


def test_ratio_tables_refuse_unequal_thread_counts() -> None:
    rows = _threads_rows(1)
    assert report._ratio_table(rows) == []
    assert report._ratio_table(rows, fresh=True) == []
    refused = report._unequal_threads(rows)
    assert refused == ["likewise ALS (2 thread(s)) vs implicit AlternatingLeastSquares (1 thread(s))"]
    page = "\n".join(report.render_suite({"suite": "als", "threads": 2, "rows": [r.to_dict() for r in rows]}))
    assert "likewise against its peers" not in page
    assert "Not compared (unequal threads): likewise ALS (2 thread(s))" in page
    assert report._unequal_threads(_threads_rows(2)) == [] and report._ratio_table(_threads_rows(2))


# --------------------------------------------------------------------------- fresh / warm / cold


def _first_fit() -> dict:
    """A first call timed from before its import, as suites do in first_calls children."""
    import time

    start = time.perf_counter()
    from likewise.models import Popularity
    from likewise.testing import tiny_ratings

    data = tiny_ratings()
    model = Popularity(n_threads=1).fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.recommend(data.users.ids, n=2)
    import os

    return {"fit_s": fit_s, "predict_s": time.perf_counter() - start, "cache": os.environ.get("NUMBA_CACHE_DIR")}


def test_first_calls_measure_fresh_and_cold_processes_into_row_fields() -> None:
    calls = first_calls(_first_fit, threads=1)
    assert calls.cold["cache"] and "likewise-numba-cold-" in calls.cold["cache"]  # an empty kernel cache
    assert calls.fresh["cache"] != calls.cold["cache"]
    fields = calls.fields()
    assert set(fields) == {"fit_fresh_s", "predict_fresh_s", "fit_cold_s", "predict_cold_s", "peak_mb"}
    assert all(value > 0 for value in fields.values())
    # compiling every kernel costs more than loading them from the cache
    assert calls.cold["fit_s"] + calls.cold["predict_s"] > calls.fresh["fit_s"] + calls.fresh["predict_s"]
    row = Row("s", "t", "d", "likewise", "Popularity", {}, {}, fit_s=0.001, predict_s=0.001, threads=1, **fields)
    back = Row.from_dict(json.loads(dumps(row.to_dict())))
    assert back.fit_fresh_s == fields["fit_fresh_s"] and back.predict_cold_s == fields["predict_cold_s"]
    header = report.render_table([back])[0]
    assert "| fit s | fresh fit s | cold fit s | predict s | fresh predict s | cold predict s | peak MB |" in header


def test_fresh_ratio_table_compares_first_calls() -> None:
    mine, peer = _threads_rows(2)
    mine.fit_fresh_s, peer.fit_fresh_s = 3.0, 1.5
    lines = report._ratio_table([mine, peer], fresh=True)
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == ["ALS", "implicit AlternatingLeastSquares", "2", "2.00×", ""]
    assert report._ratio_table(_threads_rows(2), fresh=True) == []  # no fresh times: no table


# --------------------------------------------------------------------------- clean commits


def _git(root, *args: str) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def test_git_state_ignores_results_and_the_page_only(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "-c", "user.email=a@b", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "x")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "x.json").write_text("{}")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmarks.md").write_text("page")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "benchmarks" / "harness.py").write_text("changed")
    state = git_state(tmp_path)
    assert state["dirty"] is True and state["changes"] == ["?? benchmarks/harness.py"]


class _FakeSuite:
    SUITE = "fake"
    DESCRIPTION = "a suite that measures nothing"

    @staticmethod
    def run(ctx: BenchContext) -> list[Row]:
        return [Row("fake", "t", "d", "likewise", "Popularity", {}, {"ndcg@10": 0.1}, fit_s=0.01, threads=ctx.threads)]


def test_a_dirty_tree_is_refused_unless_allowed_and_then_marked(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    dirty = {"commit": "abc1234", "dirty": True, "changes": [" M src/likewise/models/als.py"]}
    monkeypatch.setattr(run_module, "git_state", lambda: dirty)
    monkeypatch.setattr(run_module, "discover", lambda: {"fake": _FakeSuite})
    page = tmp_path / "benchmarks.md"
    argv = ["fake", "--results-dir", str(tmp_path), "--docs", str(page), "--threads", "1"]
    assert main(argv) == 2
    assert "refusing to benchmark uncommitted code" in capsys.readouterr().err
    assert not page.exists() and not (tmp_path / "fake.json").exists()
    assert main([*argv, "--allow-dirty"]) == 0
    saved = json.loads((tmp_path / "fake.json").read_text())
    assert saved["commit"] == "abc1234" and saved["dirty"] is True
    text = page.read_text()
    assert "MEASURED ON UNCOMMITTED CODE" in text and "commit abc1234 **plus uncommitted changes**" in text
    monkeypatch.setattr(run_module, "git_state", lambda: {"commit": "def5678", "dirty": False, "changes": []})
    assert main(argv) == 0
    text = page.read_text()
    assert "MEASURED ON UNCOMMITTED CODE" not in text and "commit def5678*" in text


# --------------------------------------------------------------------------- LightFM's installer


def _installer():  # type: ignore[no-untyped-def]
    import importlib.util

    from benchmarks.harness import REPO_ROOT

    spec = importlib.util.spec_from_file_location("install_lightfm", REPO_ROOT / "benchmarks" / "install_lightfm.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_lightfm_installer_refuses_an_archive_that_is_not_the_pinned_one(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    installer = _installer()
    links = tmp_path / "wheels"
    links.mkdir()
    (links / installer.FILENAME).write_bytes(b"not lightfm")
    monkeypatch.setattr(installer, "pip_settings", lambda: {"find-links": [str(links)], "no-index": ["1"]})
    with pytest.raises(installer.HashMismatch, match="refusing"):
        installer.fetch_sdist(tmp_path)
    assert not (tmp_path / installer.FILENAME).exists()


def test_lightfm_installer_reads_a_pep503_file_index_and_its_stated_hash(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    installer = _installer()
    project = tmp_path / "simple" / "lightfm"
    project.mkdir(parents=True)
    payload = b"pretend sdist"
    (project / installer.FILENAME).write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    (project / "index.html").write_text(f'<a href="{installer.FILENAME}#sha256={digest}">{installer.FILENAME}</a>')
    index = (tmp_path / "simple").as_uri()
    monkeypatch.setattr(installer, "pip_settings", lambda: {"index-url": [index]})
    found, problems = installer.candidates(installer.pip_settings(), installer._ssl_context({}))
    assert problems == [] and found == [((project / installer.FILENAME).as_uri(), digest)]
    # the index states a hash that is not the pinned one: refused before anything is read
    with pytest.raises(installer.HashMismatch, match="the index states"):
        installer.fetch_sdist(tmp_path)
    monkeypatch.setattr(installer, "SHA256", digest)
    assert installer.fetch_sdist(tmp_path).read_bytes() == payload


def test_hybrid_blend_standardises_each_user_over_the_candidates():
    """blend = a z(factor) + (1 - a) z(content), z over the candidates only; others -inf."""
    from benchmarks.suites.hybrid import blend

    factor = np.array([[1.0, 2.0, 3.0, 100.0], [5.0, 5.0, 5.0, 5.0]])
    content = np.array([[30.0, 10.0, 20.0, -7.0], [0.0, 1.0, 2.0, 9.0]])
    allowed = np.array([True, True, True, False])
    out = blend(lambda u: factor[u], lambda u: content[u], 0.25, allowed)(np.array([0, 1]))
    z = np.sqrt(1.5)  # (x - mean) / population sd of (1, 2, 3) or (10, 20, 30): -1.2247, 0, 1.2247
    np.testing.assert_allclose(out[0, :3], 0.25 * np.array([-z, 0, z]) + 0.75 * np.array([z, -z, 0]), rtol=1e-6)
    np.testing.assert_allclose(out[1, :3], 0.75 * np.array([-z, 0, z]), rtol=1e-6)  # constant factor row -> 0
    assert np.isneginf(out[:, 3]).all()


def test_hybrid_summary_gives_means_and_t_intervals():
    from benchmarks.suites.hybrid import _summarise

    runs = [{"precision@10": v, "ndcg@10": 2 * v, "auc": 0.5, "recall@10": v} for v in (0.1, 0.2, 0.3)]
    out = _summarise(runs)
    assert out["precision@10"] == pytest.approx(0.2) and out["recall@10"] == pytest.approx(0.2)
    # t(0.975, 2) = 4.3027; sd 0.1; sqrt(3)
    assert out["± precision@10"] == pytest.approx(4.302653 * 0.1 / math.sqrt(3), rel=1e-5)
    assert out["± ndcg@10"] == pytest.approx(2 * out["± precision@10"])
    assert out["± auc"] == 0.0
