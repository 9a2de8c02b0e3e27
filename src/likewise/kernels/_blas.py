"""BLAS/LAPACK calls for the factor-model kernels, bound directly rather than through numba's np.*.

- `gemm_nt(A, B, C)`: C = A B^T (BLAS sgemm). ``np.dot(a, b, out)`` in numba does the same
  product, but its shape-error messages compile numba's string formatting: about 4 s added to
  the first, uncached call of every kernel that uses it.
- `gemv_python(V, u, out)`: out = V u for one query (BLAS sgemv through ctypes, no numba): a
  one-row sgemm (`gemm_nt_python` with m = 1) costs 4x more in OpenBLAS (63 ms against 15 ms
  for 1M x 64 on one thread here), so a single user's scores over a large catalogue use this.
- `syrk_upper(block, G, accumulate)`: G (+)= block^T block, upper triangle only (BLAS ssyrk,
  half the flops of the sgemm ``np.dot(block.T, block)``).
- `potrf_upper(a)`: in-place Cholesky of a symmetric float64 matrix, U (A = U^T U) in the
  upper triangle (LAPACK dpotrf), returning LAPACK's info (0, or > 0 when not positive definite).

Both call the BLAS/LAPACK scipy ships (its ``cython_blas`` / ``cython_lapack`` function
pointers, the same ones numba's own linear algebra uses). They are bound by symbol name
(``llvmlite.binding.add_symbol`` / numba's helper library) rather than as ctypes pointers, so
the kernels that call them stay cacheable. Matrices are C-ordered; BLAS sees their Fortran
transposes, which is why "upper" here is "L" there.

Under ``NUMBA_DISABLE_JIT`` plain numpy twins of the same contracts are used.
"""

from __future__ import annotations

import ctypes

import numba
import numpy as np

__all__ = ["gemm_nt", "gemm_nt_python", "gemv_python", "potrf_upper", "syrk_upper"]

