"""Request and response bodies of the HTTP API (pydantic; they are the OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
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
    "Rec",
    "RecsOut",
    "ReloadIn",
    "ReloadOut",
    "VisitorIn",
]

RawId = Annotated[str | int, Field(description="A raw id of the model (a string, or an integer for integer ids).")]
# A finite float: JSON has no NaN or Infinity and the store refuses them.
Finite = Annotated[float, Field(allow_inf_nan=False)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    history: list[HistoryEntry] = Field(default_factory=list)
    n: int = Field(default=10, ge=1)
    exclude: list[RawId] | None = None
    candidates: list[RawId] | None = None
    filter: list[str] | None = None
    explain: bool = False


class EventIn(Strict):
    user: RawId
    item: RawId
    value: Finite | None = None
    timestamp: Finite | None = Field(default=None, description="Seconds since the epoch (client time).")
    event_id: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class EventsIn(Strict):
    events: list[EventIn] = Field(min_length=1)


class Accepted(BaseModel):
    accepted: int
    duplicates: int


class ItemIn(Strict):
    title: Annotated[str, Field(max_length=1000)] | None = None
    attributes: dict[str, str | list[str]] = Field(default_factory=dict)
    features: dict[str, Finite] = Field(default_factory=dict)


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
