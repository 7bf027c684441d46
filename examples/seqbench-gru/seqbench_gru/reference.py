"""The GRU's forward pass and full-BPTT gradient for one sequence, in plain NumPy.

Readable, slow, and the yardstick the numba kernel is checked against. For each step t, with
h_{-1} = 0 (state is reset at every sequence start) and σ the logistic function:

    z_t = σ(W_z x_t + U_z h_{t-1} + b_z)                 update gate
    r_t = σ(W_r x_t + U_r h_{t-1} + b_r)                 reset gate
    n_t = tanh(W_n x_t + U_n (r_t ⊙ h_{t-1}) + b_n)      candidate state
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}
    y_t = σ(V h_t + c)

The loss is E = ½ Σ_t m_t Σ_k (d_tk − y_tk)², m_t marking the steps with a target.
"""

from __future__ import annotations

import numpy as np

from .network import Shape


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def forward(shape: Shape, w: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """Activations of one sequence ``x`` (T, I): h, z, r, n (T, H) and outputs y (T, O)."""
    W, U, b, V, c = shape.split(w)
    H = shape.n_hidden
    h = np.zeros(H)
    out = {k: [] for k in ("h_prev", "z", "r", "n", "h", "y")}
    for x_t in x:
        z = sigmoid(W[:H] @ x_t + U[:H] @ h + b[:H])
        r = sigmoid(W[H:2 * H] @ x_t + U[H:2 * H] @ h + b[H:2 * H])
        n = np.tanh(W[2 * H:] @ x_t + U[2 * H:] @ (r * h) + b[2 * H:])
        h_new = (1 - z) * n + z * h
        for key, value in (("h_prev", h), ("z", z), ("r", r), ("n", n), ("h", h_new),
                           ("y", sigmoid(V @ h_new + c))):
            out[key].append(value)
        h = h_new
    return {k: np.array(v) for k, v in out.items()}


def loss(shape: Shape, w: np.ndarray, x, d, m) -> float:
    """E of one sequence: inputs ``x`` (T, I), targets ``d`` (T, O), target mask ``m`` (T,)."""
    y = forward(shape, w, x)["y"]
    return 0.5 * float((((d - y) ** 2).sum(axis=1) * m).sum())


def gradient(shape: Shape, w: np.ndarray, x, d, m) -> np.ndarray:
    """dE/dw of one sequence by back-propagation through all of its steps."""
    a = forward(shape, w, x)
    W, U, b, V, c = shape.split(w)
    g = np.zeros_like(w)
    gW, gU, gb, gV, gc = shape.split(g)
    H = shape.n_hidden
    carry = np.zeros(H)  # dE/dh_t from steps after t
    for t in reversed(range(len(x))):
        h_prev, z, r, n, h, y = (a[k][t] for k in ("h_prev", "z", "r", "n", "h", "y"))
        da_y = (y - d[t]) * m[t] * y * (1 - y)
        gV += np.outer(da_y, h)
        gc += da_y
        dh = V.T @ da_y + carry
        da_z = dh * (h_prev - n) * z * (1 - z)
        da_n = dh * (1 - z) * (1 - n ** 2)
        d_rh = U[2 * H:].T @ da_n
        da_r = d_rh * h_prev * r * (1 - r)
        da = np.concatenate([da_z, da_r, da_n])
        gW += np.outer(da, x[t])
        gU[:2 * H] += np.outer(da[:2 * H], h_prev)
        gU[2 * H:] += np.outer(da_n, r * h_prev)
        gb += da
        carry = dh * z + d_rh * r + U[:H].T @ da_z + U[H:2 * H].T @ da_r
    return g
