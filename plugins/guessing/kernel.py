"""numba kernels of random weight guessing: the forward pass and the search over many draws.

A network is a dense weight matrix ``W`` of shape (U, 2U + m + 1) over U units (computed in
index order) and m inputs: columns ``0 .. U-1`` hold the delay-1 connections from every unit's
previous activation, ``U .. 2U-1`` the delay-0 connections from units earlier in the order (their
activation of the same step), ``2U .. 2U+m-1`` the inputs of the same step, and ``2U+m`` the
bias. At every step t, for i = 0 .. U-1:

    net_i(t) = sum_j W[i, j] y_j(t-1) + sum_{j<i} W[i, U+j] y_j(t)
               + sum_k W[i, 2U+k] x_k(t) + W[i, 2U+m],                 y_i(t) = f(net_i(t))

with y = 0 before the first step of every sequence. The network's outputs are its last
``n_out`` units. ``latch1`` (the 2001 latch net of variant I) replaces the input term of the
first step by the free class parameter ``h_pos`` (first input > 0) or ``h_neg``.

A draw is a row ``theta`` of free parameters: first the weights at ``free_rows, free_cols`` (the
architecture's 0/1 mask, row-major), then, for ``latch1``, ``h_pos`` and ``h_neg``. Entries of
``W`` outside the mask keep their fixed values (0, or latch1's input weight 1); same-step
columns ``j >= i`` are always outside it.

The sums run in a fixed order (delay-1 terms, same-step terms, inputs, bias; the zeros outside
a sparse net's mask are skipped, which changes no sum) and both kernels share one sequence loop,
so the search and the forward pass compute bit-identical outputs. :mod:`.reference` computes
the same sums with NumPy (equal to about 1e-13 after tens of steps).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LOGISTIC, TANH = 0, 1
ACCEPT_ABS, ACCEPT_SIGN = 0, 1
#: why :func:`search` returned
PASSED, ALLOWANCE, CAP, EXHAUSTED = 0, 1, 2, 3
#: beyond these |net| the squashing functions are constant in float64 (see :func:`squash`)
LOGISTIC_FLAT = 40.0
TANH_FLAT = 20.0


@njit(cache=True)
def squash(x, activation):
    """Logistic or tanh, stable for any finite ``x``.

    Logistic: 1 / (1 + exp(-x)) for x >= 0 and z / (1 + z) with z = exp(x) for x < 0, so exp
    never overflows; 1.0 for x >= 40 (where the formula rounds to exactly 1.0) and 0.0 for
    x <= -40 (where it would give exp(x) < 4.3e-18). Tanh: ±1.0 for |x| >= 20, where tanh
    rounds to exactly ±1.0. The flat ends are most of a guessed net's steps (weights up to 100)
    and skip the exp, whose latency otherwise sets the speed of the step.
    """
    if activation == TANH:
        if x >= TANH_FLAT:
            return 1.0
        if x <= -TANH_FLAT:
            return -1.0
        return math.tanh(x)
    if x >= LOGISTIC_FLAT:
        return 1.0
    if x <= -LOGISTIC_FLAT:
        return 0.0
    z = math.exp(-abs(x))
    if x >= 0.0:
        return 1.0 / (1.0 + z)
    return z / (1.0 + z)


@njit(cache=True)
def load(W, theta, free_rows, free_cols):
    """Write a draw's weights into ``W`` (entries outside the mask are left as they are)."""
    for p in range(free_rows.shape[0]):
        W[free_rows[p], free_cols[p]] = theta[p]


@njit(cache=True)
def run_sequence(W, row_ptr, row_col, n_out, activation, latch1, h_pos, h_neg, x, length,
                 targets, mask, judge, accept, tolerance, middle, src, out, write):
    """Run one sequence (``x``: (T, m)) from rest; write its outputs to ``out`` if ``write``.

    ``row_col[row_ptr[i]:row_ptr[i + 1]]`` are the columns of ``W`` that unit i reads (its
    mask and fixed non-zero entries, ascending), so the sum skips the zeros of a sparse net in
    the dense order. ``src`` (2U + m + 1 entries) holds each step's sources
    [y(t-1) | y(t) | x(t) | 1].

    ``judge``: 0 judges nothing; 1 stops at the first step with a target where an output fails
    the test; 2 runs to the end and says whether any failed. The test: ``ACCEPT_ABS``,
    |y - d| < tolerance; ``ACCEPT_SIGN``, (y - middle)(d - middle) > 0. Returns
    (passed, steps run).
    """
    U = W.shape[0]
    m = x.shape[1]
    now = U + U - n_out  # where the outputs of this step are in src
    passed = True
    for c in range(src.shape[0]):
        src[c] = 0.0
    src[2 * U + m] = 1.0
    for t in range(length):
        for k in range(m):
            src[2 * U + k] = x[t, k]
        if latch1 and t == 0:
            src[2 * U] = h_pos if x[0, 0] > 0.0 else h_neg  # read with the fixed weight 1
        for i in range(U):
            acc = 0.0
            for p in range(row_ptr[i], row_ptr[i + 1]):
                acc += W[i, row_col[p]] * src[row_col[p]]
            src[U + i] = squash(acc, activation)
        for i in range(U):
            src[i] = src[U + i]
        if write:
            for k in range(n_out):
                out[t, k] = src[now + k]
        if judge != 0 and mask[t]:
            for k in range(n_out):
                d = targets[t, k]
                o = src[now + k]
                if accept == ACCEPT_ABS:
                    ok = abs(o - d) < tolerance
                else:
                    ok = (o - middle) * (d - middle) > 0.0
                if not ok:
                    passed = False
            if not passed and judge == 1:
                return False, t + 1
    return passed, length


