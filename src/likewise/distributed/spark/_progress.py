"""Progress of Spark jobs, polled from the SparkContext's status tracker on a daemon thread.

The thread hands a `StageSnapshot` to a callback a few times a second; the CLI renders it with
rich (this module imports nothing of the CLI's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from pyspark import SparkContext

__all__ = ["StageProgress", "StageSnapshot"]


@dataclass(frozen=True)
class StageSnapshot:
    """What Spark is doing: its active stages' names and their tasks done / in total."""

    stages: tuple[str, ...]
    completed_tasks: int
    total_tasks: int
    jobs_done: int

    @property
    def description(self) -> str:
        if not self.stages:
            return "spark: waiting"
        name = self.stages[0] if len(self.stages) == 1 else f"{self.stages[0]} (+{len(self.stages) - 1} stages)"
        return f"spark: {name}"


def snapshot(sc: SparkContext, jobs_before: int = 0) -> StageSnapshot:
    """The tracker's view now: active stages with their task counts."""
    tracker = sc.statusTracker()
    names, done, total = [], 0, 0
    for stage_id in sorted(tracker.getActiveStageIds()):
        info = tracker.getStageInfo(stage_id)
        if info is None:
            continue
        names.append(str(info.name).split(" at ")[0])
        done += int(info.numCompletedTasks)
        total += int(info.numTasks)
    jobs = len(tracker.getJobIdsForGroup(None)) if hasattr(tracker, "getJobIdsForGroup") else 0
    return StageSnapshot(tuple(names), done, total, max(jobs - jobs_before, 0))


class StageProgress:
    """Context manager: calls ``callback(StageSnapshot)`` every `interval` seconds while open."""

    def __init__(self, sc: SparkContext, callback: Callable[[StageSnapshot], None], interval: float = 0.25) -> None:
        self.sc = sc
        self.callback = callback
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._jobs_before = 0

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.callback(snapshot(self.sc, self._jobs_before))
            except Exception:  # the JVM going away at shutdown must not kill the caller
                return

    def __enter__(self) -> StageProgress:
        self._jobs_before = snapshot(self.sc).jobs_done
        self._thread = threading.Thread(target=self._run, name="likewise-spark-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
