"""`KNNConfig`: every "auto" choice of a kNN model, resolved once in fit.

The parameters ``prediction``, ``similarity``, ``norms``, ``shrinkage``, ``min_support`` and
``n_neighbors_stored`` have defaults that depend on each other and on the data ("auto",
None), and the similarity kernel needs them in its own terms (a kernel mode, an effective
minimum support, a shrinkage offset). `KNNConfig.resolve` makes all of these choices in one
place from the parameters and the data; the fitted model stores the result as ``config_``,
persists it, and every later step (similarity preparation, fold-in, prediction modes, scoring,
explanations) reads it and nothing else for these choices. A loaded model therefore behaves
exactly as the model that was saved.

What the config does not hold are the neighbour-reading knobs ``k``, ``min_k``, ``weighted``,
``clip`` and the baseline options: they have no "auto" value and are read from the parameters
where they are used, as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast, get_args

from likewise.exceptions import InvalidParameterError
from likewise.kernels.knn import BASIC, CENTERED, SUM
from likewise.kernels.similarity import COMMON, FULL, JACCARD, MSD, PEARSON

__all__ = [
    "DEFAULT_STORED",
    "EXACT_LIMIT",
    "PREDICTIONS",
    "SIMILARITIES",
    "KNNConfig",
    "Measure",
    "Mode",
    "Norms",
    "Prediction",
    "Similarity",
]

Measure = Literal["cosine", "pearson", "adjusted_cosine", "pearson_baseline", "msd", "jaccard", "dot"]
"""A similarity measure, as resolved."""
Mode = Literal["sum", "basic", "means", "zscore", "baseline"]
"""A prediction mode, as resolved."""
Similarity = Literal["auto", "cosine", "pearson", "adjusted_cosine", "pearson_baseline", "msd", "jaccard", "dot"]
Prediction = Literal["auto", "sum", "basic", "means", "zscore", "baseline"]
Norms = Literal["common", "full"]
Weighting = Literal["bm25", "tfidf"]

SIMILARITIES: tuple[Measure, ...] = get_args(Measure)
PREDICTIONS: tuple[Mode, ...] = get_args(Mode)

EXACT_LIMIT = 4096
"""With at most this many compared rows (items for ItemKNN, users for UserKNN), every positive
neighbour is stored by default, so rating predictions are exactly Surprise's. The stored matrix
then holds at most EXACT_LIMIT**2 = 16.8M (index, similarity) pairs, 134 MB."""

DEFAULT_STORED = 500
"""Above EXACT_LIMIT, each row keeps max(k, DEFAULT_STORED) neighbours by default for rating
predictions (at most 4 KB per row: 240 MB for 60k items). On ml-latest-small (9.7k items),
ItemKNN pearson_baseline with 500 stored neighbours is within 0.001 RMSE of storing them all
(100: +0.008)."""


@dataclass(frozen=True)
class KNNConfig:
    """The resolved configuration of a fitted ItemKNN / UserKNN (``model.config_``).

    Attributes
    ----------
    prediction
        The prediction mode: "sum" (implicit scoring) or a rating mode (KNNBasic, WithMeans,
        WithZScore, Baseline).
    similarity
        The similarity measure.
    norms
        "common" (norms over the co-rated entries, Surprise) or "full" (whole vectors).
    weighting, bm25_k1, bm25_b
        The re-weighting of the compared matrix before "cosine" / "dot" (None: raw values).
    shrinkage, min_support, shrink_offset
        The similarity kernel's shrinkage λ (n - offset) / (n - offset + λ) and minimum
        co-support, defaults applied (pearson_baseline: λ = 100, offset 1, support >= 2).
    n_neighbors_stored
        Neighbours kept per compared row.
    """

    prediction: Mode
    similarity: Measure
    norms: Norms
    weighting: Weighting | None
    bm25_k1: float
    bm25_b: float
    shrinkage: float
    min_support: int
    shrink_offset: int
    n_neighbors_stored: int

    # ----------------------------------------------------------------- resolution
    @classmethod
    def resolve(cls, params: Mapping[str, Any], *, kind: str, n_compared: int, owner: str) -> KNNConfig:
        """The configuration `params` (validated hyper-parameters) give on data of `kind`
        with `n_compared` compared rows; `owner` names the model in error messages."""
        explicit = kind == "explicit"
        # "auto": Surprise's best rating predictor on ratings, implicit's item-item on feedback;
        # ranking by a sum of similarities wants whole-vector norms (over the co-support alone,
        # two users who share one item are perfectly similar).
        prediction: Mode = params["prediction"]
        if prediction == "auto":
            prediction = "baseline" if explicit else "sum"
        rating_mode = explicit and prediction != "sum"
        measure: Measure = params["similarity"]
        if measure == "auto":
            measure = "pearson_baseline" if rating_mode else "cosine"
        weighting = params["weighting"]
        norms: Norms = params["norms"]
        if norms == "auto":
            norms = "common" if rating_mode and weighting is None else "full"
        if weighting is not None and measure not in ("cosine", "dot"):
            raise InvalidParameterError(
                f"{owner}: weighting={weighting!r} applies to similarity 'cosine' or 'dot', got similarity={measure!r}"
            )
        k, min_k, stored = params["k"], params["min_k"], params["n_neighbors_stored"]
        if min_k > k:
            raise InvalidParameterError(f"{owner}: min_k ({min_k}) must not exceed k ({k})")
        if stored is None:
            if prediction == "sum":  # implicit scoring only ever reads the first k of a row
                n_keep = k
            elif n_compared <= EXACT_LIMIT:
                n_keep = max(n_compared - 1, 0)
            else:
                n_keep = max(k, DEFAULT_STORED)
        else:
            if stored < k:
                raise InvalidParameterError(
                    f"{owner}: n_neighbors_stored ({stored}) must be at least k ({k}), or None for the default"
                )
            n_keep = stored
        return cls._build(
            prediction, measure, norms, params, n_neighbors_stored=int(min(n_keep, max(n_compared - 1, 0)))
        )

    @classmethod
    def _build(
        cls, prediction: Mode, measure: Measure, norms: Norms, params: Mapping[str, Any], *, n_neighbors_stored: int
    ) -> KNNConfig:
        """The config of the given resolved choices, the measure's kernel defaults applied."""
        min_support = int(params["min_support"])
        offset = 0
        default_shrinkage = 0.0
        if measure == "pearson_baseline":
            min_support = max(2, min_support)
            offset = 1
            default_shrinkage = 100.0
        shrinkage = params["shrinkage"]
        return cls(
            prediction=prediction,
            similarity=measure,
            norms=norms,
            weighting=params["weighting"],
            bm25_k1=float(params["bm25_k1"]),
            bm25_b=float(params["bm25_b"]),
            shrinkage=default_shrinkage if shrinkage is None else float(shrinkage),
            min_support=min_support,
            shrink_offset=offset,
            n_neighbors_stored=n_neighbors_stored,
        )

    # ----------------------------------------------------------------- derived choices
    @property
    def rates(self) -> bool:
        """Whether predictions are ratings (every mode but "sum")."""
        return self.prediction != "sum"

    @property
    def needs_baseline(self) -> bool:
        """Whether fit learns Surprise's ALS baselines (the "baseline" mode or measure)."""
        return self.prediction == "baseline" or self.similarity == "pearson_baseline"

    @property
    def similarity_kernel_mode(self) -> int:
        """The measure as `likewise.kernels.similarity` computes it (FULL, COMMON, ...)."""
        common = self.norms == "common"
        if self.similarity in ("cosine", "adjusted_cosine", "pearson_baseline"):
            return COMMON if common else FULL
        if self.similarity == "pearson":
            return PEARSON if common else FULL
        if self.similarity == "msd":
            return MSD
        if self.similarity == "jaccard":
            return JACCARD
        return FULL

    @property
    def prediction_kernel_mode(self) -> int:
        """The prediction mode as `likewise.kernels.knn` aggregates it (SUM, BASIC, CENTERED)."""
        return {"sum": SUM, "basic": BASIC}.get(self.prediction, CENTERED)

    @property
    def whole_norms(self) -> bool:
        """Whether the kernel divides by whole-vector norms (which preparation computes)."""
        return self.similarity_kernel_mode == FULL and self.similarity != "dot"

    @property
    def float64_values(self) -> bool:
        """Whether the prepared values stay float64 (centred or re-weighted ones, see `prepare`)."""
        return (
            self.similarity in ("adjusted_cosine", "pearson_baseline")
            or (self.similarity == "pearson" and self.norms == "full")
            or (self.similarity in ("cosine", "dot") and self.weighting is not None)
        )

    # ----------------------------------------------------------------- persistence
    def to_state(self) -> dict[str, Any]:
        """JSON scalars (`from_state` reads them back)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> KNNConfig:
        """The config `to_state` wrote; ValueError when it is not one `resolve` can give."""
        names = {field.name for field in dataclasses.fields(cls)}
        if set(state) != names:
            raise ValueError(f"kNN config has fields {sorted(state)}, expected {sorted(names)}")
        config = cls(**state)
        config._check()
        return config

    @classmethod
    def from_legacy_state(cls, state: Mapping[str, Any], params: Mapping[str, Any]) -> KNNConfig:
        """The config of a model saved before ``config_`` existed (its four resolved names and
        its parameters, which is all the old format resolved from)."""
        config = cls._build(
            cast(Mode, str(state["prediction"])),
            cast(Measure, str(state["similarity_measure"])),
            cast(Norms, str(state["norms"])),
            params,
            n_neighbors_stored=int(state["n_neighbors_stored"]),
        )
        config._check()
        return config

    def _check(self) -> None:
        options: dict[str, tuple[Any, ...]] = {
            "prediction": PREDICTIONS,
            "similarity": SIMILARITIES,
            "norms": get_args(Norms),
            "weighting": (None, *get_args(Weighting)),
        }
        for name, allowed in options.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"kNN config {name}={getattr(self, name)!r} is not one of {allowed}")
        for name in ("min_support", "shrink_offset", "n_neighbors_stored"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"kNN config {name}={value!r} is not a non-negative int")
        for name in ("bm25_k1", "bm25_b", "shrinkage"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"kNN config {name}={value!r} is not a non-negative number")
