"""SGD for the hybrid (LightFM-style) factorisation model, in numba.

A user's representation is the feature-weighted sum of feature embeddings and biases,
``p_u = sum_f x_uf e_f``, ``b_u = sum_f x_uf c_f`` (items alike, ``q_i``, ``b_i``), and the
score is ``s_ui = p_u . q_i + b_u + b_i`` (Kula 2015). Every loss turns a sampled example into
a gradient of the score with respect to the representations, ``dL/ds``, which reaches each
feature of the row as ``x_f dL/ds`` (all gradients from the values before the step):

- ``WARP`` (Weston et al. 2011): for a positive (u, i), draw items j uniformly until one
  violates the margin, ``s_uj > s_ui - 1``, redrawing the user's positives (they are not
  trials), for at most ``max_sampled`` negatives. With N the negatives drawn, the pair
  (i, j) gets weight ``L = w ln(max(1, floor((n_items - 1) / N)))`` (clipped at 10, LightFM's ``MAX_LOSS``) on the
  hinge ``1 - s_ui + s_uj``: ``dL/ds_ui = -L``, ``dL/ds_uj = +L``.
- ``WARP_KOS`` (k-order statistic WARP, Weston et al. 2013): per user, draw ``kos_n``
  positives, take the one with the k-th highest score as the positive, then as WARP.
- ``BPR`` (Rendle et al. 2009): one negative drawn (outside the positives),
  ``z = sigmoid(s_uj - s_ui)``, ``dL/ds_ui = -w z``, ``dL/ds_uj = +w z``.
- ``LOGISTIC``: every positive with label 1 and one drawn negative with label 0,
  ``dL/ds = w (sigmoid(s) - y)`` (LightFM's logistic loss sees only stored entries, which on
  implicit data are all positive; the sampled negative is what makes it learn a ranking).

Per-coordinate step sizes (``ADAGRAD``: step ``lr (x_f g + alpha e_f) / sqrt(g2)``, then
``g2 += (x_f g)^2`` with g the representation's gradient and ``g2`` starting at 1, LightFM's
order; ``ADADELTA``: Zeiler 2012 with ``rho`` and ``epsilon`` on the feature's gradient). L2
regularisation ``alpha`` (``user_alpha`` / ``item_alpha``) adds ``alpha e_f`` to the gradient
of every embedding the example touches (lazy, per touched feature; LightFM rescales all
embeddings instead, which is the same penalty spread over the epoch).

Hogwild (Recht et al. 2011): ``n_streams`` streams run at once without locks; stream t visits
its contiguous slice of the CSR (its own block of users), in an order shuffled with its own
SplitMix64 stream (`likewise.kernels._rng`), seeded from (seed, epoch, stream). Item and
feature rows are shared, so the parallel variant is not bit-reproducible; one stream (the
serial build) is. The plain-numpy twin is ``tests/reference/hybrid.py``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._rng import rand_below, stream_states
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.bpr import positives_bitset
from likewise.kernels.topk import sorted_contains

__all__ = ["ADADELTA", "ADAGRAD", "BPR", "LOGISTIC", "LOSSES", "SCHEDULES", "WARP", "WARP_KOS", "hybrid_epoch"]

WARP, WARP_KOS, BPR, LOGISTIC = 0, 1, 2, 3
LOSSES = {"warp": WARP, "warp-kos": WARP_KOS, "bpr": BPR, "logistic": LOGISTIC}
ADAGRAD, ADADELTA = 0, 1
SCHEDULES = {"adagrad": ADAGRAD, "adadelta": ADADELTA}
MAX_LOSS = 10.0
WARP_DRAW_CAP = 64  # draws per negative allowed to WARP's search, positives included
# The helpers are inlined into the epoch body (inline="always"): as separate functions every
# call increfs / decrefs each array it is passed - atomics on arrays all Hogwild threads share -
# which cost 2-3x an epoch on MovieLens 100K (10 factors, identity features); numba prunes
# those reference counts inside one function. The price is a longer first compile (cached).


@numba.njit(cache=True, nogil=True, inline="always")
def _represent(indptr, indices, data, emb, bias, row, out):
    """out[:f] = sum_f x_f e_f over the row's features, out[f] = sum_f x_f c_f."""
    n_factors = emb.shape[1]
    for k in range(n_factors + 1):
        out[k] = 0.0
    for nz in range(indptr[row], indptr[row + 1]):
        feature = indices[nz]
        weight = data[nz]
        for k in range(n_factors):
            out[k] += weight * emb[feature, k]
        out[n_factors] += weight * bias[feature]


