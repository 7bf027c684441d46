"""Experiment 2 of the 1997 paper: long time lags between a symbol and its prediction (2a, 2b, 2c).

docs/protocol.md §3 (H&S97 Sec. 5.2), with the set-up of the paper's Tables 10 and 11
(docs/protocol.md §9) and the readings of docs/protocol.md §3.7. Three tasks:

``lag-2a``
    p+1 one-hot symbols; the training set holds only the two sequences (y, a1 … a_{p−1}, y) and
    (x, a1 … a_{p−1}, x), each presented with probability 0.5 ("t1": drawn from the training
    set, so the draws come from the trial's *order* stream). Next-symbol prediction at every step.
``lag-2b``
    as 2a, but the p−1 middle symbols are drawn independently and uniformly from a1 … a_{p−1}
    for every sequence ("t2": generated on-line from the trial's *data* stream). Still a target
    at every step; only the final prediction is judged.
``lag-2c``
    (b, x|y, q distractors, a geometric tail of distractors, e, x|y), distractors uniform over
    a1 … a_p; p+4 inputs, 2 outputs, a target only at the last step.

Symbols are coded as integers and sequences are kept as integer arrays (``-1`` pads) until a
learner needs them; :func:`one_hot` turns a block into the dense float64 inputs the learners'
kernels take. Symbol ``i`` is input unit ``i``:

* 2a/2b: a1 … a_{p−1} are ``0 … p−2``, x = a_p is ``p−1``, y = a_{p+1} is ``p``.
* 2c: a1 … a_p are ``0 … p−1``, then e = ``p``, b = ``p+1``, x = ``p+2``, y = ``p+3``.

A sequence of L symbols gives L−1 steps: at step t the input is symbol t and the prediction
target is symbol t+1.

Success (ABS(β), Table 11) and how it is checked. The paper's "success after" counts are below
10,000 for 2a and 2b (5,040 and 5,680), so they cannot include the 10,000 sequences the criterion
is judged on: training stops at some point and the criterion is then checked on 10,000 sequences.
This module therefore judges the **frozen** network on a test set of ``test_size`` (10,000)
sequences from the trial's *test* stream, drawn once per trial (Table 11 gives "test set size
10000" for 2b and 2c). The check runs every ``check_every`` training sequences, but only once the
last ``screen`` training sequences were all judged correct from the learner's own on-line outputs
(a cheap pre-screen; the frozen test is then evaluated in chunks and stops at the first failure).
Sequences to success are thus exact to within ``check_every``.

* 2a has "no test set": the 10,000 successive sequences are draws from the two training
  sequences (drawn once per trial from its *test* stream), so passing them with frozen weights
  is exactly "both sequences pass" for a learner that resets its state at every sequence
  start; the check evaluates those two. Every output unit at every step must be within
  β = 0.25 of its target.
* A learner that carries state across sequences (:attr:`Learner.carries_state`, e.g. rtrl with
  ``reset=never``, the paper's "online RTRL, no activation resets") gives each sequence outputs
  that depend on the sequences before it, so the shortcut above (and the chunked, reordered test
  of 2b and 2c) would be wrong. For such a learner every Exp. 2 task judges the frozen network on
  its whole test stream in order, in one ``predict`` call (which for such a learner is one
  continuous stream from a copy of its training state): for 2a the 10,000 drawn sequences in the
  order drawn, for 2b and 2c the test sequences as stored (the check tries prefixes of
  doubling length, each from the training state, so an early failure stays cheap; see
  ``LagRun._stream_test``). When checks run is decided as for a resetting learner (the same
  ``screen`` and back-off cap: for 2a at most 2 on-line correct sequences in a row). The dense
  stream must fit :data:`STREAM_BYTES` (10,000 sequences of 2a at p = 4 take 5 MB; at p = 100,
  2.3 GiB: lower ``test_size`` to 4,000).
* 2b: every output unit at the final prediction (the x/y that repeats the first symbol) must be
  within β = 0.25; the other steps are unpredictable by construction and are not judged.
* 2c: both outputs at the final prediction within β = 0.2.

Ambiguities resolved here (docs/protocol.md §3.7):

* 2c target coding (not stated in the paper): output 0 stands for x, output 1 for y; the target
  is (1, 0) after a sequence that began b, x and (0, 1) after b, y.
* 2c length: the tail has k ~ Geometric(1/10) extra distractors (k ≥ 0, mean 9), so a sequence
  has q+k+4 symbols, expected q+13 (the paper's "q+14" is an arithmetic slip), and q+k+3 steps.
  Distractor indices run over a1 … a_p (the paper's "≤ q" must read "≤ p").
* 2c "training is capped at 5 million sequences": the default budget.
* Memory: a block of 100 one-hot 2c sequences at q = p = 1000 would need ~800 MB. Each run sets
  :attr:`TaskRun.max_block_sequences` so that a block's dense arrays stay near
  :data:`BLOCK_BYTES` (7 sequences at q = p = 1000; the full 100 for p ≤ 200).
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock, final_step_outputs, max_abs_error
from seqbench.contracts import Task, TaskRun, TaskSpec, TaskStreams
from seqbench.criteria import Criterion
from seqbench.errors import ParamError
from seqbench.hookspecs import hookimpl
from seqbench.params import Param

#: aim for at most this many bytes of dense inputs + targets + mask per training block
BLOCK_BYTES = 64 * 2**20
#: 2c tail allowance used to size blocks (P(k > 60) = 0.9**61 ≈ 0.16 %)
TAIL_ALLOWANCE = 60
#: the per-sequence check of the frozen test set is evaluated this many sequences at a time
TEST_CHUNK = 500
#: the most bytes (inputs, targets, outputs, mask, input symbols) of the one-call test stream
#: judged for a learner that carries state across sequences
STREAM_BYTES = 2**30


def _one_positions(symbols: np.ndarray, n_symbols: int) -> np.ndarray:
    """Flat positions of the ones in the C-ordered (n, T, n_symbols) one-hot array."""
    flat = symbols.ravel()
    steps = np.flatnonzero(flat >= 0)
    return steps * n_symbols + flat[steps]


def one_hot(symbols: np.ndarray, n_symbols: int) -> np.ndarray:
    """(n, T) integer symbols, ``-1`` for padding -> (n, T, n_symbols) float64 one-hot codes."""
    n, t = symbols.shape
    out = np.zeros(n * t * n_symbols)
    out[_one_positions(symbols, n_symbols)] = 1.0
    return out.reshape(n, t, n_symbols)


class OneHotBuffer:
    """One-hot encoding into a reused array: only the ones written last time are cleared.

    Allocating and zeroing a fresh wide array per block cost as much as training on it (2c at
    p = 100); clearing the previous ones costs O(steps). Each :meth:`encode` invalidates the array
    the previous call returned.
    """

    def __init__(self, n_symbols: int):
        self.n_symbols = n_symbols
        self._flat = np.zeros(0)
        self._ones = np.empty(0, np.int64)

    def __getstate__(self) -> dict:
        # scratch, not state: a checkpoint or a state handed between processes (8 MB per
        # buffer on Exp. 2a) carries none of it; the next encode allocates it afresh
        return {"n_symbols": self.n_symbols}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["n_symbols"])

    def encode(self, symbols: np.ndarray) -> np.ndarray:
        n, t = symbols.shape
        size = n * t * self.n_symbols
        if size > len(self._flat):
            self._flat = np.zeros(size + size // 4)  # headroom for 2c's varying padded length
        else:
            self._flat[self._ones] = 0.0
        self._ones = _one_positions(symbols, self.n_symbols)
        self._flat[self._ones] = 1.0
        return self._flat[:size].reshape(n, t, self.n_symbols)


def pad_mask(lengths: np.ndarray, width: int) -> np.ndarray:
    """(n, width) bool: True at the steps ``t < lengths[i]``."""
    return np.arange(width)[None, :] < np.asarray(lengths)[:, None]


# --------------------------------------------------------------------------- generators


def lag_2a_sequences(classes: np.ndarray, p: int) -> np.ndarray:
    """The 2a sequences (s, a1 … a_{p−1}, s) for ``classes`` (0: s = x, 1: s = y); (n, p+1)."""
    n = len(classes)
    seq = np.empty((n, p + 1), np.int16 if p < 2**15 - 1 else np.int32)
    seq[:, 1:p] = np.arange(p - 1)
    first = (p - 1) + np.asarray(classes)
    seq[:, 0] = first
    seq[:, p] = first
    return seq


def lag_2b_sequences(rng: np.random.Generator, n: int, p: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random 2b sequences and their classes; middle symbols uniform over a1 … a_{p−1}."""
    classes = rng.integers(0, 2, size=n)
    seq = lag_2a_sequences(classes, p)
    seq[:, 1:p] = rng.integers(0, p - 1, size=(n, p - 1))
    return seq, classes


