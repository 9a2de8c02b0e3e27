"""LoadReport: what a reader or builder did with its input, so nothing is lost silently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LoadReport"]


@dataclass
class LoadReport:
    """Counts of what was read, skipped (and why), merged and kept.

    `skipped` maps a reason ("rating is not a number", ...) to how many rows it removed;
    `examples` holds the first few skipped rows with their location, for the log.
    """

    source: str
    rows_read: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    duplicates_merged: int = 0
    duplicate_policy: str = ""
    n_users: int = 0
    n_items: int = 0
    n_interactions: int = 0

    MAX_EXAMPLES = 5

    @property
    def rows_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def density(self) -> float:
        cells = self.n_users * self.n_items
        return self.n_interactions / cells if cells else 0.0

    def add_skipped(self, reason: str, count: int, examples: list[str] | None = None) -> None:
        if count <= 0:
            return
        self.skipped[reason] = self.skipped.get(reason, 0) + count
        for example in examples or []:
            if len(self.examples) < self.MAX_EXAMPLES:
                self.examples.append(example)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_skipped": self.rows_skipped,
            "skipped": dict(self.skipped),
            "examples": list(self.examples),
            "duplicates_merged": self.duplicates_merged,
            "duplicate_policy": self.duplicate_policy,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "n_interactions": self.n_interactions,
            "density": self.density,
        }

    def __str__(self) -> str:
        lines = [
            f"{self.source}: {self.rows_read:,} rows read, {self.rows_skipped:,} skipped, "
            f"{self.duplicates_merged:,} duplicates merged"
            + (f" ({self.duplicate_policy})" if self.duplicates_merged else ""),
            f"  {self.n_users:,} users x {self.n_items:,} items, "
            f"{self.n_interactions:,} interactions, density {self.density:.4%}",
        ]
        for reason, count in sorted(self.skipped.items(), key=lambda kv: -kv[1]):
            lines.append(f"  skipped {count:,}: {reason}")
        for example in self.examples:
            lines.append(f"    e.g. {example}")
        return "\n".join(lines)