@numba.njit(cache=True, nogil=True, inline="always")
def _score(user, item):
    n_factors = user.shape[0] - 1
    acc = np.float32(0.0)
    for k in range(n_factors):
        acc += user[k] * item[k]
    return acc + user[n_factors] + item[n_factors]


@numba.njit(cache=True, nogil=True, inline="always")
def _delta(grad, weight, decay, g2, d2, schedule, lr, rho, eps):
    """(step to subtract, new g2, new d2) for one coordinate of a feature with value `weight`,
    whose representation's gradient is `grad` and whose own L2 term is `decay`.

    Adagrad follows LightFM: the step uses the accumulator from before this gradient (so
    the first step of a coordinate is a full ``lr`` step), then the accumulator grows by the
    feature's gradient squared."""
    one = np.float32(1.0)
    if schedule == ADAGRAD:
        full = weight * grad
        step = lr / np.sqrt(g2) * (full + decay)
        return step, g2 + full * full, d2
    full = weight * grad + decay
    g2 = rho * g2 + (one - rho) * full * full
    step = np.sqrt(d2 + eps) / np.sqrt(g2 + eps) * full
    d2 = rho * d2 + (one - rho) * step * step
    return step, g2, d2


@numba.njit(cache=True, nogil=True, inline="always")
def _update(
    indptr, indices, data, emb, bias, g2e, g2b, d2e, d2b, row, other, dscore, dbias, alpha, schedule, lr, rho, eps
):
    """Step the features of `row`: representation gradient ``dscore other`` (embedding) and
    ``dbias`` (bias), each feature's share scaled by its value x_f, plus ``alpha e_f``
    (`other` is the partner's representation, taken before the step)."""
    n_factors = emb.shape[1]
    for nz in range(indptr[row], indptr[row + 1]):
        feature = indices[nz]
        weight = data[nz]
        for k in range(n_factors):
            step, g2e[feature, k], d2e[feature, k] = _delta(
                dscore * other[k], weight, alpha * emb[feature, k], g2e[feature, k], d2e[feature, k],
                schedule, lr, rho, eps,
            )  # fmt: skip
            emb[feature, k] -= step
        step, g2b[feature], d2b[feature] = _delta(
            dbias, weight, np.float32(0.0), g2b[feature], d2b[feature], schedule, lr, rho, eps
        )
        bias[feature] -= step


@numba.njit(cache=True, nogil=True, inline="always")
def _is_positive(bits, indptr, indices, u, item):
    if bits.shape[0] > 0:
        return ((bits[u, item >> 6] >> np.uint64(item & 63)) & np.uint64(1)) != 0
    return sorted_contains(indices, indptr[u], indptr[u + 1], item)


@numba.njit(cache=True, nogil=True, inline="always")
def _negative(state, bits, indptr, indices, u, n_items):
    """A uniform item outside u's positives (-1 after 32 failed draws)."""
    for _ in range(32):
        state, candidate = rand_below(state, n_items)
        if not _is_positive(bits, indptr, indices, u, candidate):
            return state, candidate
    return state, -1


@numba.njit(cache=True, nogil=True, inline="always")
def _pair_update(p, q, u, i, j, pu, qi, qj, dpos, dneg, hp, hq, alpha_u, alpha_i, schedule, lr, rho, eps, diff):
    """Update u, i and j for dL/ds_ui = dpos, dL/ds_uj = dneg (j < 0: no negative)."""
    n_factors = pu.shape[0] - 1
    for k in range(n_factors):
        diff[k] = dpos * qi[k] + (dneg * qj[k] if j >= 0 else np.float32(0.0))
    dbias_user = dpos + (dneg if j >= 0 else np.float32(0.0))
    _update(
        p[0], p[1], p[2], hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], u, diff, np.float32(1.0), dbias_user, alpha_u,
        schedule, lr, rho, eps,
    )  # fmt: skip
    _update(
        q[0], q[1], q[2], hq[0], hq[1], hq[2], hq[3], hq[4], hq[5], i, pu, dpos, dpos, alpha_i, schedule, lr, rho, eps
    )
    if j >= 0:
        _update(
            q[0], q[1], q[2], hq[0], hq[1], hq[2], hq[3], hq[4], hq[5], j, pu, dneg, dneg, alpha_i,
            schedule, lr, rho, eps,
        )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def _shuffle(order, lo, hi, state):
    for pos in range(hi - 1, lo, -1):
        state, r = rand_below(state, pos - lo + 1)
        swap = lo + r
        tmp = order[pos]
        order[pos] = order[swap]
        order[swap] = tmp
    return state


