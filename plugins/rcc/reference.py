"""Slow, readable NumPy statements of RCC's forward pass, output epoch and candidate slopes.

Written to be read beside Fahlman's RCC description and cascor1, not to be fast; the tests check
the numba kernels (:mod:`.kernel`) against these. Conventions as in :mod:`.kernel`: a *values*
row is [1 (bias), inputs, hidden units in installation order]; cases are time steps in time
order, ``breaks[c]`` marks a sequence's first step.
"""

from __future__ import annotations

import numpy as np


def sym_sigmoid(x):
    """1/(1 + e^−x) − 0.5, clamped to ±0.5 for |x| > 15 (cascor1)."""
    x = np.asarray(x, float)
    inside = 1.0 / (1.0 + np.exp(-np.clip(x, -15.0, 15.0))) - 0.5
    return np.where(x < -15.0, -0.5, np.where(x > 15.0, 0.5, inside))


def forward(hw, hs, ow, x, linear=False):
    """One sequence ``x`` (T, m) through the net from a zero state.

    ``hw[j]`` holds hidden unit j's weights from bias, inputs and units 0..j−1 (the first
    1 + m + j entries are read), ``hs[j]`` its self-recurrent weight, ``ow[o]`` output o's
    weights from bias, inputs and all hidden units. Returns the values rows (T, 1 + m + H) and
    the outputs (T, K) in cascor's symmetric range.
    """
    T, m = x.shape
    H = len(hs)
    values = np.zeros((T, 1 + m + H))
    prev = np.zeros(H)
    for t in range(T):
        values[t, 0] = 1.0
        values[t, 1:1 + m] = x[t]
        for j in range(H):
            k = 1 + m + j
            values[t, k] = sym_sigmoid(hw[j][:k] @ values[t, :k] + hs[j] * prev[j])
        prev = values[t, 1 + m:].copy()
    net = values @ ow.T
    return values, (net if linear else sym_sigmoid(net))


def cases(x_block, lengths):
    """Flatten a padded block (n, T, m) into time-ordered cases and their break flags."""
    rows, breaks = [], []
    for q in range(len(lengths)):
        for t in range(int(lengths[q])):
            rows.append(x_block[q, t])
            breaks.append(t == 0)
    return np.array(rows), np.array(breaks)


def output_epoch(values, targets, mask, ow, prime_offset=0.1, score_threshold=0.4,
                 raw_error=False):
    """cascor1's output-training pass: residuals (C, K), output slopes (K, n), error bits,
    true error Σ dif² (targets in the symmetric coding)."""
    out = sym_sigmoid(values @ ow.T)
    dif = np.where(mask[:, None], out - targets, 0.0)
    errp = dif * (0.25 - out ** 2 + prime_offset)
    slopes = errp.T @ values
    bits = int(np.sum(np.abs(dif) >= score_threshold))
    return (dif if raw_error else errp), slopes, bits, float(np.sum(dif ** 2))


def candidate_values(values, breaks, w, ws):
    """A candidate's value at every case: V(t) = f(w · values(t) + ws V(t−1)), V reset at
    breaks. ``w`` has one weight per values column it reads (the first len(w) columns)."""
    n = len(w)
    v = np.zeros(len(values))
    prev = 0.0
    for c in range(len(values)):
        if breaks[c]:
            prev = 0.0
        v[c] = sym_sigmoid(values[c, :n] @ w + ws * prev)
        prev = v[c]
    return v


def covariances(v, errors):
    """Σ_p (V_p − V̄)(E_po − Ē_o) for every output o."""
    return (v - v.mean()) @ (errors - errors.mean(axis=0))


def score(values, breaks, errors, w, ws):
    """The candidate's score S = Σ_o |Σ_p (V_p − V̄)(E_po − Ē_o)| / SSE, SSE = Σ E²."""
    v = candidate_values(values, breaks, w, ws)
    return float(np.abs(covariances(v, errors)).sum() / np.sum(errors ** 2))


def candidate_slopes(values, breaks, errors, w, ws, signs):
    """The slopes the candidate training accumulates: −∂S/∂w for the weights ``w`` and last
    the self-weight ``ws``, with the signs σ_o of the covariances held at ``signs``:

        −∂S/∂w = Σ_p dir_p ∂V_p/∂w,   dir_p = −Σ_o σ_o (E_po − Ē_o) / SSE,

    the derivatives by the recursion ∂V(t)/∂w = f'(t)(I(t) + ws ∂V(t−1)/∂w) (I = V(t−1) for
    the self-weight), f' = 0.25 − V², everything reset at breaks.
    """
    n = len(w)
    centred = errors - errors.mean(axis=0)
    sse = np.sum(errors ** 2)
    v = candidate_values(values, breaks, w, ws)
    slopes = np.zeros(n + 1)
    dv = np.zeros(n + 1)
    prev = 0.0
    for c in range(len(values)):
        if breaks[c]:
            prev, dv = 0.0, np.zeros(n + 1)
        fp = 0.25 - v[c] ** 2
        source = np.append(values[c, :n], prev)
        dv = fp * (source + ws * dv)
        direction = -np.sum(signs * centred[c]) / sse
        slopes += direction * dv
        prev = v[c]
    return slopes
