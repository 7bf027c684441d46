"""Shared pieces of the conformance kit: constants, the toy task, the constant learner, helpers."""

from __future__ import annotations

import re
import time
import unittest
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ..blocks import SequenceBlock, final_step_outputs
from ..contracts import Learner, Task, TaskRun, TaskSpec, TaskStreams
from ..criteria import PeriodicCheck, SuccessiveCorrect
from ..params import Param, resolve_params
from ..trial import stream

#: the kit's base seed; every random number it draws comes from ``stream(SEED, ...)``
SEED = 1997
#: sequences the learning smoke test trains on
LEARN_BUDGET = 2000
#: sequences per training call in the learning smoke test and trial checks (the harness's size)
LEARN_BLOCK = 100
#: sequences a set learner may present in the learning smoke test (it fits on a fixed sample of
#: ``SET_SIZE`` toy sequences; a search such as random guessing needs more passes than a
#: gradient learner needs fresh sequences)
LEARN_BUDGET_SET = 20_000
#: sequences in the fixed toy training set a set learner fits on in the kit's checks
SET_SIZE = 200
#: a plugin's name must be usable in ``--learners a,b@preset`` and ``-p learner.key=value``
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")

Check = Callable[[], None]


class SkipCheck(unittest.SkipTest):
    """Raised by a check that does not apply (pytest reports it as skipped)."""


@runtime_checkable
class GradientProtocol(Protocol):
    """The optional gradient protocol of a learner (duck-typed; no base class needed).

    ``get_weights()`` returns a copy of every trainable weight as one flat float64 array;
    ``set_weights(w)`` sets them from such an array (same length and order) without resetting
    anything else; ``loss_gradient(block)`` returns dE/dw in the same order, with the weights
    frozen, for E = ½ Σ over the block's sequences, the steps with a target and the output
    units of (target − y)², y being the outputs :meth:`Learner.predict` gives.

    ``gradient_truncated`` (class attribute, default False) declares that ``loss_gradient`` is
    the learner's truncated approximation of dE/dw rather than dE/dw itself.
    """

    def get_weights(self) -> np.ndarray: ...

    def set_weights(self, weights: np.ndarray) -> None: ...

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray: ...


GRADIENT_METHODS = ("get_weights", "set_weights", "loss_gradient")


# --- the toy task of the learning smoke test --------------------------------------------------


class RecallFirstBitRun(TaskRun):
    """Data of :class:`RecallFirstBit` for one trial."""

    def __init__(self, task: RecallFirstBit, streams: TaskStreams):
        self.max_lag = task.params["max_lag"]
        self.streams = streams
        if task.params["judge"] == "frozen":
            held_out = recall_first_bit_block(streams.test, SET_SIZE, self.max_lag)
            self.criterion = PeriodicCheck(
                "every held-out sequence within 0.5 of its bit",
                lambda predict: bool(self.judge(held_out, predict(held_out))[0].all()),
                check_every=LEARN_BLOCK)
        else:
            self.criterion = SuccessiveCorrect(task.params["successes"])

    def training_block(self, n: int) -> SequenceBlock:
        return recall_first_bit_block(self.streams.data, n, self.max_lag)

    def judge(self, block, outputs):
        error = final_step_outputs(block, outputs - block.targets)[:, 0]
        return np.abs(error) < 0.5, error ** 2

    def evaluate(self, predict) -> dict[str, float]:
        block = recall_first_bit_block(self.streams.test, 200, self.max_lag)
        correct, error = self.judge(block, predict(block))
        return {"test_error": float(1.0 - correct.mean()), "test_mse": float(error.mean())}


def recall_first_bit_block(rng: np.random.Generator, n: int, max_lag: int) -> SequenceBlock:
    """``n`` sequences: a bit one-hot on inputs 0/1 at step 0, ``lag`` in 1..max_lag steps later
    a query on input 2, where the only target is the bit."""
    bits = rng.integers(0, 2, size=n)
    lags = rng.integers(1, max_lag + 1, size=n)
    lengths = lags + 1
    t = int(lengths.max())
    rows = np.arange(n)
    inputs = np.zeros((n, t, 3))
    inputs[rows, 0, bits] = 1.0
    inputs[rows, lags, 2] = 1.0
    targets = np.zeros((n, t, 1))
    targets[rows, lags, 0] = bits
    mask = np.zeros((n, t), bool)
    mask[rows, lags] = True
    return SequenceBlock(inputs, targets, mask, lengths)