@numba.njit(cache=True, nogil=True, inline="always")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    z = np.exp(x)
    return z / (1.0 + z)


@numba.njit(cache=True, nogil=True, inline="always")
def _warp_negative(state, bits, indptr, indices, u, pos_score, pu, q, qj, n_items, max_sampled):
    """WARP's search: (state, violating item or -1, negatives drawn).

    A drawn positive is redrawn and does not count as a trial (LightFM's order): N counts
    negatives only, so ``(n_items - 1) / N`` estimates the positive's rank among the
    negatives, not among all items - counting positives as trials shrinks the weight for
    users with long histories. Redraws stop after ``WARP_DRAW_CAP * max_sampled`` draws in
    all, so a user whose positives fill the catalogue cannot loop forever."""
    sampled = 0
    draws = 0
    cap = WARP_DRAW_CAP * max_sampled
    while sampled < max_sampled and draws < cap:
        draws += 1
        state, j = rand_below(state, n_items)
        if _is_positive(bits, indptr, indices, u, j):
            continue
        sampled += 1
        _represent(q[0], q[1], q[2], q[3], q[4], j, qj)
        if _score(pu, qj) > pos_score - 1.0:
            return state, j, sampled
    return state, -1, sampled


def _epoch_impl(
    indptr, indices, user_of, weights, p, q, hp, hq, loss_kind, schedule, lr, rho, eps, alpha_u, alpha_i,
    max_sampled, kos_k, kos_n, bits, order, states, stats,
):  # fmt: skip
    n_streams = states.shape[0]
    n_items = q[0].shape[0] - 1
    n_factors = p[3].shape[1]
    total = order.shape[0]
    lr = np.float32(lr)
    rho = np.float32(rho)
    eps = np.float32(eps)
    alpha_u = np.float32(alpha_u)
    alpha_i = np.float32(alpha_i)
    for t in prange(n_streams):
        lo = total * t // n_streams
        hi = total * (t + 1) // n_streams
        state = _shuffle(order, lo, hi, states[t])
        pu = np.empty(n_factors + 1, dtype=np.float32)
        qi = np.empty(n_factors + 1, dtype=np.float32)
        qj = np.empty(n_factors + 1, dtype=np.float32)
        diff = np.empty(n_factors + 1, dtype=np.float32)
        scores = np.empty(max(kos_n, 1), dtype=np.float32)
        picks = np.empty(max(kos_n, 1), dtype=np.int64)
        loss = 0.0
        updates = 0
        for s in range(lo, hi):
            if loss_kind == WARP_KOS:
                u = order[s]
                start, end = indptr[u], indptr[u + 1]
                if end == start:
                    continue
                _represent(p[0], p[1], p[2], p[3], p[4], u, pu)
                for r in range(kos_n):
                    state, pick = rand_below(state, end - start)
                    picks[r] = start + pick
                    _represent(q[0], q[1], q[2], q[3], q[4], indices[start + pick], qi)
                    scores[r] = _score(pu, qi)
                ranked = np.argsort(-scores[:kos_n], kind="mergesort")
                nz = picks[ranked[min(kos_k, kos_n) - 1]]
            else:
                nz = order[s]
                u = user_of[nz]
                _represent(p[0], p[1], p[2], p[3], p[4], u, pu)
            i = indices[nz]
            w = weights[nz]
            _represent(q[0], q[1], q[2], q[3], q[4], i, qi)
            pos_score = _score(pu, qi)
            if loss_kind == WARP or loss_kind == WARP_KOS:
                state, j, sampled = _warp_negative(
                    state, bits, indptr, indices, u, pos_score, pu, q, qj, n_items, max_sampled
                )
                if j < 0:
                    continue
                rank_weight = w * np.log(max(1.0, np.floor((n_items - 1) / sampled)))
                rank_weight = min(rank_weight, MAX_LOSS)
                loss += rank_weight * (1.0 - pos_score + _score(pu, qj))
                dpos, dneg = -rank_weight, rank_weight
            else:
                state, j = _negative(state, bits, indptr, indices, u, n_items)
                if j >= 0:
                    _represent(q[0], q[1], q[2], q[3], q[4], j, qj)
                if loss_kind == BPR:
                    if j < 0:
                        continue
                    x = pos_score - _score(pu, qj)
                    z = _sigmoid(-x)
                    loss += -np.log(max(_sigmoid(x), 1e-30))
                    dpos, dneg = -w * z, w * z
                else:
                    sig = _sigmoid(pos_score)
                    dpos = w * (sig - 1.0)
                    loss += -w * np.log(max(sig, 1e-30))
                    dneg = 0.0
                    if j >= 0:
                        neg_sig = _sigmoid(_score(pu, qj))
                        dneg = w * neg_sig
                        loss += -w * np.log(max(1.0 - neg_sig, 1e-30))
            # float32 from here: float64 gradients would promote every coordinate's arithmetic
            _pair_update(
                p, q, u, i, j, pu, qi, qj, np.float32(dpos), np.float32(dneg), hp, hq, alpha_u, alpha_i,
                schedule, lr, rho, eps, diff,
            )  # fmt: skip
            updates += 1
        stats[t, 0] = loss
        stats[t, 1] = updates
        stats[t, 2] = hi - lo


