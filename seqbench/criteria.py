"""Stopping criteria: when a trial counts as solved.

A criterion sees the training history one block at a time, as two per-sequence arrays the task
computed from the learner's own online outputs: ``correct`` (bool) and ``error`` (float, the
task's per-sequence error measure). History criteria answer with the exact index, inside the
block, of the first sequence after which they hold, so "sequences to success" is exact to the
sequence. Criteria that need the learner's frozen predictions on a fixed set (the paper's test
sets) are checked every ``check_every`` sequences instead; the runner records that interval.
"""

from __future__ import annotations

from collections.abc import Callable
import numpy as np

Predict = Callable[..., np.ndarray]


class Criterion:
    """Base class: a named rule over the training history and/or periodic frozen checks."""

    name: str = "criterion"
    #: run :meth:`check` every this many training sequences (0: never)
    check_every: int = 0

    def observe(self, correct: np.ndarray, error: np.ndarray) -> int | None:
        """Consume one block's history; return the in-block index where the rule first holds."""
        return None

    def check(self, predict: Predict) -> bool:
        """Judge the frozen learner (``predict(block) -> outputs``); True when solved."""
        return False

    def describe(self) -> str:
        return self.name


class PeriodicCheck(Criterion):
    """Solved when ``test(predict)`` is true; evaluated every ``check_every`` sequences."""

    def __init__(self, name: str, test: Callable[[Predict], bool], check_every: int = 100):
        self.name = name
        self.test = test
        self.check_every = int(check_every)

    def check(self, predict: Predict) -> bool:
        return bool(self.test(predict))

    def describe(self) -> str:
        return f"{self.name} (checked every {self.check_every} sequences)"


class SuccessiveCorrect(Criterion):
    """Solved once the last ``n`` training sequences in a row were all judged correct.

    This is the paper's ABS(beta) over N successive sequences when the task judges a sequence
    correct iff every output's absolute error is below beta.
    """

    def __init__(self, n: int, name: str | None = None):
        self.n = int(n)
        self.name = name or f"{n} successive correct"
        self._run = 0

    def observe(self, correct: np.ndarray, error: np.ndarray) -> int | None:
        run = self._run
        for i, ok in enumerate(np.asarray(correct, dtype=bool)):
            run = run + 1 if ok else 0
            if run >= self.n:
                self._run = run
                return i
        self._run = run
        return None

