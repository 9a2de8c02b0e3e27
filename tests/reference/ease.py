"""Brute-force twin of EASE: Steck's closed form in dense float64 numpy, straight from the paper."""

import numpy as np


def ease_reference(X, reg):
    """B = I - P diag(1/diag(P)), P = (X^T X + reg I)^-1, so that diag(B) = 0."""
    X = np.asarray(X, dtype=np.float64)
    P = np.linalg.inv(X.T @ X + reg * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P / np.diag(P)[None, :]
    np.fill_diagonal(B, 0.0)
    return B


def ease_objective(X, B, reg):
    """|X - X B|_F^2 + reg |B|_F^2 (the quantity B minimises under diag(B) = 0)."""
    X = np.asarray(X, dtype=np.float64)
    return float(np.sum((X - X @ B) ** 2) + reg * np.sum(B * B))