class RecallFirstBit(Task):
    """Toy task of the kit: output, when queried 1 or 2 steps later, the bit shown at step 0.

    Three inputs (bit 0, bit 1, query), one logistic output, one target at the last step. A
    sequence is correct when the output is within 0.5 of the bit; a constant output is right on
    about half the sequences, so falling well below the best constant's squared error (0.25)
    needs memory. Not registered as a plugin: it lives in the kit.
    """

    name = "recall-first-bit"
    summary = "toy task of seqbench.testing: recall a bit 1-2 steps later"
    default_budget = LEARN_BUDGET
    default_trials = 1
    params = {
        "max_lag": Param(2, "largest number of steps between the bit and the query", "int",
                         low=1, high=1000),
        "successes": Param(200, "successive correct sequences that count as solved", "int",
                           low=1, high=1_000_000),
        "judge": Param("history", "history: solved after `successes` correct training "
                       "sequences in a row; frozen: solved when the frozen net gets 200 "
                       "held-out sequences right (the form a set learner can be judged by)",
                       "str", choices=("history", "frozen")),
    }

    def spec(self) -> TaskSpec:
        return TaskSpec(n_inputs=3, n_outputs=1, targets="final_step")

    def start(self, streams: TaskStreams) -> RecallFirstBitRun:
        return RecallFirstBitRun(self, streams)


class ConstantLearner(Learner):
    """Outputs ``value`` at every step and learns nothing: the baseline no task may reward."""

    name = "constant"
    summary = "constant output (seqbench.testing's baseline)"
    params = {"value": Param(0.5, "the output of every unit at every step", "float")}

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self._n_outputs = spec.n_outputs

    @property
    def n_weights(self) -> int:
        return 1

    def train(self, block: SequenceBlock) -> np.ndarray:
        return self.predict(block)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return np.full((len(block), block.inputs.shape[1], self._n_outputs),
                       float(self.params["value"]))

    # a constant needs no state, so it runs continual tasks too (seqbench.continual)
    continual = True

    def start_stream(self, training: bool) -> None:
        pass

    def train_steps(self, block: SequenceBlock, rule, resets: bool) -> tuple[int, bool]:
        return self.test_steps(block, rule, resets)

    def test_steps(self, block: SequenceBlock, rule, resets: bool) -> tuple[int, bool]:
        from ..continual import first_wrong

        return first_wrong(block, self.predict(block), rule)


# --- shared helpers ---------------------------------------------------------------------------


def task_streams(seed: int, trial: int = 0) -> TaskStreams:
    """The streams the harness gives trial ``trial`` of base seed ``seed`` (dataset = trial)."""
    return TaskStreams(data=stream(seed, "data", trial), order=stream(seed, "order", trial),
                       test=stream(seed, "test", trial))


def valid_steps(block: SequenceBlock) -> np.ndarray:
    """(n, T) mask of the real (unpadded) steps of ``block``."""
    return np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]


def squared_error(block: SequenceBlock, outputs: np.ndarray) -> float:
    """½ Σ (target − y)² over the steps with a target: the loss of the gradient protocol."""
    use = valid_steps(block) & block.target_mask
    return 0.5 * float(((block.targets - outputs) ** 2)[use].sum())


def random_block(spec: TaskSpec, rng: np.random.Generator, lengths) -> SequenceBlock:
    """Sequences of the given lengths with random inputs in [-1, 1], random targets in the
    spec's target range and a random target mask (at least the last step of each sequence)."""
    lengths = np.asarray(lengths, np.int64)
    n, t = len(lengths), int(lengths.max())
    valid = np.arange(t)[None, :] < lengths[:, None]
    lo, hi = spec.target_range
    inputs = rng.uniform(-1.0, 1.0, (n, t, spec.n_inputs)) * valid[:, :, None]
    targets = rng.uniform(lo, hi, (n, t, spec.n_outputs)) * valid[:, :, None]
    mask = (rng.random((n, t)) < 0.7) & valid
    mask[np.arange(n), lengths - 1] = True
    return SequenceBlock(inputs, targets, mask, lengths)


