"""The parity problem of Bengio et al. (1994), as the random-guessing papers pose it.

Sources: Bengio, Simard & Frasconi, "Learning long-term dependencies with gradient descent is
difficult" (IEEE TNN 5(2), 1994), who introduced it; Hochreiter & Schmidhuber, "LSTM can solve
hard long time lag problems" (NIPS 9, 1996), and Schmidhuber, Hochreiter & Bengio, "Evaluating
benchmark problems by random guessing" (2001), who solved it by guessing weights at random.

Each sequence is a string of +1 and -1 (each element a fair coin, independently); the only
target, at the last step, is 1.0 when the number of +1 elements is odd and 0.0 when it is even
(a logistic output's range). A sequence is correct when the final output is within 0.1 of its
target. ``noise`` > 0 adds uniform noise in [-noise, noise] to every input element (the 2001
paper's noisy variant uses 0.2, after Bengio et al.); the target counts the clean elements.

The guessing papers' protocol, shared with :mod:`seqbench_tasks.latch` (the class
:class:`FixedSetRun` below serves both):

- sequence lengths uniform over the integers ``min_length`` ... ``max_length`` (500 ... 600);
- a training set of ``n_train`` (100) sequences drawn once per trial from the trial's *data*
  stream, and a test set of ``n_test`` (100) drawn from its *test* stream; in each set exactly
  half the sequences belong to each class (for an odd size, class 1 has one more), in shuffled
  order;
- success: every training sequence correct with frozen weights, checked every ``check_every``
  training sequences (a set learner, such as ``guessing``, is judged whenever it offers a
  candidate); the final test reports the fraction of test sequences wrong (``test_error``), the
  same on the training set (``train_error``) and the mean absolute final error (``test_mae``);
- stream learners draw their training exemplars at random, with replacement, from the training
  set (from the trial's *order* stream), like Reber's task of Experiment 1.

Choices made here: the class of each sequence is fixed first (balanced, shuffled) and its
elements are fair coins except the last, which is set so that the count of +1 has the class's
parity. That gives exactly the distribution of drawing fair sequences and keeping 50 of each
class (the sequences of one parity, all equally likely), without a rejection loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from seqbench.blocks import SequenceBlock, final_step_outputs
from seqbench.contracts import Task, TaskRun, TaskSpec, TaskStreams
from seqbench.criteria import PeriodicCheck
from seqbench.errors import ParamError
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

from .final_step import final_target_block, past_end

#: the parameters every task of the guessing papers' protocol shares
SET_PARAMS = {
    "min_length": Param(500, "shortest sequence; lengths are uniform over min_length ... "
                        "max_length", "int", low=1, high=1_000_000),
    "max_length": Param(600, "longest sequence (inclusive)", "int", low=1, high=1_000_000),
    "n_train": Param(100, "training sequences (half of each class), drawn once per trial",
                     "int", low=2, high=1_000_000),
    "n_test": Param(100, "test sequences (half of each class), drawn once per trial", "int",
                    low=2, high=1_000_000),
    "check_every": Param(100, "training sequences between checks of the whole training set "
                         "(stream learners; a set learner is checked at each candidate)",
                         "int", low=1, high=10_000_000),
}
#: small, fast values for the conformance kit
SET_TEST_PARAMS = {"min_length": 8, "max_length": 12, "n_train": 20, "n_test": 20,
                   "check_every": 20}
#: a guessing trial is cheap per sequence; this budget leaves room for a mean of ~3,000 draws
#: of a few sequences each (parity, A1) many times over
SET_BUDGET = 1_000_000
#: the 2001 guessing paper's 40 simulations per latch result
SET_TRIALS = 40

Generate = Callable[[np.random.Generator, int], SequenceBlock]


def check_lengths(params: dict) -> None:
    """Refuse ``min_length > max_length`` with a one-line message."""
    if params["min_length"] > params["max_length"]:
        raise ParamError(f"min_length ({params['min_length']}) must not exceed max_length "
                         f"({params['max_length']})")


def balanced_classes(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` class labels (True: class 1), ``(n + 1) // 2`` of them True, in random order."""
    return rng.permutation(np.arange(n) < (n + 1) // 2)


def uniform_lengths(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """``n`` lengths uniform over the integers ``low`` ... ``high``."""
    return rng.integers(low, high + 1, size=n)


def parity_block(rng: np.random.Generator, n: int, min_length: int, max_length: int,
                 noise: float) -> SequenceBlock:
    """``n`` parity sequences, half odd (target 1.0) and half even (0.0), in random order.

    ``extras["clean"]`` holds the +-1 elements before any noise (0 past the end),
    ``extras["class1"]`` marks the odd sequences.
    """
    lengths = uniform_lengths(rng, n, min_length, max_length)
    odd = balanced_classes(rng, n)
    t = int(lengths.max())
    pad = past_end(lengths, t)
    clean = np.where(rng.random((n, t)) < 0.5, 1.0, -1.0)
    clean[pad] = 0.0
    rows, last = np.arange(n), lengths - 1
    flip = ((clean == 1.0).sum(axis=1) % 2 == 1) != odd
    clean[rows[flip], last[flip]] *= -1.0
    x = clean.copy()
    if noise > 0.0:
        x += rng.uniform(-noise, noise, size=(n, t))
        x[pad] = 0.0
    block = final_target_block(x[:, :, None], lengths, odd.astype(np.float64))
    block.extras["clean"] = clean
    block.extras["class1"] = odd
    return block


class FixedSetRun(TaskRun):
    """One trial of the guessing papers' protocol: a fixed training set and test set, a rule
    judging each sequence's final output, success when every training sequence is correct.

    ``rule`` is ``abs`` (|output - target| < ``tolerance`` at the end, every output unit) or
    ``sign`` (every final output on the same side of ``middle`` as its target).
    """

    def __init__(self, generate: Generate, params: dict, streams: TaskStreams, rule: str,
                 tolerance: float = 0.1, middle: float = 0.0):
        self.rule = rule
        self.tolerance = float(tolerance)
        self.middle = float(middle)
        self.train_set = generate(streams.data, params["n_train"])
        self.test_set = generate(streams.test, params["n_test"])
        self.order = streams.order
        self.criterion = PeriodicCheck(name="all training sequences correct",
                                       test=self._all_training_correct,
                                       check_every=params["check_every"])

    def _all_training_correct(self, predict) -> bool:
        correct, _ = self.judge(self.train_set, predict(self.train_set))
        return bool(correct.all())

    def training_set(self) -> SequenceBlock:
        """The fixed training set (set learners fit on it; stream learners draw from it)."""
        return self.train_set

    def training_block(self, n: int) -> SequenceBlock:
        return self.train_set.take(self.order.integers(len(self.train_set), size=n))

    def judge(self, block, outputs):
        final = final_step_outputs(block, outputs)
        reference = block.extras["reference"]
        diff = final - reference
        if self.rule == "sign":
            correct = ((final - self.middle) * (reference - self.middle) > 0.0).all(axis=1)
        else:
            correct = (np.abs(diff) < self.tolerance).all(axis=1)
        return correct, np.abs(diff).mean(axis=1)

    def evaluate(self, predict) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, block in (("train", self.train_set), ("test", self.test_set)):
            correct, error = self.judge(block, predict(block))
            out[f"{name}_error"] = float((~correct).mean())
            out[f"{name}_wrong"] = int((~correct).sum())
            out[f"{name}_mae"] = float(error.mean())
        return out


class Parity(Task):
    """Is the number of +1 elements odd? (Bengio et al. 1994; the guessing papers' set-up)"""

    name = "parity"
    summary = "parity of the +1s in a +-1 sequence of 500-600 steps, answered at the end"
    paper_section = ("docs/protocol.md §8.3; Schmidhuber, Hochreiter & Bengio 2001 "
                     "(parity); Bengio et al. 1994")
    default_budget = SET_BUDGET
    default_trials = SET_TRIALS
    params = {
        **SET_PARAMS,
        "noise": Param(0.0, "uniform noise in [-noise, noise] added to every input element "
                       "(0.2 in the 2001 paper's noisy variant)", "float", low=0.0, high=1.0),
    }
    test_params = SET_TEST_PARAMS

    def spec(self) -> TaskSpec:
        check_lengths(self.params)
        return TaskSpec(n_inputs=1, n_outputs=1, targets="final_step", target_range=(0.0, 1.0))

    def generate(self, rng: np.random.Generator, n: int) -> SequenceBlock:
        p = self.params
        return parity_block(rng, n, p["min_length"], p["max_length"], p["noise"])

    def start(self, streams: TaskStreams) -> FixedSetRun:
        check_lengths(self.params)
        return FixedSetRun(self.generate, self.params, streams, rule="abs", tolerance=0.1,
                           middle=0.5)


@hookimpl
def seqbench_register_tasks(register):
    register(Parity)
