"""Brute-force twins of likewise.kernels.similarity / likewise.kernels.knn and of the KNN models.

Dense numpy with NaN for "not rated", one pair at a time, every formula written straight from
its definition (Surprise's similarities.pyx and knns.py for the explicit ones, implicit's
nearest_neighbours.py for BM25 / TF-IDF / dot). Slow on purpose; for tiny data only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_SIMILARITY = 1e-10


@dataclass
class RefStats:
    global_mean: float
    overall_std: float
    user_mean: np.ndarray
    item_mean: np.ndarray
    user_std: np.ndarray
    item_std: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray


def dense(data) -> np.ndarray:
    """users x items float64 with NaN where there is no interaction."""
    out = np.full(data.matrix.shape, np.nan)
    coo = data.matrix.tocoo()
    out[coo.row, coo.col] = coo.data
    return out


def _mean_std(row: np.ndarray, fallback_mean: float, fallback_std: float) -> tuple[float, float]:
    vals = row[~np.isnan(row)]
    if vals.size == 0:
        return fallback_mean, fallback_std
    std = float(np.sqrt(np.mean((vals - vals.mean()) ** 2)))
    return float(vals.mean()), (std if std != 0.0 else fallback_std)


def statistics(R: np.ndarray, *, n_epochs: int = 10, reg_user: float = 15.0, reg_item: float = 10.0) -> RefStats:
    """Means, population deviations (0 -> overall deviation) and Surprise's baseline_als."""
    vals = R[~np.isnan(R)]
    mu = float(vals.mean()) if vals.size else 0.0
    overall = float(vals.std()) if vals.size else 0.0
    overall = overall if overall != 0.0 else 1.0
    n_users, n_items = R.shape
    user = [_mean_std(R[u], mu, overall) for u in range(n_users)]
    item = [_mean_std(R[:, i], mu, overall) for i in range(n_items)]
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    for _ in range(n_epochs):
        for i in range(n_items):
            users = np.nonzero(~np.isnan(R[:, i]))[0]
            dev = sum(R[u, i] - mu - bu[u] for u in users)
            bi[i] = dev / (reg_item + len(users)) if reg_item + len(users) > 0 else 0.0
        for u in range(n_users):
            items = np.nonzero(~np.isnan(R[u]))[0]
            dev = sum(R[u, i] - mu - bi[i] for i in items)
            bu[u] = dev / (reg_user + len(items)) if reg_user + len(items) > 0 else 0.0
    return RefStats(
        mu,
        overall,
        np.array([m for m, _ in user]),
        np.array([m for m, _ in item]),
        np.array([s for _, s in user]),
        np.array([s for _, s in item]),
        bu,
        bi,
    )


def prepared(
    R: np.ndarray,
    stats: RefStats,
    *,
    by_users: bool,
    measure: str,
    norms: str,
    weighting: str | None = None,
    k1: float = 1.2,
    b: float = 0.75,
) -> np.ndarray:
    """The compared matrix (rows = users if by_users else items), NaN where missing."""
    X = R.copy() if by_users else R.T.copy()
    n_x, n_y = X.shape
    x_mean = stats.user_mean if by_users else stats.item_mean
    y_mean = stats.item_mean if by_users else stats.user_mean
    out = np.full_like(X, np.nan)
    df = (~np.isnan(X)).sum(axis=0)
    idf = np.log(max(n_x, 1)) - np.log1p(df)
    row_sums = np.nansum(X, axis=1)
    average = row_sums.mean() if n_x else 1.0
    for x in range(n_x):
        for y in range(n_y):
            r = X[x, y]
            if np.isnan(r):
                continue
            if measure in ("cosine", "dot") and weighting == "bm25":
                length = (1 - b) + b * row_sums[x] / (average if average > 0 else 1.0)
                v = r * (k1 + 1) / (k1 * length + r) * idf[y]
            elif measure in ("cosine", "dot") and weighting == "tfidf":
                v = np.sqrt(r) * idf[y]
            elif measure == "pearson" and norms == "full":
                v = r - x_mean[x]
            elif measure == "adjusted_cosine":
                v = r - y_mean[y]
            elif measure == "pearson_baseline":
                u, i = (x, y) if by_users else (y, x)
                v = r - (stats.global_mean + stats.user_bias[u] + stats.item_bias[i])
            elif measure == "jaccard":
                v = 1.0
            else:
                v = r
            out[x, y] = v
    return out


