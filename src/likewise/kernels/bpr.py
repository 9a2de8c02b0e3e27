"""Bayesian Personalized Ranking by stochastic gradient ascent (Rendle et al. 2009), in numba.

One epoch draws as many (u, i, j) triples as there are interactions: (u, i) uniformly from
the observed pairs (bootstrap sampling, LearnBPR), j uniformly from the catalogue, redrawn
(up to ``max_tries`` times) while it is one of u's positives when ``verify`` is on. With
``x_uij = x_u . (y_i - y_j) + b_i - b_j`` and ``z = sigmoid(-x_uij)`` each triple applies

    x_u += lr (z (y_i - y_j) - reg_user x_u)
    y_i += lr (z x_u - reg_pos y_i)
    y_j += lr (-z x_u - reg_neg y_j)
    b_i += lr (z - reg_bias b_i);  b_j += lr (-z - reg_bias b_j)

(all from the values before the step).

Parallelism is Hogwild (Recht et al. 2011): ``n_streams`` streams run at once without locks,
stream t drawing its pairs from the t-th contiguous slice of the CSR arrays, i.e. from its
own block of users, so user rows are (nearly) private and only item rows are shared. Each
stream has its own SplitMix64 state (`likewise.kernels._rng`). Races on item rows make the
parallel variant non-reproducible; the serial variant (one stream) is bit-reproducible.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._rng import rand_below, stream_states
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.topk import sorted_contains

__all__ = ["bpr_epoch", "bpr_fold_in", "positives_bitset"]

_DOT_FLAGS = {"reassoc", "contract"}


@numba.njit(cache=True, nogil=True, fastmath=_DOT_FLAGS)
def _diff_dot(U, V, u, i, j):
    """U[u] . (V[i] - V[j]), indexing the 2-D arrays directly: row views would cost reference
    count updates (atomics on the arrays shared by every Hogwild thread) per triple."""
    acc = np.float32(0.0)
    for k in range(U.shape[1]):
        acc += U[u, k] * (V[i, k] - V[j, k])
    return acc


@numba.njit(cache=True, nogil=True, fastmath=_DOT_FLAGS)
def _vec_diff_dot(x, V, i, j):
    acc = np.float32(0.0)
    for k in range(x.shape[0]):
        acc += x[k] * (V[i, k] - V[j, k])
    return acc


_BITSET_BYTES = 64 << 20  # build the users x items bitset of positives up to this size


@numba.njit(cache=True, nogil=True)
def _fill_bitset(indptr, indices, bits):
    for u in range(indptr.shape[0] - 1):
        for nz in range(indptr[u], indptr[u + 1]):
            item = indices[nz]
            bits[u, item >> 6] |= np.uint64(1) << np.uint64(item & 63)


def positives_bitset(indptr: np.ndarray, indices: np.ndarray, n_items: int) -> np.ndarray | None:
    """One bit per (user, item), set for positives, or None above 64 MB.

    The sampler checks every negative draw against the user's positives; a bit lookup is one
    load from a table that fits in cache on small and mid-sized data, where the binary search
    over the user's CSR row is a chain of dependent loads (half of an epoch on MovieLens 100K).
    Above the budget the kernel falls back to that search.
    """
    n_users = indptr.shape[0] - 1
    words = (int(n_items) + 63) // 64
    if n_users * words * 8 > _BITSET_BYTES:
        return None
    bits = np.zeros((n_users, words), dtype=np.uint64)
    _fill_bitset(np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int32), bits)
    return bits


@numba.njit(cache=True, nogil=True)
def _neg_log_sigmoid(x):
    """-ln sigmoid(x) = ln(1 + exp(-x)) without overflow, in float64."""
    x = np.float64(x)
    if x < 0:
        return -x + np.log1p(np.exp(x))
    return np.log1p(np.exp(-x))


@numba.njit(cache=True, nogil=True)
def _step(U, V, bias, u, i, j, use_bias, lr, reg_user, reg_pos, reg_neg, reg_bias):
    """One SGD step on the triple (u, i, j); returns x_uij before the step."""
    score = _diff_dot(U, V, u, i, j)
    if use_bias:
        score += bias[i] - bias[j]
    z = np.float32(1.0) / (np.float32(1.0) + np.exp(score))
    for k in range(U.shape[1]):
        xk = U[u, k]
        ik = V[i, k]
        jk = V[j, k]
        U[u, k] = xk + lr * (z * (ik - jk) - reg_user * xk)
        V[i, k] = ik + lr * (z * xk - reg_pos * ik)
        V[j, k] = jk + lr * (-z * xk - reg_neg * jk)
    if use_bias:
        bi = bias[i]
        bj = bias[j]
        bias[i] = bi + lr * (z - reg_bias * bi)
        bias[j] = bj + lr * (-z - reg_bias * bj)
    return score


def _epoch_impl(
    indptr, indices, user_of, U, V, bias, use_bias, lr, reg_user, reg_pos, reg_neg, reg_bias,
    verify, bits, max_tries, track_loss, states, stats, record,
):  # fmt: skip
    n_streams = states.shape[0]
    nnz = indices.shape[0]
    n_items = V.shape[0]
    lr = np.float32(lr)
    reg_user = np.float32(reg_user)
    reg_pos = np.float32(reg_pos)
    reg_neg = np.float32(reg_neg)
    reg_bias = np.float32(reg_bias)
    recording = record.shape[0] > 0
    use_bits = bits.shape[0] > 0
    for t in prange(n_streams):
        lo = nnz * t // n_streams
        hi = nnz * (t + 1) // n_streams
        state = states[t]
        loss = 0.0
        correct = 0
        skipped = 0
        for s in range(lo, hi):
            state, r = rand_below(state, hi - lo)
            nz = lo + r
            u = user_of[nz]
            i = indices[nz]
            j = -1
            for _ in range(max_tries):
                state, candidate = rand_below(state, n_items)
                if not verify:
                    j = candidate
                    break
                if use_bits:
                    positive = (bits[u, candidate >> 6] >> np.uint64(candidate & 63)) & np.uint64(1)
                    if positive == 0:
                        j = candidate
                        break
                elif not sorted_contains(indices, indptr[u], indptr[u + 1], candidate):
                    j = candidate
                    break
            if recording:
                record[s, 0] = u
                record[s, 1] = i
                record[s, 2] = j
            if j < 0:
                skipped += 1
                continue
            score = _step(U, V, bias, u, i, j, use_bias, lr, reg_user, reg_pos, reg_neg, reg_bias)
            if track_loss:  # a log and an exp per triple: only when asked for
                loss += _neg_log_sigmoid(score)
            if score > 0:
                correct += 1
        states[t] = state
        stats[t, 0] = loss
        stats[t, 1] = correct
        stats[t, 2] = skipped


_epoch_parallel, _epoch_serial = serial_and_parallel(_epoch_impl)


def bpr_epoch(
    indptr: np.ndarray,
    indices: np.ndarray,
    user_of: np.ndarray,
    U: np.ndarray,
    V: np.ndarray,
    bias: np.ndarray,
    *,
    learning_rate: float,
    reg_user: float,
    reg_pos: float,
    reg_neg: float,
    reg_bias: float,
    use_bias: bool,
    seed: int,
    epoch: int,
    n_streams: int,
    verify: bool = True,
    positive_bits: np.ndarray | None = None,
    max_tries: int = 32,
    track_loss: bool = True,
    record: np.ndarray | None = None,
) -> dict[str, float]:
    """One BPR epoch (nnz sampled triples) updating U, V and bias in place.

    Parameters
    ----------
    indptr, indices
        Users x items CSR of the positives, indices sorted within rows.
    user_of : int32 array (nnz,)
        Row of every stored interaction.
    U, V : float32 arrays (n_users, f), (n_items, f), C-contiguous
    bias : float32 array (n_items,)
    learning_rate, reg_user, reg_pos, reg_neg, reg_bias : float
    use_bias : bool
    seed, epoch : int
        Stream states are derived from (seed, epoch, stream), so an epoch is reproducible on
        its own.
    n_streams : int
        1 = the serial, bit-reproducible variant; more = Hogwild streams run in parallel.
    verify : bool
        Redraw negatives that are positives of the user.
    positive_bits : uint64 array (n_users, ceil(n_items / 64)), optional
        `positives_bitset` of the same CSR: verification by bit lookup instead of binary
        search (same draws, same result, faster).
    max_tries : int
        Draws per negative before the triple is skipped (a user who has nearly every item).
    track_loss : bool
        Accumulate the loss (costs a log and an exp per triple); NaN otherwise.
    record : int64 array (nnz, 3), optional
        Receives every (u, i, j) drawn, j = -1 for a skipped triple (tests replay them).

    Returns
    -------
    dict
        ``loss`` (mean -log sigmoid(x_uij) over used triples, before each step; NaN unless
        `track_loss`),
        ``accuracy`` (share with x_uij > 0) and ``skipped`` (count).
    """
    for name, arr in (("U", U), ("V", V), ("bias", bias)):
        if arr.dtype != np.float32 or not arr.flags.c_contiguous:
            raise ValueError(f"{name} must be a C-contiguous float32 array")
    if U.shape[1] != V.shape[1] or bias.shape != (V.shape[0],):
        raise ValueError("factor shapes do not match")
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    user_of = np.ascontiguousarray(user_of, dtype=np.int32)
    if indices.size == 0 or V.shape[0] == 0:
        return {"loss": float("nan"), "accuracy": float("nan"), "skipped": 0.0}
    n_streams = max(1, min(int(n_streams), indices.size))
    states = stream_states(seed, n_streams, salt=epoch)
    stats = np.zeros((n_streams, 3), dtype=np.float64)
    rec = np.zeros((0, 3), dtype=np.int64) if record is None else record
    if record is not None and record.shape != (indices.size, 3):
        raise ValueError("record must have shape (nnz, 3)")
    words = (V.shape[0] + 63) // 64
    if positive_bits is None:
        bits = np.zeros((0, words), dtype=np.uint64)
    elif positive_bits.dtype != np.uint64 or positive_bits.shape != (indptr.size - 1, words):
        raise ValueError("positive_bits must be positives_bitset(indptr, indices, n_items)")
    else:
        bits = np.ascontiguousarray(positive_bits)
    kernel = _epoch_parallel if n_streams > 1 and parallel_allowed() else _epoch_serial
    kernel(
        indptr, indices, user_of, U, V, bias, bool(use_bias), learning_rate, reg_user, reg_pos, reg_neg, reg_bias,
        bool(verify), bits, int(max_tries), bool(track_loss), states, stats, rec,
    )  # fmt: skip
    used = indices.size - stats[:, 2].sum()
    return {
        "loss": float(stats[:, 0].sum() / used) if used and track_loss else float("nan"),
        "accuracy": float(stats[:, 1].sum() / used) if used else float("nan"),
        "skipped": float(stats[:, 2].sum()),
    }


@numba.njit(cache=True, nogil=True)
def _fold_in_impl(items, V, bias, use_bias, lr, reg_user, n_steps, state, x):
    n_items = V.shape[0]
    lr = np.float32(lr)
    reg_user = np.float32(reg_user)
    for _ in range(n_steps):
        state, r = rand_below(state, items.shape[0])
        i = items[r]
        j = -1
        for _t in range(32):
            state, candidate = rand_below(state, n_items)
            if not sorted_contains(items, 0, items.shape[0], candidate):
                j = candidate
                break
        if j < 0:
            continue
        score = _vec_diff_dot(x, V, i, j)
        if use_bias:
            score += bias[i] - bias[j]
        z = np.float32(1.0) / (np.float32(1.0) + np.exp(score))
        for k in range(x.shape[0]):
            x[k] += lr * (z * (V[i, k] - V[j, k]) - reg_user * x[k])
    return state


def bpr_fold_in(
    items: np.ndarray,
    V: np.ndarray,
    bias: np.ndarray,
    *,
    learning_rate: float,
    reg_user: float,
    use_bias: bool,
    n_steps: int,
    seed: int,
) -> np.ndarray:
    """Learn one new user's vector by BPR steps on their items, item parameters fixed.

    Starts from zero and takes `n_steps` serial SGD steps (u's positives `items`, negatives
    drawn uniformly outside them); deterministic for a seed.

    Returns
    -------
    float32 array (f,)
    """
    items = np.unique(np.asarray(items, dtype=np.int32))
    x = np.zeros(V.shape[1], dtype=np.float32)
    if items.size == 0 or items.size >= V.shape[0]:
        return x
    state = stream_states(seed, 1, salt=2**62)[0]
    _fold_in_impl(items, V, bias, bool(use_bias), learning_rate, reg_user, int(n_steps), state, x)
    return x


def _warm() -> None:
    """Compile every variant on tiny float32 inputs (called by `likewise.kernels.warmup`)."""
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([0, 1], dtype=np.int32)
    user_of = np.array([0, 1], dtype=np.int32)
    for streams in (1, 2):
        U = np.zeros((2, 2), dtype=np.float32)
        V = np.zeros((3, 2), dtype=np.float32)
        bias = np.zeros(3, dtype=np.float32)
        bpr_epoch(
            indptr, indices, user_of, U, V, bias, learning_rate=0.1, reg_user=0.0, reg_pos=0.0, reg_neg=0.0,
            reg_bias=0.0, use_bias=True, seed=0, epoch=0, n_streams=streams,
            positive_bits=positives_bitset(indptr, indices, 3) if streams == 2 else None,
        )  # fmt: skip
    bpr_fold_in(np.array([0]), V, bias, learning_rate=0.1, reg_user=0.0, use_bias=True, n_steps=2, seed=0)
