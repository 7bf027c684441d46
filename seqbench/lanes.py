"""Lanes: several trials' blocks of sequences laid out for a kernel that advances them together.

A kernel that trains independent trials side by side wants each trial's data as one *stream of
time steps* (its block's sequences end to end, padding dropped) and the trials ("lanes") as the
last, contiguous axis of every array, so that one time step of every lane is one SIMD operation.
:func:`pack` builds that layout from one :class:`~seqbench.blocks.SequenceBlock` per lane and
:meth:`Lanes.unpack` turns the kernel's per-step outputs back into each block's padded form.
Lanes whose blocks have fewer steps idle at the end with no target (``target_mask`` False).

Targets and outputs are the exception: they are lane-major, ``[lane, step, output]``. On a wide
block (Exp. 2a: 101 outputs per step) they are most of the data, and interleaving them with the
lanes last cost four times the kernel's own time in strided copies; lane-major, each lane's rows
are copied contiguously in, and a lane whose sequences fill its block leaves with a view.
Blocks whose targets are one-hot and say so (``target_symbols``) send no dense targets at all:
``tsym[s, l]`` names the output whose target is 1, and the kernel writes the step's target row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from .blocks import SequenceBlock

_EMPTY_X = np.zeros((0, 0, 0))
_EMPTY_SYM = np.zeros((0, 0), np.int64)
_EMPTY_TARGETS = np.zeros((0, 0, 0))


@dataclass
class Lanes:
    """The blocks of ``L`` lanes as step streams ``[step, ..., lane]``.

    ``x`` holds dense inputs ``(S, n_in, L)``, or is empty when every block's inputs are one-hot
    symbols: then ``sym[s, l]`` is the active input and ``xval[s, l]`` its value. ``targets`` is
    lane-major, ``(L, S, n_out)``, or is empty when every block's targets are one-hot symbols:
    then ``tsym[s, l]`` is the output whose target is 1 (-1 on a lane's idle steps), else
    ``tsym`` is empty. ``target_mask``, ``first`` (a sequence starts) and ``last`` (a sequence
    ends) are ``(S, L)``. ``steps[l]`` is lane ``l``'s number of real steps.
    """

    x: np.ndarray
    sym: np.ndarray
    xval: np.ndarray
    targets: np.ndarray
    tsym: np.ndarray
    target_mask: np.ndarray
    first: np.ndarray
    last: np.ndarray
    steps: np.ndarray
    n_out: int

    def outputs(self) -> np.ndarray:
        """A zeroed ``(L, S, n_out)`` array for the kernel's outputs."""
        S, L = self.target_mask.shape
        return np.zeros((L, S, self.n_out))

    def unpack(self, outputs: np.ndarray, blocks: Sequence[SequenceBlock]) -> list[np.ndarray]:
        """Per lane, the kernel's outputs in the padded ``(n, T, n_out)`` form of its block: a
        view of ``outputs`` when the block has no padding, else a copy."""
        found = []
        for lane, block in enumerate(blocks):
            n, width = len(block), block.inputs.shape[1]
            if block.n_steps == n * width:
                found.append(outputs[lane, : n * width].reshape(n, width, outputs.shape[2]))
                continue
            out = np.zeros((n, width, outputs.shape[2]))
            _unpack_lane(outputs, lane, block.lengths, out)
            found.append(out)
        return found


def pack(blocks: Sequence[SequenceBlock]) -> Lanes:
    """Lay out one block per lane (see :class:`Lanes`); one-hot inputs stay sparse when every
    block has them."""
    L = len(blocks)
    steps = np.array([b.n_steps for b in blocks], np.int64)
    S = int(steps.max())
    n_in = blocks[0].inputs.shape[2]
    n_out = blocks[0].targets.shape[2]
    if all(b.target_symbols is not None for b in blocks):
        targets, tsym = _EMPTY_TARGETS, np.full((S, L), -1, np.int64)
    else:
        targets, tsym = np.zeros((L, S, n_out)), _EMPTY_SYM
    mask = np.zeros((S, L), bool)
    first = np.zeros((S, L), bool)
    last = np.zeros((S, L), bool)
    one_hot = all(b.input_symbols is not None for b in blocks)
    if one_hot:
        x = _EMPTY_X
        sym = np.zeros((S, L), np.int64)
        xval = np.zeros((S, L))
    else:
        x = np.zeros((S, n_in, L))
        sym, xval = _EMPTY_SYM, np.zeros((0, 0))
    for lane, b in enumerate(blocks):
        _pack_lane(b.inputs, b.targets, b.target_mask, b.lengths,
                   _EMPTY_SYM if b.input_symbols is None else b.input_symbols,
                   _EMPTY_SYM if b.target_symbols is None else b.target_symbols, lane,
                   x, sym, xval, targets, tsym, mask, first, last)
    return Lanes(x, sym, xval, targets, tsym, mask, first, last, steps, n_out)


@njit(cache=True)
def _pack_lane(inputs, targets, mask, lengths, symbols, target_symbols, lane, x, sym, xval,
               to_targets, tsym, to_mask, first, last):
    s = 0
    for q in range(lengths.shape[0]):
        for t in range(lengths[q]):
            if tsym.shape[0] > 0:
                tsym[s, lane] = target_symbols[q, t]
            else:
                for k in range(targets.shape[2]):
                    to_targets[lane, s, k] = targets[q, t, k]
            to_mask[s, lane] = mask[q, t]
            first[s, lane] = t == 0
            last[s, lane] = t == lengths[q] - 1
            if x.shape[0] > 0:
                for i in range(inputs.shape[2]):
                    x[s, i, lane] = inputs[q, t, i]
            else:
                sym[s, lane] = symbols[q, t]
                xval[s, lane] = inputs[q, t, symbols[q, t]]
            s += 1


@njit(cache=True)
def _unpack_lane(outputs, lane, lengths, out):
    s = 0
    for q in range(lengths.shape[0]):
        for t in range(lengths[q]):
            for k in range(out.shape[2]):
                out[q, t, k] = outputs[lane, s, k]
            s += 1
