"""Neighbourhood models: ItemKNN / UserKNN beside Surprise's KNN family and implicit's item-item.

Three tasks, each in the same run as its peer:

1. **Rating prediction, ML-100K, 5-fold CV** (random interaction folds, seed 42): RMSE / MAE,
   fit and predict time per fold of each KNN variant beside Surprise's same algorithm with
   the same settings (k=40, min_k=1, Surprise's default baselines and shrinkage). Surprise is
   single-threaded, so likewise runs on one thread here too.
2. **Implicit top-10, ML-100K, per-user 80/20 holdout** (seed 42, every held-out rating
   relevant): item-item dot product, cosine, TF-IDF cosine and BM25 beside implicit's
   ItemItemRecommender / CosineRecommender / TFIDFRecommender / BM25Recommender at equal
   neighbourhoods, both fed the same training matrix (ratings as weights), both on ``--threads``.
   implicit's ``K`` counts the item itself (its neighbour lists keep the diagonal), so it gets
   ``K = k + 1`` for likewise's ``k`` neighbours, as the parity test in tests/models/test_knn.py
   does: both then score from the same 20 neighbours. Fit + recommend time, NDCG@10.
3. **Scale** (not with ``--quick``): ItemKNN cosine, k=20, on the 25M-interaction synthetic set
   (160k users x 60k items), fit + top-10 for every user, in a fresh process that first loads
   the set from disk, so the peak memory is the fit's (plus the data), beside implicit's
   CosineRecommender(K=21) measured the same way.

Every pair of task 2 and three rating variants of task 1 (`FIRST_CALL_RATING`: user- and
item-based, each kernel family) also get their first fit + predict in a fresh process (kernel
cache filled, imports included) and in a cold one (empty kernel cache).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.harness import (
    BenchContext,
    Row,
    first_calls,
    ml100k,
    ranking_metrics,
    rating_metrics,
    run_isolated,
    scale_name,
    synthetic,
    timed,
    users_with_test,
)

SUITE = "knn"
DESCRIPTION = (
    "ItemKNN and UserKNN. (1) Rating prediction on MovieLens 100K, 5-fold random CV (seed 42): each "
    "KNN variant beside Surprise's same algorithm and settings (k=40, min_k=1), RMSE/MAE and fit / "
    "predict seconds per fold, both on one thread (Surprise has no threads). (2) Implicit top-10 on the "
    "per-user 80/20 holdout (seed 42), item-item dot / cosine / TF-IDF / BM25 beside implicit's "
    "recommenders at equal neighbourhoods (implicit's K counts the item itself: K = k + 1), both given "
    "the same matrix (ratings as weights) and the same threads. (3) Without --quick: ItemKNN cosine (k=20) fit + "
    "top-10 for every user on the 25M synthetic set, and implicit's CosineRecommender the same way, each "
    "in a fresh process that loads the set from disk (peak memory = data + model)."
)
RATING_TASK = "rating prediction, 5-fold CV"
TOPN_TASK = "implicit top-10, per-user 80/20 holdout"
SCALE_TASK = "fit + top-10 for every user"
K_RATING = 40
K_TOPN = 20
K_SCALE = 20
SCALE_N = 25_000_000
RATING_THREADS = 1  # beside single-threaded Surprise


def _peer_k(k: int) -> int:
    """implicit's K for likewise's k: its neighbour lists include the item itself."""
    return k + 1


# (label, user_based, similarity, prediction) -> Surprise class name
RATING_VARIANTS = [
    ("KNNBasic user msd", True, "msd", "basic"),
    ("KNNBasic user cosine", True, "cosine", "basic"),
    ("KNNBasic item cosine", False, "cosine", "basic"),
    ("KNNWithMeans user pearson", True, "pearson", "means"),
    ("KNNWithMeans item pearson", False, "pearson", "means"),
    ("KNNWithZScore item msd", False, "msd", "zscore"),
    ("KNNBaseline user pearson_baseline", True, "pearson_baseline", "baseline"),
    ("KNNBaseline item pearson_baseline", False, "pearson_baseline", "baseline"),
]
QUICK_RATING = ("KNNBasic item cosine", "KNNBaseline item pearson_baseline")
# First calls (fresh and cold processes) of the rating variants: one user-based and one item-based
# variant of each kernel family. Each cold child compiles ~20 s of kernels and each Surprise child
# predicts for ~10 s; all eight would add ~6 minutes to a run for the same information.
FIRST_CALL_RATING = ("KNNBasic user msd", "KNNWithMeans item pearson", "KNNBaseline item pearson_baseline")
SURPRISE_CLASS = {"basic": "KNNBasic", "means": "KNNWithMeans", "zscore": "KNNWithZScore", "baseline": "KNNBaseline"}

# label -> (likewise ItemKNN params, implicit class name, implicit extra params)
TOPN_VARIANTS = [
    ("item-item dot", {"similarity": "dot"}, "ItemItemRecommender", {}),
    ("item-item cosine", {"similarity": "cosine"}, "CosineRecommender", {}),
    ("item-item TF-IDF cosine", {"similarity": "cosine", "weighting": "tfidf"}, "TFIDFRecommender", {}),
    ("item-item BM25", {"similarity": "dot", "weighting": "bm25"}, "BM25Recommender", {"K1": 1.2, "B": 0.75}),
]


# --------------------------------------------------------------------------- 1. ratings
def _likewise_model(user_based: bool, similarity: str, prediction: str, threads: int) -> Any:
    from likewise.models.knn import ItemKNN, UserKNN

    cls = UserKNN if user_based else ItemKNN
    return cls(k=K_RATING, min_k=1, similarity=similarity, prediction=prediction, n_threads=threads)


def _rating_rows(ctx: BenchContext) -> list[Row]:
    surprise = ctx.peer("surprise")
    folds = ctx.ml100k_folds()
    variants = [v for v in RATING_VARIANTS if not ctx.quick or v[0] in QUICK_RATING]
    rows = []
    # warm-up: load / compile every kernel once
    first = folds[0]
    for _, user_based, similarity, prediction in variants:
        model = _likewise_model(user_based, similarity, prediction, RATING_THREADS).fit(first.train)
        model.predict(
            first.test.users.ids[first.test.user_indices[:10]], first.test.items.ids[first.test.item_indices[:10]]
        )
    for label, user_based, similarity, prediction in variants:
        print(f"  {label} ...", flush=True)
        mine: dict[str, list[float]] = {"rmse": [], "mae": [], "fit": [], "predict": []}
        theirs: dict[str, list[float]] = {"rmse": [], "mae": [], "fit": [], "predict": []}
        for split in folds:
            train, test = split.train, split.test
            users = test.users.ids[test.user_indices]
            items = test.items.ids[test.item_indices]
            truth = test.values.astype(np.float64)
            model = _likewise_model(user_based, similarity, prediction, RATING_THREADS)
            _, fit_s = timed(model.fit, train)
            pred, predict_s = timed(model.predict, users, items)
            scores = rating_metrics(pred, truth)
            for key, value in (
                ("rmse", scores["rmse"]),
                ("mae", scores["mae"]),
                ("fit", fit_s),
                ("predict", predict_s),
            ):
                mine[key].append(value)
            if surprise is not None:
                algo = _surprise_model(surprise, user_based, similarity, prediction)
                _, fit_s = timed(algo.fit, _surprise_trainset(surprise, train))
                start = time.perf_counter()
                est = np.array([algo.predict(u, i).est for u, i in zip(users.tolist(), items.tolist(), strict=True)])
                predict_s = time.perf_counter() - start
                scores = rating_metrics(est, truth)
                for key, value in (
                    ("rmse", scores["rmse"]),
                    ("mae", scores["mae"]),
                    ("fit", fit_s),
                    ("predict", predict_s),
                ):
                    theirs[key].append(value)
        params = {"k": K_RATING, "min_k": 1, "similarity": similarity, "prediction": prediction}
        kind = "UserKNN" if user_based else "ItemKNN"
        row = _rating_row(ctx, "likewise", label, {"class": kind, **params}, mine, len(folds), RATING_THREADS)
        rows.append(row)
        if label in (QUICK_RATING[:1] if ctx.quick else FIRST_CALL_RATING):
            print(f"  {label}: first calls ...", flush=True)
            calls = first_calls(_first_rating_likewise, label, str(ctx.data_dir), threads=RATING_THREADS)
            _set_fields(row, calls.fields())
        if surprise is not None:
            sparams = {"class": SURPRISE_CLASS[prediction], "k": K_RATING, "min_k": 1, "sim": similarity}
            peer_row = _rating_row(ctx, "surprise", label, sparams, theirs, len(folds), RATING_THREADS)
            rows.append(peer_row)
            if row.fit_fresh_s is not None:
                fresh, peak = run_isolated(_first_rating_surprise, label, str(ctx.data_dir), threads=RATING_THREADS)
                _set_fields(peer_row, _no_cache_fields(fresh, peak))
                peer_row.notes += "; no kernel cache: cold = fresh"
    return rows


def _set_fields(row: Row, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(row, name, value)


def _no_cache_fields(fresh: dict[str, float], peak: float) -> dict[str, Any]:
    """A peer that compiles nothing at run time: its cold process is its fresh one."""
    return {
        "fit_fresh_s": fresh["fit_s"],
        "predict_fresh_s": fresh["predict_s"],
        "fit_cold_s": fresh["fit_s"],
        "predict_cold_s": fresh["predict_s"],
        "peak_mb": peak,
    }


def _surprise_model(surprise: Any, user_based: bool, similarity: str, prediction: str) -> Any:
    return getattr(surprise, SURPRISE_CLASS[prediction])(
        k=K_RATING, min_k=1, sim_options={"name": similarity, "user_based": user_based}, verbose=False
    )


def _surprise_trainset(surprise: Any, train: Any) -> Any:
    """Surprise's trainset from the ratings sorted by user then item (its fastest input order;
    see the rating suite); building it is data conversion, outside the timings."""
    frame = train.to_frame()[["user", "item", "rating"]].sort_values(["user", "item"], kind="stable")
    reader = surprise.Reader(rating_scale=train.rating_scale)
    return surprise.Dataset.load_from_df(frame.reset_index(drop=True), reader).build_full_trainset()


def _variant(label: str) -> tuple[bool, str, str]:
    _, user_based, similarity, prediction = next(v for v in RATING_VARIANTS if v[0] == label)
    return user_based, similarity, prediction


def _first_fold(data_dir: str) -> Any:
    from likewise.evaluation import kfold

    return next(iter(kfold(ml100k(data_dir), n_splits=5, random_state=42)))


def _first_rating_likewise(label: str, data_dir: str) -> dict[str, float]:
    """New process: import likewise (timed), read fold 1, time the first fit (model import and
    kernel load inside) and the first predict of every test pair."""
    start = time.perf_counter()
    import likewise  # noqa: F401

    import_s = time.perf_counter() - start
    split = _first_fold(data_dir)
    test = split.test
    start = time.perf_counter()
    model = _likewise_model(*_variant(label), RATING_THREADS)
    model.fit(split.train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    model.predict(test.users.ids[test.user_indices], test.items.ids[test.item_indices])
    return {"fit_s": import_s + fit_s, "predict_s": time.perf_counter() - start}


def _first_rating_surprise(label: str, data_dir: str) -> dict[str, float]:
    """New process: import Surprise (timed), build fold 1's trainset, time the first fit and predict."""
    start = time.perf_counter()
    import surprise

    import_s = time.perf_counter() - start
    split = _first_fold(data_dir)
    test = split.test
    trainset = _surprise_trainset(surprise, split.train)
    algo = _surprise_model(surprise, *_variant(label))
    start = time.perf_counter()
    algo.fit(trainset)
    fit_s = time.perf_counter() - start
    users, items = test.users.ids[test.user_indices].tolist(), test.items.ids[test.item_indices].tolist()
    start = time.perf_counter()
    for u, i in zip(users, items, strict=True):
        algo.predict(u, i)
    return {"fit_s": import_s + fit_s, "predict_s": time.perf_counter() - start}


