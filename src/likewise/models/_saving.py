"""A fitted model to its directory and back: what `Recommender.save` writes and `load` checks.

`_persistence` owns the files (atomic writes, manifest, npz parsing, the generic checks of
meta.json, ids and CSR parts); this module maps a model's attributes onto them: the shared
arrays every model has (id maps, the training matrix, titles), the registry name, parameters
and JSON state, and on loading rebuilds the model and lets its `_set_state` check the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from likewise import __version__
from likewise.data.idmap import IdMap
from likewise.exceptions import InvalidParameterError, LikewiseError, ModelFormatError
from likewise.models import _persistence, _registry
from likewise.models._params import validate_params

if TYPE_CHECKING:
    from likewise.models.base import Recommender

__all__ = ["json_params", "load_model", "nested_state", "restore_nested", "save_model"]


def save_model(model: Recommender, path: Any) -> None:
    """Write fitted `model` into directory `path` (see `Recommender.save`)."""
    arrays, state = model._state()
    common = {
        "users": model.users_.ids,
        "items": model.items_.ids,
        "seen_indptr": model.seen_.indptr,
        "seen_indices": model.seen_.indices,
        "seen_data": model.seen_.data,
    }
    if model.item_titles_ is not None:
        common["item_titles"] = np.asarray(model.item_titles_, dtype=str)
    clash = set(common) & set(arrays)
    if clash:
        raise ModelFormatError(f"model arrays clash with reserved names: {sorted(clash)}")
    meta = {
        "class": _registry.registry_key(type(model)),
        "likewise_version": __version__,
        "params": json_params(model.get_params()),
        "kind": model.kind_,
        "rating_scale": list(model.rating_scale_) if model.rating_scale_ else None,
        "n_users": model.n_users,
        "n_items": model.n_items,
        "state": state,
    }
    index = model._index_state()
    files: dict[str, bytes] = {}
    if index is not None:
        meta["index"], files = index
    _persistence.write_model_dir(path, meta, {**common, **arrays}, files)


def load_model(path: Any, cls: type[Recommender]) -> Recommender:
    """Rebuild the model saved in `path`, which must be a `cls` (see `Recommender.load`)."""
    files: dict[str, bytes] = {}
    meta, arrays = _persistence.read_model_dir(path, files)
    where = f"{path}/{_persistence.META_FILE}"
    _persistence.check_meta(where, meta)
    model_cls = _registry.class_for_key(meta["class"])
    if model_cls is None:
        raise ModelFormatError(
            f"{path}: model class {meta['class']!r} is not a registered likewise model; "
            "import the module that defines it before loading"
        )
    if not issubclass(model_cls, cls):
        held = f"{model_cls.__module__}:{model_cls.__qualname__}"
        raise ModelFormatError(f"{path}: holds a {held}, not a {cls.__name__}")
    _persistence.check_params(where, model_cls, meta["params"])
    model = model_cls(**meta["params"])
    try:
        validate_params(model)
    except InvalidParameterError as exc:
        raise ModelFormatError(f"{where}: {exc}") from exc
    n_users, n_items = meta["n_users"], meta["n_items"]
    data_where = f"{path}/{_persistence.ARRAYS_FILE}"
    for name in ("users", "items", "seen_indptr", "seen_indices", "seen_data"):
        if name not in arrays:
            raise ModelFormatError(f"{data_where}: array {name!r} is missing")
    _persistence.check_ids(data_where, arrays["users"], n_users, "user")
    _persistence.check_ids(data_where, arrays["items"], n_items, "item")
    parts = arrays.pop("seen_indptr"), arrays.pop("seen_indices"), arrays.pop("seen_data")
    _persistence.check_csr(data_where, "seen", *parts, (n_users, n_items))
    titles = arrays.pop("item_titles", None)
    if titles is not None and (titles.dtype.kind != "U" or titles.shape != (n_items,)):
        raise ModelFormatError(f"{data_where}: item_titles must be {n_items} strings")
    try:
        model.users_ = IdMap.from_sorted_unique(arrays.pop("users"), name="user")
        model.items_ = IdMap.from_sorted_unique(arrays.pop("items"), name="item")
    except LikewiseError as exc:
        raise ModelFormatError(f"{data_where}: {exc}") from exc
    indptr, indices, data = parts
    model.seen_ = sp.csr_matrix((data, indices, indptr), shape=(n_users, n_items))
    model.kind_ = meta["kind"]
    scale = meta["rating_scale"]
    model.rating_scale_ = tuple(scale) if scale else None
    model.item_titles_ = titles
    state = meta["state"]
    try:
        model._set_state(arrays, state)
        _persistence.check_round_trip(data_where, model, arrays, state)
    except ModelFormatError:
        raise
    except Exception as exc:  # model code reading untrusted input: any failure means a bad file
        raise ModelFormatError(f"{path}: inconsistent model contents: {type(exc).__name__}: {exc}") from exc
    _load_index(path, model, meta, files)
    return model


def _load_index(path: Any, model: Recommender, meta: dict[str, Any], files: dict[str, bytes]) -> None:
    """Restore the item index saved with the model (docs/ann.md), checked against its factors."""
    if "index" not in meta:
        if files:
            raise ModelFormatError(f"{path}: holds index files {sorted(files)} but meta.json describes no index")
        return
    try:
        model._restore_index(meta["index"], files)
    except LikewiseError as exc:  # e.g. the ann extra is missing: say which file needs it
        raise type(exc)(f"{path}: cannot restore the saved item index: {exc}") from exc
    except Exception as exc:  # the description or the library's bytes do not fit the model
        raise ModelFormatError(f"{path}: the saved item index does not fit the model: {exc}") from exc


def json_params(params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as JSON values. A Generator random_state is stored as None (fitted state
    does not depend on it once fitted); a model given as a parameter (Blend's base models) is
    stored as its ``[registry name, params]`` pair, which such a parameter accepts too."""
    return {name: _json_value(value) for name, value in params.items()}


