"""Hybrid and cold start: likewise's HybridMF and ContentKNN beside LightFM 1.17 and Popularity.

Same features, same split, same threads, same epochs; every library's scores go through the
same selection and metric code. The factor models (HybridMF, LightFM) are fitted with 5 model
seeds on the same split (2 with ``--quick``): rows give the mean and ``± metric``, the
half-width of the 95% Student-t interval of the mean - one seed cannot separate 0.209 from
0.211. ContentKNN and Popularity are deterministic (one fit). Four parts:

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
d. **Fold-in latency**: single calls for 1,000 new users, p50 / p99 / mean milliseconds:
   ``recommend_from_history`` with 5-20 training items on ml-latest-small (the warm model of
   (b)), ``recommend_new_user(features=...)`` on MovieLens 100K with user features.

Cold items: each factor library gets the same tuning budget on a validation split carved from
its *training* data (`cold_item_split` of the training set, 20% of its items, seed 43): the
factor models see binary features either summed at lr 0.01 or averaged (rows normalised to
sum 1) at lr 0.05, and a z-score blend with ContentKNN (`blend`) with weight alpha in
{0, 0.25, 0.5, 0.75, 1}; NDCG@10 on validation picks the configuration alone (alpha 1: rows
``HybridMF`` / ``LightFM``) and the blend (rows ``HybridMF + ContentKNN`` /
``LightFM + ContentKNN``); the chosen settings are then refitted on the full training set and
measured on the test items. The pick and its validation score are in each row's notes.

Factor models: 32 components (10 in part a), WARP, adagrad 0.05 (cold: as tuned),
``max_sampled`` 10, 10 epochs (3 with ``--quick``); ContentKNN: 100 neighbours, TF-IDF. Fit
time is the median over the seeds of one fit after a tiny warm-up fit (likewise's kernels
compiled or loaded from the cache), at ``ctx.threads``; a blend's fit time adds ContentKNN's.
"""

from __future__ import annotations

import dataclasses
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
    "features, split, threads and epochs, the same selection and metric code; factor models over 5 model "
    "seeds (mean and ± half-width of the 95% t-interval). (a) MovieLens 100K on LightFM's example protocol "
    "(10 ratings per user held out, every rating positive, WARP, 10 components, lr 0.05, 10 epochs; identity "
    "and identity + genres; plus the example's own measure with training items as candidates); (b) "
    "ml-latest-small with genres + tags, warm 80/20 split and cold-item split (20% of items held out, ranked "
    "among the cold items, no item identity features); (c) HetRec Last.fm with tags, cold-item split. On the "
    "cold rows both factor libraries get the same tuning on a validation split carved from the training data "
    "(feature scaling / learning rate, and the weight of a per-user z-score blend with ContentKNN, by "
    "NDCG@10). (d) fold-in latency of new users (p50 / p99 of 1,000 single calls). 32 components, WARP, 10 "
    "epochs (3 with --quick)."
)
K = 10
N_SEEDS = 5  # model seeds per factor-model row (2 with --quick); the split stays fixed


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
Scores = Callable[[np.ndarray], np.ndarray]


def _params(sc: Scenario, epochs: int) -> dict[str, Any]:
    return {
        "n_factors": sc.n_factors, "loss": "warp", "learning_rate": sc.learning_rate, "max_sampled": 10,
        "n_epochs": epochs, "normalise": sc.normalise,
    }  # fmt: skip


def _likewise_hybrid(sc: Scenario, ctx: BenchContext, epochs: int) -> tuple[Scores, float]:
    from likewise.models import HybridMF
    from likewise.testing import checkerboard

    params = {**_params(sc, epochs), "item_identity": sc.identity, "n_threads": ctx.threads, "random_state": ctx.seed}
    HybridMF(**{**params, "n_epochs": 1}).fit(checkerboard()[0])  # compile / load the kernels
    train = sc.train if sc.features else _binary(sc.train, features=None)
    model = HybridMF(**params)
    started = time.perf_counter()
    model.fit(train)
    return model.score_indices, time.perf_counter() - started


def _lightfm(sc: Scenario, ctx: BenchContext, epochs: int, lightfm: Any) -> tuple[Scores, float]:
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


def _lightfm_fit(sc: Scenario, ctx: BenchContext, epochs: int) -> tuple[Scores, float]:
    return _lightfm(sc, ctx, epochs, ctx.peer("lightfm"))


FACTOR_FITS = {"HybridMF": _likewise_hybrid, "LightFM": _lightfm_fit}


