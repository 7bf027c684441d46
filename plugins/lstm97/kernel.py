"""numba kernel of the 1997 LSTM forward pass and its truncated online learning rule, advancing
several independent trials ("lanes") of one network layout together.

One call runs a block of sequences per lane; nothing in the per-time-step path touches Python.
The rule is docs/learners.md §2.4 (the paper's appendix A.1, eqs. 19-28): only the internal
states carry error back in time; the partials of each cell's state with respect to its own input
weights and its block's input-gate weights are carried forward as traces, O(W) per step and O(W)
storage.

**Lanes.** Every array holding a trial's state has the lanes as its last, contiguous axis, so
each operation of a time step runs over all lanes at once: the dependent chain of one trial's
step (short dot products, a dozen squashings) is executed for 4-16 trials side by side in SIMD
registers instead of one scalar at a time. Each lane walks its own stream of time steps (its
block's sequences laid end to end, see :func:`seqbench.lanes.pack`); ``first`` marks a lane's
sequence starts (where its activations, states and traces are reset) and ``last`` its
sequence ends. A lane whose block is done before the others' idles with its target mask off.
Each lane's arithmetic is the same sequence of IEEE operations whatever the number of lanes and
whatever the lane's position (no fast-math, no contraction, one :func:`seqbench.numerics.exp`
for vector and scalar code), so a trial's result is bit for bit the same alone (a batch of one)
or batched.

``mode``: 0 applies each step's weight change at once (the paper's on-line learning), 1 sums the
changes over a sequence and applies them at its end, 2 only sums them into ``dwh``/``dwo`` over the
whole block without changing any weight (used to check the gradient), -1 runs forward only.

Inputs: a block whose inputs are one-hot symbols passes ``sym`` (the active input unit per step
and lane) and ``xval`` (its value); each sum or update over a unit's input sources then visits
only that input, as the sparse rule would (Exp. 2c at p = 100: 104 inputs, one active). Other
blocks pass dense inputs ``x``. Adding an exact zero changes no sum, so both are the dense rule's
to the bit.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from seqbench import simd as V
from seqbench.numerics import sigmoid

LOGISTIC, SYM1, SYM2, IDENTITY = 0, 1, 2, 3
PEEP_IN, PEEP_FORGET, PEEP_OUT = 0, 1, 2  # rows of the peephole weights (network.py)
STEP, SEQUENCE, ACCUMULATE, FORWARD = 0, 1, 2, -1


# The helpers below take the kernel's arrays as data pointers (``V.address``: flat, C order,
# lanes last), never as arrays: numba increments and decrements the atomic reference count of
# every array argument of every call, inlined or not, which cost more than the arithmetic of
# the step (up to two thirds of the kernel's time). A pointer is a plain value; the kernel
# takes it where it calls the helper, from an array in use there, so the memory outlives it.
# A weight or trace row is given by ``base``, the flat index (in lane vectors) of its element
# ``[row, 0]``: ``row * width``.


@njit(cache=True, inline="always", error_model="numpy")
def _dot(w, base, lo, hi, src, seg, inputs, proto):
    """Per lane, Σ_v w[base + v]·source_v over v in [lo, hi), summed in source order (a lane
    vector). The ``n_in`` input sources from ``seg`` on are step ``s``'s inputs: with
    ``inputs = (dense, x, sym, xval, n_in, s)``, the dense ``x[s]`` when ``dense``, else the
    one-hot ``sym[s]``/``xval[s]``; the others come from ``src``."""
    L = len(proto)
    dense, x, sym, xval, n_in, s = inputs
    acc = V.splat(0.0, proto)
    for v in range(lo, min(hi, seg)):
        acc = V.add(acc, V.mul(V.load(w, (base + v) * L, proto), V.load(src, v * L, proto)))
    if dense:
        for i in range(max(lo - seg, 0), min(hi - seg, n_in)):
            acc = V.add(acc, V.mul(V.load(w, (base + seg + i) * L, proto),
                                   V.load(x, (s * n_in + i) * L, proto)))
    elif lo <= seg and seg + n_in <= hi:  # every input is a source (layouts never split them)
        acc = V.add(acc, V.mul(V.gather(w, base + seg, sym, s * L, proto),
                               V.load(xval, s * L, proto)))
    for v in range(max(lo, seg + n_in), hi):
        acc = V.add(acc, V.mul(V.load(w, (base + v) * L, proto), V.load(src, v * L, proto)))
    return acc


@njit(cache=True, inline="always", error_model="numpy")
def _add_sources(target, base, e, lo, hi, src, seg, inputs, proto):
    """target[base + v] += e·source_v over v in [lo, hi), every lane (sources as in
    :func:`_dot`; ``e`` a lane vector)."""
    L = len(proto)
    dense, x, sym, xval, n_in, s = inputs
    for v in range(lo, min(hi, seg)):
        o = (base + v) * L
        V.store(target, o, V.add(V.load(target, o, proto), V.mul(e, V.load(src, v * L, proto))))
    if dense:
        for i in range(max(lo - seg, 0), min(hi - seg, n_in)):
            o = (base + seg + i) * L
            V.store(target, o, V.add(V.load(target, o, proto),
                                     V.mul(e, V.load(x, (s * n_in + i) * L, proto))))
    elif lo <= seg and seg + n_in <= hi:
        for l in range(L):
            target[(base + seg + sym[s * L + l]) * L + l] += e[l] * xval[s * L + l]
    for v in range(max(lo, seg + n_in), hi):
        o = (base + v) * L
        V.store(target, o, V.add(V.load(target, o, proto), V.mul(e, V.load(src, v * L, proto))))


@njit(cache=True, inline="always", error_model="numpy")
def _add_sources_where(target, base, e, live, lo, hi, src, seg, inputs, proto):
    """As :func:`_add_sources`, for the lanes where the mask ``live`` is set only."""
    L = len(proto)
    dense, x, sym, xval, n_in, s = inputs
    for v in range(lo, min(hi, seg)):
        o = (base + v) * L
        t = V.load(target, o, proto)
        V.store(target, o, V.select(live, V.add(t, V.mul(e, V.load(src, v * L, proto))), t))
    if dense:
        for i in range(max(lo - seg, 0), min(hi - seg, n_in)):
            o = (base + seg + i) * L
            t = V.load(target, o, proto)
            V.store(target, o, V.select(
                live, V.add(t, V.mul(e, V.load(x, (s * n_in + i) * L, proto))), t))
    elif lo <= seg and seg + n_in <= hi:
        for l in range(L):
            if live[l]:
                target[(base + seg + sym[s * L + l]) * L + l] += e[l] * xval[s * L + l]
    for v in range(max(lo, seg + n_in), hi):
        o = (base + v) * L
        t = V.load(target, o, proto)
        V.store(target, o, V.select(live, V.add(t, V.mul(e, V.load(src, v * L, proto))), t))


@njit(cache=True, inline="always", error_model="numpy")
def _add_traced(target, base, e, live, every_lane, trace, tbase, lo, hi, proto):
    """target[base + v] += e·trace[tbase + v] over a unit's sources [lo, hi), for the lanes of
    the mask ``live`` (all of them when ``every_lane``)."""
    L = len(proto)
    for v in range(lo, hi):
        o = (base + v) * L
        t = V.load(target, o, proto)
        new = V.add(t, V.mul(e, V.load(trace, (tbase + v) * L, proto)))
        V.store(target, o, new if every_lane else V.select(live, new, t))


@njit(cache=True, inline="always", error_model="numpy")
def _loop_lanes(x, proto):
    """The lane count for a loop that LLVM should vectorise: read from the array (unknown at
    compile time, so the loop is vectorised rather than unrolled into scalar code), except for
    a single lane, where the constant gives the plain scalar code."""
    return 1 if len(proto) == 1 else x.shape[1]


@njit(cache=True, inline="always", error_model="numpy")
def _squash(code, x, i, f, d, j, n, proto):
    """f[j], d[j] = a squashing function at ``x[i]`` and its derivative (rows of lane vectors),
    every lane, from a single exp each; ``n`` from :func:`_loop_lanes` (the code is tested
    once, outside the lane loop, which vectorises)."""
    L = len(proto)
    xi, fj = i * L, j * L
    if code == IDENTITY:
        for l in range(n):
            f[fj + l] = x[xi + l]
            d[fj + l] = 1.0
    elif code == SYM1:
        for l in range(n):
            v = sigmoid(x[xi + l])
            f[fj + l] = 2.0 * v - 1.0
            d[fj + l] = 2.0 * (v * (1.0 - v))
    elif code == SYM2:
        for l in range(n):
            v = sigmoid(x[xi + l])
            f[fj + l] = 4.0 * v - 2.0
            d[fj + l] = 4.0 * (v * (1.0 - v))
    else:
        for l in range(n):
            v = sigmoid(x[xi + l])
            f[fj + l] = v
            d[fj + l] = v * (1.0 - v)


@njit(cache=True, inline="always", error_model="numpy")
def _logistic(x, i, y, j, n, proto):
    """y[j] = σ(x[i]) (rows of lane vectors), every lane: ``n`` values from :func:`_loop_lanes`
    (or a multiple of it for a run of rows)."""
    L = len(proto)
    for l in range(n):
        y[j * L + l] = sigmoid(x[i * L + l])


@njit(cache=True, inline="always", error_model="numpy")
def _scale_row(target, base, factor, lo, hi, proto):
    """target[base + v] *= factor over v in [lo, hi), every lane (``factor`` a lane vector)."""
    L = len(proto)
    for v in range(lo, hi):
        o = (base + v) * L
        V.store(target, o, V.mul(factor, V.load(target, o, proto)))


@njit(cache=True, inline="always", error_model="numpy")
def _add_scaled(target, o, e, value, live, every_lane, proto):
    """target[o:o+L] += e·value (lane vectors), for the lanes of ``live`` only unless
    ``every_lane``."""
    t = V.load(target, o, proto)
    new = V.add(t, V.mul(e, value))
    V.store(target, o, new if every_lane else V.select(live, new, t))


@njit(cache=True, inline="always", error_model="numpy")
def _wrong(target, outputs, s, l, L, n_steps, n_out, tolerance, squared):
    """Whether some output's error at step ``s`` of lane ``l`` is not below ``tolerance``
    (``target`` the step's scratch row ``[k, l]``, ``outputs`` lane-major ``[l, s, k]``)."""
    for k in range(n_out):
        e = abs(target[k * L + l] - outputs[(l * n_steps + s) * n_out + k])
        if squared:
            e = e * e
        if not e < tolerance:  # NaN counts as wrong
            return True
    return False


@njit(cache=True, error_model="numpy")
def run_lanes(
    x, sym, xval, targets, tsym, target_mask, first, last,
    wh, wo, wp, h_lo, h_hi, o_lo, o_hi,
    in_gate, out_gate, forget_gate, cell_unit, cell_block,
    g_code, h_code, peephole, state_decay, reset_activation,
    alphas, alpha_decay, mode,
    src, state, tr_cell, tr_gate, tr_forget, tr_pin, tr_pf,
    stop_tolerance, stop_squared, stopped_at,
    dwh, dwo, dwp, outputs, proto,
):
    """Run (and, unless ``mode`` is -1, train on) every lane's stream of time steps.

    Per step ``s`` and lane ``l``: ``x[s, :, l]`` dense inputs (or an empty ``x`` and the one-hot
    ``sym[s, l]``, ``xval[s, l]``), ``targets[l, s, :]`` (or an empty ``targets`` and the
    one-hot ``tsym[s, l]``, the output whose target is 1, or -1 for none), ``target_mask[s, l]``
    (False also on a lane's idle steps), ``first``/``last`` marking its sequence starts and
    ends. Weights ``wh[u, v, l]``, ``wo[k, v, l]`` and the peephole weights ``wp[gate, c, l]``
    are the lanes' own. Writes each step's outputs (computed before that step's weight change) to
    ``outputs[l, s, :]``. ``proto`` is any tuple of ``L`` floats: its length, the lane count, is
    part of the compiled kernel's type. Every array with a lane axis is C-contiguous. Targets and
    outputs are the one exception to "lanes last": they are the bulk of a wide block's data (Exp.
    2a: 101 of them per step), and lane-major they reach the kernel and leave it as each lane's
    own contiguous rows, with no strided copy on either side; the kernel moves one step of them
    through an (n_out, L) scratch row.

    Later LSTMs (docs/learners.md §2.9): a block whose ``forget_gate`` index is not -1 scales its
    states (and their traces) by the forget gate's activation each step; ``state_decay`` != 1
    scales them by that constant instead; ``peephole`` adds each cell's state to its block's
    gates (previous state to the input and forget gates, the updated state to the output gate).

    Carried state: ``src`` (previous hidden activations, inputs, bias), ``state`` and the traces
    are the caller's, so a stream can go on across calls; a lane's ``first`` step resets them
    (activations to ``reset_activation``). ``alphas`` holds each lane's learning rate, multiplied
    by ``alpha_decay`` after every step and written back at the end.

    Stopping: with ``stop_tolerance`` >= 0 a lane stops after the first step with targets where
    some output's error (squared when ``stop_squared``) is not below the tolerance; that step is
    still learned from, it is recorded in ``stopped_at[l]`` (else -1), and the lane does nothing
    more in this call. The call ends once every lane has stopped.
    """
    L = len(proto)
    n_steps = target_mask.shape[0]
    n_out = wo.shape[0]
    n_hid = wh.shape[0]
    n_cells = cell_unit.shape[0]
    n_blocks = in_gate.shape[0]
    n_src = wh.shape[1]
    n_osrc = wo.shape[1]
    n_in = n_src - n_hid - 1
    learn = mode >= 0
    forget = n_blocks > 0 and forget_gate[0] >= 0
    decay = state_decay != 1.0
    scaled = forget or decay
    stopping = stop_tolerance >= 0.0

    # sources of gates and cells (``src``): hidden layer of t-1, then inputs, then the bias;
    # sources of the outputs: inputs, then the cells of this step, then the bias. Input slots are
    # never read: inputs come from ``x`` or ``sym``.
    osrc = np.zeros((n_osrc, L))
    src[n_src - 1] = 1.0
    osrc[n_osrc - 1] = 1.0
    net = np.zeros((n_hid, L))
    y_in = np.zeros((n_blocks, L))
    y_out = np.ones((n_blocks, L))
    y_forget = np.ones((n_blocks, L))
    state_prev = np.zeros((n_cells, L))
    hs = np.zeros((n_cells, L))
    hs_prime = np.zeros((n_cells, L))
    g = np.zeros((n_cells, L))
    g_prime = np.zeros((n_cells, L))
    net_out = np.zeros((n_out, L))
    y = np.zeros((n_out, L))
    err_out = np.zeros((n_out, L))
    target = np.zeros((n_out, L))  # this step's targets, lanes last
    err_state = np.zeros((n_cells, L))
    err_ogate = np.zeros((n_blocks, L))
    dead = np.zeros(L, np.bool_)
    live_now = np.zeros(L, np.bool_)
    zero = V.splat(0.0, proto)
    one = V.splat(1.0, proto)
    d = V.splat(state_decay, proto)
    a = V.load(alphas, 0, proto)
    ad = V.splat(alpha_decay, proto)
    upd_h = dwh if mode != STEP else wh
    upd_o = dwo if mode != STEP else wo
    upd_p = dwp if mode != STEP else wp
    dense = x.shape[0] > 0
    dense_targets = tsym.shape[0] == 0
    n_loop = _loop_lanes(src, proto)
    for l in range(L):
        stopped_at[l] = -1

    for s in range(n_steps):
        # a lane starting a sequence resets its activations, states and traces
        for l in range(L):
            if first[s, l]:
                for v in range(n_hid):
                    src[v, l] = reset_activation
                for c in range(n_cells):
                    state[c, l] = 0.0
                if learn:
                    for c in range(n_cells):
                        for v in range(n_src):
                            tr_cell[c, v, l] = 0.0
                            tr_gate[c, v, l] = 0.0
                        if forget:
                            for v in range(n_src):
                                tr_forget[c, v, l] = 0.0
                        if peephole:
                            for c2 in range(n_cells):
                                tr_pin[c, c2, l] = 0.0
                                tr_pf[c, c2, l] = 0.0
        inputs = (dense, V.address(x), V.address(sym), V.address(xval), n_in, s)  # see _dot
        # gates and cells from the current input and the previous hidden layer
        for u in range(n_hid):
            V.store(net, u * L, _dot(V.address(wh), u * n_src, h_lo[u], h_hi[u], V.address(src),
                                     n_hid, inputs, proto))
        if peephole:  # input and forget gates see the states of the previous step
            for c in range(n_cells):
                j = cell_block[c]
                sc = V.load(state, c * L, proto)
                o = in_gate[j] * L
                V.store(net, o, V.add(V.load(net, o, proto),
                                      V.mul(V.load(wp, (PEEP_IN * n_cells + c) * L, proto), sc)))
                if forget:
                    o = forget_gate[j] * L
                    V.store(net, o, V.add(V.load(net, o, proto), V.mul(
                        V.load(wp, (PEEP_FORGET * n_cells + c) * L, proto), sc)))
        for j in range(n_blocks):
            _logistic(V.address(net), in_gate[j], V.address(y_in), j, n_loop, proto)
            if forget:
                _logistic(V.address(net), forget_gate[j], V.address(y_forget), j, n_loop, proto)
            if out_gate[j] >= 0 and not peephole:
                _logistic(V.address(net), out_gate[j], V.address(y_out), j, n_loop, proto)
        for c in range(n_cells):
            _squash(g_code, V.address(net), cell_unit[c], V.address(g), V.address(g_prime), c,
                    n_loop, proto)
        if forget or peephole:
            for c in range(n_cells):
                V.store(state_prev, c * L, V.load(state, c * L, proto))
        for c in range(n_cells):
            j, cu = cell_block[c], cell_unit[c]
            yi = V.load(y_in, j * L, proto)
            gc = V.load(g, c * L, proto)
            phi = V.load(y_forget, j * L, proto) if forget else d
            kept = V.load(state, c * L, proto)
            if scaled:
                kept = V.mul(phi, kept)
            V.store(state, c * L, V.add(kept, V.mul(yi, gc)))
            if learn:
                gu = in_gate[j]
                row = c * n_src  # of this cell's traces
                if scaled:
                    _scale_row(V.address(tr_cell), row, phi, h_lo[cu], h_hi[cu], proto)
                    _scale_row(V.address(tr_gate), row, phi, h_lo[gu], h_hi[gu], proto)
                _add_sources(V.address(tr_cell), row, V.mul(V.load(g_prime, c * L, proto), yi),
                             h_lo[cu], h_hi[cu], V.address(src), n_hid, inputs, proto)
                gate_part = V.mul(V.mul(gc, yi), V.sub(one, yi))
                _add_sources(V.address(tr_gate), row, gate_part,
                             h_lo[gu], h_hi[gu], V.address(src), n_hid, inputs, proto)
                if forget:
                    fu = forget_gate[j]
                    forget_part = V.mul(V.mul(V.load(state_prev, c * L, proto), phi),
                                        V.sub(one, phi))
                    _scale_row(V.address(tr_forget), row, phi, h_lo[fu], h_hi[fu], proto)
                    _add_sources(V.address(tr_forget), row, forget_part,
                                 h_lo[fu], h_hi[fu], V.address(src), n_hid, inputs, proto)
                if peephole:
                    for c2 in range(n_cells):
                        if cell_block[c2] == j:
                            s2 = V.load(state_prev, c2 * L, proto)
                            o = (c * n_cells + c2) * L
                            V.store(tr_pin, o, V.add(V.mul(phi, V.load(tr_pin, o, proto)),
                                                     V.mul(gate_part, s2)))
                            if forget:
                                V.store(tr_pf, o, V.add(V.mul(phi, V.load(tr_pf, o, proto)),
                                                        V.mul(forget_part, s2)))
        if peephole:  # the output gate sees the updated states
            for c in range(n_cells):
                j = cell_block[c]
                if out_gate[j] >= 0:
                    o = out_gate[j] * L
                    V.store(net, o, V.add(V.load(net, o, proto), V.mul(
                        V.load(wp, (PEEP_OUT * n_cells + c) * L, proto),
                        V.load(state, c * L, proto))))
            for j in range(n_blocks):
                if out_gate[j] >= 0:
                    _logistic(V.address(net), out_gate[j], V.address(y_out), j, n_loop, proto)
        for c in range(n_cells):
            _squash(h_code, V.address(state), c, V.address(hs), V.address(hs_prime), c, n_loop,
                    proto)
            V.store(osrc, (n_in + c) * L, V.mul(V.load(y_out, cell_block[c] * L, proto),
                                                V.load(hs, c * L, proto)))
        # outputs from the cells of this same step
        for k in range(n_out):
            V.store(net_out, k * L, _dot(V.address(wo), k * n_osrc, o_lo[k], o_hi[k],
                                         V.address(osrc), 0, inputs, proto))
        # all outputs in one loop (one vectorised run of n_out·L values, even for one lane)
        _logistic(V.address(net_out), 0, V.address(y), 0, n_out * n_loop, proto)
        for l in range(L):
            for k in range(n_out):
                outputs[l, s, k] = y[k, l]
        if learn or stopping:
            if dense_targets:
                for l in range(L):
                    for k in range(n_out):
                        target[k, l] = targets[l, s, k]
            else:
                target[:] = 0.0
                for l in range(L):
                    if tsym[s, l] >= 0:
                        target[tsym[s, l], l] = 1.0
        if learn:
            for k in range(n_out):
                yk = V.load(y, k * L, proto)
                V.store(err_out, k * L, V.mul(V.mul(yk, V.sub(one, yk)),
                                              V.sub(V.load(target, k * L, proto), yk)))

        n_live = 0
        if stopping:  # lanes that stopped earlier in this call take no part
            for l in range(L):
                live_now[l] = target_mask[s, l] and not dead[l]
                n_live += live_now[l]
        else:
            for l in range(L):
                n_live += target_mask[s, l]
        if learn and n_live > 0:
            live = (V.load_mask(live_now, 0, proto) if stopping
                    else V.load_mask(target_mask, s * L, proto))
            every_lane = n_live == L  # the common case: no lane needs masking
            # errors, all from the weights before this step's change (eqs. 19, 21, 23)
            for j in range(n_blocks):
                V.store(err_ogate, j * L, zero)
            for c in range(n_cells):
                col = n_in + c
                j = cell_block[c]
                err_cell = zero
                for k in range(n_out):
                    if o_lo[k] <= col < o_hi[k]:
                        err_cell = V.add(err_cell, V.mul(V.load(wo, (k * n_osrc + col) * L, proto),
                                                         V.load(err_out, k * L, proto)))
                V.store(err_state, c * L, V.mul(V.mul(V.load(y_out, j * L, proto),
                                                      V.load(hs_prime, c * L, proto)), err_cell))
                V.store(err_ogate, j * L, V.add(V.load(err_ogate, j * L, proto),
                                                V.mul(V.load(hs, c * L, proto), err_cell)))
            # weight changes (eqs. 22, 26, 28)
            for k in range(n_out):
                e = V.mul(a, V.load(err_out, k * L, proto))
                if every_lane:
                    _add_sources(V.address(upd_o), k * n_osrc, e, o_lo[k], o_hi[k],
                                 V.address(osrc), 0, inputs, proto)
                else:
                    _add_sources_where(V.address(upd_o), k * n_osrc, e, live, o_lo[k], o_hi[k],
                                       V.address(osrc), 0, inputs, proto)
            for j in range(n_blocks):
                u = out_gate[j]
                if u >= 0:
                    yo = V.load(y_out, j * L, proto)
                    e = V.mul(V.mul(V.mul(a, yo), V.sub(one, yo)), V.load(err_ogate, j * L, proto))
                    if every_lane:
                        _add_sources(V.address(upd_h), u * n_src, e, h_lo[u], h_hi[u],
                                     V.address(src), n_hid, inputs, proto)
                    else:
                        _add_sources_where(V.address(upd_h), u * n_src, e, live, h_lo[u],
                                           h_hi[u], V.address(src), n_hid, inputs, proto)
                    if peephole:
                        for c in range(n_cells):
                            if cell_block[c] == j:
                                _add_scaled(V.address(upd_p), (PEEP_OUT * n_cells + c) * L, e,
                                            V.load(state, c * L, proto), live, every_lane, proto)
            for c in range(n_cells):
                e = V.mul(a, V.load(err_state, c * L, proto))
                j = cell_block[c]
                row = c * n_src  # of this cell's traces
                u = cell_unit[c]
                _add_traced(V.address(upd_h), u * n_src, e, live, every_lane, V.address(tr_cell),
                            row, h_lo[u], h_hi[u], proto)
                u = in_gate[j]
                _add_traced(V.address(upd_h), u * n_src, e, live, every_lane, V.address(tr_gate),
                            row, h_lo[u], h_hi[u], proto)
                if forget:
                    u = forget_gate[j]
                    _add_traced(V.address(upd_h), u * n_src, e, live, every_lane,
                                V.address(tr_forget), row, h_lo[u], h_hi[u], proto)
                if peephole:
                    for c2 in range(n_cells):
                        if cell_block[c2] == j:
                            o = (c * n_cells + c2) * L
                            _add_scaled(V.address(upd_p), (PEEP_IN * n_cells + c2) * L, e,
                                        V.load(tr_pin, o, proto), live, every_lane, proto)
                            if forget:
                                _add_scaled(V.address(upd_p), (PEEP_FORGET * n_cells + c2) * L,
                                            e, V.load(tr_pf, o, proto), live, every_lane, proto)
        if learn and alpha_decay != 1.0:
            a = V.mul(a, ad)
        # the hidden layer of this step becomes the source of the next one
        for j in range(n_blocks):
            V.store(src, in_gate[j] * L, V.load(y_in, j * L, proto))
            if out_gate[j] >= 0:
                V.store(src, out_gate[j] * L, V.load(y_out, j * L, proto))
            if forget:
                V.store(src, forget_gate[j] * L, V.load(y_forget, j * L, proto))
        for c in range(n_cells):
            V.store(src, cell_unit[c] * L, V.load(osrc, (n_in + c) * L, proto))
        if mode == SEQUENCE:
            for l in range(L):
                if last[s, l]:
                    for u in range(n_hid):
                        for v in range(n_src):
                            wh[u, v, l] += dwh[u, v, l]
                            dwh[u, v, l] = 0.0
                    for k in range(n_out):
                        for v in range(n_osrc):
                            wo[k, v, l] += dwo[k, v, l]
                            dwo[k, v, l] = 0.0
                    if peephole:
                        for r in range(3):
                            for c in range(n_cells):
                                wp[r, c, l] += dwp[r, c, l]
                                dwp[r, c, l] = 0.0
        if stopping:
            n_dead = 0
            for l in range(L):
                if live_now[l] and _wrong(V.address(target), V.address(outputs), s, l, L,
                                          n_steps, n_out, stop_tolerance, stop_squared):
                    stopped_at[l] = s
                    dead[l] = True
                n_dead += dead[l]
            if n_dead == L:
                break
    V.store(alphas, 0, a)