def _rating_row(
    ctx: BenchContext,
    library: str,
    label: str,
    params: dict[str, Any],
    values: dict[str, list[float]],
    n: int,
    threads: int,
) -> Row:
    return Row(
        suite=SUITE,
        task=f"{RATING_TASK.replace('5-fold', f'{n}-fold')}",
        dataset="ml-100k",
        library=library,
        algorithm=label,
        params=params,
        metrics={"rmse": float(np.mean(values["rmse"])), "mae": float(np.mean(values["mae"]))},
        fit_s=float(np.mean(values["fit"])),
        predict_s=float(np.mean(values["predict"])),
        threads=threads,
        notes="mean over folds; predict = every test pair of a fold",
    )


# --------------------------------------------------------------------------- 2. implicit top-n
def _as_implicit(data: Any) -> Any:
    from likewise import Interactions

    return Interactions(data.users, data.items, data.matrix, kind="implicit")


def _topn_rows(ctx: BenchContext) -> list[Row]:
    from likewise.models.knn import ItemKNN, UserKNN

    implicit = ctx.peer("implicit")
    train_explicit, test = ctx.ml100k_holdout()
    train = _as_implicit(train_explicit)
    users = users_with_test(test)
    raw_users = train.users.ids[users]
    user_items = train.matrix.tocsr().astype(np.float64)  # implicit's item-item kernels want doubles
    rows = []
    for label, params, peer_name, peer_params in TOPN_VARIANTS:
        model = ItemKNN(k=K_TOPN, n_threads=ctx.threads, **params)
        model.fit(train)  # warm-up
        model.recommend(raw_users[:2], n=10)
        _, fit_s = timed(model.fit, train)
        recs, predict_s = timed(model.recommend, raw_users, n=10)
        first = first_calls(_first_topn, "likewise", label, str(ctx.data_dir), ctx.threads, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task=TOPN_TASK,
                dataset="ml-100k",
                library="likewise",
                algorithm=label,
                params={"class": "ItemKNN", "k": K_TOPN, **params},
                metrics=ranking_metrics(recs.indices, test, users, k=10),
                fit_s=fit_s,
                predict_s=predict_s,
                threads=ctx.threads,
                **first.fields(),
            )
        )
        if implicit is None:
            continue
        peer = _implicit_model(label, ctx.threads)
        peer.fit(user_items, show_progress=False)  # warm-up
        _, fit_s = timed(peer.fit, user_items, show_progress=False)
        (ids, _), predict_s = timed(peer.recommend, users, user_items[users], N=10, filter_already_liked_items=True)
        fresh, peak = run_isolated(_first_topn, "implicit", label, str(ctx.data_dir), ctx.threads, threads=ctx.threads)
        rows.append(
            Row(
                suite=SUITE,
                task=TOPN_TASK,
                dataset="ml-100k",
                library="implicit",
                algorithm=label,
                params={"class": peer_name, "K": _peer_k(K_TOPN), **peer_params},
                metrics=ranking_metrics(np.asarray(ids), test, users, k=10),
                fit_s=fit_s,
                predict_s=predict_s,
                threads=ctx.threads,
                notes=f"K = {_peer_k(K_TOPN)}: implicit's K counts the item itself, so both use {K_TOPN} neighbours; "
                "no kernel cache: cold = fresh",
                **_no_cache_fields(fresh, peak),
            )
        )
    # likewise-only variants: user-based implicit scoring and Jaccard
    for label, model in (
        ("user-user cosine", UserKNN(k=50, n_threads=ctx.threads)),
        ("item-item Jaccard", ItemKNN(k=K_TOPN, similarity="jaccard", n_threads=ctx.threads)),
    ):
        model.fit(train)
        model.recommend(raw_users[:2], n=10)
        _, fit_s = timed(model.fit, train)
        recs, predict_s = timed(model.recommend, raw_users, n=10)
        rows.append(
            Row(
                suite=SUITE,
                task=TOPN_TASK,
                dataset="ml-100k",
                library="likewise",
                algorithm=label,
                params={"class": type(model).__name__, "k": model.k, "similarity": model.similarity},
                metrics=ranking_metrics(recs.indices, test, users, k=10),
                fit_s=fit_s,
                predict_s=predict_s,
                threads=ctx.threads,
                notes="no peer",
            )
        )
    return rows


