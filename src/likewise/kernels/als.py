"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008): per-row solves, never a dense confidence matrix.

One half-step of ALS solves, for every row u (a user, or an item on the other half-step),

    (Y^T C_u Y + reg I) x_u = Y^T C_u p_u

where Y are the fixed factors of the other side, ``C_u = diag(c_u1, ...)`` the confidences and
``p_u`` the binary preferences. Unobserved cells have c = 1 and p = 0, so with
``A0 = Y^T Y + reg I`` (one BLAS product per half-step, computed by the caller)

    Y^T C_u Y + reg I = A0 + sum_{i in row u} (c_ui - 1) y_i y_i^T
    Y^T C_u p_u       = sum_{i in row u, p_ui = 1} c_ui y_i

and each row costs O(nnz_u * f) (conjugate gradient) or O(nnz_u * f^2 + f^3) (Cholesky).

The kernels read the raw interaction values r (the CSR data, never copied) and derive each
cell's preference p = 1[r > 0] and confidence on the fly: ``c = 1 + alpha |r|`` or, in log
mode, ``c = 1 + alpha log(1 + |r| / epsilon)``; a few flops per cell and no extra nnz-sized
array. Rows are split into chunks; the outer ``prange`` runs over the chunks so each thread
allocates its work vectors once.

