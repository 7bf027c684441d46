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
    #: whether :meth:`observe` can report success inside a block; the trial loop keeps a copy of
    #: the learner before each block only when it can (to roll back to the success point)
    observe_can_succeed: bool = True
    #: whether the rule can be decided on the frozen network alone (:meth:`check_frozen`), with
    #: no training history; only such rules can judge a set learner
    frozen: bool = False

    def observe(self, correct: np.ndarray, error: np.ndarray) -> int | None:
        """Consume one block's history; return the in-block index where the rule first holds."""
        return None

    def check(self, predict: Predict) -> bool:
        """Judge the frozen learner (``predict(block) -> outputs``); True when solved."""
        return False

    def check_frozen(self, predict: Predict, presented: int) -> bool:
        """Judge the frozen learner with no training history (``presented`` sequences so far,
        for milestones); True when solved. Only for rules with :attr:`frozen` set."""
        raise TypeError(f"{self.describe()!r} is a rule over the training history; it cannot "
                        "judge a frozen network on its own")

    def describe(self) -> str:
        return self.name


class PeriodicCheck(Criterion):
    """Solved when ``test(predict)`` is true; evaluated every ``check_every`` sequences."""

    observe_can_succeed = False
    frozen = True

    def __init__(self, name: str, test: Callable[[Predict], bool], check_every: int = 100):
        self.name = name
        self.test = test
        self.check_every = int(check_every)

    def check(self, predict: Predict) -> bool:
        return bool(self.test(predict))

    def check_frozen(self, predict: Predict, presented: int) -> bool:
        return self.check(predict)

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



# --- the stopping rules of the paper's Experiments 3-6 (docs/protocol.md §1.4; Table 11) -------


class _History:
    """The most recent per-sequence (wrong, error) values, for exact sliding-window rules.

    :meth:`windows` answers, for every sequence of a new block, the number of wrong sequences and
    the summed error in the windows of the given sizes ending at that sequence, and whether that
    many sequences have been seen at all. It keeps only the ``longest - 1`` latest values.
    """

    def __init__(self, longest: int):
        self.longest = int(longest)
        self.wrong = np.zeros(0, dtype=bool)
        self.error = np.zeros(0)
        self.seen = 0

    def windows(self, correct, error, sizes):
        wrong = np.concatenate([self.wrong, ~np.asarray(correct, dtype=bool)])
        err = np.concatenate([self.error, np.asarray(error, dtype=np.float64)])
        n = len(wrong) - len(self.wrong)
        cum_wrong = np.concatenate([[0], np.cumsum(wrong)])
        cum_err = np.concatenate([[0.0], np.cumsum(err)])
        ends = np.arange(len(self.wrong), len(wrong)) + 1  # exclusive end of each window
        seen_at = self.seen + np.arange(1, n + 1)  # sequences seen once each one is in
        out = []
        for size in sizes:
            starts = np.maximum(ends - size, 0)
            out.append((cum_wrong[ends] - cum_wrong[starts], cum_err[ends] - cum_err[starts],
                        seen_at >= size))
        start = max(len(wrong) - (self.longest - 1), 0)
        self.wrong, self.error = wrong[start:], err[start:]
        self.seen += n
        return out


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


class ST3(Criterion):
    """ST3(beta) of Table 11: the average training error is below ``beta`` **and** the ``window``
    most recent training sequences were all processed correctly (Exps. 4 and 6).

    The paper does not say what "average training error" averages over, nor whether it is
    absolute or squared (docs/protocol.md §1.4). Here it is the mean of the task's per-sequence
    training error (the task decides absolute or squared; its ``training_error`` parameter) over
    the ``average_over`` most recent sequences, 2,000 by default, the same window as the
    correctness condition. An average since the start of training would be dominated by the
    untrained network's errors and could need far more than 2,000 correct sequences to fall.
    Both conditions need full windows. Exact to the sequence.
    """

    def __init__(self, beta: float, window: int = 2000, average_over: int | None = None):
        self.beta = float(beta)
        self.window = int(window)
        self.average_over = int(average_over or window)
        self.name = f"ST3({self.beta:g})"
        self._history = _History(max(self.window, self.average_over))

    def observe(self, correct, error):
        (wrong, _, full), (_, err_sum, full_avg) = self._history.windows(
            correct, error, (self.window, self.average_over))
        holds = full & full_avg & (wrong == 0) & (err_sum / self.average_over < self.beta)
        return _first(holds)

    def describe(self) -> str:
        return (f"{self.name}: mean training error over the last {self.average_over} sequences "
                f"< {self.beta:g} and the last {self.window} sequences all correct")