def _implicit_model(label: str, threads: int) -> Any:
    from implicit import nearest_neighbours

    _, _, peer_name, peer_params = next(v for v in TOPN_VARIANTS if v[0] == label)
    return getattr(nearest_neighbours, peer_name)(K=_peer_k(K_TOPN), num_threads=threads, **peer_params)


def _first_topn(library: str, label: str, data_dir: str, threads: int) -> dict[str, float]:
    """New process: read the holdout, then time the first fit (imports inside) and top-10 for every test user."""
    from likewise.evaluation import user_split

    train_explicit, test = user_split(ml100k(data_dir), test_fraction=0.2, random_state=42)
    train = _as_implicit(train_explicit)
    users = users_with_test(test)
    start = time.perf_counter()
    if library == "likewise":
        from likewise.models.knn import ItemKNN

        params = next(v[1] for v in TOPN_VARIANTS if v[0] == label)
        model = ItemKNN(k=K_TOPN, n_threads=threads, **params).fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        model.recommend(train.users.ids[users], n=10)
    else:
        user_items = train.matrix.tocsr().astype(np.float64)
        start = time.perf_counter()
        peer = _implicit_model(label, threads)
        peer.fit(user_items, show_progress=False)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        peer.recommend(users, user_items[users], N=10, filter_already_liked_items=True)
    return {"fit_s": fit_s, "predict_s": time.perf_counter() - start}


