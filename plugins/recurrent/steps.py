"""numba building blocks shared by the BPTT and RTRL kernels: one step of the forward pass.

Imported only from kernel modules (never at plugin registration), so listing plugins does not
load numba.
"""

from __future__ import annotations

import math

from numba import njit

#: kernel modes shared by all gradient kernels
FORWARD, TRAIN, ACCUMULATE = -1, 0, 2


@njit(cache=True, inline="always")
def logistic(x):
    # exp(-x) overflows to inf for x < -709, giving exactly 0.0: stable without clamping
    return 1.0 / (1.0 + math.exp(-x))


@njit(cache=True)
def load_row(row, x_t, prev_row, m, n, first):
    """Fill ``row = [x(t) | a(t) (to compute) | 1 | a(t−1)]`` from the input and the previous
    row (zeros at a sequence start)."""
    for i in range(m):
        row[i] = x_t[i]
    row[m + n] = 1.0
    for j in range(n):
        row[m + n + 1 + j] = 0.0 if first else prev_row[m + j]


@njit(cache=True)
def forward_units(row, fprime, w, row_ptr, col, m, n):
    """Compute every unit of one step in topological order, writing a(t) into ``row`` and
    f'(net(t)) into ``fprime``."""
    for i in range(n):
        acc = 0.0
        for c in range(row_ptr[i], row_ptr[i + 1]):
            acc += w[c] * row[col[c]]
        a = logistic(acc)
        row[m + i] = a
        fprime[i] = a * (1.0 - a)
