"""Brute-force twin of likewise.kernels.als: dense numpy, float64, every cell's confidence explicit.

Straight from Hu, Koren & Volinsky (2008): with the full diagonal C_u (n_items x n_items)
x_u = (Y^T C_u Y + reg I)^-1 Y^T C_u p_u, no Y^T Y trick, no sparsity.
"""

import numpy as np


def signed_confidence(values, alpha, confidence="linear", epsilon=1.0):
    """Hu et al. eq. 6 / eq. 7 per stored value: +c where r > 0 (preference 1), -c elsewhere."""
    r = np.abs(np.asarray(values, dtype=np.float64))
    c = 1.0 + alpha * (np.log(1.0 + r / epsilon) if confidence == "log" else r)
    return np.where(np.asarray(values) > 0, c, -c)


def dense_confidence(shape, indptr, indices, signed):
    """Dense C and P from signed confidences (+c: preference 1, -c: preference 0); others c=1, p=0."""
    C = np.ones(shape, dtype=np.float64)
    P = np.zeros(shape, dtype=np.float64)
    for row in range(shape[0]):
        for nz in range(indptr[row], indptr[row + 1]):
            col = indices[nz]
            C[row, col] = abs(float(signed[nz]))
            P[row, col] = 1.0 if signed[nz] > 0 else 0.0
    return C, P


def solve_rows_reference(C, P, Y, reg):
    """Exact factors of every row, one dense normal-equation solve each."""
    Y = np.asarray(Y, dtype=np.float64)
    f = Y.shape[1]
    X = np.empty((C.shape[0], f))
    for row in range(C.shape[0]):
        Cu = np.diag(C[row])
        A = Y.T @ Cu @ Y + reg * np.eye(f)
        b = Y.T @ Cu @ P[row]
        X[row] = np.linalg.solve(A, b)
    return X


def als_reference(C, P, Y0, reg, n_epochs):
    """Full ALS from item factors Y0: each epoch solves the users (items fixed), then the items."""
    Y = np.array(Y0, dtype=np.float64)
    for _ in range(n_epochs):
        X = solve_rows_reference(C, P, Y, reg)
        Y = solve_rows_reference(C.T, P.T, X, reg)
    return X, Y


def loss_reference(C, P, X, Y, reg):
    """sum_ui c_ui (p_ui - x_u . y_i)^2 + reg (|X|^2 + |Y|^2), over the dense matrix."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    S = X @ Y.T
    return float(np.sum(C * (P - S) ** 2) + reg * (np.sum(X * X) + np.sum(Y * Y)))


def explain_reference(C, P, Y, reg, user, item):
    """Hu et al. section 5: contribution of each item j of the user to the score of `item`.

    W_u = (Y^T C_u Y + reg I)^-1, s_ij = y_i^T W_u y_j, contribution_j = s_ij c_uj p_uj.
    """
    Y = np.asarray(Y, dtype=np.float64)
    f = Y.shape[1]
    W = np.linalg.inv(Y.T @ np.diag(C[user]) @ Y + reg * np.eye(f))
    s = Y[item] @ W @ Y.T
    return s * C[user] * P[user]
