"""Experiment 6 of the 1997 paper: temporal order (docs/protocol.md §7).

Symbols {a, b, c, d, X, Y, E, B}, one-hot on 8 input units. A sequence starts with E, ends with
the trigger B, and holds random symbols from {a, b, c, d} elsewhere, except at the relevant
positions, which hold X or Y. The class is the order of the X/Y symbols, one-hot on the output
units, with the only target at the sequence end; a sequence is correct if every output's final
absolute error is < 0.3 (ABS(0.3)). Training stops at ST3(0.1); final test on 2,560 sequences.
Table 9. The ``variant`` parameter selects the paper's task:

``a`` (Task 6a)
    relevant positions t1 in [10, 20] and t2 in [50, 60]; 4 classes XX, XY, YX, YY (Q, R, S, U).
``b`` (Task 6b)
    t1 in [10, 20], t2 in [33, 43], t3 in [66, 76]; 8 classes XXX ... YYY (Q, R, S, U, V, A, B,
    C), numbered as binary numbers with X = 0, Y = 1, first symbol most significant.

Resolved ambiguities:

- Positions are 1-based (E is at position 1, B at position ``length``) and every range is
  inclusive; length is uniform over 100 ... 110. This reading reproduces the lag column of Table
  10: minimal length minus latest relevant position, 100 - 60 = 40 (6a) and 100 - 76 = 24 (6b).
- X and Y are drawn independently with probability 1/2 at each relevant position, and each
  relevant position uniformly in its range; the distractors uniformly from {a, b, c, d}.
- ST3's "average training error" is, by default, the mean over the 2,000 most recent sequences of
  the mean absolute final error over the output units (parameters ``training_error`` and
  ``average_over``).
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Task, TaskSpec, TaskStreams
from seqbench.criteria import ST3
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

from .final_step import (AVERAGE_OVER_PARAM, TRAINING_ERROR_PARAM, FinalTargetRun,
                         final_target_block, past_end)

SYMBOLS = "abcdXYEB"
X, E, B = SYMBOLS.index("X"), SYMBOLS.index("E"), SYMBOLS.index("B")
N_DISTRACTORS = 4  # a, b, c, d are symbols 0..3
#: per variant: inclusive 1-based ranges of the relevant positions
RELEVANT = {"a": ((10, 20), (50, 60)), "b": ((10, 20), (33, 43), (66, 76))}
LENGTHS = (100, 110)
TOLERANCE = 0.3


def temporal_order_block(rng: np.random.Generator, n: int, variant: str) -> SequenceBlock:
    """``n`` sequences of Task 6``variant``; ``extras["positions"]`` holds the 1-based relevant
    positions (n, k), ``extras["is_y"]`` whether each relevant symbol is Y, ``extras["label"]``
    the class number."""
    ranges = RELEVANT[variant]
    lengths = rng.integers(LENGTHS[0], LENGTHS[1] + 1, size=n)
    t = int(lengths.max())
    rows = np.arange(n)
    symbol = rng.integers(0, N_DISTRACTORS, size=(n, t))
    positions = np.stack([rng.integers(lo, hi + 1, size=n) for lo, hi in ranges], axis=1)
    is_y = rng.random((n, len(ranges))) < 0.5
    symbol[rows[:, None], positions - 1] = X + is_y
    symbol[:, 0] = E
    symbol[rows, lengths - 1] = B
    inputs = np.eye(len(SYMBOLS))[symbol]
    inputs[past_end(lengths, t)] = 0.0
    weights = 1 << np.arange(len(ranges))[::-1]
    label = (is_y * weights).sum(axis=1)
    block = final_target_block(inputs, lengths, np.eye(1 << len(ranges))[label])
    block.extras.update(positions=positions, is_y=is_y, label=label)
    return block


class TemporalOrder(Task):
    """Classify the temporal order of widely separated X/Y symbols (Exp. 6a/6b).

    docs/protocol.md §7."""

    name = "temporal-order"
    summary = "temporal order of 2 (6a) or 3 (6b) X/Y symbols among distractors (Exp. 6)"
    paper_section = "docs/protocol.md §7; H&S97 Sec. 5.6, Table 9"
    default_budget = 300_000  # ~10x the paper's mean for 6a (31,390)
    default_trials = 20  # Table 9: 20 trials for 6a (10 for 6b)
    params = {
        "variant": Param("a", "paper task 6a (2 relevant symbols, 4 classes) or 6b (3, 8)",
                         "str", choices=("a", "b")),
        "training_error": TRAINING_ERROR_PARAM,
        "average_over": AVERAGE_OVER_PARAM,
    }

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=len(SYMBOLS), n_outputs=1 << len(RELEVANT[self.params["variant"]]),
                        targets="final_step")

    def generate(self, rng: np.random.Generator, n: int) -> SequenceBlock:
        return temporal_order_block(rng, n, self.params["variant"])

    def start(self, streams: TaskStreams) -> FinalTargetRun:
        p = self.params
        criterion = ST3(0.1, window=2000, average_over=p["average_over"])
        return FinalTargetRun(self.generate, streams, TOLERANCE, criterion, p["training_error"])


@hookimpl
def seqbench_register_tasks(register):
    register(TemporalOrder)