fastmath: the dot products (the only reductions) carry ``reassoc`` and ``contract`` so LLVM
can vectorise them (measured: about 3x faster CG half-steps at 64 factors, see
docs/algorithms/implicit.md); NaN/Inf semantics are kept (no ``nnan``/``ninf``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import prange

from likewise.kernels._blas import gemm_nt, gemv_python, potrf_upper, syrk_upper
from likewise.kernels._jit import serial_and_parallel
from likewise.kernels._threads import parallel_allowed
from likewise.kernels.topk import _topk_serial, filter_arrays, topk_row_numpy

__all__ = ["als_loss", "factor_topk", "solve_rows"]

_DOT_FLAGS = {"reassoc", "contract"}
_CHUNK = 64  # rows per unit of parallel work
_GATHER = 512  # interactions per BLAS block in the Cholesky build


@numba.njit(cache=True, nogil=True, fastmath=_DOT_FLAGS)
def _dot(a, b):
    acc = np.float32(0.0)
    for k in range(a.shape[0]):
        acc += a[k] * b[k]
    return acc


@numba.njit(cache=True, nogil=True, fastmath=_DOT_FLAGS)
def _dot64(a, b):
    acc = 0.0
    for k in range(a.shape[0]):
        acc += np.float64(a[k]) * np.float64(b[k])
    return acc


@numba.njit(cache=True, nogil=True)
def _extra(v, alpha, inv_eps, use_log):
    """c - 1 for a raw value v: alpha |v| (linear) or alpha log(1 + |v| / epsilon) (log), float32."""
    a = abs(v)
    if use_log:
        a = np.float32(np.log1p(a * inv_eps))
    return alpha * a


@numba.njit(cache=True, nogil=True)
def _symv(a, v, out):
    """out = a @ v for symmetric a, as a sum of scaled rows (vectorises without reassociation)."""
    f = v.shape[0]
    for k in range(f):
        out[k] = 0.0
    for j in range(f):
        vj = v[j]
        row = a[j]
        for k in range(f):
            out[k] += vj * row[k]


@numba.njit(cache=True, nogil=True)
def _cg_row(start, end, indices, values, x, Y, A0, cg_steps, conf, r, p, ap):
    """A few conjugate-gradient steps on row u's system, warm-started from x (updated in place).

    ``conf`` = (alpha, 1 / epsilon, log mode) as float32s (the last one 0 or 1).
    """
    f = x.shape[0]
    alpha = conf[0]
    inv_eps = conf[1]
    use_log = conf[2] > 0
    # residual r = b - A x
    _symv(A0, x, r)
    for k in range(f):
        r[k] = -r[k]
    for nz in range(start, end):
        y = Y[indices[nz]]
        v = values[nz]
        e = _extra(v, alpha, inv_eps, use_log)
        w = (e + np.float32(1.0) if v > 0 else np.float32(0.0)) - e * _dot(y, x)
        for k in range(f):
            r[k] += w * y[k]
    for k in range(f):
        p[k] = r[k]
    rs_old = _dot(r, r)
    if rs_old < 1e-20:
        return
    for _ in range(cg_steps):
        _symv(A0, p, ap)
        for nz in range(start, end):
            y = Y[indices[nz]]
            w = _extra(values[nz], alpha, inv_eps, use_log) * _dot(y, p)
            for k in range(f):
                ap[k] += w * y[k]
        p_ap = _dot(p, ap)
        if not p_ap > 0:  # numerical breakdown (or NaN): stop with what we have
            return
        step = rs_old / p_ap
        for k in range(f):
            x[k] += step * p[k]
            r[k] -= step * ap[k]
        rs_new = _dot(r, r)
        if rs_new < 1e-20:
            return
        beta = rs_new / rs_old
        for k in range(f):
            p[k] = r[k] + beta * p[k]
        rs_old = rs_new


@numba.njit(cache=True, nogil=True)
def _cholesky_row(start, end, indices, values, x, Y, A0, conf, Yw, G, a64, b):
    """Exact solve of row u's system with BLAS and LAPACK doing the dense work.

    The row's factors are gathered, scaled by sqrt(c - 1), into ``Yw`` (blocks of up to
    ``len(Yw)`` interactions) and ``Yw^T Yw`` is accumulated in ``G`` by ssyrk (upper
    triangle); A = A0 + G goes to float64, LAPACK's dpotrf factorises A = U^T U and two
    triangular solves give x. Everything is done in a fixed order, so results do not depend
    on threads.
    """
    f = x.shape[0]
    alpha = conf[0]
    inv_eps = conf[1]
    use_log = conf[2] > 0
    one = np.float32(1.0)
    for j in range(f):
        b[j] = 0.0
    cap = Yw.shape[0]
    nz = start
    while nz < end:
        m = min(cap, end - nz)
        for t in range(m):
            v = values[nz + t]
            y = Y[indices[nz + t]]
            e = _extra(v, alpha, inv_eps, use_log)
            w = np.float32(np.sqrt(e))
            row = Yw[t]
            for k in range(f):
                row[k] = w * y[k]
            if v > 0:
                c = one + e
                for k in range(f):
                    b[k] += c * y[k]
        syrk_upper(Yw[:m], G, nz > start)
        nz += m
    for j in range(f):  # upper triangle only: all that dpotrf reads
        a_row = a64[j, j:]
        base = A0[j, j:]
        if end > start:
            g_row = G[j, j:]
            for k in range(f - j):
                a_row[k] = base[k] + g_row[k]
        else:
            for k in range(f - j):
                a_row[k] = base[k]
    if potrf_upper(a64) != 0:  # not positive definite (only with reg = 0 and degenerate data)
        for k in range(f):
            x[k] = np.nan
        return
    # U^T z = b (forward, column-oriented so the updates run along rows of U; the inner loops
    # run over slices from 0 because numba's range(i + 1, f) loops do not vectorise)
    for i in range(f):
        zi = b[i] / a64[i, i]
        b[i] = zi
        row = a64[i, i + 1 :]
        rest = b[i + 1 :]
        for k in range(f - i - 1):
            rest[k] -= row[k] * zi
    # U x = z (backward)
    for i in range(f - 1, -1, -1):
        s = b[i]
        row = a64[i, i + 1 :]
        rest = b[i + 1 :]
        for k in range(f - i - 1):
            s -= row[k] * rest[k]
        b[i] = s / a64[i, i]
    for k in range(f):
        x[k] = b[k]


def _cg_rows_impl(indptr, indices, values, X, Y, A0, cg_steps, conf, stride):
    n_rows, f = X.shape
    n_chunks = (n_rows + _CHUNK - 1) // _CHUNK
    for it in prange(n_chunks):
        # prange hands each thread a contiguous run of iterations; visiting the chunks in a
        # strided order spreads popular (low-id) rows over every thread
        chunk = (it * stride) % n_chunks
        r = np.empty(f, dtype=np.float32)
        p = np.empty(f, dtype=np.float32)
        ap = np.empty(f, dtype=np.float32)
        for u in range(chunk * _CHUNK, min(chunk * _CHUNK + _CHUNK, n_rows)):
            _cg_row(indptr[u], indptr[u + 1], indices, values, X[u], Y, A0, cg_steps, conf, r, p, ap)


def _cholesky_rows_impl(indptr, indices, values, X, Y, A0, conf, stride):
    n_rows, f = X.shape
    n_chunks = (n_rows + _CHUNK - 1) // _CHUNK
    for it in prange(n_chunks):
        chunk = (it * stride) % n_chunks
        Yw = np.empty((_GATHER, f), dtype=np.float32)
        G = np.empty((f, f), dtype=np.float32)
        a64 = np.zeros((f, f), dtype=np.float64)  # the lower triangle is never written or read
        b = np.empty(f, dtype=np.float64)
        for u in range(chunk * _CHUNK, min(chunk * _CHUNK + _CHUNK, n_rows)):
            _cholesky_row(indptr[u], indptr[u + 1], indices, values, X[u], Y, A0, conf, Yw, G, a64, b)


# Each solver and mode is its own compiled function, so a fit compiles only what it runs.
_cg_parallel, _cg_serial = serial_and_parallel(_cg_rows_impl)
_cholesky_parallel, _cholesky_serial = serial_and_parallel(_cholesky_rows_impl)


def _loss_rows_impl(indptr, indices, values, X, Y, conf, out, extra_sum):
    """Per row: sum over observed cells of c (p - s)^2 - s^2 (the correction to sum_all s^2),
    and of c - 1 (for the normalisation)."""
    n_rows = X.shape[0]
    alpha = conf[0]
    inv_eps = conf[1]
    use_log = conf[2] > 0
    for u in prange(n_rows):
        acc = 0.0
        extra = 0.0
        x = X[u]
        for nz in range(indptr[u], indptr[u + 1]):
            v = values[nz]
            e = np.float64(_extra(v, alpha, inv_eps, use_log))
            c = 1.0 + e
            s = _dot64(x, Y[indices[nz]])
            p = 1.0 if v > 0 else 0.0
            acc += c * (p - s) * (p - s) - s * s
            extra += e
        out[u] = acc
        extra_sum[u] = extra


_loss_parallel, _loss_serial = serial_and_parallel(_loss_rows_impl)


def _factor_topk_impl(
    U, V, bias, rows, k, seen_indptr, seen_indices, seen_rows, allowed, group, n_workers, out_idx, out_scores
):
    n = rows.shape[0]
    f = U.shape[1]
    n_groups = (n + group - 1) // group
    for w in prange(n_workers):
        # one gather and one score buffer per worker, reused for all its groups: a fresh 10-30 MB
        # array per group would be mmapped and page-faulted in every time
        Ug = np.empty((group, f), dtype=np.float32)
        S = np.empty((group, V.shape[0]), dtype=np.float32)
        for g in range(w, n_groups, n_workers):
            lo = g * group
            m = min(group, n - lo)
            for r in range(m):  # element by element: an array assignment compiles numba's
                src = U[rows[lo + r]]  # shape-error formatting (seconds on the first call)
                dst = Ug[r]
                for c in range(f):
                    dst[c] = src[c]
            block = S[:m]
            gemm_nt(Ug[:m], V, block)  # BLAS sgemm on this thread (BLAS itself single-threaded here)
            if bias.shape[0] > 0:
                for r in range(m):
                    row = block[r]
                    for i in range(row.shape[0]):
                        row[i] += bias[i]
            hi = lo + m
            _topk_serial(
                block, k, seen_indptr, seen_indices, seen_rows[lo:hi], allowed, out_idx[lo:hi], out_scores[lo:hi]
            )


_factor_topk_parallel, _factor_topk_serial = serial_and_parallel(_factor_topk_impl)

_GROUP_CELLS = 8_000_000  # score cells per group of users (32 MB per thread)


@numba.njit(cache=True, nogil=True, fastmath=_DOT_FLAGS)
def _allowed_dots(u, V, items, bias, out):
    """out[j] = u . V[items[j]] (+ bias[items[j]]): one user's scores on the allowed items only."""
    f = u.shape[0]
    with_bias = bias.shape[0] > 0
    for j in range(items.shape[0]):
        row = V[items[j]]
        total = np.float32(0.0)
        for c in range(f):
            total += u[c] * row[c]
        out[j] = total + bias[items[j]] if with_bias else total


_SUBSET_SHARE = 0.5  # below this share of allowed items one user is scored on the allowed ones only


def _one_user_topk(
    u: np.ndarray,
    V: np.ndarray,
    k: int,
    bias: np.ndarray,
    seen: np.ndarray,
    allowed: np.ndarray,
    out_idx: np.ndarray,
    out_scores: np.ndarray,
) -> None:
    """`factor_topk` for one user (`u` is (1, f)): sgemv through ctypes, numpy selection.

    With every item (or most) allowed: the kernel's items in its order, scores to an ulp (sgemv
    and the kernel's sgemm round differently; a one-row sgemm, which matched bit for bit, cost
    4x the sgemv on a million items). When a filter allows
    under `_SUBSET_SHARE` of the items (a server's ``filter=genre:...``), only the allowed
    rows of V are read and scored (`_allowed_dots`; a 60k-item catalogue filtered to a fifth
    costs a fifth of the memory traffic): the same items and order, and scores rounded
    differently by an ulp or so (as a batch's may be). Measured on a 60k x 64 V with a fifth
    allowed: gathering those rows for sgemm cost more than the full product; this does not.
    """
    n_items = V.shape[0]
    n_allowed = int(np.count_nonzero(allowed))
    if n_allowed >= _SUBSET_SHARE * n_items:
        scores = np.empty((1, n_items), dtype=np.float32)
        gemv_python(V, np.ascontiguousarray(u[0]), scores[0])
        if bias.shape[0] > 0:
            scores[0] += bias
        topk_row_numpy(scores[0], k, seen, allowed, out_idx[0], out_scores[0])
        return
    items = np.flatnonzero(allowed)  # ascending, so "lower index wins a tie" carries over
    scores = np.empty((1, n_allowed), dtype=np.float32)
    _allowed_dots(u[0], V, items, bias, scores[0])
    # the seen items among the allowed ones, as positions in `items`
    pos = np.minimum(np.searchsorted(items, seen), max(n_allowed - 1, 0))
    local_seen = pos[items[pos] == seen] if n_allowed else pos[:0]
    local = np.empty(k, dtype=np.int32)
    topk_row_numpy(scores[0], k, local_seen, np.ones(n_allowed, dtype=np.bool_), local, out_scores[0])
    hit = local >= 0
    out_idx[0] = -1
    out_idx[0, hit] = items[local[hit]]


def factor_topk(
    U: np.ndarray,
    V: np.ndarray,
    rows: np.ndarray,
    k: int,
    *,
    bias: np.ndarray | None = None,
    seen_indptr: np.ndarray | None = None,
    seen_indices: np.ndarray | None = None,
    allowed: np.ndarray | None = None,
    parallel: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-`k` items of ``U[rows] @ V.T (+ bias)``, scoring and selecting group by group.

    Each thread scores a group of users with one single-threaded sgemm into its own buffer and
    selects from it at once (`likewise.kernels.topk`'s kernel, same order and ties), so no
    users x items block is written to memory and BLAS threads never compete with numba's.

    Parameters
    ----------
    U, V : float32 arrays (n_users, f), (n_items, f)
    rows : int array
        User rows to recommend for.
    k : int
    bias : float32 array (n_items,), optional
        Added to every score (BPR's item bias).
    seen_indptr, seen_indices : CSR of the items each user must not get (sorted within rows)
    allowed : bool array (n_items,), optional
    parallel : bool
        Parallel over groups of users (a single user is always served serially).

    Returns
    -------
    (int32 array, float32 array), each (len(rows), k), padded with -1 / -inf.
    """
    U = np.ascontiguousarray(U, dtype=np.float32)
    V = np.ascontiguousarray(V, dtype=np.float32)
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    n, n_items = rows.size, V.shape[0]
    bias = np.zeros(0, np.float32) if bias is None else np.ascontiguousarray(bias, dtype=np.float32)
    seen_indptr, seen_indices, seen_rows, allowed = filter_arrays(
        n, n_items, seen_indptr, seen_indices, rows if seen_indptr is not None else None, allowed
    )
    out_idx = np.empty((n, k), dtype=np.int32)
    out_scores = np.empty((n, k), dtype=np.float32)
    if n == 0 or k == 0:
        return out_idx, out_scores
    if n == 1:  # one user: sgemv and the same selection without numba (see topk_row_numpy)
        src = seen_rows[0]
        seen = seen_indices[seen_indptr[src] : seen_indptr[src + 1]] if src >= 0 else seen_indices[:0]
        _one_user_topk(U[rows[:1]], V, int(k), bias, seen, allowed, out_idx, out_scores)
        return out_idx, out_scores
    threads = numba.get_num_threads() if parallel else 1
    group = max(16, min(1024, _GROUP_CELLS // max(n_items, 1)))
    group = max(1, min(group, -(-n // (4 * threads))))  # at least ~4 groups per thread
    n_groups = -(-n // group)
    workers = min(threads, n_groups)
    kernel = _factor_topk_parallel if workers > 1 and parallel_allowed() else _factor_topk_serial
    kernel(U, V, bias, rows, int(k), seen_indptr, seen_indices, seen_rows, allowed, group, workers, out_idx, out_scores)
    return out_idx, out_scores


SOLVERS = ("cg", "cholesky")


def _stride(n_chunks: int) -> int:
    """A step coprime with `n_chunks` near golden-ratio of it: (i * step) % n visits every chunk once."""
    if n_chunks <= 2:
        return 1
    step = max(1, int(n_chunks * 0.6180339887))
    while math.gcd(step, n_chunks) != 1:
        step += 1
    return step


def _check_csr(indptr: np.ndarray, indices: np.ndarray, values: np.ndarray, n_rows: int) -> tuple:
    indptr = np.ascontiguousarray(indptr, dtype=np.int64)
    indices = np.ascontiguousarray(indices, dtype=np.int32)
    values = np.ascontiguousarray(values, dtype=np.float32)
    if indptr.shape != (n_rows + 1,) or indices.shape != values.shape or indptr[-1] != indices.size:
        raise ValueError("CSR parts do not match the factor rows")
    return indptr, indices, values


def _conf_params(alpha: float, confidence: str, epsilon: float) -> np.ndarray:
    if confidence not in ("linear", "log"):
        raise ValueError(f"confidence must be 'linear' or 'log', got {confidence!r}")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be positive, got {epsilon!r}")
    return np.array([alpha, 1.0 / epsilon, 1.0 if confidence == "log" else 0.0], dtype=np.float32)


def solve_rows(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    reg: float,
    *,
    alpha: float = 1.0,
    confidence: str = "linear",
    epsilon: float = 1.0,
    solver: str = "cg",
    cg_steps: int = 3,
    gram: np.ndarray | None = None,
    parallel: bool = True,
) -> None:
    """One ALS half-step: update every row of `X` (in place) with `Y` fixed.

    Parameters
    ----------
    indptr, indices, values
        CSR rows aligned with `X` over the columns of `Y` holding the raw interaction values
        r: preference 1[r > 0], confidence from `alpha`, `confidence` and `epsilon`.
    X : float32 array (n_rows, f), C-contiguous
        Updated in place. The conjugate-gradient solver starts from its current values.
    Y : float32 array (n_cols, f), C-contiguous
    reg : float
        L2 regularisation added to the diagonal.
    alpha, confidence, epsilon
        ``c = 1 + alpha |r|`` (``"linear"``) or ``1 + alpha log(1 + |r| / epsilon)`` (``"log"``).
    solver : {"cg", "cholesky"}
    cg_steps : int
        Conjugate-gradient steps per row (ignored by Cholesky).
    gram : float32 array (f, f), optional
        ``Y.T @ Y`` when the caller already has it (computed here otherwise, by BLAS).
    parallel : bool
        Parallel over rows (numba threads) or serial (e.g. a single fold-in row).
    """
    if X.dtype != np.float32 or Y.dtype != np.float32 or not X.flags.c_contiguous:
        raise ValueError("X and Y must be float32 and X C-contiguous")
    Y = np.ascontiguousarray(Y)
    if X.shape[1] != Y.shape[1]:
        raise ValueError(f"factor widths differ: {X.shape[1]} and {Y.shape[1]}")
    indptr, indices, values = _check_csr(indptr, indices, values, X.shape[0])
    conf = _conf_params(alpha, confidence, epsilon)
    if gram is None:
        gram = Y.T @ Y
    A0 = np.ascontiguousarray(gram, dtype=np.float32).copy()
    A0[np.diag_indices_from(A0)] += np.float32(reg)
    stride = _stride((X.shape[0] + _CHUNK - 1) // _CHUNK)
    parallel = parallel and X.shape[0] > 1 and parallel_allowed()
    if solver == "cg":
        (_cg_parallel if parallel else _cg_serial)(indptr, indices, values, X, Y, A0, int(cg_steps), conf, stride)
    elif solver == "cholesky":
        (_cholesky_parallel if parallel else _cholesky_serial)(indptr, indices, values, X, Y, A0, conf, stride)
    else:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")


def als_loss(
    indptr: np.ndarray,
    indices: np.ndarray,
    values: np.ndarray,
    X: np.ndarray,
    Y: np.ndarray,
    reg: float,
    *,
    alpha: float = 1.0,
    confidence: str = "linear",
    epsilon: float = 1.0,
    parallel: bool = True,
) -> tuple[float, float]:
    """The weighted objective ``sum_ui c_ui (p_ui - x_u.y_i)^2 + reg (|X|^2 + |Y|^2)`` over every cell.

    The sum over all cells of ``s^2`` is ``sum(X^T X * Y^T Y)`` (BLAS); observed cells add
    their correction, so no dense users x items matrix is formed. Computed in float64.

    Returns
    -------
    (loss, total confidence)
        The objective and ``sum_ui c_ui`` over all cells (``n_rows n_cols + sum (c - 1)``).
    """
    indptr, indices, values = _check_csr(indptr, indices, values, X.shape[0])
    conf = _conf_params(alpha, confidence, epsilon)
    out = np.empty(X.shape[0], dtype=np.float64)
    extra = np.empty(X.shape[0], dtype=np.float64)
    kernel = _loss_parallel if parallel and X.shape[0] > 1 and parallel_allowed() else _loss_serial
    kernel(indptr, indices, values, X, np.ascontiguousarray(Y), conf, out, extra)
    X64 = X.astype(np.float64)
    Y64 = Y.astype(np.float64)
    everything = float(np.sum((X64.T @ X64) * (Y64.T @ Y64)))
    loss = everything + float(out.sum()) + reg * (float(np.sum(X64 * X64)) + float(np.sum(Y64 * Y64)))
    return loss, float(X.shape[0]) * float(Y.shape[0]) + float(extra.sum())


def _warm() -> None:
    """Compile every variant on tiny float32 inputs (called by `likewise.kernels.warmup`)."""
    indptr = np.array([0, 1, 2], dtype=np.int64)
    indices = np.array([0, 1], dtype=np.int32)
    values = np.array([2.0, -2.0], dtype=np.float32)
    Y = np.eye(2, dtype=np.float32)
    for parallel in (False, True):
        for solver in SOLVERS:
            X = np.zeros((2, 2), dtype=np.float32)
            solve_rows(indptr, indices, values, X, Y, 0.1, solver=solver, parallel=parallel)
        als_loss(indptr, indices, values, X, Y, 0.1, parallel=parallel)
        factor_topk(X, Y, np.arange(2), 1, seen_indptr=indptr, seen_indices=indices, bias=values, parallel=parallel)
    for bias in (values, None):  # one user on a selective filter (`_allowed_dots`), with and without bias
        factor_topk(X, Y, np.arange(1), 1, bias=bias, allowed=np.array([True, False]))