if numba.config.DISABLE_JIT:  # type: ignore[attr-defined]  # pragma: no cover - NUMBA_DISABLE_JIT runs

    def gemm_nt(A, B, C):
        """Plain-numpy twin of the BLAS call below."""
        C[:] = A @ B.T

    gemm_nt_python = gemm_nt

    def gemv_python(V: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
        """Plain-numpy twin of the BLAS call below."""
        out[:] = V @ u

    def syrk_upper(block, G, accumulate):
        """Plain-numpy twin of the BLAS call below."""
        product = block.T.astype(np.float64) @ block.astype(np.float64)
        rows, cols = np.triu_indices(G.shape[0])
        G[rows, cols] = (G[rows, cols] if accumulate else 0) + product[rows, cols]

    def potrf_upper(a):
        """Plain-numpy twin of the LAPACK call below (reads only the upper triangle, as it does)."""
        try:
            upper = np.linalg.cholesky(np.triu(a) + np.triu(a, 1).T).T
        except np.linalg.LinAlgError:
            return 1
        rows, cols = np.triu_indices(a.shape[0])
        a[rows, cols] = upper[rows, cols]
        return 0

else:
    import llvmlite.binding
    from numba import types

    from likewise.kernels._threads import blas_libraries_changed

    def _load_cython_blas() -> object:
        """scipy's ``cython_blas`` extension, without running ``scipy.linalg``'s package init.

        Importing ``scipy.linalg.cython_blas`` the usual way first imports all of scipy.linalg
        (110-180 ms here), which every fresh process that loads a model would pay although it
        needs two function pointers. The extension itself loads in ~5 ms; a later
        ``import scipy.linalg`` gets the same module (and the same BLAS) from the interpreter.
        """
        import importlib.machinery
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("scipy")
        folders = list(spec.submodule_search_locations or []) if spec else []
        for folder in folders:
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                path = Path(folder) / "linalg" / f"cython_blas{suffix}"
                if path.is_file():
                    loader = importlib.machinery.ExtensionFileLoader("scipy.linalg.cython_blas", str(path))
                    module_spec = importlib.util.spec_from_file_location(
                        "scipy.linalg.cython_blas", path, loader=loader
                    )
                    if module_spec is not None:
                        module = importlib.util.module_from_spec(module_spec)
                        loader.exec_module(module)
                        return module
        import scipy.linalg.cython_blas  # pragma: no cover - an unusual scipy layout

        return scipy.linalg.cython_blas  # pragma: no cover

    _cython_blas = _load_cython_blas()
    blas_libraries_changed()  # scipy's OpenBLAS may have arrived with it: thread limits must cover it

    def _capsule_address(module: object, name: str) -> int:
        capsule = module.__pyx_capi__[name]  # type: ignore[attr-defined]
        get_name = ctypes.pythonapi.PyCapsule_GetName
        get_name.restype = ctypes.c_char_p
        get_name.argtypes = [ctypes.py_object]
        get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
        get_pointer.restype = ctypes.c_void_p
        get_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
        address = get_pointer(capsule, get_name(capsule))
        if not address:  # pragma: no cover - a scipy without the routine
            raise ImportError(f"scipy.linalg.cython_blas has no usable {name}")
        return int(address)

    _SGEMM_ADDRESS = _capsule_address(_cython_blas, "sgemm")
    llvmlite.binding.add_symbol("likewise_sgemm", _SGEMM_ADDRESS)
    llvmlite.binding.add_symbol("likewise_ssyrk", _capsule_address(_cython_blas, "ssyrk"))
    _i32p = types.CPointer(types.int32)
    _f32p = types.CPointer(types.float32)
    _u8p = types.CPointer(types.uint8)
    # void sgemm(char *transa, char *transb, int *m, int *n, int *k, float *alpha, float *a, int *lda,
    #            float *b, int *ldb, float *beta, float *c, int *ldc)
    _sgemm = types.ExternalFunction(
        "likewise_sgemm",
        types.void(_u8p, _u8p, _i32p, _i32p, _i32p, _f32p, _f32p, _i32p, _f32p, _i32p, _f32p, _f32p, _i32p),
    )
    # void ssyrk(char *uplo, char *trans, int *n, int *k, float *alpha, float *a, int *lda,
    #            float *beta, float *c, int *ldc)  (Fortran calling convention: all by pointer)
    _ssyrk = types.ExternalFunction(
        "likewise_ssyrk", types.void(_u8p, _u8p, _i32p, _i32p, _f32p, _f32p, _i32p, _f32p, _f32p, _i32p)
    )
    # numba's own binding of LAPACK's ?potrf (scipy's cython_lapack, resolved at run time)
    _xxpotrf = types.ExternalFunction(
        "numba_xxpotrf", types.intc(types.char, types.char, types.intp, types.CPointer(types.float64), types.intp)
    )

    @numba.njit(cache=True, nogil=True)
    def gemm_nt(A, B, C):
        """C = A B^T; A (m, f), B (n, f) and C (m, n) C-ordered float32 (shapes are the caller's
        contract: the kernels pass buffers they sized themselves).

        In Fortran terms A and B are f x m and f x n matrices and C is n x m, so this is
        C^T = B^T A, i.e. sgemm('T', 'N', n, m, f, 1, B, f, A, f, 0, C, n).
        """
        m, f = A.shape
        n = B.shape[0]
        chars = np.empty(2, dtype=np.uint8)
        chars[0] = ord("T")
        chars[1] = ord("N")
        dims = np.empty(3, dtype=np.int32)  # n (= ldc), m, f (= lda = ldb)
        dims[0] = n
        dims[1] = m
        dims[2] = f
        scalars = np.empty(2, dtype=np.float32)  # alpha, beta
        scalars[0] = 1.0
        scalars[1] = 0.0
        if m == 0 or n == 0:
            return
        if f == 0:
            C[:] = 0.0
            return
        f_ptr = dims[2:].ctypes
        _sgemm(
            chars.ctypes, chars[1:].ctypes, dims.ctypes, dims[1:].ctypes, f_ptr, scalars.ctypes, B.ctypes, f_ptr,
            A.ctypes, f_ptr, scalars[1:].ctypes, C.ctypes, dims.ctypes,
        )  # fmt: skip

    @numba.njit(cache=True, nogil=True)
    def syrk_upper(block, G, accumulate):
        """G (+)= block^T block on G's upper triangle; block (m, f) and G (f, f) C-ordered float32.

        In Fortran terms block is an f x m matrix B (leading dimension f) and this is
        ssyrk('L', 'N'): C = B B^T (+ C) on C's lower triangle, which is G's upper one.
        """
        m, f = block.shape
        chars = np.empty(2, dtype=np.uint8)
        chars[0] = ord("L")
        chars[1] = ord("N")
        dims = np.empty(2, dtype=np.int32)  # n (= lda = ldc), k
        dims[0] = f
        dims[1] = m
        scalars = np.empty(2, dtype=np.float32)  # alpha, beta
        scalars[0] = 1.0
        scalars[1] = 1.0 if accumulate else 0.0
        n_ptr = dims.ctypes
        _ssyrk(
            chars.ctypes, chars[1:].ctypes, n_ptr, dims[1:].ctypes, scalars.ctypes, block.ctypes, n_ptr,
            scalars[1:].ctypes, G.ctypes, n_ptr,
        )  # fmt: skip

    @numba.njit(cache=True, nogil=True)
    def potrf_upper(a):
        """Cholesky of the symmetric C-ordered float64 `a` in place: U (A = U^T U) in its upper
        triangle (LAPACK sees the Fortran transpose, so 'L' there is our upper). Returns info."""
        return _xxpotrf(ord("d"), ord("L"), a.shape[0], a.ctypes, a.shape[0])

    _c_int_p, _c_float_p = ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_float)
    _sgemm_ctypes = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, ctypes.c_char_p, _c_int_p, _c_int_p, _c_int_p, _c_float_p, ctypes.c_void_p,
        _c_int_p, ctypes.c_void_p, _c_int_p, _c_float_p, ctypes.c_void_p, _c_int_p,
    )(_SGEMM_ADDRESS)  # fmt: skip

    def gemm_nt_python(A: np.ndarray, B: np.ndarray, C: np.ndarray) -> None:
        """`gemm_nt` without numba: the same sgemm call through ctypes, so a single-user request
        in a fresh process needs no JIT machinery (numba's first dispatch costs ~0.15 s) and
        gets bit for bit the scores the kernel computes. Same contract as `gemm_nt`."""
        m, f = A.shape
        n = B.shape[0]
        if m == 0 or n == 0:
            return
        if f == 0:
            C[:] = 0.0
            return
        dims = [ctypes.c_int(v) for v in (n, m, f)]
        one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
        _sgemm_ctypes(
            b"T", b"N", dims[0], dims[1], dims[2], one, B.ctypes.data, dims[2], A.ctypes.data, dims[2], zero,
            C.ctypes.data, dims[0],
        )  # fmt: skip

    _sgemv_ctypes = ctypes.CFUNCTYPE(
        None, ctypes.c_char_p, _c_int_p, _c_int_p, _c_float_p, ctypes.c_void_p, _c_int_p, ctypes.c_void_p,
        _c_int_p, _c_float_p, ctypes.c_void_p, _c_int_p,
    )(_capsule_address(_cython_blas, "sgemv"))  # fmt: skip

    def gemv_python(V: np.ndarray, u: np.ndarray, out: np.ndarray) -> None:
        """out = V u; V (n, f) C-ordered float32, u (f,) and out (n,) contiguous float32 (the caller
        sizes them). BLAS sees V as its f x n Fortran transpose, hence trans = "T"."""
        n, f = V.shape
        if n == 0:
            return
        if f == 0:
            out[:] = 0.0
            return
        dims = [ctypes.c_int(v) for v in (f, n, 1)]  # m, n (of the Fortran f x n matrix), inc
        one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
        _sgemv_ctypes(
            b"T", dims[0], dims[1], one, V.ctypes.data, dims[0], u.ctypes.data, dims[2], zero, out.ctypes.data,
            dims[2],
        )  # fmt: skip
