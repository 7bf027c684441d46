"""Slow, readable NumPy statements of the forward pass, BPTT and RTRL on a :class:`Network`.

Written to be read next to docs/learners.md §1, §3 and §4, not to be fast; the tests check every
numba kernel against these on random nets. One sequence at a time: ``x`` is ``(T, m)``, ``d`` is
``(T, K)`` and ``mask`` is ``(T,)`` (whether step t has a target). Error
E = ½ Σ_t Σ_k (y_k(t) − d_k(t))² over the masked steps; every gradient here is ∂E/∂w (not its
negative).
"""

from __future__ import annotations

import numpy as np

from .network import Network


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _source(net: Network, c: int, x_t, a_t, a_prev) -> float:
    """The value connection ``c`` reads at a step: input, bias, a(t) or a(t−1)."""
    m, n = net.n_inputs, net.n_units
    s = net.src[c]
    if s < m:
        return x_t[s]
    if s == m + n:
        return 1.0
    return a_prev[s - m] if net.delay[c] == 1 else a_t[s - m]


def forward(net: Network, w, x, d=None, mask=None, teacher_forcing=False, clamp=None):
    """Run one sequence from a zero state.

    Returns ``(a, fprime, prev)``: unit activations (T, n) as computed (unforced), their
    derivatives f'(net), and the a(t−1) vectors the delay-1 links actually read. With
    ``teacher_forcing`` an output unit with a target at t feeds ``d`` instead of its activation
    into step t+1 (docs/learners.md §4.4). With ``clamp`` (T, n) the delay-1 links read those
    recorded vectors instead (the "clamped" graph of docs/learners.md §9).
    """
    T, n = len(x), net.n_units
    a = np.zeros((T, n))
    fprime = np.zeros((T, n))
    prev_used = np.zeros((T, n))
    a_prev = np.zeros(n)
    for t in range(T):
        prev = a_prev if clamp is None else clamp[t]
        prev_used[t] = prev
        for i in range(n):
            s = sum(w[c] * _source(net, c, x[t], a[t], prev) for c in np.flatnonzero(net.dst == i))
            a[t, i] = logistic(s)
            fprime[t, i] = a[t, i] * (1 - a[t, i])
        a_prev = a[t].copy()
        if teacher_forcing and mask[t]:
            a_prev[net.outputs] = d[t]
    return a, fprime, prev_used


def loss(net: Network, w, x, d, mask, teacher_forcing=False, clamp=None) -> float:
    """E = ½ Σ (y − d)² over the steps with targets (outputs taken before any forcing)."""
    a, _, _ = forward(net, w, x, d, mask, teacher_forcing, clamp)
    y = a[:, net.outputs]
    return 0.5 * float((((y - d) ** 2).sum(axis=1) * mask).sum())


def output_errors(net: Network, a, d, mask):
    """e_i(t) = y_i(t) − d_i(t) for output units at steps with a target, 0 elsewhere; (T, n)."""
    e = np.zeros_like(a)
    e[:, net.outputs] = (a[:, net.outputs] - d) * mask[:, None]
    return e


def backprop(net: Network, w, x, a, fprime, e, t_end, t_from, inject):
    """∂/∂w of the errors ``e`` at the steps where ``inject`` holds, back-propagated from
    ``t_end`` down to ``t_from`` only (docs/learners.md §3.1; truncation drops anything older).

    δ_i(t) = f'_i(t) [e_i(t) + Σ_{k: i∈Z_k} w_ki δ_k(t) + Σ_{k: i∈R_k} w_ki δ_k(t+1)]
    """
    n, m = net.n_units, net.n_inputs
    g = np.zeros_like(w)
    delta_next = np.zeros(n)
    for t in range(t_end, t_from - 1, -1):
        a_prev = a[t - 1] if t > 0 else np.zeros(n)
        delta = np.zeros(n)
        for i in range(n - 1, -1, -1):  # reverse topological order
            back = e[t, i] if inject[t] else 0.0
            for c in range(len(w)):
                k, s = net.dst[c], net.src[c]
                if s == m + i:
                    back += w[c] * (delta[k] if net.delay[c] == 0 else delta_next[k])
            delta[i] = fprime[t, i] * back
        for c in range(len(w)):
            g[c] += delta[net.dst[c]] * _source(net, c, x[t], a[t], a_prev)
        delta_next = delta
    return g


def bptt_gradient(net: Network, w, x, d, mask):
    """Epochwise BPTT: the exact gradient of the whole sequence's error."""
    a, fprime, _ = forward(net, w, x)
    e = output_errors(net, a, d, mask)
    T = len(x)
    return backprop(net, w, x, a, fprime, e, T - 1, 0, np.ones(T, bool))


