"""A complete, minimal seqbench task: is the sum of a sequence's inputs positive?

Each step shows one value drawn from a standard normal distribution; the only target, at the
last step, is 1 when the values sum to more than 0 and 0 otherwise. A sequence is correct when
the final output is within 0.5 of the target (a constant output is right on about half of
them). Solved after ``successes`` correct sequences in a row; the final test is the fraction of
1,000 fresh sequences judged wrong.
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock, final_step_outputs
from seqbench.contracts import Task, TaskRun, TaskSpec, TaskStreams
from seqbench.criteria import SuccessiveCorrect
from seqbench.hookspecs import hookimpl
from seqbench.params import Param


def sum_sign_block(rng: np.random.Generator, n: int, length: int) -> SequenceBlock:
    """``n`` sequences of ``length`` to ``length + length // 2`` steps."""
    lengths = rng.integers(length, length + length // 2 + 1, size=n)
    steps, rows = int(lengths.max()), np.arange(n)
    padding = np.arange(steps)[None, :] >= lengths[:, None]
    values = np.where(padding, 0.0, rng.normal(size=(n, steps)))
    targets = np.zeros((n, steps, 1))
    targets[rows, lengths - 1, 0] = values.sum(axis=1) > 0
    mask = np.zeros((n, steps), bool)
    mask[rows, lengths - 1] = True
    return SequenceBlock(values[:, :, None], targets, mask, lengths)


class SumSignRun(TaskRun):
    """One trial: a training stream from ``streams.data``, a test set from ``streams.test``."""

    def __init__(self, params: dict, streams: TaskStreams):
        self.length = params["length"]
        self.streams = streams
        self.criterion = SuccessiveCorrect(params["successes"])

    def training_block(self, n: int) -> SequenceBlock:
        return sum_sign_block(self.streams.data, n, self.length)

    def judge(self, block, outputs):
        error = final_step_outputs(block, outputs - block.targets)[:, 0]
        return np.abs(error) < 0.5, np.abs(error)

    def evaluate(self, predict) -> dict[str, float]:
        block = sum_sign_block(self.streams.test, 1000, self.length)
        correct, error = self.judge(block, predict(block))
        return {"test_error": float(1.0 - correct.mean()), "test_mae": float(error.mean())}


class SumSign(Task):
    """Whether the inputs of a sequence sum to more than zero, answered at its last step."""

    name = "sum-sign"
    summary = "is the sum of the sequence's inputs positive? (one target, at the end)"
    default_budget = 20_000
    default_trials = 10
    params = {
        "length": Param(10, "shortest sequence; lengths are uniform in L..L+L//2", "int",
                        low=1, high=100_000),
        "successes": Param(100, "correct sequences in a row that count as solved", "int",
                           low=1, high=1_000_000),
    }

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=1, n_outputs=1, targets="final_step")

    def start(self, streams: TaskStreams) -> SumSignRun:
        return SumSignRun(self.params, streams)


@hookimpl
def seqbench_register_tasks(register):
    register(SumSign)
