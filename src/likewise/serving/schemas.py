"""Request and response bodies of the HTTP API (pydantic; they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "MAX_LIST",
    "MAX_N",
    "Accepted",
    "EventIn",
    "EventsIn",
    "HistoryEntry",
    "HistoryItem",
    "HistoryOut",
    "ItemIn",
    "ItemOut",
    "ItemsOut",
    "ModelInfo",
    "Problem",
    "Rec",
    "RecsOut",
    "ReloadIn",
    "ReloadOut",
    "VisitorIn",
]

MAX_LIST = 1000
"""Longest list accepted anywhere (events, history, exclude / candidates, attributes); part of the schema."""
MAX_N = 1000
"""Largest ``n`` accepted."""
MAX_ID_TEXT = 20_000
"""Longest comma-separated id list in a query string, in characters."""
FILTER_PATTERN = r"^[^:]+:.*[^|].*$"
"""``attribute:value`` or ``attribute:a|b``: a name, a colon, at least one value."""


def _whole(value: Any) -> Any:
    """JSON Schema counts 3.0 as an integer; strict pydantic does not: accept whole floats as ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


WholeInt = Annotated[int, BeforeValidator(_whole)]
RawId = Annotated[str | WholeInt, Field(description="A raw id of the model (a string, or an integer for integer ids).")]
# A finite float: JSON has no NaN or Infinity and the store refuses them.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # JSON types as the schema says: 0 is not false


class Problem(BaseModel):
    detail: str = Field(description="What was wrong, for people.")
    errors: list[dict[str, Any]] | None = Field(default=None, description="Each invalid field (422 only).")


class ModelInfo(BaseModel):
    name: str = Field(description="The model's algorithm name.")
    version: str = Field(description="The first 16 hex digits of the sha256 of the model's manifest.json.")
    trained_at: str = Field(description="When the model directory was written (UTC, ISO 8601).")


class Rec(BaseModel):
    item: RawId
    score: float
    rank: int = Field(ge=1)
    title: str | None = None
    reason: str | None = None


class RecsOut(BaseModel):
    items: list[Rec]
    model: ModelInfo
    fallback: str | None = Field(
        description="null: the model's own answer; 'events': folded in from stored events (a user the model has "
        "not seen); 'popularity': most popular items; 'popularity-no-fold-in': popularity because the model cannot "
        "fold in new events; 'training-history': the model's answer from training only (it cannot fold in new "
        "events; they are still excluded)."
    )


class HistoryEntry(Strict):
    item: RawId
    weight: Finite | None = None


class VisitorIn(Strict):
    history: list[HistoryEntry] = Field(default_factory=list, max_length=MAX_LIST)
    n: WholeInt = Field(default=10, ge=1, le=MAX_N)
    exclude: list[RawId] | None = Field(default=None, max_length=MAX_LIST)
    candidates: list[RawId] | None = Field(default=None, max_length=MAX_LIST)
    filter: list[Annotated[str, Field(pattern=FILTER_PATTERN, max_length=1000)]] | None = Field(
        default=None, max_length=MAX_LIST
    )
    explain: bool = False


class EventIn(Strict):
    user: RawId
    item: RawId
    value: Finite | None = None
    timestamp: Finite | None = Field(default=None, description="Seconds since the epoch (client time).")
    event_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_LIST)


class Accepted(BaseModel):
    accepted: int
    duplicates: int


class ItemIn(Strict):
    title: Annotated[str, Field(max_length=1000)] | None = None
    attributes: dict[str, str | Annotated[list[str], Field(max_length=MAX_LIST)]] = Field(
        default_factory=dict, max_length=MAX_LIST
    )
    features: dict[str, Finite] = Field(default_factory=dict, max_length=MAX_LIST)


class ItemOut(BaseModel):
    item: RawId
    title: str | None = None
    attributes: dict[str, list[str]] = Field(default_factory=dict)
    in_model: bool = Field(description="Whether the served model can recommend this item.")


class ItemsOut(BaseModel):
    items: list[ItemOut]


class HistoryItem(BaseModel):
    item: RawId
    value: float | None
    title: str | None = None
    source: str = Field(description="'event' (stored event) or 'training' (the model's training data).")
    timestamp: float | None = None


class HistoryOut(BaseModel):
    user: RawId
    known: bool = Field(description="Whether the model was trained with this user.")
    items: list[HistoryItem]


class ReloadIn(Strict):
    path: str | None = None


class ReloadOut(BaseModel):
    model: ModelInfo
    path: str
