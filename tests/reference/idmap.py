"""Plain-dict twin of likewise.data.IdMap: sorted distinct ids, a dict for lookups."""

from __future__ import annotations


class IdMapReference:
    def __init__(self, ids):
        self.ids = sorted(set(ids))
        self.index = {raw: pos for pos, raw in enumerate(self.ids)}

    def to_index(self, ids):
        """-1 for an id not in the map (the fast map's missing="negative")."""
        return [self.index.get(raw, -1) for raw in ids]
