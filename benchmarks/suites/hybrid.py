"""Hybrid and cold start: likewise's HybridMF and ContentKNN beside LightFM 1.17 and Popularity.

Same features, same split, same threads, same epochs, one run each; every library's scores go
through the same selection and metric code. Three parts:

a. **MovieLens 100K, LightFM's own example protocol** (its ``examples/movielens`` notebook:
   ``fetch_movielens()`` - the ``ua.base`` / ``ua.test`` split, 10 test ratings per user,
   every rating a positive -, ``LightFM(loss="warp", learning_rate=0.05)`` with the default 10
   components, 10 epochs; the notebook reports test precision@10 0.11 and AUC 0.90). The ``ua``
   files are not in shared/data, so the split is its shape: 10 ratings per user held out at
   random (seed 42). Two rows per model: identity features only (the notebook) and identity +
   the 19 genres. Besides the usual metrics (training items excluded from the candidates) the
   notebook's own measure is reported, ``precision@10 (lightfm)`` / ``auc (lightfm)``, where
   training items stay candidates, as in LightFM's ``precision_at_k`` without
   ``train_interactions``.
b. **ml-latest-small, genres + tags** (tags TF-IDF-weighted for ContentKNN, counts normalised
   per row for the factor models): a warm split (each user's interactions 80/20, seed 42,
   identity + features) and a cold-item split (20% of the items held out with all their
   interactions, seed 42; no item identity features: a held-out item has nothing but
   features; lists ranked over the cold items only).
c. **HetRec Last.fm, tags, cold-item split** as in (b) (play counts as interactions of 1).

Factor models: 32 components (10 in part a), WARP, adagrad 0.05 (0.01 on the cold splits, with
binary, un-normalised features: see `_cold_scenario`), ``max_sampled`` 10, 10 epochs (3 with
``--quick``); ContentKNN: 100 neighbours, TF-IDF. Fit time is one fit after a
tiny warm-up fit (likewise's kernels compiled or loaded from the cache), at ``ctx.threads``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmarks.harness import BenchContext, Row, ranking_metrics

SUITE = "hybrid"
DESCRIPTION = (
    "likewise HybridMF (LightFM's model) and ContentKNN beside LightFM 1.17 and Popularity, same "
    "features, split, threads and epochs, one run each, the same selection and metric code. (a) "
    "MovieLens 100K on LightFM's example protocol (10 ratings per user held out, every rating "
    "positive, WARP, 10 components, lr 0.05, 10 epochs; identity and identity + genres; plus the "
    "example's own measure with training items as candidates); (b) ml-latest-small with genres + "
    "tags, warm 80/20 split and cold-item split (20% of items held out, ranked among the cold "
    "items, no item identity features); (c) HetRec Last.fm with tags, cold-item split. 32 "
    "components, WARP, 10 epochs (3 with --quick)."
)
K = 10


# --------------------------------------------------------------------------- scenarios
class Scenario:
    """One train/test pair with its features, what may be recommended and the model settings."""

    def __init__(
        self, dataset: str, task: str, train: Any, test: Any, *, features: bool, identity: bool,
        cold: bool, n_factors: int, normalise: bool = True, learning_rate: float = 0.05,
    ) -> None:  # fmt: skip
        self.dataset = dataset
        self.task = task
        self.train = train
        self.test = test
        self.features = features
        self.identity = identity
        self.cold = cold
        self.n_factors = n_factors
        self.normalise = normalise
        self.learning_rate = learning_rate
        self.content_train: Any = None
        self.users = np.flatnonzero(np.diff(test.matrix.indptr) > 0).astype(np.int32)
        warm = train.item_counts() > 0
        self.allowed = ~warm if cold else np.ones(train.n_items, dtype=bool)

    def item_design(self) -> sp.csr_matrix | None:
        """LightFM's item feature matrix, built exactly as HybridMF builds its own (identity for
        items with training interactions first, then the features; rows normalised to sum 1)."""
        blocks = []
        if self.identity:
            rows = np.flatnonzero(self.train.item_counts() > 0)
            blocks.append(sp.csr_matrix((np.ones(rows.size), (rows, np.arange(rows.size))),
                                        shape=(self.train.n_items, rows.size)))  # fmt: skip
        if self.features:
            blocks.append(sp.csr_matrix(self.train.item_features.matrix))
        if not self.features and self.identity and blocks[0].shape[1] == self.train.n_items:
            return None  # LightFM's own identity matrix
        matrix = sp.csr_matrix(sp.hstack(blocks), dtype=np.float32)
        if not self.normalise:
            return matrix
        sums = np.asarray(matrix.sum(axis=1)).ravel()
        scale = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
        return sp.csr_matrix(sp.diags(scale) @ matrix, dtype=np.float32)


def _binary(data: Any, *, features: Any) -> Any:
    from likewise.data.interactions import Interactions

    matrix = data.matrix.copy()
    matrix.data[:] = 1.0
    return Interactions(data.users, data.items, matrix, kind="implicit", item_features=features)


def _ml100k_scenarios(ctx: BenchContext) -> list[Scenario]:
    from likewise.evaluation import user_split

    data = ctx.ml100k()
    binary = _binary(data, features=data.item_features)
    split = user_split(binary, test_count=10, random_state=ctx.seed)
    plain = _binary(split.train, features=None)
    task = "top-10, 10 ratings per user held out (LightFM example protocol)"
    return [
        Scenario("ml-100k (identity)", task, plain, split.test, features=False, identity=True, cold=False,
                 n_factors=10),
        Scenario("ml-100k (identity + genres)", task, split.train, split.test, features=True, identity=True,
                 cold=False, n_factors=10),
    ]  # fmt: skip


def _folder(ctx: BenchContext, name: str) -> Any:
    folder = ctx.data_dir / name
    if not folder.is_dir():
        ctx.note(f"{name} not found in {ctx.data_dir}: its rows are skipped")
        return None
    return folder


def _latest_scenarios(ctx: BenchContext) -> list[Scenario]:
    from likewise.data.movielens import read_ml_latest
    from likewise.evaluation import cold_item_split, user_split

    folder = _folder(ctx, "ml-latest-small")
    if folder is None:
        return []
    data = read_ml_latest(folder)
    binary = _binary(data, features=data.item_features)
    warm = user_split(binary, test_fraction=0.2, random_state=ctx.seed)
    cold = cold_item_split(binary, test_fraction=0.2, random_state=ctx.seed)
    name = "ml-latest-small (genres + tags)"
    return [
        Scenario(name, "top-10, per-user 80/20 holdout (warm)", warm.train, warm.test, features=True,
                 identity=True, cold=False, n_factors=32),
        _cold_scenario(name, cold),
    ]  # fmt: skip


def _lastfm_scenarios(ctx: BenchContext) -> list[Scenario]:
    from likewise.data.movielens import read_lastfm_hetrec
    from likewise.evaluation import cold_item_split

    folder = _folder(ctx, "hetrec2011-lastfm-2k")
    if folder is None:
        return []
    data = read_lastfm_hetrec(folder)
    binary = _binary(data, features=data.item_features)
    cold = cold_item_split(binary, test_fraction=0.2, random_state=ctx.seed)
    return [_cold_scenario("hetrec-lastfm (tags)", cold)]


def _cold_scenario(name: str, split: Any) -> Scenario:
    """Cold items: the factor models see each item's features as presence (binary), summed, not
    averaged (no normalisation), at learning rate 0.01 - for both libraries alike. (Chosen once
    on ml-latest-small's cold split: averaging a many-tag item's features flattens it into the
    mean tag, which ranks well overall (AUC) but poorly at the top.) ContentKNN keeps the counts
    and weighs them by TF-IDF."""
    from likewise.data.features import weight_features
    from likewise.data.interactions import Interactions

    train = split.train
    binary = weight_features(train.item_features, "binary")
    factor_train = Interactions(train.users, train.items, train.matrix, kind="implicit", item_features=binary)
    scenario = Scenario(name, "top-10 among cold items, 20% of items held out", factor_train, split.test,
                        features=True, identity=False, cold=True, n_factors=32, normalise=False,
                        learning_rate=0.01)  # fmt: skip
    scenario.content_train = train
    return scenario


# --------------------------------------------------------------------------- the models
def _params(sc: Scenario, epochs: int) -> dict[str, Any]:
    return {
        "n_factors": sc.n_factors, "loss": "warp", "learning_rate": sc.learning_rate, "max_sampled": 10,
        "n_epochs": epochs, "normalise": sc.normalise,
    }  # fmt: skip


def _likewise_hybrid(sc: Scenario, ctx: BenchContext, epochs: int) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    from likewise.models import HybridMF
    from likewise.testing import checkerboard

    params = {**_params(sc, epochs), "item_identity": sc.identity, "n_threads": ctx.threads, "random_state": ctx.seed}
    HybridMF(**{**params, "n_epochs": 1}).fit(checkerboard()[0])  # compile / load the kernels
    train = sc.train if sc.features else _binary(sc.train, features=None)
    model = HybridMF(**params)
    started = time.perf_counter()
    model.fit(train)
    return model.score_indices, time.perf_counter() - started


def _lightfm(
    sc: Scenario, ctx: BenchContext, epochs: int, lightfm: Any
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    p = _params(sc, epochs)
    design = sc.item_design()
    model = lightfm.LightFM(no_components=p["n_factors"], loss="warp", learning_rate=p["learning_rate"],
                            max_sampled=p["max_sampled"], random_state=ctx.seed)  # fmt: skip
    train = sp.coo_matrix(sc.train.matrix)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        model.fit(train, item_features=design, epochs=epochs, num_threads=ctx.threads)
        seconds = time.perf_counter() - started
        user_bias, user_emb = model.get_user_representations()
        item_bias, item_emb = model.get_item_representations(design)

    def scores(users: np.ndarray) -> np.ndarray:
        out = user_emb[users] @ item_emb.T
        out += user_bias[users, None]
        out += item_bias[None, :]
        return out.astype(np.float32)

    return scores, seconds


def _likewise_simple(
    cls_name: str, sc: Scenario, ctx: BenchContext
) -> tuple[Callable[[np.ndarray], np.ndarray], float]:
    from likewise import models

    model = models.ContentKNN(k=100, n_threads=ctx.threads) if cls_name == "ContentKNN" else models.Popularity()
    started = time.perf_counter()
    model.fit(sc.content_train if sc.content_train is not None else sc.train)
    return model.score_indices, time.perf_counter() - started


# --------------------------------------------------------------------------- measuring
def _measure(sc: Scenario, scores: Callable[[np.ndarray], np.ndarray], protocol_extra: bool) -> dict[str, float]:
    from likewise.evaluation import metrics as m
    from likewise.kernels.topk import topk_rows

    seen = sc.train.matrix
    lists, aucs, lists_all, aucs_all = [], [], [], []
    candidates = np.flatnonzero(sc.allowed)
    for start in range(0, sc.users.size, 256):
        block = sc.users[start : start + 256]
        s = np.ascontiguousarray(scores(block), dtype=np.float32)
        idx, _ = topk_rows(s, K, seen_indptr=seen.indptr, seen_indices=seen.indices, seen_rows=block,
                           allowed=sc.allowed, parallel=False)  # fmt: skip
        lists.append(idx)
        rel = sc.test.matrix[block][:, candidates]
        aucs.append(m.auc(s[:, candidates], rel, exclude=seen[block][:, candidates]))
        if protocol_extra:  # LightFM's precision_at_k / auc_score without train_interactions
            idx_all, _ = topk_rows(s, K, parallel=False)
            lists_all.append(idx_all)
            aucs_all.append(m.auc(s, sc.test.matrix[block]))
    result = ranking_metrics(np.vstack(lists), sc.test, sc.users, k=K)
    out = {key: result[key] for key in (f"precision@{K}", f"ndcg@{K}", f"recall@{K}")}
    out["auc"] = float(np.nanmean(np.concatenate(aucs)))
    if protocol_extra:
        out[f"precision@{K} (lightfm)"] = ranking_metrics(np.vstack(lists_all), sc.test, sc.users, k=K)[
            f"precision@{K}"
        ]
        out["auc (lightfm)"] = float(np.nanmean(np.concatenate(aucs_all)))
    return out


def run(ctx: BenchContext) -> list[Row]:
    epochs = 3 if ctx.quick else 10
    lightfm = ctx.peer("lightfm")
    scenarios = _ml100k_scenarios(ctx) + _latest_scenarios(ctx) + _lastfm_scenarios(ctx)
    rows: list[Row] = []
    for sc in scenarios:
        extra = sc.dataset.startswith("ml-100k")
        runners: list[tuple[str, str, Callable[[], tuple[Callable[[np.ndarray], np.ndarray], float]]]] = [
            ("likewise", "HybridMF", lambda sc=sc: _likewise_hybrid(sc, ctx, epochs)),
        ]
        if lightfm is not None:
            runners.append(("lightfm", "LightFM", lambda sc=sc: _lightfm(sc, ctx, epochs, lightfm)))
        if sc.features:
            runners.append(("likewise", "ContentKNN", lambda sc=sc: _likewise_simple("ContentKNN", sc, ctx)))
        runners.append(("likewise", "Popularity", lambda sc=sc: _likewise_simple("Popularity", sc, ctx)))
        for library, algorithm, fit in runners:
            scores, seconds = fit()
            metrics = _measure(sc, scores, extra)
            factor = algorithm in ("HybridMF", "LightFM")
            rows.append(
                Row(
                    suite=SUITE,
                    task=sc.task,
                    dataset=sc.dataset,
                    library=library,
                    algorithm=algorithm,
                    params={**_params(sc, epochs), "item_identity": sc.identity} if factor else {},
                    metrics=metrics,
                    fit_s=seconds,
                    threads=ctx.threads,
                    pair="hybrid" if factor else None,
                    notes="cold items only; popularity of a cold item is 0 (ties by index)" if sc.cold else "",
                )
            )
            print(f"  {sc.dataset} | {sc.task[:40]} | {algorithm}: "
                  f"{ {k: round(v, 4) for k, v in metrics.items()} } fit {seconds:.2f}s")  # fmt: skip
    return rows
