"""numba kernel of the 1997 LSTM forward pass and its truncated online learning rule.

One call processes a whole block of sequences; nothing in the per-time-step path touches Python.
The rule is docs/learners.md §2.4 (the paper's appendix A.1, eqs. 19-28): only the internal
states carry error back in time; the partials of each cell's state with respect to its own input
weights and its block's input-gate weights are carried forward as traces, O(W) per step and O(W)
storage.

``mode``: 0 applies each step's weight change at once (the paper's on-line learning), 1 sums the
changes over a sequence and applies them at its end, 2 only sums them into ``dwh``/``dwo`` over the
whole block without changing any weight (used to check the gradient), -1 runs forward only.

Inputs are read sparsely: each step lists its non-zero inputs once (or takes the one active unit
from ``symbols`` when the block says its inputs are one-hot), and every sum or update over
a unit's sources visits only those. With the one-hot symbols of Experiments 1 and 2 this makes a
step cost O(units + fan-in from the hidden layer) instead of O(units x inputs) wherever no error
is injected (Exp. 2c at p = 100: 104 inputs, one of them active). Skipping an exact zero changes
no sum, so the result is the dense rule's to the bit.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LOGISTIC, SYM1, SYM2, IDENTITY = 0, 1, 2, 3
STEP, SEQUENCE, ACCUMULATE, FORWARD = 0, 1, 2, -1


@njit(cache=True, inline="always")
def _sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True, inline="always")
def _squash(code, x):
    """A squashing function and its derivative at ``x``, from a single exp."""
    if code == IDENTITY:
        return x, 1.0
    s = 1.0 / (1.0 + math.exp(-x))
    d = s * (1.0 - s)
    if code == SYM1:
        return 2.0 * s - 1.0, 2.0 * d
    if code == SYM2:
        return 4.0 * s - 2.0, 4.0 * d
    return s, d


@njit(cache=True, inline="always")
def _dot(w, u, src, lo, hi, seg, x, active, n_active):
    """Σ_v w[u, v]·src[v] over the sources [lo, hi), where the segment of ``x.size`` input
    sources starting at ``seg`` is read from ``x`` at its non-zero positions ``active`` only.
    Terms are summed in source order, as the dense sum would."""
    acc = 0.0
    for v in range(lo, min(hi, seg)):
        acc += w[u, v] * src[v]
    for a in range(n_active):
        v = seg + active[a]
        if lo <= v < hi:
            acc += w[u, v] * x[active[a]]
    for v in range(max(lo, seg + x.size), hi):
        acc += w[u, v] * src[v]
    return acc


@njit(cache=True, inline="always")
def _add_scaled(target, u, e, src, lo, hi, seg, x, active, n_active):
    """target[u, v] += e·src[v] over the sources [lo, hi), inputs read as in :func:`_dot`."""
    for v in range(lo, min(hi, seg)):
        target[u, v] += e * src[v]
    for a in range(n_active):
        v = seg + active[a]
        if lo <= v < hi:
            target[u, v] += e * x[active[a]]
    for v in range(max(lo, seg + x.size), hi):
        target[u, v] += e * src[v]


@njit(cache=True)
def run_block(
    inputs, symbols, targets, target_mask, lengths,
    wh, wo, h_lo, h_hi, o_lo, o_hi,
    in_gate, out_gate, cell_unit, cell_block,
    g_code, h_code, alpha, mode,
    dwh, dwo, outputs,
):
    """Run (and, unless ``mode`` is -1, train on) every sequence of the block, in order.

    Writes each step's output vector to ``outputs`` (computed before that step's weight change).
    ``symbols`` is the block's (n, T) one-hot input index, or an empty array when it has none.
    """
    n_seq = inputs.shape[0]
    n_in = inputs.shape[2]
    n_out = wo.shape[0]
    n_hid = wh.shape[0]
    n_cells = cell_unit.shape[0]
    n_blocks = in_gate.shape[0]
    n_src = wh.shape[1]
    bias_src = n_src - 1
    learn = mode >= 0

    # sources of gates and cells: hidden layer of t-1, then inputs, then the bias; sources of the
    # outputs: inputs, then the cells of this step, then the bias. Input slots stay zero: inputs
    # are read from ``inputs`` through the step's list of non-zero positions.
    src = np.zeros(n_src)
    osrc = np.zeros(wo.shape[1])
    active = np.zeros(n_in, np.int64)
    net_h = np.zeros(n_hid)
    y_in = np.zeros(n_blocks)
    y_out = np.ones(n_blocks)
    state = np.zeros(n_cells)
    hs = np.zeros(n_cells)
    hs_prime = np.zeros(n_cells)
    tr_cell = np.zeros((n_cells, n_src))  # d s_c / d w_{c,u}
    tr_gate = np.zeros((n_cells, n_src))  # d s_c / d w_{in_j,u}
    err_out = np.zeros(n_out)
    err_cell = np.zeros(n_cells)  # sum_k w_{k,c} e_k
    err_state = np.zeros(n_cells)
    err_ogate = np.zeros(n_blocks)

    for q in range(n_seq):
        # reset activations, states and traces at the start of every sequence
        src[:] = 0.0
        src[bias_src] = 1.0
        state[:] = 0.0
        if learn:
            tr_cell[:, :] = 0.0
            tr_gate[:, :] = 0.0
        for t in range(lengths[q]):
            # phase 1: load the input; src[:n_hid] still holds the hidden layer of t-1
            x = inputs[q, t]
            n_act = 0
            if symbols.shape[0] > 0:
                active[0] = symbols[q, t]
                n_act = 1
            else:
                for i in range(n_in):
                    if x[i] != 0.0:
                        active[n_act] = i
                        n_act += 1
            # phase 2: gates and cells from the current input and the previous hidden layer
            for u in range(n_hid):
                net_h[u] = _dot(wh, u, src, h_lo[u], h_hi[u], n_hid, x, active, n_act)
            for j in range(n_blocks):
                y_in[j] = _sigmoid(net_h[in_gate[j]])
                if out_gate[j] >= 0:
                    y_out[j] = _sigmoid(net_h[out_gate[j]])
            for c in range(n_cells):
                j = cell_block[c]
                net_c = net_h[cell_unit[c]]
                g, g_prime = _squash(g_code, net_c)
                state[c] += y_in[j] * g
                hs[c], hs_prime[c] = _squash(h_code, state[c])
                if learn:
                    cu, gu = cell_unit[c], in_gate[j]
                    _add_scaled(tr_cell, c, g_prime * y_in[j], src, h_lo[cu], h_hi[cu],
                                n_hid, x, active, n_act)
                    _add_scaled(tr_gate, c, g * y_in[j] * (1.0 - y_in[j]), src, h_lo[gu],
                                h_hi[gu], n_hid, x, active, n_act)
            for c in range(n_cells):
                osrc[n_in + c] = y_out[cell_block[c]] * hs[c]
            osrc[osrc.shape[0] - 1] = 1.0
            # phase 3: outputs from the cells of this same step
            for k in range(n_out):
                y = _sigmoid(_dot(wo, k, osrc, o_lo[k], o_hi[k], 0, x, active, n_act))
                outputs[q, t, k] = y
                err_out[k] = y * (1.0 - y) * (targets[q, t, k] - y)

            if learn and target_mask[q, t]:
                # errors, all from the weights before this step's change (eqs. 19, 21, 23)
                for c in range(n_cells):
                    acc = 0.0
                    col = n_in + c
                    for k in range(n_out):
                        if o_lo[k] <= col < o_hi[k]:
                            acc += wo[k, col] * err_out[k]
                    err_cell[c] = acc
                for j in range(n_blocks):
                    err_ogate[j] = 0.0
                for c in range(n_cells):
                    j = cell_block[c]
                    err_state[c] = y_out[j] * hs_prime[c] * err_cell[c]
                    err_ogate[j] += hs[c] * err_cell[c]
                # weight changes (eqs. 22, 26, 28)
                upd_h = dwh if mode != STEP else wh
                upd_o = dwo if mode != STEP else wo
                for k in range(n_out):
                    _add_scaled(upd_o, k, alpha * err_out[k], osrc, o_lo[k], o_hi[k], 0, x,
                                active, n_act)
                for j in range(n_blocks):
                    u = out_gate[j]
                    if u >= 0:
                        e = alpha * y_out[j] * (1.0 - y_out[j]) * err_ogate[j]
                        _add_scaled(upd_h, u, e, src, h_lo[u], h_hi[u], n_hid, x, active, n_act)
                for c in range(n_cells):
                    e = alpha * err_state[c]
                    u = cell_unit[c]
                    for v in range(h_lo[u], h_hi[u]):
                        upd_h[u, v] += e * tr_cell[c, v]
                    u = in_gate[cell_block[c]]
                    for v in range(h_lo[u], h_hi[u]):
                        upd_h[u, v] += e * tr_gate[c, v]
            # the hidden layer of this step becomes the source of the next one
            for j in range(n_blocks):
                src[in_gate[j]] = y_in[j]
                if out_gate[j] >= 0:
                    src[out_gate[j]] = y_out[j]
            for c in range(n_cells):
                src[cell_unit[c]] = osrc[n_in + c]
        if mode == SEQUENCE:
            for u in range(n_hid):
                for v in range(n_src):
                    wh[u, v] += dwh[u, v]
                    dwh[u, v] = 0.0
            for k in range(n_out):
                for v in range(wo.shape[1]):
                    wo[k, v] += dwo[k, v]
                    dwo[k, v] = 0.0
