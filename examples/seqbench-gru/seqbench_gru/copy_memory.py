"""Plugin module ``copy-memory``: the copying memory problem of Arjovsky, Shah & Bengio (2016,
§4.1), after Hochreiter & Schmidhuber (1997).

Alphabet: ``symbols`` data symbols, a blank and a delimiter, one-hot on ``symbols + 2`` inputs
(data symbols first, then blank, then delimiter). A sequence has ``2 * length + delay`` steps:
``length`` data symbols drawn uniformly, ``delay - 1`` blanks, the delimiter, then ``length``
blanks during which the net must reproduce the data symbols in order. Outputs: ``symbols + 1``
logistic units (data symbols, then blank); the target is one-hot at every step, the blank
before the recall steps, as in Arjovsky et al., who trained on every step.

Judged on the recall steps only. A symbol counts as recalled when its output unit is strictly
the most active; a sequence is correct when all ``length`` symbols are recalled. Scoring every
step instead (as the TCN benchmark's copy-memory accuracy does) would give an output that is
always "blank" a per-step accuracy of (delay + length) / (delay + 2 length), 91% at the default
sizes, without remembering anything; here it scores 0. Solved after ``successes`` correct
training sequences in a row; the final test is 1,000 fresh sequences (chance: each symbol right
with probability 1 / ``symbols``).
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Task, TaskRun, TaskSpec, TaskStreams
from seqbench.criteria import SuccessiveCorrect
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

TEST_SEQUENCES = 1000


def copy_memory_block(rng: np.random.Generator, n: int, symbols: int, length: int,
                      delay: int) -> SequenceBlock:
    """``n`` copy-memory sequences; ``extras["recall"]`` holds the symbols to recall (n, length)."""
    blank, delimiter = symbols, symbols + 1
    steps = 2 * length + delay
    data = rng.integers(0, symbols, size=(n, length))
    codes = np.full((n, steps), blank)
    codes[:, :length] = data
    codes[:, length + delay - 1] = delimiter
    wanted = np.full((n, steps), blank)
    wanted[:, length + delay:] = data
    inputs = np.eye(symbols + 2)[codes]
    targets = np.eye(symbols + 1)[wanted]
    return SequenceBlock(inputs, targets, np.ones((n, steps), bool), np.full(n, steps),
                         {"recall": data})


def recalled(block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
    """(n, length) whether each symbol's output unit is strictly the most active at its step."""
    want = block.extras["recall"]
    length = want.shape[1]
    steps = outputs[:, -length:, :]
    right = np.take_along_axis(steps, want[:, :, None], axis=2)[:, :, 0]
    others = np.where(np.eye(steps.shape[2], dtype=bool)[want], -np.inf, steps).max(axis=2)
    return right > others


class CopyMemoryRun(TaskRun):
    """One trial: training sequences from ``streams.data``, the final test from ``streams.test``."""

    def __init__(self, params: dict, streams: TaskStreams):
        self.sizes = (params["symbols"], params["length"], params["delay"])
        self.streams = streams
        self.criterion = SuccessiveCorrect(params["successes"])

    def training_block(self, n: int) -> SequenceBlock:
        return copy_memory_block(self.streams.data, n, *self.sizes)

    def judge(self, block, outputs):
        ok = recalled(block, outputs)
        return ok.all(axis=1), 1.0 - ok.mean(axis=1)

    def evaluate(self, predict) -> dict[str, float]:
        block = copy_memory_block(self.streams.test, TEST_SEQUENCES, *self.sizes)
        outputs = predict(block)
        ok = recalled(block, outputs)
        length = self.sizes[1]
        recall_mse = ((outputs - block.targets)[:, -length:] ** 2).sum(axis=2).mean()
        return {"test_error": float(1.0 - ok.all(axis=1).mean()),
                "test_symbol_error": float(1.0 - ok.mean()),
                "test_recall_mse": float(recall_mse)}


class CopyMemory(Task):
    """Recall ``length`` symbols, in order, after ``delay`` steps (Arjovsky et al. 2016 §4.1)."""

    name = "copy-memory"
    summary = "copying memory problem (Arjovsky et al. 2016), judged on recalled symbols only"
    paper_section = "not in the 1997 paper; Arjovsky, Shah & Bengio (2016) §4.1"
    default_budget = 100_000
    default_trials = 10
    params = {
        "symbols": Param(8, "number of data symbols", "int", low=2, high=1000),
        "length": Param(10, "symbols to copy", "int", low=1, high=10_000),
        "delay": Param(100, "T of Arjovsky et al.: delay - 1 blanks and the delimiter lie "
                       "between the data and the recall steps, so each symbol is recalled "
                       "delay + length steps after it was shown", "int", low=1, high=1_000_000),
        "successes": Param(100, "correct training sequences in a row that count as solved",
                           "int", low=1, high=1_000_000),
    }
    test_params = {"symbols": 3, "length": 2, "delay": 4, "successes": 50}

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=self.params["symbols"] + 2, n_outputs=self.params["symbols"] + 1,
                        targets="every_step")

    def start(self, streams: TaskStreams) -> CopyMemoryRun:
        return CopyMemoryRun(self.params, streams)


@hookimpl
def seqbench_register_tasks(register):
    register(CopyMemory)
