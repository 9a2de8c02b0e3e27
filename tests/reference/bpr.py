"""Brute-force twin of likewise.kernels.bpr: one BPR epoch in plain Python, float64, from given triples.

Each triple (u, i, j) applies Rendle et al.'s LearnBPR step (gradient ascent on
ln sigmoid(x_uij) with L2 terms), every update computed from the values before the step;
j = -1 marks a triple the sampler skipped.
"""

import math

import numpy as np


def bpr_step_reference(x, yi, yj, bi, bj, lr, reg_user, reg_pos, reg_neg, reg_bias, use_bias):
    """New (x, yi, yj, bi, bj) after one step; plain Python floats and lists."""
    score = sum(a * (b - c) for a, b, c in zip(x, yi, yj, strict=True))
    if use_bias:
        score += bi - bj
    z = 1.0 / (1.0 + math.exp(score))  # d/dx ln sigmoid(x) = sigmoid(-x)
    new_x = [a + lr * (z * (b - c) - reg_user * a) for a, b, c in zip(x, yi, yj, strict=True)]
    new_yi = [b + lr * (z * a - reg_pos * b) for a, b in zip(x, yi, strict=True)]
    new_yj = [c + lr * (-z * a - reg_neg * c) for a, c in zip(x, yj, strict=True)]
    if use_bias:
        bi, bj = bi + lr * (z - reg_bias * bi), bj + lr * (-z - reg_bias * bj)
    return new_x, new_yi, new_yj, bi, bj


def bpr_epoch_reference(triples, U, V, bias, lr, reg_user, reg_pos, reg_neg, reg_bias, use_bias):
    """Apply the triples in order to float64 copies of U, V and bias; returns the new arrays."""
    U = np.array(U, dtype=np.float64)
    V = np.array(V, dtype=np.float64)
    bias = np.array(bias, dtype=np.float64)
    for u, i, j in triples:
        if j < 0:
            continue
        x, yi, yj, bi, bj = bpr_step_reference(
            U[u].tolist(), V[i].tolist(), V[j].tolist(), float(bias[i]), float(bias[j]),
            lr, reg_user, reg_pos, reg_neg, reg_bias, use_bias,
        )  # fmt: skip
        U[u], V[i], V[j] = x, yi, yj
        bias[i], bias[j] = bi, bj
    return U, V, bias
