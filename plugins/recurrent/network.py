"""One recurrent-network description for every gradient baseline (docs/learners.md §1.1).

A network has ``m`` external inputs, ``n`` logistic units numbered in topological order, and a
list of weighted connections ``src -> dst``, each with a delay:

- delay 0: ``src`` is an external input, the constant bias source, or a unit that precedes
  ``dst`` in the order; it is read at the same step t;
- delay 1: ``src`` is any unit, read at step t−1 (its activation of the previous step).

Forward dynamics, units processed in order (activations reset to 0 at every sequence start)::

    net_i(t) = Σ_{c into i} w_c · source_c(t),    a_i(t) = 1 / (1 + exp(−net_i(t)))

Time convention (framework-wide, the LSTM paper's): a unit at step t sees the input of step t
through delay-0 links; outputs at t are compared with the targets of step t. A Williams-Zipser
net, where every unit reads the other units at t−1, is written with delay-1 links between units
and delay-0 links from the inputs, i.e. with its targets shifted by one step
(docs/learners.md §1.2): :func:`fully_recurrent` and :func:`self_loop_wz`.

Source index space: ``[0, m)`` inputs, ``[m, m+n)`` units, ``m+n`` the bias (constant 1). A bias
weight is simply a delay-0 connection from the bias source, so "no biases" (as in every paper
weight count) is just the absence of those connections.

The kernels read each step's sources from one row of width ``m + 2n + 1``::

    row(t) = [ x(t) | a(t) | 1 | a(t−1) ]

and :attr:`Network.col` says which column of that row each connection reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench.errors import ParamError


@dataclass
class Network:
    """A network of the class above. Connections are sorted by destination unit.

    ``outputs[k]`` is the unit whose activation is the task's output ``k``. Weights live in one
    flat vector, one entry per connection, in connection order.
    """

    n_inputs: int
    n_units: int
    outputs: np.ndarray  # (K,) unit index of each task output
    dst: np.ndarray  # (W,) receiving unit of each connection
    src: np.ndarray  # (W,) source index (inputs, units, bias; see module docstring)
    delay: np.ndarray  # (W,) 0 or 1
    kind: str = "custom"

    def __post_init__(self) -> None:
        self.outputs = np.ascontiguousarray(self.outputs, np.int64)
        order = np.argsort(self.dst, kind="stable")
        self.dst = np.ascontiguousarray(np.asarray(self.dst, np.int64)[order])
        self.src = np.ascontiguousarray(np.asarray(self.src, np.int64)[order])
        self.delay = np.ascontiguousarray(np.asarray(self.delay, np.int64)[order])
        self._validate()

    def _validate(self) -> None:
        m, n = self.n_inputs, self.n_units
        if n < 1 or len(self.outputs) < 1:
            raise ParamError("a network needs at least one unit and one output")
        if np.any((self.outputs < 0) | (self.outputs >= n)):
            raise ParamError("output units must be units of the network")
        if np.any((self.dst < 0) | (self.dst >= n)):
            raise ParamError("every connection must end at a unit")
        if np.any((self.src < 0) | (self.src > m + n)) or np.any((self.delay != 0) & (self.delay != 1)):
            raise ParamError("connection sources must be inputs, units or the bias; delays 0 or 1")
        is_unit = (self.src >= m) & (self.src < m + n)
        if np.any((self.delay == 1) & ~is_unit):
            raise ParamError("delay-1 connections must come from units")
        if np.any((self.delay == 0) & is_unit & (self.src - m >= self.dst)):
            raise ParamError("a delay-0 connection must come from a unit earlier in the order")
        keys = set(zip(self.dst.tolist(), self.src.tolist(), self.delay.tolist()))
        if len(keys) != len(self.dst):
            raise ParamError("duplicate connection")

    # -- derived arrays the kernels use ---------------------------------------------------------
    @property
    def n_weights(self) -> int:
        """Number of trainable weights (biases included when present), as the paper counts."""
        return len(self.dst)

    @property
    def n_outputs(self) -> int:
        return len(self.outputs)

    @property
    def width(self) -> int:
        """Width of one step's source row ``[x(t) | a(t) | 1 | a(t−1)]``."""
        return self.n_inputs + 2 * self.n_units + 1

    @property
    def row_ptr(self) -> np.ndarray:
        """Connections into unit ``i`` are ``row_ptr[i] : row_ptr[i+1]``."""
        return np.searchsorted(self.dst, np.arange(self.n_units + 1)).astype(np.int64)

    @property
    def col(self) -> np.ndarray:
        """Column of the source row each connection reads."""
        return np.where(self.delay == 1, self.src + self.n_units + 1, self.src).astype(np.int64)

    @property
    def src_unit(self) -> np.ndarray:
        """Source unit of each connection, or −1 for an input or bias source."""
        m, n = self.n_inputs, self.n_units
        is_unit = (self.src >= m) & (self.src < m + n)
        return np.where(is_unit, self.src - m, -1).astype(np.int64)

    @property
    def segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(ptr, first, col, length)``: the connections into unit ``i`` as runs of consecutive
        connections that read consecutive row columns — run ``s`` in ``ptr[i] : ptr[i+1]``
        covers connections ``first[s] ..`` and columns ``col[s] ..``, ``length[s]`` of each.
        The paper's layered nets have a few long runs per unit, so the kernels' inner loops
        become contiguous dot products instead of gathers."""
        col, W = self.col, self.n_weights
        starts = [c for c in range(W)
                  if c == 0 or self.dst[c] != self.dst[c - 1] or col[c] != col[c - 1] + 1]
        first = np.array(starts, np.int64)
        length = np.diff(np.append(first, W)).astype(np.int64)
        ptr = np.searchsorted(self.dst[first], np.arange(self.n_units + 1)).astype(np.int64)
        return ptr, first, col[first].astype(np.int64), length

    @property
    def unit_links(self) -> tuple[np.ndarray, np.ndarray]:
        """``(ptr, conn)``: the connections into unit ``i`` whose source is a unit are
        ``conn[ptr[i] : ptr[i+1]]``. Only these carry error or sensitivity between units, so
        the kernels loop over them apart from the (often far more numerous) input links."""
        conn = np.flatnonzero(self.src_unit >= 0).astype(np.int64)
        ptr = np.searchsorted(self.dst[conn], np.arange(self.n_units + 1)).astype(np.int64)
        return ptr, conn

    def recurrent_units(self) -> np.ndarray:
        """Units that must carry RTRL sensitivities across steps (docs/learners.md §4.5).

        These are the sources of delay-1 connections plus, closing the set, every unit that
        feeds one of them through delay-0 paths: their sensitivities are needed at step t to
        form the stored ones. All other units are downstream only and get none.
        """
        carry = np.zeros(self.n_units, bool)
        su = self.src_unit
        carry[su[(self.delay == 1) & (su >= 0)]] = True
        for i in range(self.n_units - 1, -1, -1):  # reverse order: consumers before sources
            if carry[i]:
                into = (self.dst == i) & (self.delay == 0) & (su >= 0)
                carry[su[into]] = True
        return np.flatnonzero(carry).astype(np.int64)

    def initial_weights(self, rng: np.random.Generator, init_range: float) -> np.ndarray:
        """Weights uniform in ``[−init_range, init_range]`` (0.2 for the paper's Exps. 1–2)."""
        return rng.uniform(-init_range, init_range, self.n_weights)


def _network(m, n, outputs, conns, kind) -> Network:
    dst, src, delay = (np.array(v, np.int64) for v in zip(*conns)) if conns else ([], [], [])
    return Network(m, n, np.asarray(outputs), dst, src, delay, kind)


def fully_recurrent(n_inputs: int, n_hidden: int, n_outputs: int, bias: bool = False) -> Network:
    """Williams & Zipser's fully recurrent net: inputs → every unit (delay 0), every unit →
    every unit (delay 1). Units are the hidden units followed by the output units.

    7 inputs and 7 outputs without biases: 3 hidden → 170 weights, 12 hidden → 494 (Table 1).
    """
    m, n = n_inputs, n_hidden + n_outputs
    conns = []
    for i in range(n):
        conns += [(i, j, 0) for j in range(m)]
        conns += [(i, m + j, 1) for j in range(n)]
        if bias:
            conns.append((i, m + n, 0))
    return _network(m, n, np.arange(n_hidden, n), conns, "fully_recurrent")


def self_loop(n_inputs: int, n_hidden: int, n_outputs: int, bias: bool = False,
              readout_delay: int = 0) -> Network:
    """The Exp. 2a net: hidden units that each feed back only to themselves (delay 1), outputs
    that are not recurrent, and each layer connected from all layers below.

    ``readout_delay`` 0 is the LSTM paper's three-phase step (H&S97 Sec. 5): outputs read the
    hidden units of the same step. ``readout_delay`` 1 is Williams & Zipser's timing, the paper's
    own notation for conventional nets (H&S97 Sec. 3.1, net_i(t) = Σ_j w_ij y^j(t−1)) with
    targets shifted so that inputs are read in the same step: outputs read the hidden units of the
    previous step, so the first symbol passes one self-loop fewer on its way to the last
    prediction (docs/learners.md §1.2).

    With one hidden unit and ``p+1`` inputs and outputs, no biases: ``(p+2)²`` weights —
    36 for p = 4, 144 for p = 10, 10404 for p = 100 (Table 2) — under either timing.
    """
    m, nh, n = n_inputs, n_hidden, n_hidden + n_outputs
    conns = []
    for i in range(nh):
        conns += [(i, j, 0) for j in range(m)]
        conns.append((i, m + i, 1))
        if bias:
            conns.append((i, m + n, 0))
    for i in range(nh, n):
        conns += [(i, j, 0) for j in range(m)]
        conns += [(i, m + j, readout_delay) for j in range(nh)]
        if bias:
            conns.append((i, m + n, 0))
    return _network(m, n, np.arange(nh, n), conns,
                    "self_loop" if readout_delay == 0 else "self_loop_wz")


def self_loop_wz(n_inputs: int, n_hidden: int, n_outputs: int, bias: bool = False) -> Network:
    """The Exp. 2a net in Williams & Zipser's timing: :func:`self_loop` with outputs reading the
    hidden units of the previous step (``readout_delay`` 1)."""
    return self_loop(n_inputs, n_hidden, n_outputs, bias, readout_delay=1)


def elman(n_inputs: int, n_hidden: int, n_outputs: int, bias: bool = False) -> Network:
    """Elman's simple recurrent net: input → hidden (delay 0), hidden → hidden (delay 1, the
    context copy), hidden → output (delay 0). 7-15-7 without biases: 435 weights (Table 1).

    Per hidden unit the connections are ordered inputs, context, bias; per output unit hidden,
    bias — so the flat weight vector is the row-major concatenation of ``[W_hx | W_hc | b_h]``
    and ``[W_yh | b_y]``, the dense layout the Elman kernel uses.
    """
    m, nh, n = n_inputs, n_hidden, n_hidden + n_outputs
    conns = []
    for i in range(nh):
        conns += [(i, j, 0) for j in range(m)]
        conns += [(i, m + j, 1) for j in range(nh)]
        if bias:
            conns.append((i, m + n, 0))
    for i in range(nh, n):
        conns += [(i, m + j, 0) for j in range(nh)]
        if bias:
            conns.append((i, m + n, 0))
    return _network(m, n, np.arange(nh, n), conns, "elman")


ARCHITECTURES = {"fully_recurrent": fully_recurrent, "self_loop": self_loop,
                 "self_loop_wz": self_loop_wz, "elman": elman}


def build_network(architecture: str, n_inputs: int, n_hidden: int, n_outputs: int,
                  bias: bool) -> Network:
    """The named architecture sized for a task (see :data:`ARCHITECTURES`)."""
    if architecture not in ARCHITECTURES:
        raise ParamError(f"architecture must be one of {', '.join(ARCHITECTURES)}, "
                         f"got {architecture!r}")
    return ARCHITECTURES[architecture](n_inputs, n_hidden, n_outputs, bias)


def random_network(rng: np.random.Generator, n_inputs: int, n_units: int, n_outputs: int,
                   p0: float = 0.5, p1: float = 0.4, p_bias: float = 0.5) -> Network:
    """A random sparse net of the class, with delay-0 links between units, delay-1 links and
    some biases; outputs are a random subset of the units. For property tests."""
    m, n = n_inputs, n_units
    conns = []
    for i in range(n):
        conns += [(i, j, 0) for j in range(m) if rng.uniform() < p0]
        conns += [(i, m + j, 0) for j in range(i) if rng.uniform() < p0]
        conns += [(i, m + j, 1) for j in range(n) if rng.uniform() < p1]
        if rng.uniform() < p_bias:
            conns.append((i, m + n, 0))
    outputs = np.sort(rng.choice(n, n_outputs, replace=False))
    return _network(m, n, outputs, conns, "random")
