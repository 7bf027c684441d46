"""numba kernel of real-time recurrent learning with structured sensitivities (docs/learners.md §4).

Only the *carried* units (:meth:`Network.recurrent_units`: sources of delay-1 links and their
delay-0 ancestors) hold sensitivities p^k_w = ∂a_k/∂w, one vector over all W weights each,
updated every step in topological order:

    p^k(t) = f'_k(t) [Σ_{l∈Z_k} w_kl p^l(t) + Σ_{l∈R_k} w_kl p^l(t−1) + [k = i] ã_j]

The other units lie downstream of them only; instead of forming their sensitivities, the step's
error is back-propagated through them inside the step (an adjoint of the same linear recursion):

    δ_k = f'_k (e_k + Σ_{i: k∈Z_i} w_ik δ_i)                     (non-carried units k)
    ẽ_l = e_l + Σ_{k non-carried: l∈Z_k} w_kl δ_k                   (carried units l)
    ê_l = Σ_{k non-carried: l∈R_k} w_kl δ_k                         (carried units l)
    ∂E(t)/∂w_c = δ_{dst c} ã_c + Σ_l ê_l p^l(t−1) + Σ_l ẽ_l p^l(t)

which is exactly Σ_{k∈outputs} e_k p^k(t). Cost per step: O(|carried| · fan-in · W) for the
sensitivities and O(|carried| · W) for the gradient — O(n²W) for the fully recurrent net, O(W)
for the Exp. 2a net (either timing) whose single hidden unit is the only carried one.

``online`` True changes the weights after every step (the sensitivities are not recomputed for
the new weights); False sums the step gradients and applies them at the sequence end (offline
RTRL = epochwise BPTT). ``teacher_forcing``: an output unit with a target feeds its target into
the next step and its sensitivities are zeroed; the error uses the unforced output
(docs/learners.md §4.4).
``mode``: 0 trains, 2 only sums gradients into ``grad`` (and, when ``step_grads`` has rows,
records each step's gradient of the block's first sequence there), −1 runs forward.

``carry`` False resets the activations and the sensitivities to zero at every sequence start
(docs/learners.md §1.4). ``carry`` True resets nothing: the block is one continuous stream that
starts from the state in ``a_state`` (n,: the units' activations a(t−1), as the next step's delay-1
links read them) and ``p_state`` (carried units × W: their sensitivities p(t−1)), and the state
after the block's last step is written back into them (the sensitivities only when ``mode`` is
not −1). The caller owns these arrays: it passes copies when the run must leave its state alone.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..recurrent.steps import (
    ACCUMULATE,
    FASTMATH,
    FORWARD,
    TRAIN,
    forward_units,
    load_row,
)


@njit(cache=True, fastmath=FASTMATH)
def run_block(inputs, targets, target_mask, lengths, w, seg_ptr, seg_first, seg_col, seg_len,
              unit_ptr, unit_conn, src_unit, delay,
              outputs_units, slot, carried, alpha, mode, online, teacher_forcing,
              grad, step_grads, outputs, carry, a_state, p_state):
    """Run (and unless ``mode`` is −1 learn from) every sequence of the block in order; write
    each step's outputs, computed before that step's weight change, to ``outputs``."""
    n_seq, _, m = inputs.shape
    n = seg_ptr.shape[0] - 1
    K = outputs_units.shape[0]
    W = w.shape[0]
    n_car = carried.shape[0]
    row = np.zeros(m + 2 * n + 1)
    fprime = np.zeros(n)
    P = np.zeros((2, max(n_car, 1), W))
    etil = np.zeros(n)
    eprev = np.zeros(n)  # error reaching each carried unit's a(t−1) through delay-1 links
    g_step = np.zeros(W)
    g_seq = np.zeros(W)
    learn = mode != FORWARD

    pc, pp = 0, 1
    if carry:  # continue from the caller's state: load_row reads a(t−1) from row[m:m+n]
        for j in range(n):
            row[m + j] = a_state[j]
        if learn:
            for s in range(n_car):
                for v in range(W):
                    P[pp, s, v] = p_state[s, v]
    for q in range(n_seq):
        if not carry:
            pc, pp = 0, 1
            if learn:
                for s in range(n_car):
                    for v in range(W):
                        P[pp, s, v] = 0.0
        for t in range(lengths[q]):
            load_row(row, inputs[q, t], row, m, n, t == 0 and not carry)
            forward_units(row, fprime, w, seg_ptr, seg_first, seg_col, seg_len, m, n)
            for k in range(K):
                outputs[q, t, k] = row[m + outputs_units[k]]
            if not learn:
                continue
            # sensitivities of the carried units, in topological order
            for s in range(n_car):
                k = carried[s]
                pk = P[pc, s]
                for v in range(W):
                    pk[v] = 0.0
                for u in range(unit_ptr[k], unit_ptr[k + 1]):
                    c = unit_conn[u]
                    l = src_unit[c]
                    wc = w[c]
                    pl = P[pc, slot[l]] if delay[c] == 0 else P[pp, slot[l]]
                    for v in range(W):
                        pk[v] += wc * pl[v]
                for s2 in range(seg_ptr[k], seg_ptr[k + 1]):
                    c0, v0, size = seg_first[s2], seg_col[s2], seg_len[s2]
                    ps = pk[c0:c0 + size]  # slices vectorise (see steps.forward_units)
                    rs = row[v0:v0 + size]
                    for j in range(size):
                        ps[j] += rs[j]
                f = fprime[k]
                for v in range(W):
                    pk[v] *= f
            if target_mask[q, t]:
                for i in range(n):
                    etil[i] = 0.0
                    eprev[i] = 0.0
                for k in range(K):
                    etil[outputs_units[k]] += outputs[q, t, k] - targets[q, t, k]
                for v in range(W):
                    g_step[v] = 0.0
                for i in range(n - 1, -1, -1):  # the non-carried units, downstream only
                    if slot[i] >= 0:
                        continue
                    delta = fprime[i] * etil[i]
                    if delta == 0.0:
                        continue
                    for s2 in range(seg_ptr[i], seg_ptr[i + 1]):
                        c0, v0, size = seg_first[s2], seg_col[s2], seg_len[s2]
                        gs = g_step[c0:c0 + size]
                        rs = row[v0:v0 + size]
                        for j in range(size):
                            gs[j] += delta * rs[j]
                    for u in range(unit_ptr[i], unit_ptr[i + 1]):
                        c = unit_conn[u]
                        l = src_unit[c]
                        if delay[c] == 0:
                            etil[l] += w[c] * delta
                        else:
                            eprev[l] += w[c] * delta
                for s in range(n_car):
                    e = etil[carried[s]]
                    if e != 0.0:
                        pk = P[pc, s]
                        for v in range(W):
                            g_step[v] += e * pk[v]
                    e = eprev[carried[s]]
                    if e != 0.0:  # one pass per carried unit, not one per delay-1 link
                        pl = P[pp, s]
                        for v in range(W):
                            g_step[v] += e * pl[v]
                if mode == ACCUMULATE:
                    for v in range(W):
                        grad[v] += g_step[v]
                    if q == 0 and t < step_grads.shape[0]:
                        for v in range(W):
                            step_grads[t, v] = g_step[v]
                elif online:
                    for v in range(W):
                        w[v] -= alpha * g_step[v]
                else:
                    for v in range(W):
                        g_seq[v] += g_step[v]
                if teacher_forcing:
                    for k in range(K):
                        u = outputs_units[k]
                        row[m + u] = targets[q, t, k]
                        if slot[u] >= 0:
                            pk = P[pc, slot[u]]
                            for v in range(W):
                                pk[v] = 0.0
            pc, pp = pp, pc
        if mode == TRAIN and not online:
            for v in range(W):
                w[v] -= alpha * g_seq[v]
                g_seq[v] = 0.0
    if carry:  # hand the state after the last step back (pp holds the last step's p)
        for j in range(n):
            a_state[j] = row[m + j]
        if learn:
            for s in range(n_car):
                for v in range(W):
                    p_state[s, v] = P[pp, s, v]
