"""A slow, readable NumPy statement of the LSTM97 forward pass and truncated learning rule.

Written to be read next to docs/learners.md §2.1-2.4, not to be fast: whole-vector operations, dense
connectivity masks and the paper's equation numbers. The tests check the numba kernel against it.
"""

from __future__ import annotations

import numpy as np

from .network import Layout


def logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


SQUASH = {
    "logistic": (logistic, lambda x: logistic(x) * (1 - logistic(x))),
    "sym1": (lambda x: 2 * logistic(x) - 1, lambda x: 2 * logistic(x) * (1 - logistic(x))),
    "sym2": (lambda x: 4 * logistic(x) - 2, lambda x: 4 * logistic(x) * (1 - logistic(x))),
    "identity": (lambda x: x, lambda x: np.ones_like(x)),
}


def run_sequence(
    layout: Layout, wh, wo, x, target, has_target, g="sym2", h="sym1", alpha=0.0, mode="step",
    clamp=None,
):
    """Run one sequence from a reset state; return ``(outputs, wh, wo, dwh, dwo, trajectory)``.

    ``mode`` is ``step`` (apply each change at once), ``sequence`` (apply the sum at the end) or
    ``accumulate`` (return the summed change, weights untouched). ``clamp``, when given, is the
    list of hidden activation vectors y(t-1) recorded on a nominal run; the recurrent sources
    then take those values instead of the current run's, which is what the truncated rule's
    gradient is exact for ("clamped" finite differences, docs/learners.md §9). ``trajectory`` is the
    list of y(t-1) vectors this run used.
    """
    wh, wo = wh.copy(), wo.copy()
    mh, mo = layout.hidden_mask(), layout.output_mask()
    g_f, g_d = SQUASH[g]
    h_f, h_d = SQUASH[h]
    C, nc, I = layout.n_blocks, layout.n_cells, layout.n_inputs
    ig, og, cu, cb = layout.in_gate, layout.out_gate, layout.cell_unit, layout.cell_block
    has_og = og >= 0
    y_hidden = np.zeros(layout.n_hidden)
    s = np.zeros(nc)
    trace_c = np.zeros((nc, layout.n_src))  # eq. 27
    trace_in = np.zeros((nc, layout.n_src))  # eq. 25
    dwh, dwo = np.zeros_like(wh), np.zeros_like(wo)
    outs, trajectory = [], []
    for t in range(len(x)):
        prev = y_hidden if clamp is None else clamp[t]
        trajectory.append(prev.copy())
        src = np.concatenate([prev, x[t], [1.0]])
        net = (wh * mh) @ src
        y_in = logistic(net[ig])
        y_out = np.where(has_og, logistic(net[np.where(has_og, og, 0)]), 1.0)
        net_c = net[cu]
        s = s + y_in[cb] * g_f(net_c)
        y_c = y_out[cb] * h_f(s)
        trace_c += (g_d(net_c) * y_in[cb])[:, None] * src[None, :] * mh[cu]
        f_in_prime = y_in * (1 - y_in)
        trace_in += (g_f(net_c) * f_in_prime[cb])[:, None] * src[None, :] * mh[ig[cb]]
        osrc = np.concatenate([x[t], y_c, [1.0]])
        y_k = logistic((wo * mo) @ osrc)
        outs.append(y_k)
        if has_target[t] and mode != "forward":
            e_k = y_k * (1 - y_k) * (target[t] - y_k)  # eq. 19
            back = (wo * mo)[:, I:I + nc].T @ e_k  # sum_k w_{k,c} e_k
            e_s = y_out[cb] * h_d(s) * back  # eq. 23
            e_out = y_out * (1 - y_out) * np.bincount(cb, h_f(s) * back, minlength=C)  # eq. 21
            d_wh = np.zeros_like(wh)
            d_wo = alpha * np.outer(e_k, osrc) * mo  # eq. 22
            for j in range(C):
                if has_og[j]:
                    d_wh[og[j]] += alpha * e_out[j] * src * mh[og[j]]  # eq. 22
                d_wh[ig[j]] += alpha * (e_s[cb == j][:, None] * trace_in[cb == j]).sum(0)  # eq. 26
            d_wh[cu] += alpha * e_s[:, None] * trace_c  # eq. 28
            if mode == "step":
                wh, wo = wh + d_wh, wo + d_wo
            else:
                dwh, dwo = dwh + d_wh, dwo + d_wo
        y_hidden = np.zeros(layout.n_hidden)
        y_hidden[ig] = y_in
        y_hidden[og[has_og]] = y_out[has_og]
        y_hidden[cu] = y_c
    if mode == "sequence":
        wh, wo = wh + dwh, wo + dwo
    return np.array(outs), wh, wo, dwh, dwo, trajectory


def clamped_loss(layout, wh, wo, x, target, has_target, clamp, g="sym2", h="sym1") -> float:
    """½ Σ (target − y)² over the steps with targets, with recurrent sources clamped."""
    outs, *_ = run_sequence(layout, wh, wo, x, target, has_target, g, h, mode="forward", clamp=clamp)
    diff = (target - outs)[np.asarray(has_target, bool)]
    return 0.5 * float((diff ** 2).sum())
