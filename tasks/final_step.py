"""What Experiments 3-6 of the 1997 paper share: sequences generated on-line whose only target is
at the sequence end, judged by the absolute error of every output there (ABS(beta) of Table 11),
and a final test on 2,560 fresh sequences (docs/protocol.md §1, §9; H&S97 Sec. 5, Tables 10
and 11).

A task of this kind supplies a generator ``generate(rng, n) -> SequenceBlock`` whose block carries
``extras["reference"]``, shape (n, n_outputs): the value a sequence's final output is judged
against. It equals the final target except in Task 3c, whose training targets are noisy and whose
outputs are judged against the noise-free target.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seqbench.blocks import SequenceBlock, final_step_outputs
from seqbench.contracts import TaskRun, TaskStreams
from seqbench.criteria import Criterion, final_test
from seqbench.params import Param

#: size of the final test set of Exps. 3-6 (Table 11)
FINAL_TEST_SIZE = 2560

Generate = Callable[[np.random.Generator, int], SequenceBlock]

TRAINING_ERROR_PARAM = Param(
    "abs", "per-sequence training error averaged by ST3: abs = mean absolute final-step error "
    "over the output units, squared = mean squared (the paper does not say; docs/protocol.md §1.4)",
    "str", choices=("abs", "squared"))
AVERAGE_OVER_PARAM = Param(
    2000, "ST3 averages the training error over this many most recent sequences", "int",
    low=1, high=10_000_000)


def final_target_block(inputs: np.ndarray, lengths: np.ndarray, target: np.ndarray,
                       reference: np.ndarray | None = None) -> SequenceBlock:
    """A block whose sequence ``i`` has its one target ``target[i]`` at its last step
    ``lengths[i] - 1``; steps at or past ``lengths[i]`` of ``inputs`` must already be zero."""
    n, t = inputs.shape[:2]
    target = np.asarray(target, dtype=np.float64).reshape(n, -1)
    rows, last = np.arange(n), lengths - 1
    targets = np.zeros((n, t, target.shape[1]))
    targets[rows, last] = target
    mask = np.zeros((n, t), dtype=bool)
    mask[rows, last] = True
    ref = target if reference is None else np.asarray(reference, np.float64).reshape(n, -1)
    return SequenceBlock(inputs, targets, mask, lengths, {"reference": ref})


def past_end(lengths: np.ndarray, t: int) -> np.ndarray:
    """(n, t) mask of the padding steps of sequences of the given lengths."""
    return np.arange(t)[None, :] >= lengths[:, None]


def judge_final(block: SequenceBlock, outputs: np.ndarray, tolerance: float,
                training_error: str = "abs") -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: every final output within ``tolerance`` of the reference; and the error,
    mean absolute (``abs``) or mean squared (``squared``) over the output units."""
    diff = final_step_outputs(block, outputs) - block.extras["reference"]
    correct = (np.abs(diff) < tolerance).all(axis=1)
    error = np.abs(diff).mean(axis=1) if training_error == "abs" else (diff ** 2).mean(axis=1)
    return correct, error


class FinalTargetRun(TaskRun):
    """One trial of an on-line final-target task: a fresh training stream, the judge, the
    criterion the task built, and the final test on 2,560 sequences from the test stream.

    The final test set is drawn from ``streams.test`` when :meth:`evaluate` is called, after
    anything the task drew from that stream at the start (Exp. 3's 256-sequence check set), so it
    is the same for every learner at the same trial index.
    """

    def __init__(self, generate: Generate, streams: TaskStreams, tolerance: float,
                 criterion: Criterion, training_error: str = "abs"):
        self.generate = generate
        self.streams = streams
        self.tolerance = float(tolerance)
        self.criterion = criterion
        self.training_error = training_error

    def training_block(self, n: int) -> SequenceBlock:
        return self.generate(self.streams.data, n)

    def judge(self, block, outputs):
        return judge_final(block, outputs, self.tolerance, self.training_error)

    def evaluate(self, predict) -> dict[str, float]:
        block = self.generate(self.streams.test, FINAL_TEST_SIZE)
        outputs = final_step_outputs(block, predict(block))
        return final_test(outputs, block.extras["reference"], self.tolerance)