def _likewise_simple(cls_name: str, sc: Scenario, ctx: BenchContext) -> tuple[Scores, float]:
    from likewise import models

    model = models.ContentKNN(k=100, n_threads=ctx.threads) if cls_name == "ContentKNN" else models.Popularity()
    started = time.perf_counter()
    model.fit(sc.content_train if sc.content_train is not None else sc.train)
    return model.score_indices, time.perf_counter() - started


def blend(factor: Scores, content: Scores, alpha: float, allowed: np.ndarray) -> Scores:
    """``alpha z(factor) + (1 - alpha) z(content)``, z standardising each user's scores over the
    candidate items (mean 0, sd 1; a constant row becomes 0): the two models' scores live on
    unrelated scales, and standardising per user keeps one user's spread from deciding the
    weight. Items outside `allowed` score -inf."""
    from likewise.models.score_blend import z_blend  # the library's ScoreBlend formula

    candidates = np.flatnonzero(allowed)

    def scores(users: np.ndarray) -> np.ndarray:
        out = np.full((users.size, allowed.size), -np.inf, dtype=np.float32)
        out[:, candidates] = z_blend([factor(users), content(users)], [alpha, 1.0 - alpha], candidates)
        return out

    return scores


# --------------------------------------------------------------------------- measuring
def _measure(sc: Scenario, scores: Scores, protocol_extra: bool) -> dict[str, float]:
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


INTERVAL_KEYS = (f"precision@{K}", f"ndcg@{K}", "auc")


def _summarise(per_seed: list[dict[str, float]]) -> dict[str, float]:
    """Means over the seeds, plus ``± <metric>``: the half-width of the 95% Student-t interval
    of the mean (0 with one seed)."""
    from scipy import stats

    out = {key: float(np.mean([r[key] for r in per_seed])) for key in per_seed[0]}
    n = len(per_seed)
    for key in INTERVAL_KEYS:
        values = np.array([r[key] for r in per_seed])
        half = stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0
        out[f"± {key}"] = float(half)
    return out


def _seeds(ctx: BenchContext) -> list[int]:
    return [ctx.seed + k for k in range(2 if ctx.quick else N_SEEDS)]


def _over_seeds(sc: Scenario, ctx: BenchContext, fit: Callable[[BenchContext], tuple[Scores, float]],
                protocol_extra: bool) -> tuple[dict[str, float], float]:  # fmt: skip
    """(metrics summarised over the seeds, median fit seconds): one fit per model seed on the
    same split."""
    runs, seconds = [], []
    for seed in _seeds(ctx):
        scores, fit_s = fit(dataclasses.replace(ctx, seed=seed))
        runs.append(_measure(sc, scores, protocol_extra))
        seconds.append(fit_s)
    return _summarise(runs), float(np.median(seconds))


# --------------------------------------------------------------------------- cold items: tuning
# The knobs both factor models share, tried on a validation split carved from the training data
# (the test items are never seen): binary features summed at lr 0.01, or averaged (rows
# normalised to sum 1, LightFM's Dataset default) at lr 0.05; and the blend weight with ContentKNN.
COLD_CONFIGS = {"summed, lr 0.01": (False, 0.01), "averaged, lr 0.05": (True, 0.05)}
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
TUNE_METRIC = f"ndcg@{K}"


class ColdChoice:
    """What validation chose for one factor library: its configuration alone (alpha 1), and the
    (configuration, alpha) of its blend with ContentKNN (any alpha of `ALPHAS`, 0 and 1
    included: the blend may settle on either model alone), with the validation scores."""

    def __init__(self) -> None:
        self.tried: dict[tuple[str, float], float] = {}

    def best(self, blended: bool) -> tuple[str, float]:
        keys = [key for key in self.tried if blended or key[1] == 1.0]
        return max(keys, key=lambda key: self.tried[key])

    def note(self, blended: bool) -> str:
        config, alpha = self.best(blended)
        grid = f"{' / '.join(COLD_CONFIGS)}" + (f" x alpha {', '.join(f'{a:g}' for a in ALPHAS)}" if blended else "")
        return (
            f"tuned on a validation split of the training data (20% of its items held out) by {TUNE_METRIC} over "
            f"{grid}: picked {config}"
            + (f", alpha {alpha:g}" if blended else "")
            + f" (validation {TUNE_METRIC} {self.tried[(config, alpha)]:.4f})"
        )


def _factor_scenario(sc: Scenario, train: Any, test: Any, config: str) -> Scenario:
    normalise, learning_rate = COLD_CONFIGS[config]
    out = Scenario(sc.dataset, sc.task, train, test, features=True, identity=False, cold=True, n_factors=sc.n_factors,
                   normalise=normalise, learning_rate=learning_rate)  # fmt: skip
    out.content_train = sc.content_train
    return out


