"""Readable NumPy reference of the guessing nets, for the tests (slow; not used in trials).

The same networks as :mod:`.kernel`: a weight matrix ``W`` of shape (U, 2U + m + 1) holding, for
each of the U units (computed in index order), its weights from every unit's previous
activation, from the units before it at the same step, from the m inputs, and its bias; outputs
are the last ``n_out`` units; activations start at 0 in every sequence. ``latch`` = (h_pos,
h_neg) makes it the 2001 latch net of variant I, whose first input is replaced by h_pos (first
input > 0) or h_neg.
"""

from __future__ import annotations

import numpy as np


def squash(net: np.ndarray, activation: str) -> np.ndarray:
    """Logistic or tanh of ``net`` without overflow: exp is only taken of -|net|; the flat
    ends are exact constants as in the kernel (logistic: 1 from 40 up, 0 from -40 down; tanh:
    ±1 beyond ±20)."""
    net = np.asarray(net, dtype=np.float64)
    if activation == "tanh":
        return np.where(net >= 20.0, 1.0, np.where(net <= -20.0, -1.0, np.tanh(net)))
    z = np.exp(-np.abs(net))
    y = np.where(net >= 0, 1.0 / (1.0 + z), z / (1.0 + z))
    return np.where(net >= 40.0, 1.0, np.where(net <= -40.0, 0.0, y))


def forward(W: np.ndarray, n_out: int, activation: str, inputs: np.ndarray,
            lengths: np.ndarray, latch: tuple[float, float] | None = None) -> np.ndarray:
    """Outputs (n, T, n_out) of one net on a block's inputs (n, T, m); padding stays 0."""
    n, steps, m = inputs.shape
    U = W.shape[0]
    previous, same = W[:, :U], W[:, U:2 * U]
    from_inputs, bias = W[:, 2 * U:2 * U + m], W[:, 2 * U + m]
    outputs = np.zeros((n, steps, n_out))
    for q in range(n):
        y = np.zeros(U)
        for t in range(lengths[q]):
            if latch is not None and t == 0:
                drive = np.full(U, latch[0] if inputs[q, 0, 0] > 0 else latch[1])
            else:
                drive = from_inputs @ inputs[q, t]
            now = np.zeros(U)
            for i in range(U):  # in order: unit i may read units 0 .. i-1 of this step
                net = previous[i] @ y + same[i, :i] @ now[:i] + drive[i] + bias[i]
                now[i] = squash(np.array(net), activation)
            y = now
            outputs[q, t] = y[U - n_out:]
    return outputs


def passes(outputs: np.ndarray, targets: np.ndarray, target_mask: np.ndarray,
           lengths: np.ndarray, accept: str, tolerance: float, middle: float) -> np.ndarray:
    """Per sequence: every output at every step with a target passes the search's test
    (``abs``: |y - d| < tolerance; ``sign``: y and d on the same side of ``middle``)."""
    valid = (np.arange(outputs.shape[1])[None, :] < lengths[:, None]) & target_mask
    if accept == "abs":
        ok = np.abs(outputs - targets) < tolerance
    else:
        ok = (outputs - middle) * (targets - middle) > 0
    return (ok.all(axis=2) | ~valid).all(axis=1)


def final_outputs_many(Ws: np.ndarray, n_out: int, activation: str, inputs: np.ndarray,
                       lengths: np.ndarray, latch: np.ndarray | None = None) -> np.ndarray:
    """Final outputs (D, n, n_out) of D nets ``Ws`` (D, U, 2U + m + 1) on every sequence of a
    block at once (``latch``: (D, 2) class parameters), one step of all of them at a time."""
    D, U = Ws.shape[:2]
    n, steps, m = inputs.shape
    previous, same = Ws[:, :, :U], Ws[:, :, U:2 * U]
    from_inputs, bias = Ws[:, :, 2 * U:2 * U + m], Ws[:, :, 2 * U + m]
    y = np.zeros((D, n, U))
    final = np.zeros((D, n, n_out))
    for t in range(steps):
        if latch is not None and t == 0:
            drive = np.where(inputs[None, :, 0, 0] > 0, latch[:, 0:1], latch[:, 1:2])
            drive = np.repeat(drive[:, :, None], U, axis=2)
        else:
            drive = np.einsum("dik,nk->dni", from_inputs, inputs[:, t])
        now = np.zeros((D, n, U))
        for i in range(U):
            net = (np.einsum("dj,dnj->dn", previous[:, i], y)
                   + np.einsum("dj,dnj->dn", same[:, i, :i], now[:, :, :i])
                   + drive[:, :, i] + bias[:, None, i])
            now[:, :, i] = squash(net, activation)
        running = t < lengths
        y = np.where(running[None, :, None], now, y)
        ending = lengths - 1 == t
        final[:, ending] = y[:, ending, U - n_out:]
    return final