# --------------------------------------------------------------------------- 3. scale
def _save_scale_set(n_interactions: int, path: str) -> dict[str, int]:
    """Child: generate the synthetic set and store its matrix (so the fitting child's peak
    memory does not include the generator's)."""
    data = synthetic(n_interactions, "implicit", 0)
    m = data.matrix
    np.savez(path, indptr=m.indptr, indices=m.indices, data=m.data, shape=np.array(m.shape))
    return {"users": data.n_users, "items": data.n_items, "interactions": data.nnz}


def _load_matrix(path: str) -> Any:
    import scipy.sparse as sp

    with np.load(path) as arrays:
        return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"]))


def _scale_likewise(path: str, threads: int) -> dict[str, float]:
    """Child: load the matrix, fit ItemKNN cosine, recommend top-10 for every user."""
    from likewise import Interactions
    from likewise.data.idmap import IdMap
    from likewise.models.knn import ItemKNN

    matrix = _load_matrix(path)
    data = Interactions(
        IdMap.from_sorted_unique(np.arange(matrix.shape[0], dtype=np.int64), name="user"),
        IdMap.from_sorted_unique(np.arange(matrix.shape[1], dtype=np.int64), name="item"),
        matrix,
        kind="implicit",
    )
    model = ItemKNN(k=K_SCALE, similarity="cosine", n_threads=threads)
    # warm-up on a slice: loads the cached kernels, so fit_s is a warm fit (harness convention)
    model.fit(data.subset(np.arange(1000)))
    model.recommend(data.users.ids[:2], n=10)
    start = time.perf_counter()
    model.fit(data)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    recs = model.recommend(data.users.ids, n=10)
    predict_s = time.perf_counter() - start
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        "stored": float(model.similarity_.nnz),
        "filled": float((recs.indices >= 0).mean()),
    }