def _tune_cold(sc: Scenario, ctx: BenchContext, algorithm: str, epochs: int) -> ColdChoice:
    from likewise.data.features import weight_features
    from likewise.data.interactions import Interactions
    from likewise.evaluation import cold_item_split

    content_train = sc.content_train
    split = cold_item_split(content_train, test_fraction=0.2, random_state=ctx.seed + 1)
    held = (content_train.item_counts() > 0) & ~(split.train.item_counts() > 0)
    binary = weight_features(split.train.item_features, "binary")
    factor_train = Interactions(split.train.users, split.train.items, split.train.matrix, kind="implicit",
                                item_features=binary)  # fmt: skip
    content = _likewise_simple("ContentKNN", Scenario(sc.dataset, sc.task, split.train, split.test, features=True,
                               identity=False, cold=True, n_factors=sc.n_factors), ctx)[0]  # fmt: skip
    choice = ColdChoice()
    for config in COLD_CONFIGS:
        vsc = _factor_scenario(sc, factor_train, split.test, config)
        vsc.allowed = held
        factor = FACTOR_FITS[algorithm](vsc, ctx, epochs)[0]
        for alpha in ALPHAS:
            scores = factor if alpha == 1.0 else blend(factor, content, alpha, held)
            choice.tried[(config, alpha)] = _measure(vsc, scores, False)[TUNE_METRIC]
    return choice


def _cold_rows(sc: Scenario, ctx: BenchContext, epochs: int, algorithms: list[str]) -> list[Row]:
    content, content_s = _likewise_simple("ContentKNN", sc, ctx)
    rows = []
    for algorithm in algorithms:
        choice = _tune_cold(sc, ctx, algorithm, epochs)
        picks = {"alone": choice.best(False), "blend": choice.best(True)}
        runs: dict[str, list[dict[str, float]]] = {"alone": [], "blend": []}
        seconds: dict[str, list[float]] = {"alone": [], "blend": []}
        for seed in _seeds(ctx):
            for config in {cfg for cfg, _ in picks.values()}:
                test_sc = _factor_scenario(sc, sc.train, sc.test, config)
                factor, fit_s = FACTOR_FITS[algorithm](test_sc, dataclasses.replace(ctx, seed=seed), epochs)
                for kind, (cfg, alpha) in picks.items():
                    if cfg == config:
                        scores = factor if alpha == 1.0 else blend(factor, content, alpha, sc.allowed)
                        runs[kind].append(_measure(test_sc, scores, False))
                        seconds[kind].append(fit_s + (content_s if kind == "blend" else 0.0))
        for kind, (config, alpha) in picks.items():
            test_sc = _factor_scenario(sc, sc.train, sc.test, config)
            name = algorithm if kind == "alone" else f"{algorithm} + ContentKNN"
            params = {**_params(test_sc, epochs), "item_identity": False, "features": f"binary, {config}"}
            if kind == "blend":
                params["alpha"] = alpha
            rows.append(_row(sc, "likewise" if algorithm == "HybridMF" else "lightfm", name, params,
                             _summarise(runs[kind]), float(np.median(seconds[kind])), ctx,
                             pair="hybrid" if kind == "alone" else "hybrid+content",
                             notes=f"{choice.note(kind == 'blend')}; {COLD_NOTE}"))  # fmt: skip
    return rows


COLD_NOTE = "cold items only; popularity of a cold item is 0 (ties by index)"


def _row(sc: Scenario, library: str, algorithm: str, params: dict[str, Any], metrics: dict[str, float],
         fit_s: float | None, ctx: BenchContext, *, pair: str | None, notes: str = "",
         task: str | None = None) -> Row:  # fmt: skip
    print(f"  {sc.dataset} | {(task or sc.task)[:40]} | {algorithm}: "
          f"{ {k: round(v, 4) for k, v in metrics.items()} } fit {fit_s or 0:.2f}s", flush=True)  # fmt: skip
    return Row(suite=SUITE, task=task or sc.task, dataset=sc.dataset, library=library, algorithm=algorithm,
               params=params, metrics=metrics, fit_s=fit_s, threads=ctx.threads, pair=pair, notes=notes)  # fmt: skip


# --------------------------------------------------------------------------- fold-in latency
LATENCY_CALLS = 1000


def _latency(call: Callable[[int], Any], n_calls: int) -> dict[str, float]:
    """p50 / p99 / mean of `n_calls` calls (call k gets k), after 20 warm-up calls."""
    for k in range(20):
        call(k)
    times = np.empty(n_calls)
    for k in range(n_calls):
        started = time.perf_counter()
        call(k)
        times[k] = time.perf_counter() - started
    ms = times * 1e3
    return {"p50 ms": float(np.percentile(ms, 50)), "p99 ms": float(np.percentile(ms, 99)), "mean ms": float(ms.mean())}


