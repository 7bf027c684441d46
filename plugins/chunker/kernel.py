"""numba kernel of the two-net chunker: automatizer A and chunker C in one pass over a block.

Both nets are the Exp. 2a net of the 1997 LSTM paper in Williams-Zipser timing (``self_loop_wz``
of ``plugins/recurrent/network.py`` with one hidden unit): a logistic hidden unit h reading the
inputs of its step and its own previous value, and logistic outputs reading the inputs of the
step and h of the *previous* step; no biases. A net's weights live in two arrays: ``hw`` (m+1,),
the hidden unit's (m input weights, then its self weight), and ``ow`` (m+1, k), the outputs'
transposed (``ow[j, u]``: from input j, or from h for j = m, to output u), so that the weights a
step touches are contiguous. For a one-hot input s (``sym`` >= 0) and h(t-1) = ``hprev``::

    h(t)   = f(hw[s] + hw[m] hprev)
    y_u(t) = f(ow[s, u] + ow[m, u] hprev)

Only h carries an RTRL sensitivity, over its own weights (m+1 numbers; the rest are 0):
p_j(t) = f'(t) (x_j(t) + hw[m] p_j(t-1)) and p_m(t) = f'(t) (h(t-1) + hw[m] p_m(t-1)).
An output's error at step t reaches h(t-1), so the hidden unit's gradient is
(Σ_u δ_u ow[m, u]) p(t-1); the outputs' gradients touch only row s and row m of ``ow``.
Forward, sensitivities, gradients and on-line updates therefore cost O(m + k) per step, not
O(W) (W = (k+1)(m+1)). Dense inputs (``sym`` < 0; tasks that are not one-hot) take an O(k m)
path. With ``same`` (the learner's ``readout`` same) the outputs read h(t) instead: the
three-phase step of ``self_loop``, whose output errors reach the hidden unit through p(t).

The logistic is evaluated for a whole layer at once by :func:`logistic_layer` (Cephes' rational
exp on a reduced argument, within a few ulps of 1/(1+exp(−x))), written so that LLVM vectorises
it: the library exp costs ~25 ns per call on the project machine, as much as the whole rest of
a step. Strict IEEE arithmetic otherwise (no fastmath): the chunker with A "always surprised"
must reproduce C alone (:func:`run_single`) bit for bit, so the helpers must round the same way
wherever they are inlined. ``error_model="numpy"``: a float division never raises, which is
what lets the divisions vectorise.

Modes: ``TRAIN`` learns on line; ``FORWARD`` runs the frozen nets; ``ACCUMULATE`` freezes the
weights and sums gradients into ``GhA``/``GoA``/``GhC``/``GoC``: with ``own`` True each net's
own loss (A: its task outputs and its prediction of C's state; C: its predictions at its
events), with ``own`` False the loss of the system's outputs (see ``output``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

FORWARD, TRAIN, ACCUMULATE = -1, 0, 2
SURPRISE_WINNER, SURPRISE_EPSILON, SURPRISE_ALWAYS = 0, 1, 2
OUTPUT_AUTOMATIZER, OUTPUT_GATED = 0, 1
STATE_NEXT, STATE_CURRENT = 0, 1

# exp(a) = 2^n exp(r), n = round(a log2 e), r = a − n ln 2 (ln 2 in two parts, Cody-Waite);
# exp(r) = (Q(r²) + r P(r²)) / (Q(r²) − r P(r²)) with Cephes' coefficients (exp.c)
_LOG2E = 1.4426950408889634
_LN2_HI = 6.93145751953125e-1
_LN2_LO = 1.42860682030941723212e-6
_P0, _P1, _P2 = 1.26177193074810590878e-4, 3.02994407707441961300e-2, 9.99999999999999999910e-1
_Q0, _Q1, _Q2, _Q3 = (3.00198505138664455042e-6, 2.52448340349684104192e-3,
                      2.27265548208155028766e-1, 2.00000000000000000009e0)
_ROUND = 6755399441055744.0  # 1.5 * 2^52: x + _ROUND - _ROUND rounds x to an integer
_ROUND_BITS = 0x4338000000000000  # its bit pattern: bits(x + _ROUND) − _ROUND_BITS = round(x)


@njit(cache=True, error_model="numpy")
def logistic_layer(z, y, t, ti, R):
    """y[u] = 1 / (1 + exp(−z[u])) for u < R; ``z`` is used as scratch, ``t`` is scratch whose
    int64 view is ``ti``. The argument of exp is clamped to [−40, 700]: below −40 the result
    is 1.0 anyway, above 700 it is 1e−304 instead of the 0.0 exp's overflow would give.
    Relative error below 1e−15 (checked against NumPy in the tests); NaN stays NaN."""
    for u in range(R):
        a = -z[u]
        if a < -40.0:
            a = -40.0
        if a > 700.0:
            a = 700.0
        k = a * _LOG2E + _ROUND
        n = k - _ROUND
        r = (a - n * _LN2_HI) - n * _LN2_LO
        rr = r * r
        px = r * ((_P0 * rr + _P1) * rr + _P2)
        qx = ((_Q0 * rr + _Q1) * rr + _Q2) * rr + _Q3
        y[u] = qx - px
        z[u] = qx + px
        t[u] = k
    for u in range(R):  # 2^n from the integer n held in the low bits of k
        ti[u] = (ti[u] - _ROUND_BITS + 1023) << 52
    for u in range(R):  # 1 / (1 + 2^n (q + p)/(q − p))
        y[u] = y[u] / (y[u] + t[u] * z[u])


@njit(cache=True, error_model="numpy")
def net_forward(hw, ow, sym, x, hprev, y, z, t, ti, same):
    """One step of a net: y[0] = h(t), y[1:k+1] = its outputs, which read h(t−1) = ``hprev``
    (Williams-Zipser timing) or, when ``same``, h(t) (the three-phase step). ``sym`` >= 0:
    one-hot input unit ``sym``; otherwise the dense input ``x``. ``z``, ``t``, ``ti``: scratch
    of length >= k+1."""
    m = hw.shape[0] - 1
    k = ow.shape[1]
    back = ow[m]
    if sym >= 0:
        z[0] = hw[sym] + hw[m] * hprev
        row = ow[sym]
        for u in range(k):
            z[1 + u] = row[u]
    else:
        acc = 0.0
        for j in range(m):
            acc += hw[j] * x[j]
        z[0] = acc + hw[m] * hprev
        for u in range(k):
            z[1 + u] = 0.0
        for j in range(m):
            xj = x[j]
            row = ow[j]
            for u in range(k):
                z[1 + u] += row[u] * xj
    if same:
        logistic_layer(z, y, t, ti, 1)
        h = y[0]
        for u in range(k):
            z[1 + u] = z[1 + u] + back[u] * h
        logistic_layer(z[1:], y[1:], t[1:], ti[1:], k)
    else:
        for u in range(k):
            z[1 + u] = z[1 + u] + back[u] * hprev
        logistic_layer(z, y, t, ti, k + 1)


@njit(cache=True, error_model="numpy")
def net_learn(hw, ow, P, y, e, sym, x, hprev, alpha, Gh, Go, accumulate, same):
    """Learn from output errors ``e[1:k+1]`` (y − target; 0 where none) of the step whose
    forward pass gave ``y`` from input (``sym``, ``x``) and h(t-1) = ``hprev``, and advance the
    hidden unit's sensitivity ``P`` from p(t-1) to p(t). ``same``: the outputs read h(t), so
    their errors reach the hidden unit's weights through p(t), not p(t−1).

    ``accumulate``: add ∂E/∂w into ``Gh``/``Go`` (weights unchanged); else w −= alpha ∂E/∂w.
    ``e`` is overwritten (by the deltas)."""
    m = hw.shape[0] - 1
    k = ow.shape[1]
    back = ow[m]
    for u in range(k):  # deltas
        yu = y[1 + u]
        e[1 + u] = e[1 + u] * yu * (1.0 - yu)
    # ∂E(t)/∂h read by the outputs, through their weights from h (read before any change);
    # four partial sums in a fixed order, so the sum does not wait on one long chain of adds
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    u = 0
    while u + 4 <= k:
        s0 += e[1 + u] * back[u]
        s1 += e[2 + u] * back[u + 1]
        s2 += e[3 + u] * back[u + 2]
        s3 += e[4 + u] * back[u + 3]
        u += 4
    while u < k:
        s0 += e[1 + u] * back[u]
        u += 1
    dh = (s0 + s1) + (s2 + s3)
    fh = y[0] * (1.0 - y[0])
    w_self = hw[m]
    # the hidden unit: p(t) = f'(t) (w_self p(t-1) + x(t)); gradient dh * p(t−1), or p(t)
    if same:
        if sym >= 0:
            p_sym = P[sym]
            for j in range(m):
                P[j] = fh * (w_self * P[j])
            P[sym] = fh * (w_self * p_sym + 1.0)
        else:
            for j in range(m):
                P[j] = fh * (w_self * P[j] + x[j])
        P[m] = fh * (w_self * P[m] + hprev)
        if accumulate:
            for j in range(m + 1):
                Gh[j] += dh * P[j]
        else:
            for j in range(m + 1):
                hw[j] -= alpha * (dh * P[j])
    else:
        if sym >= 0:
            p_sym = P[sym]
            if accumulate:
                for j in range(m):
                    Gh[j] += dh * P[j]
                    P[j] = fh * (w_self * P[j])
            else:
                for j in range(m):
                    hw[j] -= alpha * (dh * P[j])
                    P[j] = fh * (w_self * P[j])
            P[sym] = fh * (w_self * p_sym + 1.0)
        else:
            if accumulate:
                for j in range(m):
                    Gh[j] += dh * P[j]
                    P[j] = fh * (w_self * P[j] + x[j])
            else:
                for j in range(m):
                    hw[j] -= alpha * (dh * P[j])
                    P[j] = fh * (w_self * P[j] + x[j])
        if accumulate:
            Gh[m] += dh * P[m]
        else:
            hw[m] -= alpha * (dh * P[m])
        P[m] = fh * (w_self * P[m] + hprev)
    # the outputs: the active input's row and the row from h
    h_read = y[0] if same else hprev
    if accumulate:
        if sym >= 0:
            g = Go[sym]
            for u in range(k):
                g[u] += e[1 + u]
        else:
            for j in range(m):
                xj = x[j]
                g = Go[j]
                for u in range(k):
                    g[u] += e[1 + u] * xj
        g = Go[m]
        for u in range(k):
            g[u] += e[1 + u] * h_read
    else:
        if sym >= 0:
            row = ow[sym]
            for u in range(k):
                row[u] -= alpha * e[1 + u]
        else:
            for j in range(m):
                xj = x[j]
                row = ow[j]
                for u in range(k):
                    row[u] -= alpha * (e[1 + u] * xj)
        for u in range(k):
            back[u] -= alpha * (e[1 + u] * h_read)


@njit(cache=True, error_model="numpy")
def _judge(y, targets_t, K, surprise, epsilon):
    """Whether A's prediction ``y[1:K+1]`` of the target row counts as right.

    winner: a one-hot target (K >= 2) is right iff the most active output (the first, on
    ties) is its hot unit, i.e. the nearest one-hot vector is the target; any other target is
    right iff every output rounds to it (|y − d| < 0.5). epsilon: every |y − d| < epsilon.
    Returns (right, hot unit of a one-hot target or −1). Written as integer counts, which
    vectorise."""
    nonzero = 0
    ones = 0
    where = 0
    for u in range(K):
        d = targets_t[u]
        nonzero += d != 0.0
        ones += d == 1.0
        where += u * (d == 1.0)
    hot = where if (K >= 2 and nonzero == 1 and ones == 1) else -1
    if surprise == SURPRISE_ALWAYS:
        return False, hot
    if surprise == SURPRISE_WINNER and hot >= 0:
        top = y[1 + hot]
        beaten = 0
        for u in range(hot):  # an earlier output as active wins the tie
            beaten += y[1 + u] >= top
        for u in range(hot + 1, K):
            beaten += y[1 + u] > top
        return beaten == 0, hot
    tol = epsilon if surprise == SURPRISE_EPSILON else 0.5
    off = 0
    for u in range(K):
        off += abs(y[1 + u] - targets_t[u]) >= tol
    return off == 0, hot


@njit(cache=True, error_model="numpy")
def run_block(mode, syms, inputs, targets, target_mask, lengths, hwA, owA, hwC, owC,
              GhA, GoA, GhC, GoC, own, alpha_a, alpha_c, surprise, epsilon, output,
              state_target, need_c, final_event, same, outputs, seq_surprises, seq_events,
              seq_lag_right, event_log, q_log):
    """Run (and unless ``mode`` is FORWARD learn from) every sequence of the block, in order.

    Per sequence, both nets start from h = 0 and zero sensitivities, and C steps on the first
    input (always unpredicted). Then at each step t (input x(t), target d(t) = the next symbol):

    1. A's forward pass on x(t) gives its predictions of d(t) and of C's state.
    2. Surprise test of A's prediction against d(t) (steps with a target only; every step
       under ``always``).
    3. The system's output: A's predictions (``output`` automatizer), or C's latest ones
       where A is surprised (gated).
    4. On a surprise C first learns (its outputs of its last step against d(t)), then steps on
       the observation A failed to predict: x(t+1), or at the last step d(t) itself when
       ``final_event`` (inputs and targets share one alphabet).
    5. A learns: its task outputs against d(t), its extra output against C's hidden unit
       after step 4 (``state_target`` next) or before it (current).

    Per sequence: ``seq_surprises`` (surprised steps), ``seq_events`` (C steps, the first
    input's included), ``seq_lag_right`` (1 when the prediction at the last step passed the
    surprise test). ``event_log`` (n, T+1), when not empty, marks the observations C stepped on
    (index L: the final target); ``q_log`` (n, T), when not empty, the target of A's extra
    output at each step (C's hidden unit).
    """
    n_seq, _, m = inputs.shape
    K = targets.shape[2]
    RA = owA.shape[1] + 1
    RC = owC.shape[1] + 1
    R = max(RA, RC)
    yA = np.zeros(RA)
    eA = np.zeros(RA)
    PA = np.zeros(m + 1)
    yC = np.zeros(RC)
    eC = np.zeros(RC)
    PC = np.zeros(m + 1)
    xC = np.zeros(m)  # C's last input, when dense
    z = np.zeros(R)
    scratch = np.zeros(R)
    scratch_bits = scratch.view(np.int64)
    learn = mode != FORWARD
    acc = mode == ACCUMULATE
    run_c = need_c or learn
    log_events = event_log.shape[0] > 0
    log_q = q_log.shape[0] > 0
    gated_output = output == OUTPUT_GATED
    for q in range(n_seq):
        L = lengths[q]
        hA = 0.0
        for j in range(m + 1):
            PA[j] = 0.0
            PC[j] = 0.0
        for u in range(RC):
            yC[u] = 0.0
        surprises = 0
        events = 0
        symC = -1
        hprevC = 0.0
        if run_c:  # the first input: always an event
            symC = syms[q, 0]
            if symC < 0:
                for j in range(m):
                    xC[j] = inputs[q, 0, j]
            net_forward(hwC, owC, symC, xC, 0.0, yC, z, scratch, scratch_bits, same)
            events += 1
            if log_events:
                event_log[q, 0] = 1
        for t in range(L):
            s = syms[q, t]
            x = inputs[q, t]
            net_forward(hwA, owA, s, x, hA, yA, z, scratch, scratch_bits, same)
            has_target = target_mask[q, t]
            surprised = surprise == SURPRISE_ALWAYS
            hot = -1
            if has_target:
                right, hot = _judge(yA, targets[q, t], K, surprise, epsilon)
                surprised = not right
                if t == L - 1:
                    seq_lag_right[q] = 0 if surprised else 1
            if surprised:
                surprises += 1
            use_c = gated_output and surprised
            if use_c:
                for k in range(K):
                    outputs[q, t, k] = yC[1 + k]
            else:
                for k in range(K):
                    outputs[q, t, k] = yA[1 + k]
            h_before = yC[0]
            if surprised and run_c:
                if learn:  # C's outputs of its last step were its prediction of d(t)
                    c_err = has_target and (own or not acc or use_c)
                    for k in range(K):
                        eC[1 + k] = yC[1 + k] - targets[q, t, k] if c_err else 0.0
                    net_learn(hwC, owC, PC, yC, eC, symC, xC, hprevC, alpha_c, GhC, GoC, acc,
                              same)
                step = True
                if t + 1 < L:
                    symC = syms[q, t + 1]
                    if symC < 0:
                        for j in range(m):
                            xC[j] = inputs[q, t + 1, j]
                elif final_event and has_target:
                    symC = hot
                    if symC < 0:
                        for j in range(m):
                            xC[j] = targets[q, t, j]
                else:
                    step = False
                if step:
                    hprevC = yC[0]
                    net_forward(hwC, owC, symC, xC, hprevC, yC, z, scratch, scratch_bits, same)
                    events += 1
                    if log_events:
                        event_log[q, t + 1] = 1
            q_target = yC[0] if state_target == STATE_NEXT else h_before
            if log_q:
                q_log[q, t] = q_target
            if learn:
                a_err = has_target and (own or not acc or not use_c)
                for k in range(K):
                    eA[1 + k] = yA[1 + k] - targets[q, t, k] if a_err else 0.0
                eA[RA - 1] = yA[RA - 1] - q_target if (own or not acc) else 0.0
                net_learn(hwA, owA, PA, yA, eA, s, x, hA, alpha_a, GhA, GoA, acc, same)
            hA = yA[0]
        seq_surprises[q] = surprises
        seq_events[q] = events


@njit(cache=True, error_model="numpy")
def run_single(mode, syms, inputs, targets, target_mask, lengths, hw, ow, Gh, Go, alpha,
               outputs, same=False):
    """One net of the chunker alone, trained by on-line RTRL on the full stream (a step at
    every input, an error at every step with a target): C as it would run if A were always
    surprised. Same helpers, so the comparison with :func:`run_block` is bit for bit."""
    n_seq, _, m = inputs.shape
    K = targets.shape[2]
    R = ow.shape[1] + 1
    y = np.zeros(R)
    e = np.zeros(R)
    P = np.zeros(m + 1)
    z = np.zeros(R)
    scratch = np.zeros(R)
    scratch_bits = scratch.view(np.int64)
    acc = mode == ACCUMULATE
    for q in range(n_seq):
        h = 0.0
        for j in range(m + 1):
            P[j] = 0.0
        for t in range(lengths[q]):
            s = syms[q, t]
            x = inputs[q, t]
            net_forward(hw, ow, s, x, h, y, z, scratch, scratch_bits, same)
            for k in range(K):
                outputs[q, t, k] = y[1 + k]
            if mode != FORWARD:
                has_target = target_mask[q, t]
                for k in range(K):
                    e[1 + k] = y[1 + k] - targets[q, t, k] if has_target else 0.0
                net_learn(hw, ow, P, y, e, s, x, h, alpha, Gh, Go, acc, same)
            h = y[0]