def _scale_implicit(path: str, threads: int) -> dict[str, float]:
    """Child: load the matrix, fit implicit's CosineRecommender, recommend top-10 for every user."""
    from implicit.nearest_neighbours import CosineRecommender

    matrix = _load_matrix(path).astype(np.float64)  # what implicit's item-item kernels take
    model = CosineRecommender(K=_peer_k(K_SCALE), num_threads=threads)
    start = time.perf_counter()
    model.fit(matrix, show_progress=False)
    fit_s = time.perf_counter() - start
    users = np.arange(matrix.shape[0])
    start = time.perf_counter()
    ids, _ = model.recommend(users, matrix, N=10, filter_already_liked_items=True)
    predict_s = time.perf_counter() - start
    return {"fit_s": fit_s, "predict_s": predict_s, "filled": float((np.asarray(ids) >= 0).mean())}


def _scale_rows(ctx: BenchContext) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="likewise-knn-scale-") as tmp:
        path = str(Path(tmp) / "matrix.npz")
        print(f"  {scale_name(SCALE_N)}: generating ...", flush=True)
        shape, _ = run_isolated(_save_scale_set, SCALE_N, path, timeout=3600)
        dataset = scale_name(SCALE_N)
        size = f"{shape['users']:,} users x {shape['items']:,} items"
        print("  likewise ItemKNN ...", flush=True)
        out, peak = run_isolated(_scale_likewise, path, ctx.threads, threads=ctx.threads, timeout=7200)
        rows.append(
            Row(
                suite=SUITE,
                task=SCALE_TASK,
                dataset=dataset,
                library="likewise",
                algorithm="item-item cosine",
                params={"class": "ItemKNN", "k": K_SCALE, "similarity": "cosine"},
                metrics={"stored similarities": out["stored"], "lists filled": out["filled"]},
                fit_s=out["fit_s"],
                predict_s=out["predict_s"],
                peak_mb=peak,
                threads=ctx.threads,
                notes=f"{size}; peak = loading the matrix + fit + recommend (generation not counted)",
            )
        )
        if ctx.peer("implicit") is not None:
            print("  implicit CosineRecommender ...", flush=True)
            out, peak = run_isolated(_scale_implicit, path, ctx.threads, threads=ctx.threads, timeout=7200)
            rows.append(
                Row(
                    suite=SUITE,
                    task=SCALE_TASK,
                    dataset=dataset,
                    library="implicit",
                    algorithm="item-item cosine",
                    params={"class": "CosineRecommender", "K": _peer_k(K_SCALE)},
                    metrics={"lists filled": out["filled"]},
                    fit_s=out["fit_s"],
                    predict_s=out["predict_s"],
                    peak_mb=peak,
                    threads=ctx.threads,
                    notes=f"{size}; measured the same way",
                )
            )
    return rows


# --------------------------------------------------------------------------- entry point
def run(ctx: BenchContext) -> list[Row]:
    """All three tasks; see `DESCRIPTION`."""
    print("  rating prediction (5-fold CV) ...", flush=True)
    rows = _rating_rows(ctx)
    print("  implicit top-10 ...", flush=True)
    rows += _topn_rows(ctx)
    if not ctx.quick:
        rows += _scale_rows(ctx)
    ctx.note(
        f"Rating prediction: likewise n_threads={RATING_THREADS} beside Surprise (no threading). Top-n and "
        f"scale: likewise n_threads={ctx.threads}, implicit num_threads={ctx.threads}, implicit K = likewise k + 1 "
        "(implicit's neighbour lists include the item itself)."
    )
    ctx.note(
        "Rating variants use Surprise's definitions; likewise breaks exact similarity ties by the lower index "
        "(Surprise by rating order) and predicts test items that have no training rating from the user's mean "
        "(means / z-score, user-based) where Surprise returns the global mean."
    )
    return rows