def bptt_step_gradient(net: Network, w, x, d, mask, t):
    """∂E(t)/∂w: BPTT of step t's error alone."""
    a, fprime, _ = forward(net, w, x)
    e = output_errors(net, a, d, mask)
    inject = np.zeros(len(x), bool)
    inject[t] = True
    return backprop(net, w, x, a, fprime, e, t, 0, inject)


def bptt_train(net: Network, w, x, d, mask, alpha, window=0, update_every=1, apply=True):
    """BPTT on one sequence; returns ``(outputs, w, summed gradient)``.

    ``window`` 0: epochwise, one update at the sequence end. ``window`` h > 0: BPTT(h; h') with
    h' = ``update_every`` — every h' steps (and at the sequence end) the errors of the steps
    since the last update are back-propagated through the last h steps and the weights change
    at once. With ``apply`` False the weights stay frozen and only the gradient is summed.
    """
    w = w.copy()
    T, n = len(x), net.n_units
    a = np.zeros((T, n))
    fprime = np.zeros((T, n))
    e = np.zeros((T, n))
    g_sum = np.zeros_like(w)
    a_prev = np.zeros(n)
    last = -1
    for t in range(T):
        for i in range(n):
            s = sum(w[c] * _source(net, c, x[t], a[t], a_prev) for c in np.flatnonzero(net.dst == i))
            a[t, i] = logistic(s)
            fprime[t, i] = a[t, i] * (1 - a[t, i])
        if mask[t]:
            e[t, net.outputs] = a[t, net.outputs] - d[t]
        a_prev = a[t].copy()
        if window and (t - last >= update_every or t == T - 1):
            inject = np.zeros(T, bool)
            inject[last + 1: t + 1] = True
            g = backprop(net, w, x, a, fprime, e, t, max(0, t - window + 1), inject)
            g_sum += g
            if apply:
                w -= alpha * g
            last = t
    if not window:
        g = backprop(net, w, x, a, fprime, e, T - 1, 0, np.ones(T, bool))
        g_sum += g
        if apply:
            w -= alpha * g
    return a[:, net.outputs], w, g_sum


def rtrl_train(net: Network, w, x, d, mask, alpha, update="step", teacher_forcing=False,
               state=None):
    """RTRL with sensitivities of **every** unit (the textbook recursion, docs/learners.md §4.1):

        p^k_w(t) = f'_k(t) [Σ_{l∈Z_k} w_kl p^l_w(t) + Σ_{l∈R_k} w_kl p^l_w(t−1) + [k = i] ã_j]
        ∂E(t)/∂w = Σ_{k∈outputs} e_k(t) p^k_w(t)

    ``update``: ``step`` (change weights after every step), ``sequence`` (sum, apply at the
    end) or ``accumulate`` (weights frozen). Returns ``(outputs, w, summed gradient, per-step
    gradients (T, W))``.

    ``state``: None starts from a(0) = 0 and p(0) = 0 (a reset). Otherwise a dict with ``"a"``
    (n,), the a(t−1) the first step reads, and ``"p"`` (n, W), every unit's p(t−1); the run
    starts from it and leaves its end state there (no reset: ``reset=never`` of the rtrl
    learner is this function called on successive sequences with one ``state``).
    """
    w = w.copy()
    T, n, W = len(x), net.n_units, len(w)
    m = net.n_inputs
    p_prev = np.zeros((n, W)) if state is None else state["p"].copy()
    a_prev = np.zeros(n) if state is None else state["a"].copy()
    outs = np.zeros((T, net.n_outputs))
    g_sum = np.zeros(W)
    steps = np.zeros((T, W))
    for t in range(T):
        a = np.zeros(n)
        fp = np.zeros(n)
        for i in range(n):
            s = sum(w[c] * _source(net, c, x[t], a, a_prev) for c in np.flatnonzero(net.dst == i))
            a[i] = logistic(s)
            fp[i] = a[i] * (1 - a[i])
        p = np.zeros((n, W))
        for k in range(n):
            acc = np.zeros(W)
            for c in np.flatnonzero(net.dst == k):
                s = net.src[c]
                if m <= s < m + n:
                    acc += w[c] * (p[s - m] if net.delay[c] == 0 else p_prev[s - m])
                acc[c] += _source(net, c, x[t], a, a_prev)
            p[k] = fp[k] * acc
        y = a[net.outputs]
        outs[t] = y
        if mask[t]:
            g = ((y - d[t])[:, None] * p[net.outputs]).sum(axis=0)
            steps[t] = g
            g_sum += g
            if update == "step":
                w -= alpha * g
        a_prev = a.copy()
        if teacher_forcing and mask[t]:
            a_prev[net.outputs] = d[t]
            p[net.outputs] = 0.0
        p_prev = p
    if update == "sequence":
        w -= alpha * g_sum
    if state is not None:
        state["a"], state["p"] = a_prev, p_prev
    return outs, w, g_sum, steps
