"""Base models inside a composite model (Blend, ScoreBlend): how they are given, resolved,
seeded, threaded, saved and restored - the composite family's shared code."""

from __future__ import annotations

from typing import Any

import numpy as np

from likewise._util import check_random_state
from likewise.exceptions import InvalidParameterError, NotSupportedError
from likewise.models import _registry, _saving
from likewise.models.base import Recommender


def is_spec(entry: Any) -> bool:
    """An unfitted-or-not likewise model, or an (algorithm name, {param: value}) pair."""
    if isinstance(entry, Recommender):
        return True
    return (
        isinstance(entry, (list, tuple))
        and len(entry) == 2
        and isinstance(entry[0], str)
        and isinstance(entry[1], dict)
        and all(isinstance(key, str) for key in entry[1])
    )


def resolve_specs(
    owner: str,
    entries: list[Any],
    n_threads: int | None,
    rng: np.random.Generator,
    *,
    ratings_only: bool = False,
) -> list[tuple[str, dict[str, Any]]]:
    """(algorithm, JSON params) of every base model as it will be fitted: the owner's
    ``n_threads`` handed down, a seed drawn from `rng` for every model without its own
    (`ratings_only`: every base model must predict ratings, as Blend's stacking needs)."""
    specs = []
    for position, entry in enumerate(entries):
        if isinstance(entry, Recommender):
            if entry.is_fitted:
                raise InvalidParameterError(
                    f"{owner}: base model {position} ({type(entry).__name__}) is fitted; give unfitted models"
                )
            key, params = _registry.registry_key(type(entry)), dict(entry.get_params())
        else:
            key, params = entry[0], dict(entry[1])
        cls = _registry.class_for_key(key)
        if cls is None:
            raise InvalidParameterError(
                f"{owner}: base model {position} names {key!r}, which is not a likewise algorithm; "
                f"choose from {sorted(_registry.ALGORITHMS)}"
            )
        if ratings_only and not getattr(cls, "predicts_ratings", False):
            raise InvalidParameterError(
                f"{owner}: base model {position} ({cls.__name__}) does not predict ratings; {owner} combines "
                "rating models"
            )
        names = set(cls().get_params())
        unknown = sorted(set(params) - names)
        if unknown:
            raise InvalidParameterError(
                f"{owner}: base model {position} ({cls.__name__}) has no parameter {', '.join(map(repr, unknown))}; "
                f"parameters are {sorted(names)}"
            )
        if "n_threads" in names and n_threads is not None:
            params["n_threads"] = n_threads
        seed = params.get("random_state")
        if "random_state" in names and (seed is None or isinstance(seed, np.random.Generator)):
            params["random_state"] = int(check_random_state(seed if seed is not None else rng).integers(2**31 - 1))
        specs.append((key, _saving.json_params(cls(**params).get_params())))
    return specs


def history_scores(
    owner: str, models: list[Recommender], iidx: np.ndarray, weights: np.ndarray, n_items: int, fill: float
) -> list[np.ndarray]:
    """Every base model's scores of every item for a new user with history `iidx`, through the
    model's own `recommend_from_history` (items it cannot score get `fill`)."""
    rows = []
    for model in models:
        if not model.supports_fold_in:
            raise NotSupportedError(f"{owner}: base model {type(model).__name__} cannot fold in a new user")
        recs = model.recommend_from_history(model.items_.ids[iidx], weights=weights, n=n_items, exclude_seen=False)
        row = np.full(n_items, fill, dtype=np.float64)
        valid = recs.indices[0] >= 0
        row[recs.indices[0][valid]] = recs.scores[0][valid]
        rows.append(row)
    return rows


def build(spec: tuple[str, dict[str, Any]]) -> Recommender:
    cls = _registry.class_for_key(spec[0])
    assert cls is not None  # resolved by resolve_specs or checked by _saving on load
    model: Recommender = cls(**spec[1])
    return model


def save_models(
    specs: list[tuple[str, dict[str, Any]]], models: list[Recommender]
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Arrays (prefixed ``m{index}__``) and nested entries of fitted base models."""
    arrays: dict[str, np.ndarray] = {}
    nested = []
    for m, (spec, model) in enumerate(zip(specs, models, strict=True)):
        sub_arrays, sub_state = _saving.nested_state(model)
        arrays.update({f"m{m}__{name}": value for name, value in sub_arrays.items()})
        nested.append({"class": spec[0], "params": spec[1], "state": sub_state})
    return arrays, nested


def load_models(
    parent: Recommender, arrays: dict[str, np.ndarray], nested: Any
) -> tuple[list[tuple[str, dict[str, Any]]], list[Recommender]]:
    """Inverse of `save_models` (ValueError on anything malformed)."""
    if not isinstance(nested, list) or not nested:
        raise ValueError("state 'models' must list the base models")
    specs, models = [], []
    for m, entry in enumerate(nested):
        prefix = f"m{m}__"
        sub_arrays = {name[len(prefix) :]: value for name, value in arrays.items() if name.startswith(prefix)}
        models.append(_saving.restore_nested(parent, entry, sub_arrays, Recommender))
        specs.append((entry["class"], dict(entry["params"])))
    return specs, models
