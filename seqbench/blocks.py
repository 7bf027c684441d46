"""Sequence blocks: the unit of data that crosses from a task to a learner's numba kernel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SequenceBlock:
    """A batch of variable-length sequences, padded to a common length, presented in order.

    ``inputs[i, t]`` is the input vector of sequence ``i`` at step ``t`` and ``targets[i, t]`` its
    target vector; ``target_mask[i, t]`` says whether a target exists at that step (and so whether
    an error is injected there). Steps at or beyond ``lengths[i]`` are padding and never looked at.
    ``extras`` carries per-sequence arrays a task needs to judge its own outputs (for example the
    set of legal next symbols of the Reber grammar, or the noise-free target of Task 3c); every
    extra array has the sequences on its first axis.

    ``input_symbols``, optional, says that the inputs are one-hot symbols: ``input_symbols[i, t]``
    is the input unit that is 1 at that step (all others are 0). A learner may read it instead of
    searching ``inputs`` for the active unit; ``inputs`` stays the authoritative dense form.
    ``target_symbols``, optional, says the same of the targets: at every real step with a target,
    output ``target_symbols[i, t]`` has target 1 and every other output 0. A learner may read it
    instead of copying the dense ``targets`` (on Exp. 2a/2b's 101 outputs, most of a block's
    bytes); ``targets`` stays the authoritative form, and the judges read only it.
    """

    inputs: np.ndarray  # (n, T, n_inputs) float64
    targets: np.ndarray  # (n, T, n_outputs) float64
    target_mask: np.ndarray  # (n, T) bool
    lengths: np.ndarray  # (n,) int64
    extras: dict[str, Any] = field(default_factory=dict)
    input_symbols: np.ndarray | None = None  # (n, T) int64, see the class docstring
    target_symbols: np.ndarray | None = None  # (n, T) int64, see the class docstring

    def __post_init__(self) -> None:
        self.inputs = np.ascontiguousarray(self.inputs, dtype=np.float64)
        self.targets = np.ascontiguousarray(self.targets, dtype=np.float64)
        self.target_mask = np.ascontiguousarray(self.target_mask, dtype=np.bool_)
        self.lengths = np.ascontiguousarray(self.lengths, dtype=np.int64)
        n, t = self.inputs.shape[:2]
        if self.targets.shape[:2] != (n, t) or self.target_mask.shape != (n, t):
            raise ValueError(
                f"block shapes disagree: inputs {self.inputs.shape}, targets "
                f"{self.targets.shape}, target_mask {self.target_mask.shape}"
            )
        if self.lengths.shape != (n,) or (n and (self.lengths.max() > t or self.lengths.min() < 1)):
            raise ValueError("lengths must be one per sequence, each in [1, padded length]")
        for name in ("input_symbols", "target_symbols"):
            symbols = getattr(self, name)
            if symbols is not None:
                symbols = np.ascontiguousarray(symbols, dtype=np.int64)
                if symbols.shape != (n, t):
                    raise ValueError(f"{name} must have shape {(n, t)}, got {symbols.shape}")
                setattr(self, name, symbols)

    def __len__(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def n_steps(self) -> int:
        """Number of real (unpadded) time steps in the block."""
        return int(self.lengths.sum())

    def take(self, index: np.ndarray | slice) -> SequenceBlock:
        """The sub-block of the sequences at ``index``, trimmed to its own longest sequence."""
        lengths = self.lengths[index]
        t = int(lengths.max()) if len(lengths) else 1
        return SequenceBlock(
            self.inputs[index, :t],
            self.targets[index, :t],
            self.target_mask[index, :t],
            lengths,
            {k: (v[index][:, :t] if _is_stepwise(v, self) else v[index]) for k, v in self.extras.items()},
            None if self.input_symbols is None else self.input_symbols[index, :t],
            None if self.target_symbols is None else self.target_symbols[index, :t],
        )

    @staticmethod
    def concatenate(blocks: list[SequenceBlock]) -> SequenceBlock:
        """One block holding the sequences of ``blocks`` in order, re-padded."""
        t = max(b.inputs.shape[1] for b in blocks)

        def pad(a: np.ndarray) -> np.ndarray:
            if a.ndim < 2 or a.shape[1] == t:
                return a
            width = [(0, 0)] * a.ndim
            width[1] = (0, t - a.shape[1])
            return np.pad(a, width)

        extras = {}
        for k in blocks[0].extras:
            parts = [b.extras[k] for b in blocks]
            stepwise = all(_is_stepwise(p, b) for p, b in zip(parts, blocks))
            extras[k] = np.concatenate([pad(p) if stepwise else p for p in parts])
        return SequenceBlock(
            np.concatenate([pad(b.inputs) for b in blocks]),
            np.concatenate([pad(b.targets) for b in blocks]),
            np.concatenate([pad(b.target_mask) for b in blocks]),
            np.concatenate([b.lengths for b in blocks]),
            extras,
            None if any(b.input_symbols is None for b in blocks)
            else np.concatenate([pad(b.input_symbols) for b in blocks]),
            None if any(b.target_symbols is None for b in blocks)
            else np.concatenate([pad(b.target_symbols) for b in blocks]),
        )


def _is_stepwise(a: Any, block: SequenceBlock) -> bool:
    """Whether an extra array has a time axis matching the block's padded length."""
    return isinstance(a, np.ndarray) and a.ndim >= 2 and a.shape[1] == block.inputs.shape[1]


def final_step_outputs(block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
    """The output vector at the last real step of every sequence, shape (n, n_outputs)."""
    return outputs[np.arange(len(block)), block.lengths - 1]


def max_abs_error(block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
    """Per sequence, the largest absolute output error over its real steps with a target (0 for
    a sequence with none; NaN if any such error is NaN). The same numbers as
    ``np.where(mask, np.abs(targets - outputs).max(axis=2), 0).max(axis=1)``, in one pass with no
    block-sized temporaries (a wide block's judging otherwise cost twice its training)."""
    outputs = np.ascontiguousarray(outputs, dtype=np.float64)
    if outputs.shape != block.targets.shape:
        raise ValueError(f"outputs {outputs.shape} do not match targets {block.targets.shape}")
    from .judging import max_abs_error_per_sequence  # numba: not imported by mere listing

    return max_abs_error_per_sequence(block.targets, outputs, block.target_mask, block.lengths)
