"""numba kernel of the vanilla LSTM (Greff et al. 2017) and its variants, trained by full BPTT.

One call runs a whole block of sequences with no Python per time step. Per sequence: a forward
pass from rest over all its steps, storing every gate, state and output; then (unless
``mode`` is FORWARD) a backward pass through all steps, giving the exact dE/dw of that
sequence; in TRAIN mode one Nesterov momentum step follows (see ``reference.train``), before
the next sequence starts. Weights are the full flat layout of ``reference.Layout``; ``active``
lists the ones the variant trains, ``flags`` its switches (``reference.variant_flags``).

``mode``: 0 trains, 2 only sums the gradients of the block's sequences into ``grad`` (full
layout) with frozen weights, −1 runs forward only.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from seqbench.numerics import sigmoid

from ..recurrent.steps import FASTMATH

FORWARD, TRAIN, ACCUMULATE = -1, 0, 2


@njit(cache=True, inline="always")
def _views(vec, N, M, K):
    """The parameter groups (W, R, b, P, G, V, v) of the flat layout ``vec``, as views."""
    o_r = 4 * N * M
    o_b = o_r + 4 * N * N
    o_p = o_b + 4 * N
    o_g = o_p + 3 * N
    o_v = o_g + 9 * N * N
    o_vb = o_v + K * N
    return (vec[:o_r].reshape((4, N, M)), vec[o_r:o_b].reshape((4, N, N)),
            vec[o_b:o_p].reshape((4, N)), vec[o_p:o_g].reshape((3, N)),
            vec[o_g:o_v].reshape((3, 3, N, N)), vec[o_v:o_vb].reshape((K, N)),
            vec[o_vb:o_vb + K])


@njit(cache=True, fastmath=FASTMATH)
def run_block(inputs, targets, target_mask, lengths, w, velocity, active, N, K, flags,
              learning_rate, momentum, mode, grad, outputs):
    """Run (and unless ``mode`` is −1 learn from) every sequence of the block in order; write
    each step's outputs, computed with the weights that sequence's gradient is taken at, to
    ``outputs``."""
    n_seq, T, M = inputs.shape
    has_i, has_f, has_o, cifg = flags[0] != 0, flags[1] != 0, flags[2] != 0, flags[3] != 0
    g_lin, h_lin, fgr = flags[4] != 0, flags[5] != 0, flags[7] != 0

    # views into the full layout (W, R, b, P, G, V, v)
    Wx, Rr, bb, Pp, Gg, Vv, vb = _views(w, N, M, K)
    g = np.zeros(w.shape[0]) if mode == TRAIN else grad
    gW, gR, gb, gP, gG, gV, gv = _views(g, N, M, K)

    # trajectory of one sequence; row 0 is the rest state before step 0, row t+1 is step t
    Zs = np.zeros((T + 1, N))
    Is = np.zeros((T + 1, N))
    Fs = np.zeros((T + 1, N))
    Os = np.zeros((T + 1, N))
    Cs = np.zeros((T + 1, N))
    Hs = np.zeros((T + 1, N))
    Ys = np.zeros((T + 1, N))
    a = np.zeros((4, N))
    e = np.zeros(K)
    dy = np.zeros(N)
    dc = np.zeros(N)
    da = np.zeros((4, N))
    dy_rec = np.zeros(N)
    dc_rec = np.zeros(N)
    dq_rec = np.zeros((3, N))

    for q in range(n_seq):
        L = lengths[q]
        if mode == TRAIN and momentum != 0.0:
            for k in range(active.shape[0]):
                c_ = active[k]
                w[c_] += momentum * velocity[c_]
                velocity[c_] *= momentum
        elif mode == TRAIN:
            for k in range(active.shape[0]):
                velocity[active[k]] = 0.0
        # ---- forward -------------------------------------------------------------------
        for t in range(L):
            x = inputs[q, t]
            for gi in range(4):
                for n in range(N):
                    s = bb[gi, n]
                    for j in range(N):
                        s += Rr[gi, n, j] * Ys[t, j]
                    a[gi, n] = s
            for m in range(M):  # one-hot inputs: skip the zeros
                xm = x[m]
                if xm != 0.0:
                    for gi in range(4):
                        for n in range(N):
                            a[gi, n] += Wx[gi, n, m] * xm
            if fgr:
                for ga in range(3):
                    for gs in range(3):
                        for n in range(N):
                            s = 0.0
                            for j in range(N):
                                s += Gg[ga, gs, n, j] * (Is[t, j] if gs == 0 else
                                                        (Fs[t, j] if gs == 1 else Os[t, j]))
                            a[ga + 1, n] += s
            r = t + 1
            for n in range(N):
                c_prev = Cs[t, n]
                z = a[0, n] if g_lin else math.tanh(a[0, n])
                i = sigmoid(a[1, n] + Pp[0, n] * c_prev) if has_i else 1.0
                if cifg:
                    f = 1.0 - i
                elif has_f:
                    f = sigmoid(a[2, n] + Pp[1, n] * c_prev)
                else:
                    f = 1.0
                c = i * z + f * c_prev
                o = sigmoid(a[3, n] + Pp[2, n] * c) if has_o else 1.0
                hc = c if h_lin else math.tanh(c)
                Zs[r, n] = z
                Is[r, n] = i
                Fs[r, n] = f
                Os[r, n] = o
                Cs[r, n] = c
                Hs[r, n] = hc
                Ys[r, n] = o * hc
            for k in range(K):
                s = vb[k]
                for n in range(N):
                    s += Vv[k, n] * Ys[r, n]
                outputs[q, t, k] = sigmoid(s)
        if mode == FORWARD:
            continue
        # ---- backward through all L steps ----------------------------------------------
        for n in range(N):
            dy_rec[n] = 0.0
            dc_rec[n] = 0.0
            for gi in range(3):
                dq_rec[gi, n] = 0.0
        for t in range(L - 1, -1, -1):
            r = t + 1
            any_e = False
            for k in range(K):
                e[k] = 0.0
                if target_mask[q, t]:
                    out = outputs[q, t, k]
                    e[k] = (out - targets[q, t, k]) * out * (1.0 - out)
                    any_e = True
            for n in range(N):
                dy[n] = dy_rec[n]
            if any_e:
                for k in range(K):
                    ek = e[k]
                    gv[k] += ek
                    for n in range(N):
                        dy[n] += Vv[k, n] * ek
                        gV[k, n] += ek * Ys[r, n]
            for n in range(N):
                z, i, f, o, c, hc = Zs[r, n], Is[r, n], Fs[r, n], Os[r, n], Cs[r, n], Hs[r, n]
                c_prev = Cs[t, n]
                d_o = dy[n] * hc + dq_rec[2, n]
                da_o = d_o * o * (1.0 - o) if has_o else 0.0
                dh = 1.0 if h_lin else 1.0 - hc * hc
                dcn = dy[n] * o * dh + Pp[2, n] * da_o + dc_rec[n]
                d_i = dcn * z + dq_rec[0, n]
                d_f = dcn * c_prev + dq_rec[1, n]
                if cifg:
                    d_i = d_i - d_f
                da_i = d_i * i * (1.0 - i) if has_i else 0.0
                da_f = d_f * f * (1.0 - f) if has_f else 0.0
                dz = dcn * i
                da_z = dz if g_lin else dz * (1.0 - z * z)
                da[0, n] = da_z
                da[1, n] = da_i
                da[2, n] = da_f
                da[3, n] = da_o
                dc[n] = dcn
                gP[0, n] += da_i * c_prev
                gP[1, n] += da_f * c_prev
                gP[2, n] += da_o * c
                # to step t−1: through the cell's carousel and the peepholes of step t
                dc_rec[n] = dcn * f + Pp[0, n] * da_i + Pp[1, n] * da_f
            x = inputs[q, t]
            for m in range(M):  # one-hot inputs: skip the zeros
                xm = x[m]
                if xm != 0.0:
                    for gi in range(4):
                        for n in range(N):
                            gW[gi, n, m] += da[gi, n] * xm
            for j in range(N):
                dy_rec[j] = 0.0
            for gi in range(4):
                for n in range(N):
                    dan = da[gi, n]
                    gb[gi, n] += dan
                    if dan != 0.0:
                        for j in range(N):
                            gR[gi, n, j] += dan * Ys[t, j]
                            dy_rec[j] += Rr[gi, n, j] * dan
            if fgr:
                for ga in range(3):
                    for gs in range(3):
                        for n in range(N):
                            dan = da[ga + 1, n]
                            for j in range(N):
                                qv = Is[t, j] if gs == 0 else (Fs[t, j] if gs == 1 else Os[t, j])
                                gG[ga, gs, n, j] += dan * qv
                for gs in range(3):
                    for j in range(N):
                        s = 0.0
                        for ga in range(3):
                            for n in range(N):
                                s += Gg[ga, gs, n, j] * da[ga + 1, n]
                        dq_rec[gs, j] = s
        if mode == TRAIN:
            for k in range(active.shape[0]):
                c_ = active[k]
                step = learning_rate * g[c_]
                velocity[c_] -= step
                w[c_] -= step
            for k in range(g.shape[0]):
                g[k] = 0.0