class FewerWrongInWindow(Criterion):
    """Fewer than ``n`` of the ``window`` most recent training sequences wrong (Exp. 5's rule,
    n_seq = 140 or 13, window 2,000). Exact to the sequence; needs a full window.

    ``milestone_ns`` are looser thresholds (larger n) whose first sequence count is recorded in
    :attr:`milestones` as ``sequences_to_fewer_than_<n>_wrong`` on the way to ``n``.
    """

    def __init__(self, n: int, window: int = 2000, milestone_ns: tuple[int, ...] = ()):
        self.n = int(n)
        self.window = int(window)
        self.milestone_ns = tuple(int(m) for m in milestone_ns if int(m) > self.n)
        self.name = f"fewer than {self.n} of the last {self.window} sequences wrong"
        self.milestones: dict[str, int] = {}
        self._history = _History(self.window)

    def observe(self, correct, error):
        seen_before = self._history.seen
        ((wrong, _, full),) = self._history.windows(correct, error, (self.window,))
        for m in self.milestone_ns:
            key = f"sequences_to_fewer_than_{m}_wrong"
            i = None if key in self.milestones else _first(full & (wrong < m))
            if i is not None:
                self.milestones[key] = seen_before + i + 1
        return _first(full & (wrong < self.n))


class StagedTestSet(Criterion):
    """The two-stage rule of Exp. 3 on a fixed random test set, checked every ``check_every``
    training sequences with the frozen learner.

    ``measure(predict) -> (n_wrong, mean_abs_error)`` judges the test set (256 sequences in the
    paper). Stage 1 (ST1) holds when at most ``max_wrong`` sequences are wrong; stage 2 (ST2), which
    stops the trial, when ST1 holds and the mean absolute error is below ``mean_abs_below``. The
    training-sequence count at the first check where ST1 held is recorded in :attr:`milestones`
    as ``st1_sequences`` (Tables 4 and 5 report both points for one run).
    """

    frozen = True

    def __init__(self, measure: Callable[[Predict], tuple[int, float]], max_wrong: int,
                 mean_abs_below: float, check_every: int, name: str = "ST2"):
        self.measure = measure
        self.max_wrong = int(max_wrong)
        self.mean_abs_below = float(mean_abs_below)
        self.check_every = int(check_every)
        self.name = name
        self.milestones: dict[str, int] = {}
        self._seen = 0

    def observe(self, correct, error):
        self._seen += len(correct)
        return None

    def check_frozen(self, predict: Predict, presented: int) -> bool:
        self._seen = int(presented)
        return self.check(predict)

    def check(self, predict: Predict) -> bool:
        wrong, mean_abs = self.measure(predict)
        st1 = wrong <= self.max_wrong
        if st1:
            self.milestones.setdefault("st1_sequences", self._seen)
        return bool(st1 and mean_abs < self.mean_abs_below)

    def describe(self) -> str:
        return (f"{self.name}: at most {self.max_wrong} test sequences wrong and mean absolute "
                f"test error < {self.mean_abs_below:g} (checked every {self.check_every} "
                "sequences)")


def final_test(outputs: np.ndarray, reference: np.ndarray, tolerance: float) -> dict[str, float]:
    """The paper's final test figures from final-step ``outputs`` and ``reference`` targets, both
    shaped (sequences, outputs): a sequence is wrong unless every output is within
    ``tolerance`` of its reference (ABS(tolerance) of Table 11).

    ``test_error`` is the fraction wrong, ``test_wrong`` their number, ``test_mae`` and
    ``test_mse`` the mean absolute and mean squared error over all sequences and output units.
    """
    diff = np.asarray(outputs, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    wrong = ~(np.abs(diff) < tolerance).all(axis=1)
    return {
        "test_error": float(wrong.mean()),
        "test_wrong": int(wrong.sum()),
        "test_sequences": int(len(wrong)),
        "test_mae": float(np.abs(diff).mean()),
        "test_mse": float((diff ** 2).mean()),
    }
