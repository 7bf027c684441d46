"""numba kernel of the GRU: forward pass and full BPTT over a block of sequences, in order.

The equations are those of :mod:`seqbench_gru.reference`, which this kernel is tested against.
``mode``: -1 runs forward only; 0 trains (each sequence's gradient, clipped to norm ``clip`` when
``clip`` > 0, is applied at its end, before the next sequence); 2 adds each sequence's gradient
into ``grad`` without changing a weight (for checking the gradient).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

FORWARD, TRAIN, ACCUMULATE = -1, 0, 2


@njit(cache=True, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def run_block(inputs, targets, target_mask, lengths, w, n_hidden, alpha, clip, mode, grad,
              outputs):
    """Run (and unless ``mode`` is -1 learn from) every sequence of the block; write each step's
    output, computed with the weights in force at the sequence start, to ``outputs``."""
    n_seq, t_max, n_in = inputs.shape
    n_out = outputs.shape[2]
    H = n_hidden
    w_end = 3 * H * n_in
    u_end = w_end + 3 * H * H
    b_end = u_end + 3 * H
    v_end = b_end + n_out * H
    W = w[:w_end].reshape(3 * H, n_in)
    U = w[w_end:u_end].reshape(3 * H, H)
    b = w[u_end:b_end]
    V = w[b_end:v_end].reshape(n_out, H)
    c = w[v_end:]
    g = np.zeros(w.shape[0]) if mode == TRAIN else grad
    gW = g[:w_end].reshape(3 * H, n_in)
    gU = g[w_end:u_end].reshape(3 * H, H)
    gb = g[u_end:b_end]
    gV = g[b_end:v_end].reshape(n_out, H)
    gc = g[v_end:]

    hs = np.zeros((t_max + 1, H))  # hs[t + 1] is h_t; hs[0] is the reset state
    zs = np.zeros((t_max, H))
    rs = np.zeros((t_max, H))
    ns = np.zeros((t_max, H))
    a = np.zeros(3 * H)
    rh = np.zeros(H)
    da = np.zeros(3 * H)
    dh = np.zeros(H)
    carry = np.zeros(H)
    d_rh = np.zeros(H)
    da_y = np.zeros(n_out)

    for q in range(n_seq):
        T = lengths[q]
        for t in range(T):
            x = inputs[q, t]
            h_prev = hs[t]
            for j in range(2 * H):
                s = b[j]
                for i in range(n_in):
                    s += W[j, i] * x[i]
                for k in range(H):
                    s += U[j, k] * h_prev[k]
                a[j] = _sigmoid(s)
            for k in range(H):
                rh[k] = a[H + k] * h_prev[k]
            for j in range(H):
                s = b[2 * H + j]
                for i in range(n_in):
                    s += W[2 * H + j, i] * x[i]
                for k in range(H):
                    s += U[2 * H + j, k] * rh[k]
                z = a[j]
                n = math.tanh(s)
                zs[t, j] = z
                rs[t, j] = a[H + j]
                ns[t, j] = n
                hs[t + 1, j] = (1.0 - z) * n + z * h_prev[j]
            for o in range(n_out):
                s = c[o]
                for k in range(H):
                    s += V[o, k] * hs[t + 1, k]
                outputs[q, t, o] = _sigmoid(s)
        if mode == FORWARD:
            continue
        if mode == TRAIN:
            g[:] = 0.0
        carry[:] = 0.0
        for t in range(T - 1, -1, -1):
            h_prev = hs[t]
            h = hs[t + 1]
            for k in range(H):
                dh[k] = carry[k]
            if target_mask[q, t]:
                for o in range(n_out):
                    y = outputs[q, t, o]
                    da_y[o] = (y - targets[q, t, o]) * y * (1.0 - y)
                    gc[o] += da_y[o]
                    for k in range(H):
                        gV[o, k] += da_y[o] * h[k]
                        dh[k] += V[o, k] * da_y[o]
            for k in range(H):
                z = zs[t, k]
                n = ns[t, k]
                da[k] = dh[k] * (h_prev[k] - n) * z * (1.0 - z)
                da[2 * H + k] = dh[k] * (1.0 - z) * (1.0 - n * n)
                rh[k] = rs[t, k] * h_prev[k]
            for k in range(H):
                s = 0.0
                for j in range(H):
                    s += U[2 * H + j, k] * da[2 * H + j]
                d_rh[k] = s
                r = rs[t, k]
                da[H + k] = s * h_prev[k] * r * (1.0 - r)
            x = inputs[q, t]
            for j in range(3 * H):
                gb[j] += da[j]
                for i in range(n_in):
                    gW[j, i] += da[j] * x[i]
            for j in range(2 * H):
                for k in range(H):
                    gU[j, k] += da[j] * h_prev[k]
            for j in range(H):
                for k in range(H):
                    gU[2 * H + j, k] += da[2 * H + j] * rh[k]
            for k in range(H):
                s = dh[k] * zs[t, k] + d_rh[k] * rs[t, k]
                for j in range(2 * H):
                    s += U[j, k] * da[j]
                carry[k] = s
        if mode == TRAIN:
            scale = alpha
            if clip > 0.0:
                norm = math.sqrt(np.sum(g * g))
                if norm > clip:
                    scale = alpha * clip / norm
            for i in range(w.shape[0]):
                w[i] -= scale * g[i]