def _fold_in_rows(ctx: BenchContext, warm: Scenario | None, epochs: int) -> list[Row]:
    """New users answered without retraining, one call at a time (what a request costs):
    ``recommend_from_history`` with 5-20 random training items on ml-latest-small (warm
    model), and ``recommend_new_user(features=...)`` from a random user's gender, occupation and
    age group on ml-100k (a model with those user features; ml-latest-small has none)."""
    from likewise.models import HybridMF

    n_calls = 200 if ctx.quick else LATENCY_CALLS
    rows = []
    rng = np.random.default_rng(ctx.seed)
    task = f"fold-in latency, one new user per call ({n_calls} calls, top-10)"
    if warm is not None:
        model = HybridMF(**_params(warm, epochs), n_threads=ctx.threads, random_state=ctx.seed).fit(warm.train)
        pool = np.flatnonzero(warm.train.item_counts() > 0)
        ids = model.items_.ids
        histories = [ids[rng.choice(pool, size=rng.integers(5, 21), replace=False)] for _ in range(n_calls + 20)]
        metrics = _latency(lambda k: model.recommend_from_history(histories[k], n=K), n_calls)
        rows.append(_row(warm, "likewise", "HybridMF recommend_from_history", {"history": "5-20 items"}, metrics,
                         None, ctx, pair=None, notes="target < 10 ms; LightFM cannot fold in (no row)",
                         task=task))  # fmt: skip
    data = ctx.ml100k()
    from likewise.data.interactions import Interactions

    implicit = Interactions(data.users, data.items, data.matrix.copy(), kind="implicit",
                            item_features=data.item_features, user_features=data.user_features)  # fmt: skip
    model = HybridMF(n_factors=32, n_epochs=epochs, n_threads=ctx.threads, random_state=ctx.seed).fit(implicit)
    names = np.asarray(data.user_features.names)
    matrix = sp.csr_matrix(data.user_features.matrix)
    users = rng.integers(0, matrix.shape[0], size=n_calls + 20)
    specs = [list(names[matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]]]) for u in users]
    metrics = _latency(lambda k: model.recommend_new_user(features=specs[k], n=K), n_calls)
    sc = Scenario("ml-100k (genres + user features)", task, implicit, implicit, features=True, identity=True,
                  cold=False, n_factors=32)  # fmt: skip
    rows.append(_row(sc, "likewise", "HybridMF recommend_new_user(features)", {"features": "gender, occupation, age"},
                     metrics, None, ctx, pair=None, notes="target < 10 ms", task=task))  # fmt: skip
    return rows


# --------------------------------------------------------------------------- the suite
def run(ctx: BenchContext) -> list[Row]:
    epochs = 3 if ctx.quick else 10
    lightfm = ctx.peer("lightfm")
    factor_algorithms = ["HybridMF"] + (["LightFM"] if lightfm is not None else [])
    latest = _latest_scenarios(ctx)
    warm = _ml100k_scenarios(ctx) + latest[:1]
    cold = latest[1:] + _lastfm_scenarios(ctx)
    rows: list[Row] = []
    n = len(_seeds(ctx))
    for sc in warm:
        extra = sc.dataset.startswith("ml-100k")
        for algorithm in factor_algorithms:
            metrics, fit_s = _over_seeds(sc, ctx, lambda c, a=algorithm, sc=sc: FACTOR_FITS[a](sc, c, epochs), extra)
            library = "likewise" if algorithm == "HybridMF" else "lightfm"
            params = {**_params(sc, epochs), "item_identity": sc.identity, "seeds": n}
            rows.append(_row(sc, library, algorithm, params, metrics, fit_s, ctx, pair="hybrid"))
        simple = (["ContentKNN"] if sc.features else []) + ["Popularity"]
        for name in simple:
            scores, seconds = _likewise_simple(name, sc, ctx)
            rows.append(_row(sc, "likewise", name, {}, _measure(sc, scores, extra), seconds, ctx, pair=None))
    for sc in cold:
        rows += _cold_rows(sc, ctx, epochs, factor_algorithms)
        for name in ("ContentKNN", "Popularity"):
            scores, seconds = _likewise_simple(name, sc, ctx)
            rows.append(_row(sc, "likewise", name, {}, _measure(sc, scores, False), seconds, ctx, pair=None,
                             notes=COLD_NOTE))  # fmt: skip
    rows += _fold_in_rows(ctx, latest[0] if latest else None, epochs)
    return rows
