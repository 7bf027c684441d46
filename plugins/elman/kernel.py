"""numba kernel of Elman's training procedure on a simple recurrent net (docs/learners.md §5).

Dense layout (the flat weight vector of :func:`~seqbench_learners.recurrent.network.elman`):
hidden rows ``[W_hx | W_hc | b_h]`` then output rows ``[W_yh | b_y]``. At every step t:

    h(t) = f(W_hx x(t) + W_hc c(t) + b_h),   y(t) = f(W_yh h(t) + b_y)
    δ^y = f'(y)(y − d),   δ^h = f'(h) W_yhᵀ δ^y            (one-step backprop, c is a constant)
    Δw(t) = −α ∂E(t)/∂w + μ Δw(t−1)                      (on-line, optional momentum μ)
    c(t+1) = h(t)                                         (copied after the update; h(t) was
                                                           computed with the old weights)

``mode``: 0 trains, 2 only sums the gradients into ``grad`` with frozen weights, −1 runs forward.
The momentum term ``velocity`` is optimiser state and persists across sequences; the context is
reset to ``context_init`` at every sequence start.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..recurrent.steps import FORWARD, TRAIN, logistic


@njit(cache=True)
def run_block(inputs, targets, target_mask, lengths, w, n_hidden, bias, alpha, momentum,
              context_init, mode, velocity, grad, outputs):
    """Run (and unless ``mode`` is −1 learn from) every sequence of the block in order; write
    each step's outputs, computed before that step's weight change, to ``outputs``."""
    n_seq, _, m = inputs.shape
    K = outputs.shape[2]
    nh = n_hidden
    sh = m + nh + bias  # weights per hidden unit
    so = nh + bias  # weights per output unit
    W = w.shape[0]
    wh = w[: nh * sh].reshape(nh, sh)
    wo = w[nh * sh:].reshape(K, so)
    g = np.zeros(W)
    gh = g[: nh * sh].reshape(nh, sh)
    go = g[nh * sh:].reshape(K, so)
    context = np.zeros(nh)
    h = np.zeros(nh)
    dy = np.zeros(K)
    dh = np.zeros(nh)

    for q in range(n_seq):
        for j in range(nh):
            context[j] = context_init
        for t in range(lengths[q]):
            for i in range(nh):
                acc = 0.0
                for j in range(m):
                    acc += wh[i, j] * inputs[q, t, j]
                for j in range(nh):
                    acc += wh[i, m + j] * context[j]
                if bias:
                    acc += wh[i, m + nh]
                h[i] = logistic(acc)
            for k in range(K):
                acc = 0.0
                for j in range(nh):
                    acc += wo[k, j] * h[j]
                if bias:
                    acc += wo[k, nh]
                outputs[q, t, k] = logistic(acc)
            if mode != FORWARD and target_mask[q, t]:
                for k in range(K):
                    y = outputs[q, t, k]
                    dy[k] = y * (1.0 - y) * (y - targets[q, t, k])
                for j in range(nh):
                    acc = 0.0
                    for k in range(K):
                        acc += wo[k, j] * dy[k]
                    dh[j] = h[j] * (1.0 - h[j]) * acc
                for k in range(K):
                    for j in range(nh):
                        go[k, j] = dy[k] * h[j]
                    if bias:
                        go[k, nh] = dy[k]
                for i in range(nh):
                    for j in range(m):
                        gh[i, j] = dh[i] * inputs[q, t, j]
                    for j in range(nh):
                        gh[i, m + j] = dh[i] * context[j]
                    if bias:
                        gh[i, m + nh] = dh[i]
                if mode == TRAIN:
                    for v in range(W):
                        step = momentum * velocity[v] - alpha * g[v]
                        w[v] += step
                        velocity[v] = step
                else:
                    for v in range(W):
                        grad[v] += g[v]
            for j in range(nh):
                context[j] = h[j]