@njit(cache=True)
def forward(W, row_ptr, row_col, theta, free_rows, free_cols, n_out, activation, latch1,
            inputs, lengths, outputs):
    """The outputs of the draw ``theta`` on every sequence of a block (padding untouched)."""
    load(W, theta, free_rows, free_cols)
    n_w = free_rows.shape[0]
    h_pos = theta[n_w] if latch1 else 0.0
    h_neg = theta[n_w + 1] if latch1 else 0.0
    src = np.zeros(W.shape[1])
    no_targets = np.zeros((1, 1))
    no_mask = np.zeros(1, dtype=np.bool_)
    for q in range(inputs.shape[0]):
        run_sequence(W, row_ptr, row_col, n_out, activation, latch1, h_pos, h_neg, inputs[q],
                     lengths[q], no_targets, no_mask, 0, 0, 0.0, 0.0, src, outputs[q], True)


@njit(cache=True)
def search(thetas, pos, seq, failed, allowance, draws_left, early_rejection, W, row_ptr,
           row_col, free_rows, free_cols, n_out, activation, latch1, inputs, targets,
           target_mask, lengths, accept, tolerance, middle):
    """Judge the draws ``thetas[pos:]`` on the training set, in order, until one passes.

    A draw is judged on training sequences 0, 1, ... With ``early_rejection`` it is rejected
    at the first sequence that fails (and that sequence stops at its first failing step);
    without it every sequence is run to its end and the draw is rejected afterwards if any
    failed. ``seq`` > 0 resumes draw ``pos`` at sequence ``seq`` (a call ran out of allowance
    inside it), ``failed`` saying whether it has already failed one. At most ``allowance``
    sequences are run; no new draw is started once ``draws_left`` draws have been started
    (negative: no cap). Nothing is allocated per draw, sequence or step.

    Returns ``(status, pos, seq, failed, sequences, steps, started, last)``: why it stopped
    (PASSED: ``thetas[pos]`` passed every sequence; ALLOWANCE; CAP; EXHAUSTED: ``thetas`` is
    used up), where to resume (``pos``, ``seq``, ``failed``), the sequences and time steps run,
    the draws started and the index of the last draw started in this call (-1: none).
    """
    n_draws = thetas.shape[0]
    n_seq = inputs.shape[0]
    n_w = free_rows.shape[0]
    src = np.zeros(W.shape[1])
    no_out = np.zeros((1, 1))
    judge = 1 if early_rejection else 2
    sequences = 0
    steps = 0
    started = 0
    last = -1
    while pos < n_draws:
        theta = thetas[pos]
        load(W, theta, free_rows, free_cols)
        h_pos = theta[n_w] if latch1 else 0.0
        h_neg = theta[n_w + 1] if latch1 else 0.0
        while seq < n_seq:
            if sequences >= allowance:
                return ALLOWANCE, pos, seq, failed, sequences, steps, started, last
            if seq == 0:
                if draws_left == 0:
                    return CAP, pos, 0, False, sequences, steps, started, last
                draws_left -= 1
                started += 1
                last = pos
            ok, run = run_sequence(W, row_ptr, row_col, n_out, activation, latch1, h_pos,
                                   h_neg, inputs[seq], lengths[seq], targets[seq],
                                   target_mask[seq], judge, accept, tolerance, middle, src,
                                   no_out, False)
            sequences += 1
            steps += run
            seq += 1
            if not ok:
                failed = True
                if early_rejection:
                    break
        if not failed:
            return PASSED, pos, seq, False, sequences, steps, started, last
        pos += 1
        seq = 0
        failed = False
    return EXHAUSTED, pos, 0, False, sequences, steps, started, last