def _json_value(value: Any) -> Any:
    from likewise.models.base import Recommender

    if isinstance(value, np.random.Generator):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Recommender):
        return [_registry.registry_key(type(value)), json_params(value.get_params())]
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    return value


# --------------------------------------------------------------------------- nested models
# A model made of other models (Blend) saves each of them inside its own directory: their
# arrays under a prefix of its choosing, their class, parameters and JSON state in its state.


def nested_state(model: Recommender) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """The model-specific (arrays, JSON state) of a sub-model, as its own `save` would store them."""
    return model._state()


def restore_nested(parent: Recommender, entry: Any, arrays: dict[str, np.ndarray], cls: type[Any]) -> Any:
    """Rebuild a sub-model saved by `nested_state` inside `parent`, trusting nothing.

    `entry` is ``{"class": registry name, "params": {...}, "state": {...}}`` from the parent's
    state. The class is resolved only through the registry (nothing is imported), the
    parameters are checked like a top-level model's, and the sub-model shares the parent's id
    maps, training matrix, kind, rating scale and titles (it was fitted on the same data).
    Raises ValueError (which the parent's `load` reports as a ModelFormatError).
    """
    if not isinstance(entry, dict) or set(entry) != {"class", "params", "state"}:
        raise ValueError("a nested model entry needs exactly 'class', 'params' and 'state'")
    if not isinstance(entry["class"], str) or not isinstance(entry["params"], dict):
        raise ValueError("a nested model entry's class must be a string and its params an object")
    if not isinstance(entry["state"], dict):
        raise ValueError("a nested model entry's state must be an object")
    model_cls = _registry.class_for_key(entry["class"])
    if model_cls is None or not issubclass(model_cls, cls):
        raise ValueError(f"nested model class {entry['class']!r} is not a registered likewise model")
    try:
        _persistence.check_params("nested model", model_cls, entry["params"])
    except ModelFormatError as exc:
        raise ValueError(str(exc)) from exc
    model = model_cls(**entry["params"])
    validate_params(model)
    model.users_, model.items_, model.seen_ = parent.users_, parent.items_, parent.seen_
    model.kind_, model.rating_scale_, model.item_titles_ = parent.kind_, parent.rating_scale_, parent.item_titles_
    model._set_state(arrays, entry["state"])
    return model
