"""Plain-numpy twins of the hybrid kernel's steps (one WARP or BPR example) and of ContentKNN.

Written straight from the formulas in `likewise.kernels.hybrid`: representations as dense
products of the design rows with the embeddings, the pair's gradients, adagrad steps (step
with the accumulator from before, then add the feature's gradient squared).
"""

from __future__ import annotations

import numpy as np


def represent(design: np.ndarray, emb: np.ndarray, bias: np.ndarray, row: int) -> np.ndarray:
    return np.append(design[row] @ emb, design[row] @ bias)


def score(user: np.ndarray, item: np.ndarray) -> float:
    return float(user[:-1] @ item[:-1] + user[-1] + item[-1])


def adagrad_side(design, emb, bias, g2e, g2b, row, rep_grad, bias_grad, lr, alpha):
    """Adagrad step of every feature of `row`, in place."""
    for feature in np.flatnonzero(design[row]):
        x = design[row, feature]
        full = x * rep_grad
        emb[feature] -= lr / np.sqrt(g2e[feature]) * (full + alpha * emb[feature])
        g2e[feature] += full**2
        full_b = x * bias_grad
        bias[feature] -= lr / np.sqrt(g2b[feature]) * full_b
        g2b[feature] += full_b**2


def pair_step(params, user_design, item_design, u, i, j, dpos, dneg, lr, alpha_u=0.0, alpha_i=0.0):
    """One update for dL/ds_ui = dpos and dL/ds_uj = dneg (representations before the step)."""
    p = params
    pu = represent(user_design, p["user_emb"], p["user_bias"], u)
    qi = represent(item_design, p["item_emb"], p["item_bias"], i)
    qj = represent(item_design, p["item_emb"], p["item_bias"], j)
    adagrad_side(user_design, p["user_emb"], p["user_bias"], p["user_emb_g2"], p["user_bias_g2"], u,
                 dpos * qi[:-1] + dneg * qj[:-1], dpos + dneg, lr, alpha_u)  # fmt: skip
    adagrad_side(item_design, p["item_emb"], p["item_bias"], p["item_emb_g2"], p["item_bias_g2"], i,
                 dpos * pu[:-1], dpos, lr, alpha_i)  # fmt: skip
    adagrad_side(item_design, p["item_emb"], p["item_bias"], p["item_emb_g2"], p["item_bias_g2"], j,
                 dneg * pu[:-1], dneg, lr, alpha_i)  # fmt: skip


def warp_weight(n_items: int, sampled: int, weight: float = 1.0) -> float:
    return min(weight * np.log(max(1.0, np.floor((n_items - 1) / sampled))), 10.0)


def bpr_gradients(params, user_design, item_design, u, i, j, weight=1.0):
    p = params
    pu = represent(user_design, p["user_emb"], p["user_bias"], u)
    x = score(pu, represent(item_design, p["item_emb"], p["item_bias"], i)) - score(
        pu, represent(item_design, p["item_emb"], p["item_bias"], j)
    )
    z = 1.0 / (1.0 + np.exp(x))
    return -weight * z, weight * z


def dense_content_knn(features: np.ndarray, k: int) -> np.ndarray:
    """Dense cosine of the rows, the diagonal removed, each row pruned to its k largest (> 0)."""
    norms = np.linalg.norm(features, axis=1)
    safe = np.where(norms > 0, norms, np.inf)
    sims = (features @ features.T) / safe[:, None] / safe[None, :]
    np.fill_diagonal(sims, 0.0)
    out = np.zeros_like(sims)
    for row in range(sims.shape[0]):
        order = np.lexsort((np.arange(sims.shape[1]), -sims[row]))[:k]
        keep = order[sims[row, order] > 1e-10]
        out[row, keep] = sims[row, keep]
    return out
