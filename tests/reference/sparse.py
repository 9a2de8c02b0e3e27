"""Slow, obviously-right twin of likewise.kernels.sparse (and of the loader's numpy merge):
sort row positions by a tuple key, group them in a dict, merge each group in Python."""

import numpy as np


def pair_order_reference(uidx, iidx, ts):
    """Row positions sorted by (user, item, timestamp, position)."""

    def key(r):
        return (int(uidx[r]), int(iidx[r]), int(ts[r]) if ts is not None else 0, r)

    return np.array(sorted(range(len(uidx)), key=key), dtype=np.int64)


def merge_pairs_reference(uidx, iidx, vals, ts, policy, n_users):
    """(indptr int64, indices, data float32, timestamps or None) of the merged CSR.

    first / last: the value and timestamp of a pair's first / last row in (timestamp, position)
    order; sum / mean: the float64 sum (added in that order) or mean, and the latest timestamp.
    """
    groups = {}
    for r in pair_order_reference(uidx, iidx, ts):
        groups.setdefault((int(uidx[r]), int(iidx[r])), []).append(int(r))
    counts = np.zeros(n_users, dtype=np.int64)
    indices, data, times = [], [], []
    for (user, item), rows in sorted(groups.items()):
        counts[user] += 1
        indices.append(item)
        if policy in ("first", "last"):
            row = rows[0] if policy == "first" else rows[-1]
            data.append(float(vals[row]))
            times.append(int(ts[row]) if ts is not None else 0)
        else:
            total = 0.0
            for row in rows:
                total += float(vals[row])
            data.append(total if policy == "sum" else total / len(rows))
            times.append(max(int(ts[row]) for row in rows) if ts is not None else 0)
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    stamps = np.array(times, dtype=np.int64) if ts is not None else None
    return indptr, np.array(indices, dtype=np.int32), np.array(data, dtype=np.float32), stamps
