"""Slow per-user twins of likewise.evaluation.metrics, written straight from the formulas.

Inputs: `recs` is a list of lists of item indices (-1 = padding), `rel` a list of dicts
{item: gain} (only positive gains), one entry per user. Every function loops in plain Python.
"""

import math

import numpy as np


def _hits(recs_row, rel_row, k):
    row = list(recs_row[:k]) + [-1] * max(0, k - len(recs_row))
    return [1 if (item >= 0 and item in rel_row) else 0 for item in row], row


def precision(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        hits, _ = _hits(recs_row, rel_row, k)
        out.append(sum(hits) / k)
    return np.array(out, dtype=np.float64)


def recall(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        hits, _ = _hits(recs_row, rel_row, k)
        out.append(sum(hits) / len(rel_row))
    return np.array(out, dtype=np.float64)


def hit_rate(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        hits, _ = _hits(recs_row, rel_row, k)
        out.append(1.0 if any(hits) else 0.0)
    return np.array(out, dtype=np.float64)


def reciprocal_rank(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        hits, _ = _hits(recs_row, rel_row, k)
        value = 0.0
        for rank, hit in enumerate(hits, start=1):
            if hit:
                value = 1.0 / rank
                break
        out.append(value)
    return np.array(out, dtype=np.float64)


def ndcg(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        _, row = _hits(recs_row, rel_row, k)
        dcg = 0.0
        for rank, item in enumerate(row, start=1):
            if item >= 0 and item in rel_row:
                dcg += rel_row[item] / math.log2(rank + 1)
        ideal = sorted(rel_row.values(), reverse=True)[:k]
        idcg = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, start=1))
        out.append(dcg / idcg)
    return np.array(out, dtype=np.float64)


def average_precision(recs, rel, k):
    out = []
    for recs_row, rel_row in zip(recs, rel, strict=True):
        if not rel_row:
            out.append(math.nan)
            continue
        hits, _ = _hits(recs_row, rel_row, k)
        total = 0.0
        for i in range(1, k + 1):
            if hits[i - 1]:
                total += sum(hits[:i]) / i
        out.append(total / min(k, len(rel_row)))
    return np.array(out, dtype=np.float64)


def auc(scores, rel, exclude=None):
    """`scores` dense (n_users, n_items); `exclude` a list of sets (or None)."""
    out = []
    for u, rel_row in enumerate(rel):
        candidates = [i for i in range(scores.shape[1]) if exclude is None or i not in exclude[u]]
        pos = [i for i in candidates if i in rel_row]
        neg = [i for i in candidates if i not in rel_row]
        if not pos or not neg:
            out.append(math.nan)
            continue

        def score(i, u=u):
            s = float(scores[u, i])
            return -math.inf if math.isnan(s) else s

        total = 0.0
        for p in pos:
            for n in neg:
                if score(p) > score(n):
                    total += 1.0
                elif score(p) == score(n):
                    total += 0.5
        out.append(total / (len(pos) * len(neg)))
    return np.array(out, dtype=np.float64)


def rmse(pred, truth):
    return math.sqrt(sum((p - t) ** 2 for p, t in zip(pred, truth, strict=True)) / len(pred))


def mae(pred, truth):
    return sum(abs(p - t) for p, t in zip(pred, truth, strict=True)) / len(pred)


def coverage(recs, n_items):
    return len({item for row in recs for item in row if item >= 0}) / n_items


def gini(recs, n_items):
    counts = [0] * n_items
    for row in recs:
        for item in row:
            if item >= 0:
                counts[item] += 1
    total = sum(counts)
    if total == 0:
        return math.nan
    # Mean absolute difference form: G = sum_i sum_j |c_i - c_j| / (2 n^2 mean)
    diff = sum(abs(a - b) for a in counts for b in counts)
    return diff / (2 * n_items * n_items * (total / n_items))


def novelty(recs, popularity, n_users):
    out = []
    for row in recs:
        items = [i for i in row if i >= 0]
        if not items:
            out.append(math.nan)
            continue
        out.append(sum(-math.log2(max(popularity[i], 1) / n_users) for i in items) / len(items))
    return np.array(out, dtype=np.float64)


def popularity_bias(recs, popularity):
    mean_pop = sum(popularity) / len(popularity)
    out = []
    for row in recs:
        items = [i for i in row if i >= 0]
        if not items or mean_pop == 0:
            out.append(math.nan)
            continue
        out.append(sum(popularity[i] for i in items) / len(items) / mean_pop)
    return np.array(out, dtype=np.float64)


def personalisation(recs, similarity="cosine"):
    lists = [{i for i in row if i >= 0} for row in recs]
    lists = [s for s in lists if s]
    if len(lists) < 2:
        return math.nan
    sims = []
    for a in range(len(lists)):
        for b in range(a + 1, len(lists)):
            common = len(lists[a] & lists[b])
            if similarity == "cosine":
                sims.append(common / math.sqrt(len(lists[a]) * len(lists[b])))
            else:
                sims.append(common / len(lists[a] | lists[b]))
    return 1.0 - sum(sims) / len(sims)


def intra_list_diversity(recs, features):
    """`features` dense (n_items, n_features)."""
    out = []
    for row in recs:
        items = [i for i in row if i >= 0]
        if len(items) < 2:
            out.append(math.nan)
            continue
        dists = []
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                fa, fb = features[items[a]], features[items[b]]
                na, nb = math.sqrt(float(fa @ fa)), math.sqrt(float(fb @ fb))
                cos = 0.0 if na == 0 or nb == 0 else float(fa @ fb) / (na * nb)
                dists.append(1.0 - cos)
        out.append(sum(dists) / len(dists))
    return np.array(out, dtype=np.float64)