def pair_similarity(
    a_row: np.ndarray,
    b_row: np.ndarray,
    *,
    measure: str,
    norms: str,
    min_support: int = 1,
    shrinkage: float | None = None,
) -> float:
    """One pair, from the definitions; 0.0 means "not a neighbour"."""
    common = ~np.isnan(a_row) & ~np.isnan(b_row)
    n = int(common.sum())
    if measure == "pearson_baseline":
        min_support = max(2, min_support)
    if n == 0 or n < min_support:
        return 0.0
    a, b = a_row[common], b_row[common]
    sim = 0.0
    if measure == "msd":
        sim = 1.0 / (np.mean((a - b) ** 2) + 1.0)
    elif measure == "jaccard":
        union = int((~np.isnan(a_row) | ~np.isnan(b_row)).sum())
        sim = n / union
    elif measure == "dot":
        sim = float(np.sum(a * b))
    elif measure == "pearson" and norms == "common":
        ac, bc = a - a.mean(), b - b.mean()
        den = np.sqrt(np.sum(ac * ac) * np.sum(bc * bc))
        sim = float(np.sum(ac * bc) / den) if den > 0 else 0.0
    elif norms == "common":  # cosine, adjusted_cosine, pearson_baseline over the co-support
        den = np.sqrt(np.sum(a * a) * np.sum(b * b))
        sim = float(np.sum(a * b) / den) if den > 0 else 0.0
    else:  # full norms
        na = np.sqrt(np.nansum(a_row * a_row))
        nb = np.sqrt(np.nansum(b_row * b_row))
        sim = float(np.sum(a * b) / (na * nb)) if na * nb > 0 else 0.0
    if shrinkage is None:
        shrinkage = 100.0 if measure == "pearson_baseline" else 0.0
    if shrinkage > 0:
        m = n - 1 if measure == "pearson_baseline" else n
        sim *= m / (m + shrinkage)
    return sim


def similarity_matrix(X: np.ndarray, **options) -> np.ndarray:
    """All pairs of rows of X, float32, zero where not a neighbour (and on the diagonal)."""
    n = X.shape[0]
    S = np.zeros((n, n), dtype=np.float32)
    for x in range(n):
        for x2 in range(n):
            if x == x2:
                continue
            sim = pair_similarity(X[x], X[x2], **options)
            if sim > MIN_SIMILARITY:
                S[x, x2] = np.float32(sim)
    return S


def neighbour_lists(S: np.ndarray, n_keep: int) -> list[np.ndarray]:
    """Each row's positive neighbours by (similarity desc, index asc), the first n_keep."""
    lists = []
    for row in S:
        idx = np.nonzero(row > 0)[0]
        ordered = sorted(idx.tolist(), key=lambda j: (-float(row[j]), j))
        lists.append(np.array(ordered[:n_keep], dtype=np.int64))
    return lists


@dataclass
class RefModel:
    """Everything a brute-force prediction needs."""

    R: np.ndarray
    stats: RefStats
    S: np.ndarray
    lists: list[np.ndarray]
    user_based: bool
    prediction: str
    k: int
    min_k: int
    weighted: bool = True
    rating_scale: tuple[float, float] | None = None
    clip: bool = True


def fit(
    R: np.ndarray,
    *,
    user_based: bool,
    measure: str,
    prediction: str,
    norms: str,
    k: int,
    min_k: int = 1,
    n_keep: int | None = None,
    weighting: str | None = None,
    min_support: int = 1,
    shrinkage: float | None = None,
    weighted: bool = True,
    rating_scale: tuple[float, float] | None = None,
    clip: bool = True,
) -> RefModel:
    stats = statistics(R)
    X = prepared(R, stats, by_users=user_based, measure=measure, norms=norms, weighting=weighting)
    S = similarity_matrix(X, measure=measure, norms=norms, min_support=min_support, shrinkage=shrinkage)
    n_x = S.shape[0]
    lists = neighbour_lists(S, n_x if n_keep is None else n_keep)
    return RefModel(R, stats, S, lists, user_based, prediction, k, min_k, weighted, rating_scale, clip)


def _estimate(
    model: RefModel, base: float, scale: float, sims: list[float], devs: list[float], values: list[float]
) -> float:
    """The four explicit formulas and the implicit sum, from the neighbours actually used."""
    used = len(sims)
    enough = used >= model.min_k and used > 0
    mode = model.prediction
    if mode == "sum":
        if used < model.min_k:
            return 0.0
        return float(sum(s * (v if model.weighted else 1.0) for s, v in zip(sims, values, strict=True)))
    if mode == "basic":
        if not enough:
            est = model.stats.global_mean
        else:
            est = sum(s * v for s, v in zip(sims, values, strict=True)) / sum(sims)
    else:
        est = base
        if enough:
            est += scale * sum(s * d for s, d in zip(sims, devs, strict=True)) / sum(sims)
    if model.clip and model.rating_scale is not None:
        est = min(max(est, model.rating_scale[0]), model.rating_scale[1])
    return float(est)


def _offsets(model: RefModel, x: int, other: int | None = None) -> tuple[float, float]:
    """(offset, scale) of compared entity x: its mean, deviation or mu + bias."""
    st = model.stats
    mean = st.user_mean if model.user_based else st.item_mean
    std = st.user_std if model.user_based else st.item_std
    bias = st.user_bias if model.user_based else st.item_bias
    if model.prediction in ("means", "zscore"):
        return float(mean[x]), float(std[x]) if model.prediction == "zscore" else 1.0
    if model.prediction == "baseline":
        return float(st.global_mean + bias[x]), 1.0
    return 0.0, 1.0


