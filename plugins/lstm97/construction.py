"""Sequential network construction (docs/learners.md §2.7; used in Exp. 2a/2b, docs/protocol.md §3).

The net starts without memory blocks (under connectivity B the outputs still read the inputs) and
a block, a cell with its gates, is added each time the training error stops decreasing. The paper
does not say how "stops decreasing" was decided (docs/learners.md §2.7); :class:`ErrorPlateau`
is the rule used here.

A net with the first ``j`` blocks is itself an LSTM97 layout (:func:`build_layout` with ``j``
blocks), so the numba kernel runs it unchanged. Its weights are a sub-matrix of the final net's:
:func:`stage_index` maps one into the other. The final net's weights are all drawn at the start;
a block added later starts from its own initial draw, and so do the weights that connect it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .network import Layout


def stage_index(full: Layout, part: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the weights of ``part`` (the first blocks of ``full``) sit in ``full``'s matrices.

    Returns ``(rows, cols_h, cols_o)``: ``wh_part = wh_full[np.ix_(rows, cols_h)]`` and
    ``wo_part = wo_full[:, cols_o]``. Hidden units and cells are laid out block by block, so
    ``part``'s units are ``full``'s first units; only the input and bias columns shift.
    """
    n_in = full.n_inputs
    rows = np.arange(part.n_hidden)
    cols_h = np.concatenate([np.arange(part.n_hidden), full.n_hidden + np.arange(n_in + 1)])
    cols_o = np.concatenate([np.arange(n_in + part.n_cells), [full.n_osrc - 1]])
    return rows, cols_h, cols_o


@dataclass
class ErrorPlateau:
    """"The error stopped decreasing", decided over consecutive windows of training sequences.

    The training error of a sequence is its summed squared output error over the steps with
    targets. Each window of ``window`` sequences gives a mean error; the rule fires at the end of
    a window whose mean is not below ``(1 − tolerance)`` times the best window mean seen since
    the rule was last reset (so the first window after a reset never fires).
    """

    window: int
    tolerance: float

    def __post_init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Start afresh (after a block was added)."""
        self.best = np.inf
        self.left = self.window
        self._sum = 0.0

    def feed(self, errors: np.ndarray) -> bool:
        """Consume at most ``self.left`` sequence errors; True when a window just ended on a plateau."""
        if len(errors) > self.left:
            raise ValueError("feed at most `left` sequences at a time")
        self._sum += float(np.sum(errors))
        self.left -= len(errors)
        if self.left:
            return False
        mean = self._sum / self.window
        self.left, self._sum = self.window, 0.0
        plateau = mean >= (1.0 - self.tolerance) * self.best
        self.best = min(self.best, mean)
        return bool(plateau)
