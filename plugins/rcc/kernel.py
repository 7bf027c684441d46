"""numba kernels of Recurrent Cascade-Correlation: one call per epoch over all training cases.

Layout. The training set is flattened into ``C`` *cases* (time steps) in time order, sequence
after sequence; ``breaks[c]`` marks the first step of a sequence. ``values[c]`` is cascor's
per-case values vector: column 0 the bias unit (1), columns ``1..m`` the inputs, then one column
per installed hidden unit, in installation order (the activation cache of the frozen net). A
hidden or candidate unit reads the first ``n`` columns (bias, inputs, earlier hidden units) at
the same step and its own value of the previous step through one self-recurrent weight.

Activation: cascor1's symmetric sigmoid, 1/(1 + e^−x) − 0.5, clamped to ±0.5 for |x| > 15,
derivative 0.25 − V² (no prime offset for hidden units and candidates).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def sym_sigmoid(x):
    """cascor1's ``:sigmoid`` unit: symmetric in [−0.5, 0.5], clamped beyond |x| > 15."""
    if x < -15.0:
        return -0.5
    if x > 15.0:
        return 0.5
    return 1.0 / (1.0 + np.exp(-x)) - 0.5


@njit(cache=True)
def unit_column(values, n, breaks, w, w_self, col):
    """Write a frozen unit's value for every case into ``values[:, col]``, in time order, its
    previous value reset to 0 at every break. The unit reads ``values[:, :n]`` through ``w``."""
    prev = 0.0
    for c in range(values.shape[0]):
        if breaks[c]:
            prev = 0.0
        s = w_self * prev
        for i in range(n):
            s += w[i] * values[c, i]
        v = sym_sigmoid(s)
        values[c, col] = v
        prev = v


@njit(cache=True)
def output_epoch(values, n, targets, mask, ow, slopes, errors, sum_err, prime_offset,
                 score_threshold, linear, raw_error):
    """One output-training pass over the cached values (cascor1 ``TRAIN-OUTPUTS-EPOCH`` with
    ``COMPUTE-ERRORS``), weights unchanged.

    Per case with a target and per output o: dif = O − T, err' = dif · (f'(O) + offset)
    (1 for linear outputs); ``slopes[o, i] += err' · V_i``; the residual kept for the
    candidates, ``errors[c, o]``, is err' (``dif`` when ``raw_error``), 0 at steps without a
    target. ``sum_err[o]`` sums the residuals. Returns (error bits: outputs off by at least
    ``score_threshold``, true error Σ dif², sum of squared residuals).
    """
    C = values.shape[0]
    K = ow.shape[0]
    bits = 0
    true_err = 0.0
    sse = 0.0
    for o in range(K):
        sum_err[o] = 0.0
    for c in range(C):
        if not mask[c]:
            for o in range(K):
                errors[c, o] = 0.0
            continue
        for o in range(K):
            s = 0.0
            for i in range(n):
                s += ow[o, i] * values[c, i]
            if linear:
                out = s
                prime = 1.0
            else:
                out = sym_sigmoid(s)
                prime = prime_offset + 0.25 - out * out
            dif = out - targets[c, o]
            errp = dif * prime
            if abs(dif) >= score_threshold:
                bits += 1
            true_err += dif * dif
            e = dif if raw_error else errp
            errors[c, o] = e
            sum_err[o] += e
            sse += e * e
            for i in range(n):
                slopes[o, i] += errp * values[c, i]
    return bits, true_err, sse


@njit(cache=True)
def candidate_epoch(values, n, breaks, errors, err_mean, inv_sse, cw, prev_cor, train, cor,
                    sum_v, slopes, dv, vprev):
    """One pass of the whole candidate pool over all cases in time order.

    Candidate u has weights ``cw[u, :n]`` from the first ``n`` value columns and its
    self-recurrent weight ``cw[u, n]``:  V(t) = f(Σ_i w_i I_i(t) + w_s V(t−1)).
    Always accumulates ``cor[u, o] += V · E_o`` and ``sum_v[u] += V`` (zeroed here).
    With ``train`` it also accumulates ``slopes[u] += dir · ∂V/∂w``, the slope of minus the
    score, where dir = −Σ_o σ_o (E_o − Ē_o) / SSE with σ_o the sign of ``prev_cor[u, o]``
    (+1 at 0, as cascor1), and the exact recursion (an RTRL for one self-loop; the inputs and
    frozen units do not depend on the candidate's weights):

        ∂V(t)/∂w_i = f'(t) (I_i(t) + w_s ∂V(t−1)/∂w_i)
        ∂V(t)/∂w_s = f'(t) (V(t−1) + w_s ∂V(t−1)/∂w_s),     f' = 0.25 − V²

    with V(t−1) and every ∂V/∂w reset to 0 at each break. ``dv`` (like ``cw``) and ``vprev``
    (one per candidate) are work arrays.
    """
    C = values.shape[0]
    Kc = cw.shape[0]
    K = errors.shape[1]
    sigma = np.empty((Kc, K))
    for u in range(Kc):
        sum_v[u] = 0.0
        for o in range(K):
            sigma[u, o] = -1.0 if prev_cor[u, o] < 0.0 else 1.0
    centred = np.empty(K)
    for c in range(C):
        if breaks[c]:
            for u in range(Kc):
                vprev[u] = 0.0
                for i in range(n + 1):
                    dv[u, i] = 0.0
        if train:
            for o in range(K):
                centred[o] = (errors[c, o] - err_mean[o]) * inv_sse
        for u in range(Kc):
            ws = cw[u, n]
            s = ws * vprev[u]
            for i in range(n):
                s += cw[u, i] * values[c, i]
            v = sym_sigmoid(s)
            if train:
                fp = 0.25 - v * v
                direction = 0.0
                for o in range(K):
                    direction -= sigma[u, o] * centred[o]
                for i in range(n):
                    g = fp * (values[c, i] + ws * dv[u, i])
                    dv[u, i] = g
                    slopes[u, i] += direction * g
                g = fp * (vprev[u] + ws * dv[u, n])
                dv[u, n] = g
                slopes[u, n] += direction * g
            for o in range(K):
                cor[u, o] += v * errors[c, o]
            sum_v[u] += v
            vprev[u] = v


@njit(cache=True)
def forward(inputs, lengths, hw, hs, n_hidden, ow, linear, low, span, outputs):
    """The frozen net on a block: state reset at each sequence start, outputs mapped from the
    symmetric range to the task's (``low + (O + 0.5) · span``)."""
    n_seq = inputs.shape[0]
    m = inputs.shape[2]
    K = ow.shape[0]
    n = 1 + m + n_hidden
    vals = np.zeros(n)
    prev = np.zeros(max(n_hidden, 1))
    for q in range(n_seq):
        for j in range(n_hidden):
            prev[j] = 0.0
        for t in range(lengths[q]):
            vals[0] = 1.0
            for i in range(m):
                vals[1 + i] = inputs[q, t, i]
            for j in range(n_hidden):
                k = 1 + m + j
                s = hs[j] * prev[j]
                for i in range(k):
                    s += hw[j, i] * vals[i]
                v = sym_sigmoid(s)
                vals[k] = v
                prev[j] = v
            for o in range(K):
                s = 0.0
                for i in range(n):
                    s += ow[o, i] * vals[i]
                out = s if linear else sym_sigmoid(s)
                outputs[q, t, o] = low + (out + 0.5) * span