def predict_item_based(model: RefModel, user_row: np.ndarray, user_bias: float, i: int) -> float:
    """Item-based score of item i for a user whose ratings are `user_row` (NaN = unrated)."""
    st = model.stats
    other_off = user_bias if model.prediction == "baseline" else 0.0
    if model.prediction == "sum":
        sims, values = [], []
        for j in np.nonzero(~np.isnan(user_row))[0]:
            top = model.lists[j][: model.k]
            if i in top.tolist():
                sims.append(float(model.S[j, i]))
                values.append(float(user_row[j]))
        return _estimate(model, 0.0, 1.0, sims, [], values)
    rated = [j for j in model.lists[i].tolist() if not np.isnan(user_row[j])][: model.k]
    sims = [float(model.S[i, j]) for j in rated]
    values = [float(user_row[j]) for j in rated]
    devs = []
    for j in rated:
        off, scale = _offsets(model, j)
        devs.append((user_row[j] - off - other_off) / scale)
    off, scale = _offsets(model, i)
    del st
    return _estimate(model, off + other_off, scale, sims, devs, values)


def predict_user_based(
    model: RefModel, neighbours: np.ndarray, sims_row: np.ndarray, own: tuple[float, float], i: int
) -> float:
    """User-based score of item i for a user with neighbour list `neighbours` (similarities in
    `sims_row`, indexed by user) and own (offset, scale)."""
    st = model.stats
    other_off = float(st.item_bias[i]) if model.prediction == "baseline" else 0.0
    R = model.R
    used = [v for v in neighbours.tolist() if not np.isnan(R[v, i])][: model.k]
    sims = [float(sims_row[v]) for v in used]
    values = [float(R[v, i]) for v in used]
    devs = []
    for v in used:
        off, scale = _offsets(model, v)
        devs.append((R[v, i] - off - other_off) / scale)
    return _estimate(model, own[0] + other_off, own[1], sims, devs, values)


def predict(model: RefModel, u: int, i: int) -> float:
    """Score of a training user u for item i."""
    if model.user_based:
        return predict_user_based(model, model.lists[u], model.S[u], _offsets(model, u), i)
    return predict_item_based(model, model.R[u], float(model.stats.user_bias[u]), i)


def fold_in(
    model: RefModel,
    profile: np.ndarray,
    *,
    measure: str,
    norms: str,
    n_keep: int,
    weighting: str | None = None,
    min_support: int = 1,
    shrinkage: float | None = None,
    reg_user: float = 15.0,
) -> np.ndarray:
    """Scores of every item for a new user with ratings `profile` (NaN = unrated)."""
    st = model.stats
    rated = np.nonzero(~np.isnan(profile))[0]
    bias = float(sum(profile[i] - st.global_mean - st.item_bias[i] for i in rated) / (reg_user + rated.size))
    bias = bias if rated.size else 0.0
    n_items = profile.size
    if not model.user_based:
        return np.array([predict_item_based(model, profile, bias, i) for i in range(n_items)])
    vals = profile[rated]
    mean = float(vals.mean()) if rated.size else st.global_mean
    std = float(vals.std()) if rated.size else 0.0
    std = std if std != 0.0 else st.overall_std
    # The profile prepared like a training user row (against the training statistics).
    R = model.R
    prof = np.full(n_items, np.nan)
    df = (~np.isnan(R)).sum(axis=0)
    idf = np.log(max(R.shape[0], 1)) - np.log1p(df)
    average = np.nansum(R, axis=1).mean()
    for i in rated:
        r = profile[i]
        if measure in ("cosine", "dot") and weighting == "bm25":
            length = 0.25 + 0.75 * vals.sum() / average
            prof[i] = r * 2.2 / (1.2 * length + r) * idf[i]
        elif measure in ("cosine", "dot") and weighting == "tfidf":
            prof[i] = np.sqrt(r) * idf[i]
        elif measure == "pearson" and norms == "full":
            prof[i] = r - mean
        elif measure == "adjusted_cosine":
            prof[i] = r - st.item_mean[i]
        elif measure == "pearson_baseline":
            prof[i] = r - (st.global_mean + bias + st.item_bias[i])
        elif measure == "jaccard":
            prof[i] = 1.0
        else:
            prof[i] = r
    X = prepared(R, st, by_users=True, measure=measure, norms=norms, weighting=weighting)
    sims_row = np.zeros(R.shape[0], dtype=np.float32)
    for v in range(R.shape[0]):
        sim = pair_similarity(prof, X[v], measure=measure, norms=norms, min_support=min_support, shrinkage=shrinkage)
        if sim > MIN_SIMILARITY:
            sims_row[v] = np.float32(sim)
    neighbours = neighbour_lists(sims_row[None, :], n_keep)[0]
    if model.prediction in ("means", "zscore"):
        own = (mean, std if model.prediction == "zscore" else 1.0)
    elif model.prediction == "baseline":
        own = (st.global_mean + bias, 1.0)
    else:
        own = (0.0, 1.0)
    return np.array([predict_user_based(model, neighbours, sims_row, own, i) for i in range(n_items)])