def lag_2c_sequences(
    rng: np.random.Generator, n: int, q: int, p: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random 2c sequences, padded with ``-1``; returns ``(symbols, lengths, classes)``.

    Each sequence is (b, x|y, q + k distractors, e, x|y) with k ~ Geometric(1/10), k ≥ 0, so it
    has q + k + 4 symbols; ``lengths`` counts symbols.
    """
    e, b, x = p, p + 1, p + 2
    classes = rng.integers(0, 2, size=n)
    tail = rng.geometric(0.1, size=n) - 1
    lengths = q + tail + 4
    width = int(lengths.max())
    seq = rng.integers(0, p, size=(n, width)).astype(np.int16 if p + 4 < 2**15 else np.int32)
    rows = np.arange(n)
    seq[:, 0] = b
    seq[:, 1] = x + classes
    seq[rows, lengths - 2] = e
    seq[rows, lengths - 1] = x + classes
    seq[~pad_mask(lengths, width)] = -1
    return seq, lengths.astype(np.int64), classes


# --------------------------------------------------------------------------- criterion


class FrozenTestABS(Criterion):
    """ABS(β) on a test set, with the learner frozen, tried once the training history looks solved.

    ``observe`` tracks how many training sequences in a row the task judged correct (from the
    learner's on-line outputs); ``check`` runs ``test(predict) -> (passed, sequences evaluated)``
    only when that run is at least ``screen`` long. After a failed test the required run doubles
    and is at least the number of test sequences that test evaluated before failing (at most
    ``cap``, the test-set size): a net that fails
    one test sequence in a few thousand passes short on-line runs all the time, and re-testing it
    every ``check_every`` sequences cost several times the training (2c, q = p = 50). So the
    frozen tests cost at most about as many forward passes as training sequences; the price is
    that success may be noticed up to that many sequences late. ``milestones`` reports how many
    frozen tests were run.
    """

    observe_can_succeed = False
    frozen = True

    def __init__(self, name: str, test, screen: int, check_every: int, cap: int = 10_000):
        self.name = name
        self.cap = max(int(screen), int(cap))
        self.test = test
        self.screen = int(screen)
        self.check_every = int(check_every)
        self.run_length = 0
        self.required = self.screen
        self.milestones = {"frozen_tests": 0}

    def observe(self, correct: np.ndarray, error: np.ndarray) -> int | None:
        wrong = np.flatnonzero(~np.asarray(correct, dtype=bool))
        if len(wrong):
            self.run_length = len(correct) - 1 - int(wrong[-1])
        else:
            self.run_length += len(correct)
        return None

    def check(self, predict) -> bool:
        if self.run_length < self.required:
            return False
        self.milestones["frozen_tests"] += 1
        passed, evaluated = self.test(predict)
        if not passed:  # back off: double, at least what the failed test got, at most `cap`
            self.required = min(max(self.screen, int(evaluated), 2 * self.required), self.cap)
        return bool(passed)

    def check_frozen(self, predict, presented: int) -> bool:
        """The frozen test itself, without the on-line pre-screen (a set learner has no
        on-line outputs to screen)."""
        self.milestones["frozen_tests"] += 1
        return bool(self.test(predict)[0])

    def describe(self) -> str:
        return f"{self.name} (checked every {self.check_every} sequences)"


# --------------------------------------------------------------------------- runs


class LagRun(TaskRun):
    """Shared machinery of one Exp. 2 trial: encoding, judging, the frozen test and evaluation.

    Subclasses provide :meth:`_draw_training` (symbols, lengths) and :meth:`_encode`, and set
    ``beta``, ``test_symbols``/``test_lengths`` and ``test_weights`` (how many of the paper's
    10,000 test draws each stored test sequence stands for; all ones except in 2a).
    """

    beta: float
    judge_final_only: bool

    def __init__(self, task: Task, streams: TaskStreams):
        self.params = task.params
        self.spec = task.spec()
        self._buffers: dict[str, OneHotBuffer] = {}
        per_sequence = self._typical_steps() * (self.spec.n_inputs + self.spec.n_outputs + 1) * 8
        self.max_block_sequences = int(max(1, min(100, BLOCK_BYTES // per_sequence)))
        self.criterion = FrozenTestABS(
            name=f"ABS({self.beta:g}) on {self.params['test_size']:,} test sequences",
            test=self._frozen_test,
            screen=self.params["screen"],
            check_every=self.params["check_every"],
            cap=len(self.test_lengths),  # 2a: its two sequences, so no back-off worth having
        )

    # a learner without resets (TaskRun.learner_carries_state): judge the test stream in order
    @property
    def learner_carries_state(self) -> bool:
        return getattr(self, "_carries_state", False)

    @learner_carries_state.setter
    def learner_carries_state(self, value: bool) -> None:
        value = bool(value)
        if value:
            lengths = self._stream_sequences()[1]
            need = len(lengths) * int(lengths.max()) * (  # inputs, targets, outputs, mask,
                (self.spec.n_inputs + 2 * self.spec.n_outputs) * 8 + 1 + 8)  # input symbols
            if need > STREAM_BYTES:
                raise ParamError(
                    f"a learner that carries state is judged on all {len(lengths):,} test "
                    f"sequences in one predict call, which needs {need / 2**30:.1f} GiB here "
                    f"(limit {STREAM_BYTES / 2**30:g} GiB); lower test_size")
        self._carries_state = value
        self._stream_block = None

    def _stream_sequences(self) -> tuple[np.ndarray, np.ndarray]:
        """The test sequences, symbols and lengths, in the order a learner carrying state
        meets them."""
        return self.test_symbols, self.test_lengths

    def _stream(self) -> SequenceBlock:
        """The test stream as one dense block (encoded once per trial)."""
        if getattr(self, "_stream_block", None) is None:
            symbols, lengths = self._stream_sequences()
            self._stream_block = self._encode(symbols[:, : int(lengths.max())], lengths)
        return self._stream_block

    def _stream_test(self, predict) -> tuple[bool, int]:
        """The frozen test of a learner that carries state: the test stream in order, judged on
        prefixes of doubling length (1, 2, 4, ... sequences, then all), each in one predict call
        from the learner's training state. A prefix's outputs are those of the whole stream's
        first sequences, so the verdict is the whole stream's, while a net failing early costs a
        few sequences instead of all (a full pass costs about 2.6 streams). Returns whether all
        passed and the sequences up to and including the first failure (or all)."""
        block = self._stream()
        n, size = len(block), 1
        while True:
            part = block if size >= n else block.take(slice(0, size))
            failed = np.flatnonzero(self.judged_abs_error(part, predict(part)) >= self.beta)
            if len(failed):
                return False, int(failed[0]) + 1
            if size >= n:
                return True, n
            size *= 2

    def _stream_errors(self, predict) -> np.ndarray:
        """Judged absolute errors of every sequence of the test stream, from one predict call."""
        block = self._stream()
        return self.judged_abs_error(block, predict(block))

    # subclass interface
    def _typical_steps(self) -> int:
        raise NotImplementedError

    def _draw_training(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _encode(self, symbols: np.ndarray, lengths: np.ndarray, reuse: bool = False
                ) -> SequenceBlock:
        """Dense block of the sequences (``reuse``: into this run's reused training buffers)."""
        raise NotImplementedError

    def _one_hot(self, symbols: np.ndarray, reuse: bool, which: str = "inputs") -> np.ndarray:
        if not reuse:
            return one_hot(symbols, self.spec.n_inputs)
        if which not in self._buffers:
            self._buffers[which] = OneHotBuffer(self.spec.n_inputs)
        return self._buffers[which].encode(symbols)

    # TaskRun
    def training_block(self, n: int) -> SequenceBlock:
        """The next ``n`` training sequences; the block's arrays are reused by the next call."""
        return self._encode(*self._draw_training(n), reuse=True)

    def judge(self, block: SequenceBlock, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Correct iff ABS(β) holds; the error measure is the largest judged absolute error."""
        err = self.judged_abs_error(block, outputs)
        return err < self.beta, err

    def judged_abs_error(self, block: SequenceBlock, outputs: np.ndarray) -> np.ndarray:
        """Per sequence: the largest absolute output error over the steps the criterion judges."""
        if self.judge_final_only:
            return np.abs(final_step_outputs(block, block.targets)
                          - final_step_outputs(block, outputs)).max(axis=1)
        return max_abs_error(block, outputs)

    def _test_errors(self, predict, stop_at_failure: bool) -> np.ndarray:
        """Judged absolute errors of the test sequences, chunk by chunk (stops early if asked)."""
        chunk = min(TEST_CHUNK, self.max_block_sequences)
        errors = []
        for start in range(0, len(self.test_lengths), chunk):
            sl = slice(start, start + chunk)
            lengths = self.test_lengths[sl]
            block = self._encode(self.test_symbols[sl, : int(lengths.max())], lengths)
            err = self.judged_abs_error(block, predict(block))
            errors.append(err)
            if stop_at_failure and (err >= self.beta).any():
                break
        return np.concatenate(errors)

    def _frozen_test(self, predict) -> tuple[bool, int]:
        """Whether every test sequence passes ABS(β), and how many were evaluated.

        The sequences that failed the last test are tried first: a nearly solved net tends to
        fail the same few sequences again, and finding one ends the test (the verdict is an
        "all pass", so the order cannot change it).

        For a learner that carries state the order does matter: see :meth:`_stream_test`.
        """
        if self.learner_carries_state:
            return self._stream_test(predict)
        n = len(self.test_lengths)
        suspects = getattr(self, "_suspects", np.arange(0))
        rest = np.setdiff1d(np.arange(n), suspects)
        chunk = min(TEST_CHUNK, self.max_block_sequences)
        batches = ([suspects] if len(suspects) else []) + [
            rest[i:i + chunk] for i in range(0, len(rest), chunk)]
        evaluated = 0
        for idx in batches:
            lengths = self.test_lengths[idx]
            block = self._encode(self.test_symbols[idx, : int(lengths.max())], lengths)
            failed = self.judged_abs_error(block, predict(block)) >= self.beta
            evaluated += len(idx)
            if failed.any():
                self._suspects = idx[failed]
                return False, evaluated
        return True, evaluated

    def evaluate(self, predict) -> dict[str, float]:
        """``test_error``: fraction of the test draws failing ABS(β) with the final weights
        (for a learner that carries state: of the test stream, judged in order)."""
        if self.learner_carries_state:
            err = self._stream_errors(predict)
            w = np.ones(len(err))
        else:
            err = self._test_errors(predict, stop_at_failure=False)
            w = self.test_weights
        return {
            "test_error": float(((err >= self.beta) * w).sum() / w.sum()),
            "test_max_abs_error": float(err.max()),
            "test_mean_abs_error": float((err * w).sum() / w.sum()),
        }


class PredictionRun(LagRun):
    """A 2a or 2b trial: p+1 symbols, p steps, next-symbol targets at every step."""

    def _typical_steps(self) -> int:
        return self.params["p"]

    def _encode(self, symbols, lengths, reuse=False) -> SequenceBlock:
        steps = lengths - 1
        width = int(steps.max())
        mask = pad_mask(steps, width)
        inputs = symbols[:, :width]
        targets = symbols[:, 1:width + 1]
        return SequenceBlock(self._one_hot(inputs, reuse), self._one_hot(targets, reuse, "targets"),
                             mask, steps, input_symbols=inputs, target_symbols=targets)


class Lag2aRun(PredictionRun):
    """One 2a trial: the two-sequence training set, presented in random order."""

    beta = 0.25
    judge_final_only = False

    def __init__(self, task: Task, streams: TaskStreams):
        p = task.params["p"]
        self.order = streams.order
        self.training_sequences = lag_2a_sequences(np.array([0, 1]), p)
        self.test_symbols = self.training_sequences
        self.test_lengths = np.full(2, p + 1)
        #: the 10,000 successive test sequences (their classes, in order); a learner that
        #: resets its state is judged on the two sequences, weighted by how often each was drawn
        self.test_draws = streams.test.integers(0, 2, size=task.params["test_size"])
        self.test_weights = np.bincount(self.test_draws, minlength=2).astype(float)
        super().__init__(task, streams)

    def _draw_training(self, n):
        return self.training_sequences[self.order.integers(0, 2, size=n)], \
            np.full(n, self.params["p"] + 1)

    def training_set(self) -> SequenceBlock:
        """The two training sequences, (y, a1 ... a_{p-1}, y) and (x, a1 ... a_{p-1}, x)."""
        return self._encode(self.training_sequences, np.full(2, self.params["p"] + 1))

    def _stream_sequences(self):
        n = len(self.test_draws)
        return self.training_sequences[self.test_draws], np.full(n, self.params["p"] + 1)


class Lag2bRun(PredictionRun):
    """One 2b trial: fresh random middle parts for every training and test sequence."""

    beta = 0.25
    judge_final_only = True

    def __init__(self, task: Task, streams: TaskStreams):
        p = task.params["p"]
        self.data = streams.data
        self.test_symbols, _ = lag_2b_sequences(streams.test, task.params["test_size"], p)
        self.test_lengths = np.full(task.params["test_size"], p + 1)
        self.test_weights = np.ones(task.params["test_size"])
        super().__init__(task, streams)

    def _draw_training(self, n):
        return lag_2b_sequences(self.data, n, self.params["p"])[0], np.full(n, self.params["p"] + 1)


class Lag2cRun(LagRun):
    """One 2c trial: on-line random sequences with a target only at the last step."""

    beta = 0.2
    judge_final_only = True

    def __init__(self, task: Task, streams: TaskStreams):
        q, p = task.params["q"], task.params["p"]
        self.data = streams.data
        self.test_symbols, self.test_lengths, _ = lag_2c_sequences(
            streams.test, task.params["test_size"], q, p)
        self.test_weights = np.ones(task.params["test_size"])
        super().__init__(task, streams)

    def _typical_steps(self) -> int:
        return self.params["q"] + 3 + TAIL_ALLOWANCE

    def _draw_training(self, n):
        symbols, lengths, _ = lag_2c_sequences(self.data, n, self.params["q"], self.params["p"])
        return symbols, lengths

    def _encode(self, symbols, lengths, reuse=False) -> SequenceBlock:
        p = self.params["p"]
        steps = lengths - 1
        width = int(steps.max())
        n = len(lengths)
        rows = np.arange(n)
        targets = np.zeros((n, width, 2))
        targets[rows, steps - 1, symbols[rows, lengths - 1] - (p + 2)] = 1.0
        mask = np.zeros((n, width), bool)
        mask[rows, steps - 1] = True
        inputs = np.where(pad_mask(steps, width), symbols[:, :width], -1)  # not the final x|y
        return SequenceBlock(self._one_hot(inputs, reuse), targets, mask, steps,
                             input_symbols=inputs)


# --------------------------------------------------------------------------- tasks

_PROTOCOL_PARAMS = {
    "test_size": Param(10_000, "sequences the frozen success test (and the final test) uses; "
                       "the paper's 10,000", "int", low=1, high=1_000_000),
    "check_every": Param(100, "training sequences between success tests", "int",
                         low=1, high=10_000_000),
}


def _screen(default: int) -> Param:
    return Param(default, "the frozen success test runs only after this many training "
                 "sequences in a row were judged correct on-line (0: always)", "int",
                 low=0, high=10_000_000)


class Lag2a(Task):
    """Task 2a: noise-free sequences, long lags, local regularities (docs/protocol.md §3.1)."""

    name = "lag-2a"
    summary = "2-sequence next-symbol prediction, lag p, ABS(0.25) at every step (Exp. 2a)"
    paper_section = "docs/protocol.md §3.1; H&S97 Sec. 5.2 (Task 2a), Tables 2, 10, 11"
    default_budget = 5_000_000
    default_trials = 18
    params = {
        "p": Param(100, "delay: the sequence has p+1 symbols and p+1 one-hot units", "int",
                   low=2, high=10_000),
        **_PROTOCOL_PARAMS,
        "screen": _screen(0),
    }

    def spec(self) -> TaskSpec:
        k = self.params["p"] + 1
        return TaskSpec(n_inputs=k, n_outputs=k, targets="every_step")

    def start(self, streams: TaskStreams) -> Lag2aRun:
        return Lag2aRun(self, streams)


class Lag2b(Lag2a):
    """Task 2b: as 2a, random middle symbols, judged at the final step (docs/protocol.md §3.2)."""

    name = "lag-2b"
    summary = "random-middle next-symbol prediction, lag p, ABS(0.25) at the end (Exp. 2b)"
    paper_section = "docs/protocol.md §3.2; H&S97 Sec. 5.2 (Task 2b), Tables 10, 11"
    params = dict(Lag2a.params, screen=_screen(100))

    def start(self, streams: TaskStreams) -> Lag2bRun:
        return Lag2bRun(self, streams)


class Lag2c(Task):
    """Task 2c: very long lags, p distractors, target only at the end (docs/protocol.md §3.3)."""

    name = "lag-2c"
    summary = "b, x|y, q+k distractors, e -> predict x|y on 2 outputs, ABS(0.2) (Exp. 2c)"
    paper_section = "docs/protocol.md §3.3; H&S97 Sec. 5.2 (Task 2c), Tables 3, 10, 11"
    default_budget = 5_000_000
    default_trials = 20
    params = {
        "q": Param(100, "minimal number of distractors (time lag − 1)", "int", low=0,
                   high=100_000),
        "p": Param(100, "number of distinct distractor symbols (p+4 inputs)", "int", low=1,
                   high=10_000),
        **_PROTOCOL_PARAMS,
        "screen": _screen(100),
    }

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=self.params["p"] + 4, n_outputs=2, targets="final_step")

    def start(self, streams: TaskStreams) -> Lag2cRun:
        return Lag2cRun(self, streams)


@hookimpl
def seqbench_register_tasks(register):
    register(Lag2a)
    register(Lag2b)
    register(Lag2c)
