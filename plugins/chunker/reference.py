"""Slow, readable NumPy statement of the two-net chunker, to check the numba kernel against.

Dense everywhere: inputs are vectors (no one-hot shortcut), and RTRL is the textbook recursion
over *every* weight of a net (Williams & Zipser 1989): the hidden unit's sensitivity vector
p_h(t) = ∂h(t)/∂w and each output's ∂y_k(t)/∂w are formed over all W weights, and a step's
gradient is Σ_k e_k(t) ∂y_k(t)/∂w. One sequence at a time; every function returns new arrays.

A net is the Exp. 2a net in Williams-Zipser timing with one hidden unit, weights as a matrix
``U`` of shape (R, m+1): row 0 the hidden unit (inputs, then its self weight), row 1+k output k
(inputs, then its weight from the hidden unit). Hidden and outputs both read the input of the
step and the hidden unit of the previous step:

    h(t)   = f(U[0, :m] · x(t) + U[0, m] h(t−1))
    y_k(t) = f(U[1+k, :m] · x(t) + U[1+k, m] h(t−1))

The chunker (Schmidhuber 1992, "Learning complex, extended sequences using the principle of
history compression", Neural Computation 4(2)) runs an automatizer A (such a net with one extra
output predicting C's hidden unit) at every step and a chunker C (such a net) only on the
observations A failed to predict; see :func:`chunker_sequence` for the order of a step.
"""

from __future__ import annotations

import numpy as np


def logistic(v):
    return 1.0 / (1.0 + np.exp(-v))


def forward_step(U, x, h_prev, same=False):
    """Activations of one step: a[0] = h(t), a[1:] = the outputs, which read h(t−1), or h(t)
    when ``same`` (the three-phase step)."""
    m = U.shape[1] - 1
    a = logistic(U[:, :m] @ x + U[:, m] * h_prev)
    if same:
        a[1:] = logistic(U[1:, :m] @ x + U[1:, m] * a[0])
    return a


def sensitivities(U, x, h_prev, a, p_prev, same=False):
    """Textbook RTRL for one step, over all weights (flattened row-major like ``U``).

    Returns ``(p, J)``: p = ∂h(t)/∂w and J[k] = ∂y_k(t)/∂w. A unit's derivative is f' times
    the derivative of its net input: its own row's sources (x(t), and h(t−1) or for the outputs
    with ``same`` h(t)) plus its weight from that h times that h's sensitivity."""
    R, cols = U.shape
    m = cols - 1
    W = R * cols
    fprime = a * (1 - a)
    p = fprime[0] * (U[0, m] * p_prev)
    p[:cols] += fprime[0] * np.append(x, h_prev)
    h_read, p_read = (a[0], p) if same else (h_prev, p_prev)
    J = np.zeros((R - 1, W))
    for u in range(1, R):
        d_net = U[u, m] * p_read
        d_net[u * cols:(u + 1) * cols] += np.append(x, h_read)
        J[u - 1] = fprime[u] * d_net
    return p, J


def surprised(y, d, surprise="winner", epsilon=0.25):
    """Whether A's prediction ``y`` of the target ``d`` fails the surprise test."""
    if surprise == "always":
        return True
    if surprise == "epsilon":
        return not bool(np.all(np.abs(y - d) < epsilon))
    is_one_hot = len(d) >= 2 and np.sum(d == 1.0) == 1 and np.all((d == 0.0) | (d == 1.0))
    if is_one_hot:
        return int(np.argmax(y)) != int(np.argmax(d))
    return not bool(np.all(np.abs(y - d) < 0.5))


