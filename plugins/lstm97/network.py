"""The 1997 LSTM architecture as arrays: unit layout, connectivity, weight count and initial weights.

Hidden units are laid out block by block: input gate, output gate (when present), then the
block's cells. Every hidden unit reads a contiguous slice of the source vector

    src(t) = [ y_hidden(t-1) (gates and cells, in layout order) | x(t) | 1 ]

and every output unit a contiguous slice of

    osrc(t) = [ x(t) | y_cells(t) | 1 ]

so that connectivity F (hidden units see everything, outputs see cells only) and connectivity B
(each layer sees all layers below) and the presence of bias weights are all just ``[lo, hi)``
ranges. Masked-out weights are never read or updated, and are not counted.
(docs/learners.md §2.1-2.2; H&S97 Sec. 4, App. A.1 and Table 10.)

Gers, Schmidhuber & Cummins (2000) add a **forget gate** per block and use a sparser net: gates
and cells see only the cells of the previous step (no gate-to-gate recurrence, ``recurrence=
"cells"``), the outputs also see the inputs (``output_shortcuts``), gates and outputs are biased.
Forget gates come first in the hidden layer and no unit reads them, so a net with forget gates
runs every other unit exactly as the same net without them. Under ``recurrence="cells"`` all
gates come before all cells, so that the cells are one contiguous source range.
(docs/learners.md §2.9.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqbench.errors import ParamError

#: codes of the squashing functions, shared with the kernel
SQUASH = {"logistic": 0, "sym1": 1, "sym2": 2, "identity": 3}
#: which units carry a bias weight, in Table 10's vocabulary
BIAS_CHOICES = ("gates", "hidden", "all", "none", "gates+outputs")
#: which previous-step hidden units the gates and cells read under connectivity F
RECURRENCE_CHOICES = ("all", "cells")
#: refuse networks whose dense weight and trace arrays would not fit comfortably in memory
MAX_NETWORK_BYTES = 2 * 2**30


@dataclass
class Layout:
    """Index arrays describing one LSTM97 network; see the module docstring."""

    n_inputs: int
    n_outputs: int
    n_hidden: int
    n_cells: int
    n_blocks: int
    in_gate: np.ndarray  # (C,) hidden index of each block's input gate
    out_gate: np.ndarray  # (C,) hidden index of each block's output gate, -1 if none
    forget_gate: np.ndarray  # (C,) hidden index of each block's forget gate, -1 if none
    cell_unit: np.ndarray  # (n_cells,) hidden index of each cell
    cell_block: np.ndarray  # (n_cells,) block of each cell
    h_lo: np.ndarray  # (n_hidden,) first source index read by each hidden unit
    h_hi: np.ndarray  # (n_hidden,) one past the last
    o_lo: np.ndarray  # (n_outputs,)
    o_hi: np.ndarray

    @property
    def n_src(self) -> int:
        return self.n_hidden + self.n_inputs + 1

    @property
    def n_osrc(self) -> int:
        return self.n_inputs + self.n_cells + 1

    @property
    def n_weights(self) -> int:
        return int((self.h_hi - self.h_lo).sum() + (self.o_hi - self.o_lo).sum())

    def hidden_mask(self) -> np.ndarray:
        cols = np.arange(self.n_src)[None, :]
        return (cols >= self.h_lo[:, None]) & (cols < self.h_hi[:, None])

    @property
    def has_forget_gates(self) -> bool:
        return bool(self.n_blocks and self.forget_gate[0] >= 0)

    def output_mask(self) -> np.ndarray:
        cols = np.arange(self.n_osrc)[None, :]
        return (cols >= self.o_lo[:, None]) & (cols < self.o_hi[:, None])


def build_layout(
    n_inputs: int,
    n_outputs: int,
    blocks: int,
    block_size: int,
    output_gate: bool,
    connectivity: str,
    bias: str,
    forget_gate: bool = False,
    recurrence: str = "all",
    output_shortcuts: bool = False,
) -> Layout:
    """Lay out ``blocks`` blocks of ``block_size`` cells for a task of the given shape."""
    if recurrence not in RECURRENCE_CHOICES:
        raise ParamError(f"recurrence must be one of {RECURRENCE_CHOICES}, got {recurrence!r}")
    n_forget = blocks if forget_gate else 0
    gates_per_block = 2 if output_gate else 1
    per_block = gates_per_block + block_size
    in_gate, out_gate, cell_unit, cell_block = [], [], [], []
    for j in range(blocks):
        if recurrence == "cells":  # all gates first, then all cells
            base = n_forget + j * gates_per_block
            first = n_forget + blocks * gates_per_block + j * block_size
        else:  # block by block: input gate, output gate, cells
            base = n_forget + j * per_block
            first = base + gates_per_block
        in_gate.append(base)
        out_gate.append(base + 1 if output_gate else -1)
        cell_unit.extend(range(first, first + block_size))
        cell_block.extend([j] * block_size)
    n_hidden = n_forget + blocks * per_block
    n_cells = blocks * block_size
    n_src = n_hidden + n_inputs + 1
    n_traces = 3 if forget_gate else 2
    floats = 2 * n_hidden * n_src + n_traces * n_cells * n_src + 2 * n_outputs * (n_src + n_cells)
    if floats * 8 > MAX_NETWORK_BYTES:
        raise ParamError(
            f"an LSTM97 net of {blocks} blocks x {block_size} cells for {n_inputs} inputs needs "
            f"{floats * 8 / 2**30:.1f} GiB of weights and traces (limit "
            f"{MAX_NETWORK_BYTES / 2**30:.0f} GiB); use fewer blocks or cells"
        )
    is_cell = np.zeros(n_hidden, bool)
    is_cell[cell_unit] = True

    hidden_biased = {"gates": ~is_cell, "hidden": np.ones(n_hidden, bool),
                     "all": np.ones(n_hidden, bool), "none": np.zeros(n_hidden, bool),
                     "gates+outputs": ~is_cell}[bias]
    outputs_biased = bias in ("all", "gates+outputs")
    if connectivity == "F":  # hidden layer sees itself (t-1) and the inputs; outputs see cells
        first_source = min(cell_unit, default=n_hidden) if recurrence == "cells" else n_forget
        h_lo = np.full(n_hidden, first_source, np.int64)
        o_lo = np.full(n_outputs, 0 if output_shortcuts else n_inputs, np.int64)
    elif connectivity == "B":  # each layer sees all layers below it, no recurrence
        h_lo = np.full(n_hidden, n_hidden, np.int64)
        o_lo = np.zeros(n_outputs, np.int64)
    else:
        raise ParamError(f"connectivity must be F or B, got {connectivity!r}")
    h_hi = np.full(n_hidden, n_hidden + n_inputs, np.int64) + hidden_biased
    o_hi = np.full(n_outputs, n_inputs + n_cells, np.int64) + int(outputs_biased)
    return Layout(
        n_inputs=n_inputs, n_outputs=n_outputs, n_hidden=n_hidden, n_cells=n_cells,
        n_blocks=blocks,
        in_gate=np.array(in_gate, np.int64), out_gate=np.array(out_gate, np.int64),
        forget_gate=np.arange(n_forget, dtype=np.int64) if forget_gate
        else np.full(blocks, -1, np.int64),
        cell_unit=np.array(cell_unit, np.int64), cell_block=np.array(cell_block, np.int64),
        h_lo=h_lo, h_hi=h_hi.astype(np.int64), o_lo=o_lo, o_hi=o_hi.astype(np.int64),
    )


def initial_weights(
    layout: Layout,
    rng: np.random.Generator,
    init_range: float,
    random_bias_range: float | None,
    input_gate_bias: tuple[float, ...],
    output_gate_bias: tuple[float, ...],
    forget_gate_bias: tuple[float, ...] = (),
    bias_offsets: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Weights uniform in ``[-init_range, init_range]``; gate biases as given per block.

    An empty bias tuple means "r" in Table 10: random, uniform in ``[-random_bias_range,
    random_bias_range]`` (``None``: the same interval as all other weights). With
    ``bias_offsets`` a given bias is an offset added to the bias weight's random draw instead
    of its value (the convention of the authors' later simulator).
    """
    C = layout.n_blocks
    for name, values in (("input_gate_bias", input_gate_bias), ("output_gate_bias", output_gate_bias),
                         ("forget_gate_bias", forget_gate_bias)):
        if values and len(values) != C:
            raise ParamError(f"{name} needs one value per block ({C}), got {len(values)}")
    wh = rng.uniform(-init_range, init_range, (layout.n_hidden, layout.n_src))
    wo = rng.uniform(-init_range, init_range, (layout.n_outputs, layout.n_osrc))
    bias_col = layout.n_src - 1
    rb = init_range if random_bias_range is None else random_bias_range
    for gates, given in ((layout.in_gate, input_gate_bias), (layout.out_gate, output_gate_bias),
                         (layout.forget_gate, forget_gate_bias)):
        for j, unit in enumerate(gates):
            if unit < 0 or layout.h_hi[unit] <= bias_col:
                continue  # no such gate, or it has no bias weight
            if not given:
                wh[unit, bias_col] = rng.uniform(-rb, rb)
            elif bias_offsets:
                wh[unit, bias_col] += given[j]
            else:
                wh[unit, bias_col] = given[j]
    wh[~layout.hidden_mask()] = 0.0
    wo[~layout.output_mask()] = 0.0
    return wh, wo


#: rows of the peephole weights: each cell's state to its block's input, forget, output gate
PEEP_IN, PEEP_FORGET, PEEP_OUT = 0, 1, 2


def peephole_mask(layout: Layout, peepholes: bool) -> np.ndarray:
    """(3, cells): which peephole weights exist (none without ``peepholes``; a cell has one to
    each gate its block has)."""
    mask = np.zeros((3, layout.n_cells), bool)
    if peepholes:
        mask[PEEP_IN] = True
        mask[PEEP_FORGET] = layout.forget_gate[layout.cell_block] >= 0
        mask[PEEP_OUT] = layout.out_gate[layout.cell_block] >= 0
    return mask


def initial_peepholes(layout: Layout, rng: np.random.Generator, init_range: float,
                      peepholes: bool) -> np.ndarray:
    """Peephole weights uniform in ``[-init_range, init_range]`` (zeros, and no draw, without
    peepholes, so a net without them draws exactly the weights it always did)."""
    mask = peephole_mask(layout, peepholes)
    if not peepholes:
        return np.zeros(mask.shape)
    return np.where(mask, rng.uniform(-init_range, init_range, mask.shape), 0.0)