_epoch_parallel, _epoch_serial = serial_and_parallel(_epoch_impl)


def _csr_parts(matrix: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    indptr = np.ascontiguousarray(matrix.indptr, dtype=np.int64)  # type: ignore[attr-defined]
    indices = np.ascontiguousarray(matrix.indices, dtype=np.int32)  # type: ignore[attr-defined]
    data = np.ascontiguousarray(matrix.data, dtype=np.float32)  # type: ignore[attr-defined]
    return indptr, indices, data


def hybrid_epoch(
    interactions: object,
    weights: np.ndarray,
    user_design: object,
    item_design: object,
    params: dict[str, np.ndarray],
    *,
    loss: int,
    schedule: int,
    learning_rate: float,
    rho: float,
    epsilon: float,
    user_alpha: float,
    item_alpha: float,
    max_sampled: int,
    kos_k: int,
    kos_n: int,
    seed: int,
    epoch: int,
    n_streams: int,
    positive_bits: np.ndarray | None = None,
) -> dict[str, float]:
    """One epoch over the positives (WARP-kOS: over the users), updating `params` in place.

    Parameters
    ----------
    interactions : scipy CSR (n_users, n_items)
        The positives, indices sorted within rows.
    weights : float32 array (nnz,)
        Sample weight of every stored interaction (CSR order).
    user_design, item_design : scipy CSR
        Users x user features and items x item features (identity columns included).
    params : dict of float32 C-contiguous arrays
        ``user_emb`` (n_uf, f), ``user_bias`` (n_uf,), ``item_emb``, ``item_bias`` and, for
        each, the schedule's accumulators ``<name>_g2`` and ``<name>_d2`` (same shapes).
    loss, schedule : int
        `LOSSES` / `SCHEDULES` codes.
    learning_rate, rho, epsilon, user_alpha, item_alpha : float
    max_sampled, kos_k, kos_n : int
    seed, epoch : int
        Streams are seeded from (seed, epoch, stream).
    n_streams : int
        1: the serial, bit-reproducible build; more: Hogwild streams in parallel.
    positive_bits : optional `positives_bitset` of `interactions` (faster negative checks)

    Returns
    -------
    dict
        ``loss``: the summed loss of the examples over the examples visited (WARP: the
        rank-weighted hinge of the violating pairs; BPR / logistic: log losses), before
        their steps; ``updates``: share of examples that changed the parameters.
    """
    for name, arr in params.items():
        if arr.dtype != np.float32 or not arr.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous float32 array")
    indptr, indices, _ = _csr_parts(interactions)
    n_users = indptr.size - 1
    user_of = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr))
    weights = np.ascontiguousarray(weights, dtype=np.float32)
    if weights.shape != indices.shape:
        raise ValueError("weights must have one value per interaction")
    n_items = int(item_design.shape[0])  # type: ignore[attr-defined]
    if indices.size == 0 or n_items < 2:
        return {"loss": float("nan"), "updates": 0.0}
    total = n_users if loss == WARP_KOS else indices.size
    n_streams = max(1, min(int(n_streams), total))
    order = np.arange(total, dtype=np.int64)
    states = stream_states(seed, n_streams, salt=epoch)
    stats = np.zeros((n_streams, 3), dtype=np.float64)
    words = (n_items + 63) // 64
    bits = np.zeros((0, words), dtype=np.uint64) if positive_bits is None else np.ascontiguousarray(positive_bits)
    u_parts = _csr_parts(user_design)
    i_parts = _csr_parts(item_design)
    p = (*u_parts, params["user_emb"], params["user_bias"])
    q = (*i_parts, params["item_emb"], params["item_bias"])
    # (embeddings, biases, their g2 accumulators, their d2 accumulators), `_update`'s order
    hp = tuple(params[f"user_{part}"] for part in ("emb", "bias", "emb_g2", "bias_g2", "emb_d2", "bias_d2"))
    hq = tuple(params[f"item_{part}"] for part in ("emb", "bias", "emb_g2", "bias_g2", "emb_d2", "bias_d2"))
    kernel = _epoch_parallel if n_streams > 1 and parallel_allowed() else _epoch_serial
    kernel(
        indptr, indices, user_of, weights, p, q, hp, hq, int(loss), int(schedule), learning_rate, rho, epsilon,
        user_alpha, item_alpha, int(max_sampled), int(kos_k), int(kos_n), bits, order, states, stats,
    )  # fmt: skip
    visited = stats[:, 2].sum()
    return {
        "loss": float(stats[:, 0].sum() / visited) if visited else float("nan"),
        "updates": float(stats[:, 1].sum() / visited) if visited else 0.0,
    }


