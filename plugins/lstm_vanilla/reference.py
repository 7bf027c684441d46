"""Readable NumPy reference of Greff et al.'s vanilla LSTM and its eight variants (docs/lstm_vanilla.md).

This module is also the single place where the weight layout lives (:class:`Layout`); it imports
only NumPy, so the learner can size a network without loading numba. The numba kernel
(``kernel.py``) must agree with :func:`forward`, :func:`gradient` and :func:`train` to rounding.

One hidden layer of N blocks with one cell each, M inputs, K logistic output units. Per step t,
with y, c and the gates of step t−1 zero at the start of every sequence (σ logistic):

    z(t) = g(W_z x + R_z y(t−1) + b_z)                                   block input
    i(t) = σ(W_i x + R_i y(t−1) + p_i ⊙ c(t−1) + b_i [+ Σ_b G_ib q_b(t−1)])   input gate
    f(t) = σ(W_f x + R_f y(t−1) + p_f ⊙ c(t−1) + b_f [+ Σ_b G_fb q_b(t−1)])   forget gate
    c(t) = i(t) ⊙ z(t) + f(t) ⊙ c(t−1)                                   cell state
    o(t) = σ(W_o x + R_o y(t−1) + p_o ⊙ c(t) + b_o [+ Σ_b G_ob q_b(t−1)])     output gate
    y(t) = o(t) ⊙ h(c(t))                                                block output
    out(t) = σ(V y(t) + v)                                               output units

g = h = tanh in the vanilla net; the bracketed terms (q_b the gates i, f, o) exist only in FGR.
Variants: NIG i = 1, NFG f = 1, NOG o = 1, NIAF g = identity, NOAF h = identity, NP no
peepholes, CIFG f = 1 − i, FGR the nine gate-to-gate matrices G. The loss of one sequence is
E = ½ Σ over steps with a target and output units of (out − target)².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

VARIANTS = ("vanilla", "NIG", "NFG", "NOG", "NIAF", "NOAF", "NP", "CIFG", "FGR")

#: indices into the flag vector the kernel receives
HAS_I, HAS_F, HAS_O, CIFG, G_LINEAR, H_LINEAR, PEEP, FGR = range(8)
#: gate order in W, R, b: block input z, input gate i, forget gate f, output gate o
Z, I, F, O = range(4)


def variant_flags(variant: str) -> np.ndarray:
    """The eight switches of a variant, as int64 (the kernel's ``flags``)."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {VARIANTS}")
    flags = np.zeros(8, np.int64)
    flags[HAS_I] = variant != "NIG"
    flags[HAS_F] = variant not in ("NFG", "CIFG")
    flags[HAS_O] = variant != "NOG"
    flags[CIFG] = variant == "CIFG"
    flags[G_LINEAR] = variant == "NIAF"
    flags[H_LINEAR] = variant == "NOAF"
    flags[PEEP] = variant != "NP"
    flags[FGR] = variant == "FGR"
    return flags


@dataclass(frozen=True)
class Layout:
    """Where every parameter sits in the full flat vector, and which of them a variant trains.

    The full vector always holds every parameter any variant could use, in this order:
    W (4, N, M), R (4, N, N), b (4, N) for z, i, f, o; peepholes P (3, N) for i, f, o; the FGR
    matrices G (3, 3, N, N), G[a, b] from gate b at t−1 to gate a at t (i, f, o); the output
    weights V (K, N) and output biases v (K,). A variant's absent parameters stay 0 and are never
    updated; :attr:`active` lists the trained ones, the order of ``get_weights``.
    """

    N: int
    M: int
    K: int
    variant: str

    @property
    def sizes(self) -> dict[str, tuple[int, ...]]:
        N, M, K = self.N, self.M, self.K
        return {"W": (4, N, M), "R": (4, N, N), "b": (4, N), "P": (3, N), "G": (3, 3, N, N),
                "V": (K, N), "v": (K,)}

    @property
    def offsets(self) -> dict[str, int]:
        out, at = {}, 0
        for name, shape in self.sizes.items():
            out[name] = at
            at += int(np.prod(shape))
        out["end"] = at
        return out

    @property
    def size(self) -> int:
        return self.offsets["end"]

    def views(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """Named views (not copies) into the full vector ``w``."""
        off = self.offsets
        return {name: w[off[name]:off[name] + int(np.prod(shape))].reshape(shape)
                for name, shape in self.sizes.items()}

    @property
    def flags(self) -> np.ndarray:
        return variant_flags(self.variant)

    def active_mask(self) -> np.ndarray:
        """Boolean mask over the full vector: the parameters this variant has."""
        fl = self.flags
        mask = np.zeros(self.size, bool)
        m = self.views(mask)
        gate_on = [True, bool(fl[HAS_I]), bool(fl[HAS_F]), bool(fl[HAS_O])]
        for g in range(4):
            m["W"][g] = m["R"][g] = m["b"][g] = gate_on[g]
        if fl[PEEP]:
            for k in range(3):
                m["P"][k] = gate_on[k + 1]
        if fl[FGR]:
            m["G"][:] = True
        m["V"][:] = True
        m["v"][:] = True
        return mask

    @property
    def active(self) -> np.ndarray:
        """Indices of the trained parameters in the full vector (int64, ascending)."""
        return np.flatnonzero(self.active_mask()).astype(np.int64)

    @property
    def n_output(self) -> int:
        """Parameters of the output layer: K(N + 1) (weights and biases)."""
        return self.K * (self.N + 1)

    @property
    def n_hidden(self) -> int:
        """Parameters of the LSTM layer (Greff et al.'s count)."""
        return int(self.active_mask().sum()) - self.n_output


def _sig(a):
    return 1.0 / (1.0 + np.exp(-a))


def forward(layout: Layout, w: np.ndarray, x: np.ndarray) -> dict[str, np.ndarray]:
    """The trajectory of one sequence ``x`` (T, M) from rest: every state, gate and output."""
    p, fl = layout.views(w), layout.flags
    N, T = layout.N, len(x)
    tr = {k: np.zeros((T, N)) for k in ("z", "i", "f", "o", "c", "hc", "y")}
    tr["out"] = np.zeros((T, layout.K))
    y_prev, c_prev = np.zeros(N), np.zeros(N)
    q_prev = np.zeros((3, N))  # gates i, f, o of t−1 (FGR)
    for t in range(T):
        a = p["W"] @ x[t] + p["R"] @ y_prev + p["b"]  # (4, N)
        if fl[FGR]:
            a[1:] += np.einsum("abnk,bk->an", p["G"], q_prev)
        a_z, a_i, a_f, a_o = a
        z = a_z if fl[G_LINEAR] else np.tanh(a_z)
        i = _sig(a_i + p["P"][0] * c_prev) if fl[HAS_I] else np.ones(N)
        if fl[CIFG]:
            f = 1.0 - i
        elif fl[HAS_F]:
            f = _sig(a_f + p["P"][1] * c_prev)
        else:
            f = np.ones(N)
        c = i * z + f * c_prev
        o = _sig(a_o + p["P"][2] * c) if fl[HAS_O] else np.ones(N)
        hc = c if fl[H_LINEAR] else np.tanh(c)
        y = o * hc
        for k, v in zip(("z", "i", "f", "o", "c", "hc", "y"), (z, i, f, o, c, hc, y)):
            tr[k][t] = v
        tr["out"][t] = _sig(p["V"] @ y + p["v"])
        y_prev, c_prev, q_prev = y, c, np.stack([i, f, o])
    return tr


def loss(layout: Layout, w, x, d, mask) -> float:
    """E = ½ Σ over target steps and outputs of (out − d)² on one sequence."""
    out = forward(layout, w, x)["out"]
    return 0.5 * float((((out - d) ** 2) * mask[:, None]).sum())


def gradient(layout: Layout, w, x, d, mask) -> tuple[np.ndarray, np.ndarray]:
    """Outputs and the exact dE/dw (full layout) of one sequence, by back-propagation through
    all its steps."""
    p, fl = layout.views(w), layout.flags
    N, T = layout.N, len(x)
    tr = forward(layout, w, x)
    grad = np.zeros_like(w)
    gp = layout.views(grad)
    zeros = np.zeros(N)
    # what step t+1 sends back to step t
    dy_rec, dc_rec, dq_rec = np.zeros(N), np.zeros(N), np.zeros((3, N))
    for t in range(T - 1, -1, -1):
        out = tr["out"][t]
        e = (out - d[t]) * out * (1 - out) if mask[t] else np.zeros(layout.K)
        y_prev = tr["y"][t - 1] if t else zeros
        c_prev = tr["c"][t - 1] if t else zeros
        q_prev = np.stack([tr["i"][t - 1], tr["f"][t - 1], tr["o"][t - 1]]) if t else \
            np.zeros((3, N))
        z, i, f, o, c, hc = (tr[k][t] for k in ("z", "i", "f", "o", "c", "hc"))

        dy = p["V"].T @ e + dy_rec
        d_o = dy * hc + dq_rec[2]
        da_o = d_o * o * (1 - o) if fl[HAS_O] else zeros
        dh = 1.0 if fl[H_LINEAR] else 1.0 - hc ** 2
        dc = dy * o * dh + p["P"][2] * da_o + dc_rec
        d_i = dc * z + dq_rec[0]
        d_f = dc * c_prev + dq_rec[1]
        if fl[CIFG]:
            d_i = d_i - d_f  # f = 1 − i
        da_i = d_i * i * (1 - i) if fl[HAS_I] else zeros
        da_f = d_f * f * (1 - f) if fl[HAS_F] else zeros
        dz = dc * i
        da_z = dz if fl[G_LINEAR] else dz * (1 - z ** 2)
        da = np.stack([da_z, da_i, da_f, da_o])

        gp["W"] += da[:, :, None] * x[t][None, None, :]
        gp["R"] += da[:, :, None] * y_prev[None, None, :]
        gp["b"] += da
        gp["P"][0] += da_i * c_prev
        gp["P"][1] += da_f * c_prev
        gp["P"][2] += da_o * c
        if fl[FGR]:
            gp["G"] += da[1:, None, :, None] * q_prev[None, :, None, :]
        gp["V"] += np.outer(e, tr["y"][t])
        gp["v"] += e

        dy_rec = np.einsum("gnk,gn->k", p["R"], da)
        dc_rec = dc * f + p["P"][0] * da_i + p["P"][1] * da_f
        dq_rec = np.einsum("abnk,an->bk", p["G"], da[1:]) if fl[FGR] else np.zeros((3, N))
    return tr["out"], grad


def train(layout: Layout, w, velocity, inputs, targets, target_mask, lengths, learning_rate,
          momentum):
    """On-line training over a block, one Nesterov step per sequence (Sutskever et al.'s form,
    as in Greff et al.'s Brainstorm library):

        w ← w + μ v;  v ← μ v;  g = dE/dw at w (forward and backward through the sequence);
        v ← v − ε g;  w ← w − ε g

    Only the variant's active parameters move. Returns the outputs of every sequence (computed
    at the look-ahead weights used for its gradient), the new weights and the new velocity."""
    w, v = w.copy(), velocity.copy()
    act = layout.active_mask()
    outputs = np.zeros((len(lengths), inputs.shape[1], layout.K))
    for q, L in enumerate(lengths):
        w[act] += momentum * v[act]
        v[act] *= momentum
        out, g = gradient(layout, w, inputs[q, :L], targets[q, :L], target_mask[q, :L])
        outputs[q, :L] = out
        v[act] -= learning_rate * g[act]
        w[act] -= learning_rate * g[act]
    return outputs, w, v
