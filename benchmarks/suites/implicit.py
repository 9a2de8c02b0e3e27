"""Implicit-feedback models: likewise's ALS, BPR and EASE beside implicit 0.7's ALS and BPR.

Two parts, one suite:

1. **MovieLens 100K**, the split every top-n suite shares (each user's ratings 80/20 at
   random, seed 42; every held-out rating relevant), all ratings as interactions of value 1.
   Equal hyper-parameters for both libraries (64 factors, 15 iterations, same regularisation,
   same confidence), the same thread count, the same metric code. Rows: ALS with the
   conjugate-gradient solver, ALS with exact Cholesky solves, BPR, an alpha/reg-tuned ALS
   (small grid chosen on a validation split carved out of the training part, for each
   library alike), and EASE (likewise only; its lambda chosen the same way). Warm fit and
   recommend times are the best of a few runs; cold times come from a fresh process with an
   empty numba cache.
2. **Scale**: synthetic logs shaped like MovieLens (1M and 5M interactions; 25M = 160k users
   x 60k items without ``--quick``). Each library runs in its own fresh process (so peak
   memory is its own): ALS (CG, 64 factors, 15 iterations). On 1M and 5M each user's
   interactions are split 80/20 and the metrics computed; on 25M the model fits all 25M and
   recommends top-10 for every user, which is the target of the issue (each under 2 minutes).

LightFM (when installed: ``benchmarks/install_lightfm.py``): its BPR and WARP losses, no
features, 64 factors, 30 epochs (its epochs are slow here, so likewise's BPR gets a 30-epoch row
of its own to pair with), its own ``predict`` over every (user, item) pair for the top-10.

Confidence: implicit weighs an observed cell by ``alpha * r``, likewise (like Hu et al.) by
``1 + alpha * r``; on these binary data likewise's alpha is implicit's alpha minus 1, which
makes the two objectives identical.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.harness import (
    BenchContext,
    Row,
    first_calls,
    ml100k,
    ranking_metrics,
    run_isolated,
    scale_name,
    synthetic,
    users_with_test,
)

SUITE = "implicit"
DESCRIPTION = (
    "likewise ALS (conjugate gradient and Cholesky), BPR and EASE beside implicit 0.7.3's "
    "AlternatingLeastSquares and BayesianPersonalizedRanking at equal hyper-parameters and the same "
    "thread count. MovieLens 100K: each user's ratings split 80/20 (seed 42), every rating an "
    "interaction of value 1, every held-out rating relevant, top-10 excluding training items; the "
    "tuned rows pick alpha and reg (EASE: lambda) on a validation split of the training part. Scale: "
    "synthetic logs shaped like MovieLens (1M, 5M; 25M = 160k users x 60k items without --quick), "
    "each library in its own fresh process, ALS 64 factors x 15 iterations, fit + top-10 for every "
    "user (1M/5M on an 80/20 split with metrics). implicit weighs observed cells by alpha*r, likewise "
    "by 1 + alpha*r: on binary data likewise's alpha = implicit's - 1 (identical objectives). LightFM "
    "1.17's BPR beside likewise's BPR and its WARP, 64 factors, 30 epochs each, same threads. Every "
    "row also has its first fit + top-10 in a fresh process and (likewise) in a cold one."
)
TASK = "top-10, per-user 80/20 holdout"
K = 10
FACTORS = 64
EPOCHS = 15
REG = 0.05  # PEERS.md's untuned reference setting
ALPHA = 0.0  # likewise; implicit's alpha = 1.0 (its default): the same confidence on binary data
BPR_PARAMS = {"learning_rate": 0.01, "reg": 0.01, "n_epochs": 100}  # implicit's defaults
LIGHTFM_LR = 0.05  # LightFM's default (adagrad)
LENSKIT_ALPHA = 1.0  # LensKit's confidence weight w (1 + w*r) and likewise's alpha alike
LIGHTFM_EPOCHS = 30  # LightFM's epoch costs ~0.3-0.5 s here: 100 would cost minutes; likewise's BPR matches it
ALS_GRID = {"reg": (1.0, 5.0, 20.0, 50.0), "alpha": (0.0, 1.0, 3.0, 10.0)}
ALS_GRID_QUICK = {"reg": (5.0, 20.0), "alpha": (1.0, 3.0)}
EASE_GRID = (100.0, 250.0, 500.0, 1000.0)
EASE_GRID_QUICK = (250.0, 500.0)
SCALE_SIZES = (1_000_000, 5_000_000, 25_000_000)
SCALE_SIZES_QUICK = (1_000_000, 5_000_000)
SPLIT_SCALE_UP_TO = 5_000_000  # larger sets: fit on everything, no metrics


# --------------------------------------------------------------------------- data


def _binary(data: Any) -> Any:
    """The same interactions with every value 1 (implicit feedback)."""
    from likewise.data.interactions import Interactions

    matrix = data.matrix.copy()
    matrix.data[:] = 1.0
    return Interactions(data.users, data.items, matrix, kind="implicit")


def _holdout(data: Any, seed: int = 42) -> tuple[Any, Any]:
    from likewise.evaluation import user_split

    train, test = user_split(data, test_fraction=0.2, random_state=seed)
    return _binary(train), test


# --------------------------------------------------------------------------- the two libraries


class _Runner:
    """Fit and recommend with one library's model, behind one small interface."""

    library = ""

    def __init__(self, algorithm: str, params: dict[str, Any], threads: int) -> None:
        self.algorithm = algorithm
        self.params = params
        self.threads = threads

    def fit(self, train: Any) -> None:
        raise NotImplementedError

    def recommend(self, train: Any, users: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _LightFM(_Runner):
    """LightFM (pure collaborative filtering: no features) with the WARP or BPR loss."""

    library = "lightfm"

    def fit(self, train: Any) -> None:
        from lightfm import LightFM

        p = self.params
        self.model = LightFM(
            no_components=p["n_factors"], loss=p["loss"], learning_rate=p["learning_rate"],
            random_state=p.get("random_state"),
        )  # fmt: skip
        self.model.fit(train.matrix.tocoo(), epochs=p["n_epochs"], num_threads=self.threads)
        self.n_items = train.n_items

    def recommend(self, train: Any, users: np.ndarray) -> np.ndarray:
        """LightFM's own predict for every (user, item) pair, seen items masked, top-K."""
        n_items = self.n_items
        user_ids = np.repeat(users.astype(np.int32), n_items)
        item_ids = np.tile(np.arange(n_items, dtype=np.int32), users.size)
        scores = self.model.predict(user_ids, item_ids, num_threads=self.threads).reshape(users.size, n_items)
        seen = train.matrix[users].tocoo()
        scores[seen.row, seen.col] = -np.inf
        top = np.argpartition(-scores, K, axis=1)[:, :K]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        return np.take_along_axis(top, order, axis=1)


class _LensKit(_Runner):
    """LensKit 2025's ImplicitMF (Hu et al. ALS, conjugate gradient) in a top-N pipeline."""

    library = "lenskit"

    def fit(self, train: Any) -> None:
        import pandas as pd
        from lenskit.als import ImplicitMFScorer
        from lenskit.data import from_interactions_df
        from lenskit.pipeline import topn_pipeline

        _lenskit_threads(self.threads)
        p = self.params
        key = id(train.matrix)
        if key not in _LENSKIT_DATA:  # data conversion: done once, outside the warm timings
            matrix = train.matrix.tocoo()
            frame = pd.DataFrame({"user_id": matrix.row, "item_id": matrix.col})  # dense indices as ids
            _LENSKIT_DATA[key] = (train.matrix, from_interactions_df(frame, user_col="user_id", item_col="item_id"))
        dataset = _LENSKIT_DATA[key][1]
        scorer = ImplicitMFScorer(
            embedding_size=p["n_factors"], epochs=p["n_epochs"], regularization=p["reg"], weight=p["alpha"]
        )
        self.pipeline = topn_pipeline(scorer, n=K)
        self.pipeline.train(dataset)

    def recommend(self, train: Any, users: np.ndarray) -> np.ndarray:
        """``lenskit.batch.recommend`` (its candidates exclude each user's training items)."""
        from lenskit import batch

        recs = batch.recommend(self.pipeline, users.tolist(), n=K, n_jobs=1)
        out = np.full((users.size, K), -1, dtype=np.int64)
        for row, user in enumerate(users.tolist()):
            found = recs.lookup(user_id=user)
            if found is None:  # no list for this user: the row stays padding (-1)
                continue
            ids = np.asarray(found.ids())[:K]
            out[row, : ids.size] = ids
        return out


_LENSKIT_DATA: dict[int, tuple[Any, Any]] = {}  # id(matrix) -> (the matrix, kept alive; its LensKit Dataset)


def _lenskit_threads(threads: int) -> None:
    """LensKit's training pool on `threads`, BLAS/torch on one (as likewise and implicit), once per process."""
    from lenskit.parallel import config

    if getattr(_lenskit_threads, "done", None) != threads:
        config.initialize(processes=1, threads=threads, backend_threads=1)
        _lenskit_threads.done = threads  # type: ignore[attr-defined]


class _Likewise(_Runner):
    library = "likewise"

    def fit(self, train: Any) -> None:
        from likewise.models import ALS, BPR, EASE

        cls = {"ALS": ALS, "BPR": BPR, "EASE": EASE}[self.algorithm]
        self.model = cls(**self.params, n_threads=self.threads)
        self.model.fit(train)

    def recommend(self, train: Any, users: np.ndarray) -> np.ndarray:
        return self.model.recommend(train.users.ids[users], n=K).indices


class _Implicit(_Runner):
    library = "implicit"

    def fit(self, train: Any) -> None:
        from threadpoolctl import threadpool_limits

        p = self.params
        # BLAS on one thread, implicit's own advice (its constructor checks and warns otherwise)
        with threadpool_limits(1, "blas"):
            if self.algorithm == "ALS":
                from implicit.cpu.als import AlternatingLeastSquares

                self.model = AlternatingLeastSquares(
                    factors=p["n_factors"], regularization=p["reg"], alpha=p["alpha"] + 1.0,
                    iterations=p["n_epochs"], use_cg=p["solver"] == "cg", num_threads=self.threads,
                    random_state=p.get("random_state"),
                )  # fmt: skip
            else:
                from implicit.cpu.bpr import BayesianPersonalizedRanking

                self.model = BayesianPersonalizedRanking(
                    factors=p["n_factors"], learning_rate=p["learning_rate"], regularization=p["reg"],
                    iterations=p["n_epochs"], num_threads=self.threads, random_state=p.get("random_state"),
                )  # fmt: skip
            self.model.fit(train.matrix, show_progress=False)

    def recommend(self, train: Any, users: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(self.threads, "blas"):
            ids, _ = self.model.recommend(users, train.matrix[users], N=K, filter_already_liked_items=True)
        return np.asarray(ids)


def _runner(library: str, algorithm: str, params: dict[str, Any], threads: int) -> _Runner:
    runners: dict[str, type[_Runner]] = {
        "likewise": _Likewise, "implicit": _Implicit, "lightfm": _LightFM, "lenskit": _LensKit,
    }  # fmt: skip
    return runners[library](algorithm, params, threads)


def _als_params(solver: str = "cg", reg: float = REG, alpha: float = ALPHA, seed: int = 42) -> dict[str, Any]:
    return {
        "n_factors": FACTORS,
        "reg": reg,
        "alpha": alpha,
        "n_epochs": EPOCHS,
        "solver": solver,
        "random_state": seed,
    }


def _display_params(library: str, algorithm: str, params: dict[str, Any]) -> dict[str, Any]:
    """Parameters as each library spells them (implicit: factors, regularization, alpha*r)."""
    if library in ("likewise", "lightfm"):
        return dict(params)
    if library == "lenskit":
        return {
            "embedding_size": params["n_factors"], "epochs": params["n_epochs"],
            "regularization": params["reg"], "weight": params["alpha"],
        }  # fmt: skip
    if algorithm == "ALS":
        return {
            "factors": params["n_factors"],
            "regularization": params["reg"],
            "alpha": params["alpha"] + 1.0,
            "iterations": params["n_epochs"],
            "use_cg": params["solver"] == "cg",
        }
    return {
        "factors": params["n_factors"],
        "learning_rate": params["learning_rate"],
        "regularization": params["reg"],
        "iterations": params["n_epochs"],
    }


# --------------------------------------------------------------------------- timing helpers


def _best_of(repeats: int, fn: Callable[[], Any]) -> tuple[Any, float]:
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def _first_ml100k(library: str, algorithm: str, params: dict[str, Any], data_dir: str, threads: int) -> dict[str, Any]:
    """In a new process: read the split, then time the first fit (the library's model modules are
    imported inside it) and the first recommend."""
    train, test = _holdout(ml100k(data_dir))
    users = users_with_test(test)
    runner = _runner(library, algorithm, params, threads)
    start = time.perf_counter()
    runner.fit(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    runner.recommend(train, users)
    return {"fit_s": fit_s, "predict_s": time.perf_counter() - start}


def _validation_ndcg(
    library: str, algorithm: str, params: dict[str, Any], fit_part: Any, val: Any, threads: int
) -> float:
    runner = _runner(library, algorithm, params, threads)
    runner.fit(fit_part)
    users = users_with_test(val)
    return ranking_metrics(runner.recommend(fit_part, users), val, users, k=K)[f"ndcg@{K}"]


# --------------------------------------------------------------------------- MovieLens 100K


def _measure(
    ctx: BenchContext,
    library: str,
    algorithm: str,
    label: str,
    params: dict[str, Any],
    train: Any,
    test: Any,
    *,
    repeats: int,
    notes: str = "",
    pair: str | None = None,
    predict_repeats: int | None = None,
) -> Row:
    users = users_with_test(test)
    # warm-up: compiles (or loads) likewise's kernels, the peers' imports (LightFM compiles
    # nothing at run time: one epoch warms it)
    warm = _runner(library, algorithm, {**params, "n_epochs": 1} if library == "lightfm" else params, ctx.threads)
    warm.fit(train)
    warm.recommend(train, users[:2])
    runner = _runner(library, algorithm, params, ctx.threads)
    _, fit_s = _best_of(repeats, lambda: runner.fit(train))
    recs, predict_s = _best_of(predict_repeats or max(repeats, 3), lambda: runner.recommend(train, users))
    args = (library, algorithm, params, str(ctx.data_dir), ctx.threads)
    if library == "likewise":
        first = first_calls(_first_ml100k, *args, threads=ctx.threads).fields()
        cold_note = ""
    else:  # compiled ahead of time: no kernel cache, so the cold process is the fresh one
        fresh, peak = run_isolated(_first_ml100k, *args, threads=ctx.threads)
        first = {
            "fit_fresh_s": fresh["fit_s"], "predict_fresh_s": fresh["predict_s"],
            "fit_cold_s": fresh["fit_s"], "predict_cold_s": fresh["predict_s"], "peak_mb": peak,
        }  # fmt: skip
        cold_note = "no kernel cache: cold = fresh"
    return Row(
        suite=SUITE,
        task=TASK,
        dataset="ml-100k (all ratings as interactions)",
        library=library,
        algorithm=label,
        params=_display_params(library, algorithm, params),
        metrics=ranking_metrics(recs, test, users, k=K),
        fit_s=fit_s,
        predict_s=predict_s,
        threads=ctx.threads,
        notes="; ".join(n for n in (notes, cold_note) if n),
        pair=pair,
        **first,
    )


def _tuned_als(ctx: BenchContext, library: str, train: Any, test: Any) -> Row:
    from likewise.evaluation import user_split

    fit_part, val = user_split(train, test_fraction=0.2, random_state=ctx.seed)
    grid = ALS_GRID_QUICK if ctx.quick else ALS_GRID
    scores = {}
    for reg in grid["reg"]:
        for alpha in grid["alpha"]:
            params = _als_params(reg=reg, alpha=alpha, seed=ctx.seed)
            scores[(reg, alpha)] = _validation_ndcg(library, "ALS", params, fit_part, val, ctx.threads)
    reg, alpha = max(scores, key=lambda key: scores[key])
    shown_alpha = alpha if library == "likewise" else alpha + 1.0
    note = (
        f"chosen on a validation split of train ({len(scores)} settings): reg={reg:g}, alpha={shown_alpha:g}, "
        f"validation ndcg@10 {scores[(reg, alpha)]:.3f}"
    )
    return _measure(
        ctx, library, "ALS", "ALS (CG), alpha/reg tuned", _als_params(reg=reg, alpha=alpha, seed=ctx.seed),
        train, test, repeats=2, notes=note,
    )  # fmt: skip


def _tuned_ease(ctx: BenchContext, train: Any, test: Any) -> Row:
    from likewise.evaluation import user_split

    fit_part, val = user_split(train, test_fraction=0.2, random_state=ctx.seed)
    grid = EASE_GRID_QUICK if ctx.quick else EASE_GRID
    scores = {reg: _validation_ndcg("likewise", "EASE", {"reg": reg}, fit_part, val, ctx.threads) for reg in grid}
    reg = max(scores, key=lambda key: scores[key])
    note = f"lambda={reg:g} chosen on a validation split of train (validation ndcg@10 {scores[reg]:.3f})"
    return _measure(ctx, "likewise", "EASE", "EASE", {"reg": reg}, train, test, repeats=3, notes=note)


def _lightfm_rows(ctx: BenchContext, train: Any, test: Any, available: bool) -> list[Row]:
    """LightFM's BPR beside likewise's BPR at the same factors, epochs (`LIGHTFM_EPOCHS`) and
    threads, and LightFM's WARP (no likewise twin in this suite) at the same settings."""
    if not available:
        return []
    rows = []
    label = f"BPR, {LIGHTFM_EPOCHS} epochs"
    bpr = {"n_factors": FACTORS, **BPR_PARAMS, "n_epochs": LIGHTFM_EPOCHS, "random_state": ctx.seed}
    print(f"  ml-100k {label} likewise ...", flush=True)
    note = f"beside LightFM at its {LIGHTFM_EPOCHS} epochs; Hogwild (not bit-reproducible)"
    rows.append(_measure(ctx, "likewise", "BPR", label, bpr, train, test, repeats=1, notes=note, pair="bpr-lightfm"))
    for loss in ("bpr", "warp"):
        print(f"  ml-100k LightFM {loss.upper()} ...", flush=True)
        params = {"n_factors": FACTORS, "loss": loss, "learning_rate": LIGHTFM_LR, "n_epochs": LIGHTFM_EPOCHS}
        params["random_state"] = ctx.seed
        note = "adagrad at LightFM's default learning rate; no features (pure collaborative filtering)"
        pair = "bpr-lightfm" if loss == "bpr" else None
        name = f"LightFM {loss.upper()}, {LIGHTFM_EPOCHS} epochs"
        rows.append(_measure(ctx, "lightfm", loss, name, params, train, test, repeats=1, notes=note, pair=pair))
    return rows


def _lenskit_rows(ctx: BenchContext, train: Any, test: Any, available: bool) -> list[Row]:
    """LensKit's ImplicitMF beside likewise's ALS (CG) at the same factors, iterations, reg and
    confidence. LensKit's confidence is 1 + w*r, like likewise's 1 + alpha*r; its solver takes the
    observed cells' values as w*r, so w must be positive: both run at alpha = w = 1 here."""
    if not available:
        return []
    params = _als_params("cg", alpha=LENSKIT_ALPHA, seed=ctx.seed)
    label = f"ALS (CG), alpha={LENSKIT_ALPHA:g}"
    rows = []
    for library in ("likewise", "lenskit"):
        print(f"  ml-100k {label} {library} ...", flush=True)
        note = "LensKit 2025 ImplicitMF in topn_pipeline; lenskit.batch.recommend" if library == "lenskit" else ""
        rows.append(
            _measure(
                ctx,
                library,
                "ALS",
                label,
                params,
                train,
                test,
                repeats=1,
                notes=note,
                pair="als-lenskit",
                predict_repeats=1,
            )
        )
    return rows


def _ml100k_rows(
    ctx: BenchContext, implicit_available: bool, lightfm_available: bool = False, lenskit_available: bool = False
) -> list[Row]:
    raw_train, test = ctx.ml100k_holdout()
    train = _binary(raw_train)
    libraries = ["likewise", "implicit"] if implicit_available else ["likewise"]
    rows = []
    for label, solver in (("ALS (CG)", "cg"), ("ALS (Cholesky)", "cholesky")):
        for library in libraries:
            print(f"  ml-100k {label} {library} ...", flush=True)
            rows.append(
                _measure(ctx, library, "ALS", label, _als_params(solver, seed=ctx.seed), train, test, repeats=3)
            )
    for library in libraries:
        print(f"  ml-100k BPR {library} ...", flush=True)
        params = {"n_factors": FACTORS, **BPR_PARAMS, "random_state": ctx.seed}
        note = "Hogwild (not bit-reproducible)" if library == "likewise" else "negatives sampled by popularity"
        rows.append(_measure(ctx, library, "BPR", "BPR", params, train, test, repeats=1, notes=note, pair="bpr"))
    rows += _lightfm_rows(ctx, train, test, lightfm_available)
    rows += _lenskit_rows(ctx, train, test, lenskit_available)
    for library in libraries:
        print(f"  ml-100k tuned ALS {library} ...", flush=True)
        rows.append(_tuned_als(ctx, library, train, test))
    print("  ml-100k EASE likewise ...", flush=True)
    rows.append(_tuned_ease(ctx, train, test))
    return rows


# --------------------------------------------------------------------------- scale


def _write_scale_set(n_interactions: int, seed: int, path: str) -> dict[str, Any]:
    """In a fresh process: generate a scale set, split it (up to 5M) and save the binary CSRs.

    The libraries' processes then load exactly the matrices they need, so their peak memory
    is their own, not the generator's.
    """
    import scipy.sparse as sp

    start = time.perf_counter()
    data = synthetic(n_interactions, "implicit", 0)
    generate_s = time.perf_counter() - start
    if n_interactions <= SPLIT_SCALE_UP_TO:
        train, test = _holdout(data, seed)
        sp.save_npz(path + ".test.npz", test.matrix, compressed=False)
    else:
        train = _binary(data)
    sp.save_npz(path + ".train.npz", train.matrix, compressed=False)
    return {"generate_s": generate_s, "split": n_interactions <= SPLIT_SCALE_UP_TO}


def _scale_child(library: str, path: str, split: bool, threads: int, seed: int) -> dict[str, Any]:
    """In a fresh process: load the set, fit ALS (CG), recommend top-10 for every (test) user."""
    import scipy.sparse as sp

    from likewise.data.interactions import Interactions

    train = Interactions.from_scipy(sp.load_npz(path + ".train.npz"))
    test = Interactions.from_scipy(sp.load_npz(path + ".test.npz")) if split else None
    runner = _runner(library, "ALS", _als_params("cg", seed=seed), threads)
    # warm-up on a small slice (loads likewise's cached kernels, implicit's lazy imports) so the
    # timed fit is a warm one, as everywhere else in the benchmarks
    small = Interactions.from_scipy(train.matrix[:200])
    runner.fit(small)
    runner.recommend(small, np.arange(2, dtype=np.int32))
    start = time.perf_counter()
    runner.fit(train)
    fit_s = time.perf_counter() - start
    users = users_with_test(test) if test is not None else np.arange(train.n_users, dtype=np.int32)
    start = time.perf_counter()
    recs = runner.recommend(train, users)
    predict_s = time.perf_counter() - start
    metrics = ranking_metrics(recs, test, users, k=K) if test is not None else {}
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "metrics": metrics,
        "users": int(train.n_users),
        "items": int(train.n_items),
        "train_nnz": int(train.nnz),
        "recommended_users": int(users.size),
    }


def _scale_rows(ctx: BenchContext, implicit_available: bool) -> list[Row]:
    import shutil
    import tempfile

    rows = []
    libraries = ["likewise", "implicit"] if implicit_available else ["likewise"]
    folder = tempfile.mkdtemp(prefix="likewise-bench-implicit-")
    try:
        for n in SCALE_SIZES_QUICK if ctx.quick else SCALE_SIZES:
            path = f"{folder}/set{n}"
            print(f"  {scale_name(n)}: generating ...", flush=True)
            made, _ = run_isolated(_write_scale_set, n, ctx.seed, path)
            split = made["split"]
            task = (
                "ALS 64 factors x 15 iterations: fit on 80% + top-10 for every user"
                if split
                else "ALS 64 factors x 15 iterations: fit on all + top-10 for every user"
            )
            # each library twice in A-B-B-A order, best time kept: the machine's load drifts
            runs: dict[str, list[tuple[dict[str, Any], float]]] = {library: [] for library in libraries}
            for library in [*libraries, *reversed(libraries)]:
                print(f"  {scale_name(n)} ALS {library} ...", flush=True)
                runs[library].append(
                    run_isolated(_scale_child, library, path, split, ctx.threads, ctx.seed, threads=ctx.threads)
                )
            for library in libraries:
                outs = [out for out, _ in runs[library]]
                out = outs[0]
                metrics = dict(out["metrics"])
                metrics.update({"users": out["users"], "items": out["items"], "train interactions": out["train_nnz"]})
                rows.append(
                    Row(
                        suite=SUITE,
                        task=task,
                        dataset=scale_name(n),
                        library=library,
                        algorithm="ALS (CG)",
                        params=_display_params(library, "ALS", _als_params("cg", seed=ctx.seed)),
                        metrics=metrics,
                        fit_s=min(o["fit_s"] for o in outs),
                        predict_s=min(o["predict_s"] for o in outs),
                        peak_mb=max(peak for _, peak in runs[library]),
                        threads=ctx.threads,
                        notes=(
                            "best of 2 fresh processes (run in A-B-B-A order), each loading the binary matrix, warming "
                            f"up on 200 users, fitting and recommending top-10 for {out['recommended_users']:,} users; "
                            f"fit {_seconds(outs, 'fit_s')} s, top-10 {_seconds(outs, 'predict_s')} s; "
                            "peak MB is that process's"
                        ),
                    )
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return rows


def _seconds(outs: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{out[key]:.1f}" for out in outs)


def run(ctx: BenchContext) -> list[Row]:
    """Every row of the suite; see `DESCRIPTION`."""
    implicit_available = ctx.peer("implicit") is not None
    lightfm_available = ctx.peer("lightfm") is not None
    lenskit_available = ctx.peer("lenskit") is not None
    if not implicit_available:
        ctx.note("implicit is not installed: likewise rows only (pip install -e '.[bench]')")
    ctx.note(
        "implicit runs with BLAS limited to one thread while fitting (its own advice) and with "
        f"{ctx.threads} BLAS threads while recommending; likewise does the same internally."
    )
    rows = _ml100k_rows(ctx, implicit_available, lightfm_available, lenskit_available)
    return rows + _scale_rows(ctx, implicit_available)
