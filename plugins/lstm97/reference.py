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
    clamp=None, wp=None, state_decay=1.0, reset_activation=0.0, alpha_decay=1.0,
):
    """Run one sequence from a reset state; return ``(outputs, wh, wo, dwh, dwo, trajectory)``,
    and with peephole weights ``wp`` (3 x cells: to the input, forget and output gate) also
    their change ``dwp`` as a seventh element.

    ``mode`` is ``step`` (apply each change at once), ``sequence`` (apply the sum at the end) or
    ``accumulate`` (return the summed change, weights untouched). ``clamp``, when given, is the
    list of truncated sources recorded on a nominal run: per step the hidden activations y(t-1)
    and the states the peepholes read (s(t-1) for the input and forget gates, s(t) for the
    output gate). The run then uses those values instead of its own, which is what the
    truncated rule's gradient is exact for ("clamped" finite differences, docs/learners.md
    §9). ``trajectory`` is the list of those sources this run used.

    Forget gates (docs/learners.md §2.9, Gers et al. 2000): s(t) = φ(t)·s(t-1) + y_in·g, and
    every trace is scaled by φ(t) before the step's new term is added; ``state_decay`` is a
    fixed φ. The learning rate is multiplied by ``alpha_decay`` after every step.
    """
    wh, wo = wh.copy(), wo.copy()
    peep = wp is not None
    wp = np.zeros((3, layout.n_cells)) if wp is None else wp.copy()
    mh, mo = layout.hidden_mask(), layout.output_mask()
    g_f, g_d = SQUASH[g]
    h_f, h_d = SQUASH[h]
    C, nc, I = layout.n_blocks, layout.n_cells, layout.n_inputs
    ig, og, fg = layout.in_gate, layout.out_gate, layout.forget_gate
    cu, cb = layout.cell_unit, layout.cell_block
    has_og, has_fg = og >= 0, fg >= 0
    same_block = cb[:, None] == cb[None, :]
    y_hidden = np.full(layout.n_hidden, float(reset_activation))
    s = np.zeros(nc)
    trace_c = np.zeros((nc, layout.n_src))  # eq. 27
    trace_in = np.zeros((nc, layout.n_src))  # eq. 25
    trace_f = np.zeros((nc, layout.n_src))  # the forget gate's
    trace_pin = np.zeros((nc, nc))  # ds_v / dw(input gate <- s_u), same block only
    trace_pf = np.zeros((nc, nc))  # ds_v / dw(forget gate <- s_u)
    dwh, dwo, dwp = np.zeros_like(wh), np.zeros_like(wo), np.zeros_like(wp)
    outs, trajectory = [], []
    for t in range(len(x)):
        prev, s_in = (y_hidden, s) if clamp is None else clamp[t][:2]
        src = np.concatenate([prev, x[t], [1.0]])
        net = (wh * mh) @ src
        net_in = net[ig] + np.bincount(cb, wp[0] * s_in, minlength=C)
        y_in = logistic(net_in)
        net_f = net[np.where(has_fg, fg, 0)] + np.bincount(cb, wp[1] * s_in, minlength=C)
        y_f = np.where(has_fg, logistic(net_f), state_decay)
        net_c = net[cu]
        s_prev = s
        s = y_f[cb] * s + y_in[cb] * g_f(net_c)
        s_out = s if clamp is None else clamp[t][2]
        trajectory.append((prev.copy(), s_in.copy(), s_out.copy()))
        net_out = net[np.where(has_og, og, 0)] + np.bincount(cb, wp[2] * s_out, minlength=C)
        y_out = np.where(has_og, logistic(net_out), 1.0)
        y_c = y_out[cb] * h_f(s)
        phi = y_f[cb][:, None]
        f_in_prime = y_in * (1 - y_in)
        f_f_prime = np.where(has_fg, y_f * (1 - y_f), 0.0)
        trace_c = phi * trace_c + (g_d(net_c) * y_in[cb])[:, None] * src[None, :] * mh[cu]
        gate_part = g_f(net_c) * f_in_prime[cb]
        trace_in = phi * trace_in + gate_part[:, None] * src[None, :] * mh[ig[cb]]
        forget_part = s_prev * f_f_prime[cb]
        trace_f = phi * trace_f + forget_part[:, None] * src[None, :] * mh[np.where(has_fg, fg, 0)[cb]]
        trace_pin = phi * trace_pin + gate_part[:, None] * s_in[None, :] * same_block
        trace_pf = phi * trace_pf + forget_part[:, None] * s_in[None, :] * same_block
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
            d_wp = np.zeros_like(wp)
            for j in range(C):
                mine = cb == j
                if has_og[j]:
                    d_wh[og[j]] += alpha * e_out[j] * src * mh[og[j]]  # eq. 22
                    d_wp[2, mine] = alpha * e_out[j] * s_out[mine]
                d_wh[ig[j]] += alpha * (e_s[mine][:, None] * trace_in[mine]).sum(0)  # eq. 26
                if has_fg[j]:
                    d_wh[fg[j]] += alpha * (e_s[mine][:, None] * trace_f[mine]).sum(0)
                d_wp[0] += alpha * (e_s[mine][:, None] * trace_pin[mine]).sum(0)
                d_wp[1] += alpha * (e_s[mine][:, None] * trace_pf[mine]).sum(0) * has_fg[cb]
            d_wh[cu] += alpha * e_s[:, None] * trace_c  # eq. 28
            if not peep:
                d_wp[:] = 0.0
            if mode == "step":
                wh, wo, wp = wh + d_wh, wo + d_wo, wp + d_wp
            else:
                dwh, dwo, dwp = dwh + d_wh, dwo + d_wo, dwp + d_wp
        if mode != "forward":
            alpha = alpha * alpha_decay
        y_hidden = np.zeros(layout.n_hidden)
        y_hidden[ig] = y_in
        y_hidden[og[has_og]] = y_out[has_og]
        y_hidden[fg[has_fg]] = y_f[has_fg]
        y_hidden[cu] = y_c
    if mode == "sequence":
        wh, wo, wp = wh + dwh, wo + dwo, wp + dwp
    found = (np.array(outs), wh, wo, dwh, dwo, trajectory)
    return found + (dwp, wp) if peep else found


def clamped_loss(layout, wh, wo, x, target, has_target, clamp, g="sym2", h="sym1", **options
                 ) -> float:
    """½ Σ (target − y)² over the steps with targets, with the truncated sources clamped."""
    outs = run_sequence(layout, wh, wo, x, target, has_target, g, h, mode="forward",
                        clamp=clamp, **options)[0]
    diff = (target - outs)[np.asarray(has_target, bool)]
    return 0.5 * float((diff ** 2).sum())