def new_params(
    n_user_features: int, n_item_features: int, n_factors: int, schedule: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Fresh parameters: embeddings uniform in [-0.5, 0.5) / n_factors (LightFM's), zero biases,
    accumulators at 1 (adagrad) or 0 (adadelta)."""
    params: dict[str, np.ndarray] = {}
    start = 1.0 if schedule == ADAGRAD else 0.0
    for side, rows in (("user", n_user_features), ("item", n_item_features)):
        emb = (rng.random((rows, n_factors), dtype=np.float32) - np.float32(0.5)) / np.float32(n_factors)
        params[f"{side}_emb"] = np.ascontiguousarray(emb)
        params[f"{side}_bias"] = np.zeros(rows, dtype=np.float32)
        params[f"{side}_emb_g2"] = np.full((rows, n_factors), start, dtype=np.float32)
        params[f"{side}_bias_g2"] = np.full(rows, start, dtype=np.float32)
        params[f"{side}_emb_d2"] = np.zeros((rows, n_factors), dtype=np.float32)
        params[f"{side}_bias_d2"] = np.zeros(rows, dtype=np.float32)
    return params


def _warm() -> None:
    """Compile every build on tiny float32 inputs (called by `likewise.kernels.warmup`)."""
    import scipy.sparse as sp

    inter = sp.csr_matrix(np.array([[1, 0, 1], [0, 1, 0]], dtype=np.float32))
    users = sp.identity(2, dtype=np.float32, format="csr")
    items = sp.identity(3, dtype=np.float32, format="csr")
    for streams in (1, 2):
        for loss in LOSSES.values():
            params = new_params(2, 3, 2, ADAGRAD, np.random.default_rng(0))
            hybrid_epoch(
                inter, np.ones(3, np.float32), users, items, params, loss=loss, schedule=ADAGRAD,
                learning_rate=0.05, rho=0.95, epsilon=1e-6, user_alpha=0.0, item_alpha=0.0, max_sampled=3,
                kos_k=1, kos_n=2, seed=0, epoch=0, n_streams=streams,
                positive_bits=positives_bitset(inter.indptr, inter.indices, 3) if streams == 2 else None,
            )  # fmt: skip
