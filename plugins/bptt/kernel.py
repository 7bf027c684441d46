"""numba kernel of back-propagation through time on a :class:`~seqbench_learners.recurrent.network.Network`.

One call runs a whole block of sequences. The forward pass stores one source row
``[x(t) | a(t) | 1 | a(t−1)]`` and f'(net(t)) per step; the backward pass walks steps backwards
and, inside a step, units in reverse topological order, scattering each δ_i(t) into the adjoint
of the row it read (docs/learners.md §3.1). Both passes are O(W) per step, whatever the sparsity.

``window`` 0 is epochwise BPTT: one backward pass over the whole sequence, one update at its end.
``window`` h > 0 is BPTT(h; h') with h' = ``update_every``: every h' steps, and at the sequence
end, the errors of the steps since the previous update are back-propagated through the last h
steps and the weights change at once (on-line). The stored activations of earlier steps were
produced by older weights; that is the algorithm (docs/learners.md §3.2).

``mode``: 0 trains, 2 only sums the gradients into ``grad`` with frozen weights, −1 runs forward.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..recurrent.steps import FASTMATH, FORWARD, TRAIN, forward_units, load_row


@njit(cache=True, fastmath=FASTMATH)
def _backward(hist, fprime, err, w, seg_ptr, seg_first, seg_col, seg_len, col, unit_ptr,
              unit_conn, m, n, t_end, t_from, inject_from, adj, carry, g):
    """Add to ``g`` the gradient of the errors of steps ``inject_from..t_end``, back-propagated
    no further than step ``t_from``."""
    for j in range(n):
        carry[j] = 0.0
    for t in range(t_end, t_from - 1, -1):
        for j in range(n):
            adj[m + j] = carry[j]  # δ(t+1) sent back through delay-1 links
            adj[m + n + 1 + j] = 0.0
        inject = t >= inject_from
        for i in range(n - 1, -1, -1):
            back = adj[m + i]
            if inject:
                back += err[t, i]
            delta = fprime[t, i] * back
            if delta != 0.0:
                for s in range(seg_ptr[i], seg_ptr[i + 1]):
                    c0, v0, size = seg_first[s], seg_col[s], seg_len[s]
                    gs = g[c0:c0 + size]  # slices vectorise (see steps.forward_units)
                    hs = hist[t, v0:v0 + size]
                    for k in range(size):
                        gs[k] += delta * hs[k]
                for u in range(unit_ptr[i], unit_ptr[i + 1]):  # only unit sources need δ
                    c = unit_conn[u]
                    adj[col[c]] += w[c] * delta
        for j in range(n):
            carry[j] = adj[m + n + 1 + j]


@njit(cache=True, fastmath=FASTMATH)
def run_block(inputs, targets, target_mask, lengths, w, seg_ptr, seg_first, seg_col, seg_len,
              col, unit_ptr, unit_conn, outputs_units,
              alpha, mode, window, update_every, grad, outputs):
    """Run (and unless ``mode`` is −1 learn from) every sequence of the block in order; write
    each step's outputs, computed before that step's weight change, to ``outputs``."""
    n_seq, T, m = inputs.shape
    n = seg_ptr.shape[0] - 1
    K = outputs_units.shape[0]
    W = w.shape[0]
    width = m + 2 * n + 1
    hist = np.zeros((T, width))
    fprime = np.zeros((T, n))
    err = np.zeros((T, n))
    adj = np.zeros(width)
    carry = np.zeros(n)
    g = np.zeros(W) if mode == TRAIN else grad

    for q in range(n_seq):
        L = lengths[q]
        last = -1  # last step whose error has been back-propagated
        for t in range(L):
            load_row(hist[t], inputs[q, t], hist[t - 1], m, n, t == 0)
            forward_units(hist[t], fprime[t], w, seg_ptr, seg_first, seg_col, seg_len, m, n)
            for i in range(n):
                err[t, i] = 0.0
            for k in range(K):
                u = outputs_units[k]
                y = hist[t, m + u]
                outputs[q, t, k] = y
                if target_mask[q, t]:
                    err[t, u] = y - targets[q, t, k]
            if mode == FORWARD or window == 0:
                continue
            if t - last >= update_every or t == L - 1:
                t_from = max(t - window + 1, 0)
                _backward(hist, fprime, err, w, seg_ptr, seg_first, seg_col, seg_len, col,
                          unit_ptr, unit_conn, m, n,
                          t, t_from, last + 1, adj, carry, g)
                last = t
                if mode == TRAIN:
                    for c in range(W):
                        w[c] -= alpha * g[c]
                        g[c] = 0.0
        if mode != FORWARD and window == 0:
            _backward(hist, fprime, err, w, seg_ptr, seg_first, seg_col, seg_len, col,
                          unit_ptr, unit_conn, m, n,
                      L - 1, 0, 0, adj, carry, g)
            if mode == TRAIN:
                for c in range(W):
                    w[c] -= alpha * g[c]
                    g[c] = 0.0
