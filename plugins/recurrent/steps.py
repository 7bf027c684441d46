"""numba building blocks shared by the BPTT and RTRL kernels: one step of the forward pass.

Imported only from kernel modules (never at plugin registration), so listing plugins does not
load numba.
"""

from __future__ import annotations

import math

from numba import njit

#: kernel modes shared by all gradient kernels
FORWARD, TRAIN, ACCUMULATE = -1, 0, 2
#: strict IEEE arithmetic. Reordered sums and fused multiply-adds ("reassoc", "contract") were
#: faster, but their last bits depended on how LLVM inlined the shared step functions, which
#: differs between a kernel compiled in the running process and one loaded from numba's cache:
#: the same trial then gave other results after a recompilation
FASTMATH = False


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


@njit(cache=True, fastmath=FASTMATH)
def forward_units(row, fprime, w, seg_ptr, seg_first, seg_col, seg_len, m, n):
    """Compute every unit of one step in topological order, writing a(t) into ``row`` and
    f'(net(t)) into ``fprime``. Connections are read as runs (``Network.segments``)."""
    for i in range(n):
        acc = 0.0
        for s in range(seg_ptr[i], seg_ptr[i + 1]):
            c0, v0, size = seg_first[s], seg_col[s], seg_len[s]
            # slices, not w[c0 + k]: an index loaded from an array might be negative, and
            # numba's wrap-around check on it stops LLVM from vectorising the loop (7x slower)
            ws = w[c0:c0 + size]
            rs = row[v0:v0 + size]
            for k in range(size):
                acc += ws[k] * rs[k]
        a = logistic(acc)
        row[m + i] = a
        fprime[i] = a * (1.0 - a)