def chunker_sequence(UA, UC, x, d, mask, alpha_a=1.0, alpha_c=1.0, surprise="winner",
                     epsilon=0.25, output="automatizer", state_target="next", learn=True,
                     same=False):
    """Run the chunker over one sequence (x: (T, m), d: (T, K), mask: (T,)).

    Order of one step t (A has read x(0..t−1) and C the events so far):

    1. A reads x(t): predictions y_A(t) of d(t) (= the next symbol) and q_A(t) of C's state.
    2. Surprise test of y_A(t) against d(t) (only where a target exists).
    3. Output: y_A(t), or with ``output`` gated and a surprise, C's last outputs.
    4. On a surprise: C learns (its last outputs against d(t)), then C steps on the
       observation A missed: x(t+1), or d(t) at the last step when inputs and targets share
       one alphabet.
    5. A learns: task outputs against d(t), q_A(t) against C's hidden unit after step 4
       (``state_target`` next) or before (current).

    Both nets learn on line by exact RTRL (sensitivities carried, not recomputed after weight
    changes). ``same``: both nets' outputs read the hidden unit of the same step. Returns a
    dict: outputs, UA, UC, events (T+1,) bool, q_targets (T,), surprised (T,) bool."""
    UA, UC = UA.copy(), UC.copy()
    T, m = x.shape
    K = d.shape[1]
    share = m == K
    outputs = np.zeros((T, K))
    events = np.zeros(T + 1, bool)
    q_targets = np.zeros(T)
    surprise_at = np.zeros(T, bool)
    hA, pA = 0.0, np.zeros(UA.size)
    # C steps on the first input
    pC = np.zeros(UC.size)
    xC, hC_prev = x[0], 0.0
    aC = forward_step(UC, xC, hC_prev, same)
    events[0] = True
    for t in range(T):
        aA = forward_step(UA, x[t], hA, same)
        yA, qA = aA[1:K + 1], aA[K + 1]
        s = surprise == "always" or (mask[t] and surprised(yA, d[t], surprise, epsilon))
        surprise_at[t] = s
        outputs[t] = aC[1:] if (output == "gated" and s) else yA
        h_before = aC[0]
        if s:
            if learn:
                p_new, J = sensitivities(UC, xC, hC_prev, aC, pC, same)
                e = (aC[1:] - d[t]) if mask[t] else np.zeros(K)
                UC = UC - alpha_c * (e @ J).reshape(UC.shape)
                pC = p_new
            nxt = x[t + 1] if t + 1 < T else (d[t] if share and mask[t] else None)
            if nxt is not None:
                hC_prev, xC = aC[0], nxt
                aC = forward_step(UC, xC, hC_prev, same)
                events[t + 1] = True
        q_targets[t] = aC[0] if state_target == "next" else h_before
        if learn:
            p_new, J = sensitivities(UA, x[t], hA, aA, pA, same)
            e = np.zeros(K + 1)
            if mask[t]:
                e[:K] = yA - d[t]
            e[K] = qA - q_targets[t]
            UA = UA - alpha_a * (e @ J).reshape(UA.shape)
            pA = p_new
        hA = aA[0]
    return {"outputs": outputs, "UA": UA, "UC": UC, "events": events, "q_targets": q_targets,
            "surprised": surprise_at}


def automatizer_loss(UA, x, d, mask, q_targets, same=False):
    """A's own error over one sequence, its targets fixed: ½ Σ_t [mask_t |y_A(t) − d(t)|² +
    (q_A(t) − q_targets(t))²]."""
    K = d.shape[1]
    h, E = 0.0, 0.0
    for t in range(len(x)):
        a = forward_step(UA, x[t], h, same)
        if mask[t]:
            E += 0.5 * np.sum((a[1:K + 1] - d[t]) ** 2)
        E += 0.5 * (a[K + 1] - q_targets[t]) ** 2
        h = a[0]
    return float(E)


def chunker_loss(UC, event_inputs, event_targets, event_has_target, same=False):
    """C's own error over its event sequence: C steps on ``event_inputs[k]``; its outputs of
    step k are judged against ``event_targets[k]`` (the target of the step at which the next
    event happened) where ``event_has_target[k]``."""
    h, E = 0.0, 0.0
    for k in range(len(event_inputs)):
        a = forward_step(UC, event_inputs[k], h, same)
        if event_has_target[k]:
            E += 0.5 * np.sum((a[1:] - event_targets[k]) ** 2)
        h = a[0]
    return float(E)


def c_event_sequence(x, d, mask, events, surprise_at):
    """C's event sequence of a run: the inputs it stepped on and, for each of its steps, the
    target its outputs were judged against: d(t) of the surprise step t that ended it (none
    for a step no surprise ended)."""
    T = len(x)
    obs = [x[t] if t < T else d[T - 1] for t in range(T + 1)]
    idx = np.flatnonzero(events)
    inputs = np.array([obs[i] for i in idx])
    targets = np.zeros((len(idx), d.shape[1]))
    has = np.zeros(len(idx), bool)
    k = 0
    for t in range(T):
        if surprise_at[t]:
            targets[k], has[k] = d[t], bool(mask[t])
            if events[t + 1]:
                k += 1
    return inputs, targets, has