def _same_on_valid(block: SequenceBlock, a: np.ndarray, b: np.ndarray, exact: bool = True) -> bool:
    v = valid_steps(block)
    if exact:
        return bool(np.array_equal(a[v], b[v]))
    return bool(np.allclose(a[v], b[v], rtol=1e-9, atol=1e-12))


def _max_diff(block: SequenceBlock, a: np.ndarray, b: np.ndarray) -> float:
    v = valid_steps(block)
    return float(np.max(np.abs(a[v] - b[v]))) if v.any() else 0.0


def _check_name(kind: str, cls: type) -> None:
    name = getattr(cls, "name", "")
    assert isinstance(name, str) and NAME_PATTERN.match(name), (
        f"{kind} name {name!r} must be a lower-case word of letters, digits, '-' or '_' (it is "
        "typed in --learners a,b@preset and -p learner.key=value)")
    summary = getattr(cls, "summary", "")
    assert isinstance(summary, str) and summary.strip(), (
        f"{kind} {name!r} needs a one-line ``summary`` (shown by 'seqbench list')")


def _check_declared_params(cls: type, test_params: Mapping[str, Any]) -> None:
    declared = getattr(cls, "params", None)
    assert isinstance(declared, Mapping), "``params`` must be a mapping of names to Param"
    for key, param in declared.items():
        assert isinstance(key, str) and key.isidentifier(), (
            f"parameter name {key!r} is not an identifier")
        assert isinstance(param, Param), f"parameter {key!r} is declared as {param!r}, not a Param"
        assert isinstance(param.doc, str) and param.doc.strip(), f"parameter {key!r} has no doc"
        try:
            coerced = param.coerce(key, param.default, cls.name)
        except Exception as exc:
            raise AssertionError(f"default of parameter {key!r} is invalid: {exc}") from exc
        assert coerced == param.default and type(coerced) is type(param.default), (
            f"default of parameter {key!r} is {param.default!r} ({type(param.default).__name__}), "
            f"which validates as {coerced!r} ({type(coerced).__name__}); declare it in its "
            "validated form so that defaults and given values hash alike")
    try:
        resolve_params(declared, test_params, cls.name)
    except Exception as exc:
        raise AssertionError(
            f"``test_params`` {dict(test_params)!r} do not validate: {exc}") from exc


def _check_constructor(cls: type, params: Mapping[str, Any]) -> None:
    t0 = time.perf_counter()
    obj = cls(**params)
    elapsed = time.perf_counter() - t0
    assert set(vars(obj)) == {"params"}, (
        f"the constructor set {sorted(set(vars(obj)) - {'params'})} besides ``params``; it must "
        "only store the parameters (build or start does the work)")
    assert obj.params == dict(params), (
        f"``params`` after construction is {obj.params!r}, not the {dict(params)!r} it was given")
    again = cls(**obj.params)
    assert again.params == obj.params, "constructing from ``obj.params`` gives other params"
    assert elapsed < 0.5, f"constructing took {elapsed:.2f} s; the constructor must do no work"


def _run_checks(checks: list[tuple[str, Check]]) -> dict[str, str]:
    """Run ``checks`` in order until one fails; name -> "passed" or "skipped: why"."""
    outcome: dict[str, str] = {}
    for check_name, check in checks:
        try:
            check()
        except SkipCheck as why:
            outcome[check_name] = f"skipped: {why}"
            continue
        outcome[check_name] = "passed"
    return outcome


def _named(kind: str, name: str, check_name: str, body: Callable[[], None]) -> Check:
    """``body`` as a check whose failure message names the check and the plugin."""

    def check() -> None:
        try:
            body()
        except SkipCheck:
            raise
        except AssertionError as exc:
            raise AssertionError(f"{check_name} failed for {kind} {name!r}: {exc}") from exc
        except Exception as exc:
            raise AssertionError(
                f"{check_name} failed for {kind} {name!r}: raised {type(exc).__name__}: {exc}"
            ) from exc

    check.__name__ = check_name
    return check


