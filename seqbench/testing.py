"""Conformance checks for seqbench plugins, as scikit-learn's ``check_estimator`` for estimators.

A plugin author runs the whole kit on a learner or a task::

    from seqbench.testing import check_learner, check_task

    check_learner(MyLearner)                     # on the kit's toy task
    check_learner(MyLearner, task=MyTask)        # on sequences of a real task too
    check_task(MyTask, params={"length": 8})     # small parameters keep it fast

Each call runs a list of named checks and raises an :class:`AssertionError` that names the first
check that failed; it returns a dict of check name -> ``"passed"`` or ``"skipped: why"``. The
same checks, one by one, for ``pytest.mark.parametrize``: :func:`learner_checks` and
:func:`task_checks` return ``(name, check)`` pairs whose ``check()`` takes no argument.

Parameters: the kit starts from the plugin's declared defaults, overlaid with the class attribute
``test_params`` when the plugin declares one (a mapping of small, fast parameter values, e.g.
``test_params = {"hidden": 4}`` or ``{"T": 12}``), overlaid with what the caller passes.

Learners that expose their gradient implement the optional **gradient protocol** (duck-typed,
see :class:`GradientProtocol`); the kit then checks it against central finite differences of
½Σ(target − y)². A learner whose rule follows a *truncated* gradient (the 1997 LSTM, Elman's
one-step rule, truncated BPTT) sets ``gradient_truncated = True``; its gradient is then checked
only on one-step sequences, where no error crosses a time step and truncation drops nothing.
The truncated rule on longer sequences is the author's to test against a clamped reference.

Everything here is seeded: a check that passes once passes every time.
"""

from __future__ import annotations

import copy
import math
import numbers
import random
import re
import time
import unittest
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .blocks import SequenceBlock, final_step_outputs
from .contracts import Learner, Task, TaskRun, TaskSpec, TaskStreams
from .criteria import Criterion, SuccessiveCorrect
from .params import Param, resolve_params
from .trial import stream

#: the kit's base seed; every random number it draws comes from ``stream(SEED, ...)``
SEED = 1997
#: sequences the learning smoke test trains on
LEARN_BUDGET = 2000
#: sequences per training call in the learning smoke test and trial checks (the harness's size)
LEARN_BLOCK = 100
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


# --- learners ---------------------------------------------------------------------------------


@dataclass
class LearnerCase:
    """A learner class with resolved parameters and the task whose sequences the checks use."""

    learner: type[Learner]
    params: dict[str, Any]
    task: Task

    @property
    def spec(self) -> TaskSpec:
        return self.task.spec()

    def new(self) -> Learner:
        """A constructed, unbuilt learner."""
        return self.learner(**self.params)

    def built(self, seed: int = SEED, spec: TaskSpec | None = None) -> Learner:
        """A learner built for the task (or ``spec``) with initial weights from ``seed``."""
        learner = self.new()
        learner.build(spec or self.spec, stream(seed, "init", 0))
        return learner

    def block(self, n: int, seed: int = SEED) -> SequenceBlock:
        """The first ``n`` training sequences of the task under ``seed``."""
        return self.task.start(task_streams(seed)).training_block(n)


def learner_case(learner: type[Learner], params: Mapping[str, Any] | None = None, *,
                 task: type[Task] | Task | None = None,
                 task_params: Mapping[str, Any] | None = None) -> LearnerCase:
    """Resolve parameters (defaults, then ``test_params``, then ``params``) and the task."""
    given = {**dict(getattr(learner, "test_params", {}) or {}), **dict(params or {})}
    resolved = resolve_params(getattr(learner, "params", {}), given, getattr(learner, "name", "?"))
    return LearnerCase(learner, resolved, _task_instance(task or RecallFirstBit, task_params))


def _task_instance(task: type[Task] | Task, params: Mapping[str, Any] | None) -> Task:
    if isinstance(task, Task):
        return task
    given = {**dict(getattr(task, "test_params", {}) or {}), **dict(params or {})}
    return task(**resolve_params(task.params, given, task.name))


def check_learner_declaration(case: LearnerCase) -> None:
    """Subclass of Learner; a usable name and summary; aliases a tuple of usable names; every
    parameter a documented :class:`Param` whose default validates as itself."""
    cls = case.learner
    assert isinstance(cls, type) and issubclass(cls, Learner), f"{cls!r} is not a Learner subclass"
    _check_name("learner", cls)
    assert isinstance(cls.aliases, tuple), "``aliases`` must be a tuple"
    for alias in cls.aliases:
        assert isinstance(alias, str) and NAME_PATTERN.match(alias), f"alias {alias!r} is unusable"
    _check_declared_params(cls, getattr(cls, "test_params", {}) or {})


def check_learner_constructor(case: LearnerCase) -> None:
    """The constructor only stores the parameters: ``params`` round-trips, nothing else is set,
    nothing slow happens."""
    _check_constructor(case.learner, case.params)
    _check_constructor(case.learner, resolve_params(case.learner.params, {}, case.learner.name))


def check_learner_build(case: LearnerCase) -> None:
    """After build: ``n_weights`` a positive int that the same spec always gives; ``is_finite()``
    True; ``compile()`` warms up without changing what the network computes."""
    learner = case.built()
    n = learner.n_weights
    assert isinstance(n, numbers.Integral) and not isinstance(n, bool) and n > 0, (
        f"n_weights is {n!r}; it must be a positive int")
    assert case.built(SEED + 1).n_weights == n, "n_weights depends on the initial-weight seed"
    assert learner.is_finite() is True, f"is_finite() is {learner.is_finite()!r} after build"
    block = case.block(4)
    before = learner.predict(block)
    assert learner.compile() is None, "compile() must return None"
    after = learner.predict(block)
    assert _same_on_valid(block, before, after), (
        f"compile() changed the network's outputs (by up to {_max_diff(block, before, after):.3g})")


def check_learner_output_shapes(case: LearnerCase) -> None:
    """train and predict return float64 arrays of shape (sequences, padded length, n_outputs),
    finite on every real step."""
    learner = case.built()
    learner.compile()
    for n in (1, 5):
        block = case.block(n)
        want = (len(block), block.inputs.shape[1], case.spec.n_outputs)
        for what in ("predict", "train"):
            out = getattr(learner, what)(block)
            assert isinstance(out, np.ndarray), f"{what} returned {type(out).__name__}"
            assert out.dtype == np.float64, f"{what} returned dtype {out.dtype}, not float64"
            assert out.shape == want, f"{what} returned shape {out.shape}, expected {want}"
            assert np.isfinite(out[valid_steps(block)]).all(), f"{what} gave non-finite outputs"


def check_learner_sizes_to_spec(case: LearnerCase) -> None:
    """The network takes its input and output sizes from the TaskSpec it is built for."""
    for n_in, n_out in ((2, 3), (5, 1)):
        spec = TaskSpec(n_inputs=n_in, n_outputs=n_out, targets="every_step")
        learner = case.built(spec=spec)
        block = random_block(spec, stream(SEED, "data", 7), [3, 1])
        out = learner.predict(block)
        assert out.shape == (2, 3, n_out), (
            f"built for {n_in} inputs and {n_out} outputs, predict returned shape {out.shape}")
        out = learner.train(block)
        assert out.shape == (2, 3, n_out), f"train returned shape {out.shape}"


def check_learner_determinism(case: LearnerCase) -> None:
    """The same initial-weight seed and the same block give identical outputs (training and
    prediction); another seed gives another network."""
    block, later = case.block(6), case.block(6, SEED + 1)
    a, b = case.built(), case.built()
    a.compile()
    train_a, train_b = a.train(block), b.train(block)
    assert _same_on_valid(block, train_a, train_b), (
        f"two learners built from one seed trained on one block gave different outputs (by up "
        f"to {_max_diff(block, train_a, train_b):.3g})")
    pa, pb = a.predict(later), b.predict(later)
    assert _same_on_valid(later, pa, pb), "after identical training, predictions differ"
    other = case.built(SEED + 1).predict(later)
    fresh = case.built().predict(later)
    assert not _same_on_valid(later, other, fresh), (
        "learners built from different seeds compute the same outputs: build ignores its rng")


def check_learner_resets_state(case: LearnerCase) -> None:
    """Network state is reset at every sequence start: predicting a block gives each sequence
    the outputs it gets alone."""
    learner = case.built()
    learner.compile()
    block = case.block(4)
    together = learner.predict(block)
    for i in range(len(block)):
        alone_block = block.take(np.array([i]))
        alone = learner.predict(alone_block)
        t = int(block.lengths[i])
        assert np.allclose(together[i, :t], alone[0, :t], rtol=1e-9, atol=1e-12), (
            f"sequence {i} gives other outputs after sequences 0..{i - 1} than alone (by up to "
            f"{np.max(np.abs(together[i, :t] - alone[0, :t])):.3g}): state leaks between sequences")


def check_learner_block_split(case: LearnerCase) -> None:
    """Training on a block in one call or in two calls gives the same outputs and the same net:
    the harness cuts training into blocks wherever its checks fall."""
    block, probe = case.block(8), case.block(4, SEED + 1)
    whole, split = case.built(), case.built()
    out_whole = whole.train(block)
    first = split.train(block.take(slice(0, 3)))
    second = split.train(block.take(slice(3, 8)))
    for i in range(8):
        t = int(block.lengths[i])
        part = first[i] if i < 3 else second[i - 3]
        assert np.allclose(out_whole[i, :t], part[:t], rtol=1e-9, atol=1e-12), (
            f"sequence {i}: outputs differ when the block is split after sequence 2")
    assert _same_on_valid(probe, whole.predict(probe), split.predict(probe), exact=False), (
        "the net trained in one call predicts differently from the net trained in two")


def check_learner_predict_is_pure(case: LearnerCase) -> None:
    """predict changes nothing: the same outputs twice, and later training as if it never ran
    (and, for the gradient protocol, the same weights)."""
    block, train_block = case.block(4), case.block(6, SEED + 1)
    a, b = case.built(), case.built()
    weights = a.get_weights().copy() if _has_gradient_protocol(a) else None
    first, second = a.predict(block), a.predict(block)
    assert _same_on_valid(block, first, second), "predicting one block twice gave different outputs"
    if weights is not None:
        assert np.array_equal(weights, a.get_weights()), "predict changed the weights"
    assert _same_on_valid(train_block, a.train(train_block), b.train(train_block)), (
        "training after predict gives other outputs than training without it: predict left "
        "state behind")


def check_learner_copy(case: LearnerCase) -> None:
    """A built learner survives ``copy.deepcopy`` as an independent twin (the harness copies it
    to roll back to the point where a criterion held)."""
    block = case.block(4)
    learner = case.built()
    before = learner.predict(block)
    twin = copy.deepcopy(learner)
    assert _same_on_valid(block, twin.predict(block), before), "the copy predicts differently"
    twin.train(case.block(6, SEED + 1))
    assert _same_on_valid(block, learner.predict(block), before), (
        "training the copy changed the original: they share weight arrays")


def check_learner_trial(case: LearnerCase) -> None:
    """A short trial through the harness's own :func:`~seqbench.trial.run_trial` on the task
    ends without error or divergence and records the weight count."""
    from .plugins import Registry
    from .trial import TrialSpec, run_trial

    registry = Registry()
    registry.tasks[case.task.name] = type(case.task)
    registry.learners[case.learner.name] = case.learner
    spec = TrialSpec(task=case.task.name, learner=case.learner.name,
                     task_params=case.task.params, learner_params=case.params, seed=SEED,
                     trial=0, budget=2 * LEARN_BLOCK)
    result = run_trial(spec, registry)
    assert result.status not in ("error", "diverged"), (
        f"a {spec.budget}-sequence trial ended {result.status}: "
        f"{result.error or result.stop_reason}")
    assert result.n_weights == case.built().n_weights


def check_learner_learns(case: LearnerCase) -> None:
    """Smoke test of learning: on the kit's toy task (recall a bit 1-2 steps later), after
    ``LEARN_BUDGET`` training sequences the squared error on 500 held-out sequences is below
    half that of the best constant output (0.25), and below the untrained net's."""
    toy = RecallFirstBit(**resolve_params(RecallFirstBit.params, {}, RecallFirstBit.name))
    run = toy.start(task_streams(SEED))
    learner = case.learner(**case.params)
    learner.build(toy.spec(), stream(SEED, "init", 0))
    held_out = recall_first_bit_block(stream(SEED, "test", 0), 500, toy.params["max_lag"])

    bits = final_step_outputs(held_out, held_out.targets)[:, 0]

    def mse() -> float:
        return float(np.mean((final_step_outputs(held_out, learner.predict(held_out))[:, 0]
                              - bits) ** 2))

    before = mse()
    for _ in range(LEARN_BUDGET // LEARN_BLOCK):
        learner.train(run.training_block(LEARN_BLOCK))
    after = mse()
    assert math.isfinite(after) and after < 0.125 and after < before, (
        f"after {LEARN_BUDGET} sequences of recall-first-bit the held-out squared error is "
        f"{after:.4f} (untrained {before:.4f}); it must fall below 0.125, half the best constant "
        "output's 0.25 (raise the learning rate in test_params if the rule is just slow)")


def _has_gradient_protocol(learner: Any) -> bool:
    present = [m for m in GRADIENT_METHODS if callable(getattr(learner, m, None))]
    assert not present or len(present) == len(GRADIENT_METHODS), (
        f"the learner implements {present} of the gradient protocol's {list(GRADIENT_METHODS)}; "
        "implement all or none")
    return bool(present)


def check_learner_gradient(case: LearnerCase) -> None:
    """For learners with the gradient protocol: weights round-trip through get/set_weights
    (as copies), and ``loss_gradient`` equals central finite differences of ½Σ(target − y)²
    (on one-step sequences when ``gradient_truncated``)."""
    learner = case.built()
    if not _has_gradient_protocol(learner):
        raise SkipCheck("the learner does not implement the gradient protocol")
    truncated = bool(getattr(learner, "gradient_truncated", False))
    rng = stream(SEED, "data", 11)
    lengths = [1, 1, 1] if truncated else [4, 2, 3]
    block = random_block(case.spec, rng, lengths)

    w0 = learner.get_weights()
    assert isinstance(w0, np.ndarray) and w0.dtype == np.float64 and w0.ndim == 1 and w0.size, (
        "get_weights() must return a non-empty flat float64 array")
    w0 = w0.copy()
    base = learner.predict(block)
    learner.get_weights()[:] += 1.0
    assert _same_on_valid(block, learner.predict(block), base), (
        "changing the array get_weights() returned changed the net; it must return a copy")
    learner.set_weights(w0 + 0.0)
    assert np.array_equal(learner.get_weights(), w0), "set_weights(get_weights()) changed weights"

    # the initial weights are small; move off them so that every unit works in its curved range
    w = w0 + rng.uniform(-0.3, 0.3, w0.shape)
    learner.set_weights(w.copy())
    grad = np.asarray(learner.loss_gradient(block), dtype=np.float64)
    assert grad.shape == w.shape, f"loss_gradient shape {grad.shape}, weights {w.shape}"
    assert np.array_equal(learner.get_weights(), w), "loss_gradient changed the weights"

    eps = 1e-5
    picks = rng.choice(w.size, size=min(w.size, 40), replace=False)
    numeric = np.empty(len(picks))
    for j, i in enumerate(picks):
        for sign in (1.0, -1.0):
            moved = w.copy()
            moved[i] += sign * eps
            learner.set_weights(moved)
            loss = squared_error(block, learner.predict(block))
            numeric[j] = loss if sign > 0 else (numeric[j] - loss) / (2 * eps)
    learner.set_weights(w)
    scale = max(1.0, float(np.max(np.abs(numeric))))
    worst = int(np.argmax(np.abs(grad[picks] - numeric)))
    assert np.allclose(grad[picks], numeric, rtol=1e-4, atol=1e-7 * scale), (
        f"loss_gradient differs from finite differences: weight {picks[worst]} has "
        f"{grad[picks][worst]:.6g}, finite differences {numeric[worst]:.6g}"
        + (" (one-step sequences, gradient_truncated)" if truncated else ""))
    assert np.any(numeric != 0.0), "every sampled weight leaves the loss unchanged"


LEARNER_CHECKS: tuple[Callable[[LearnerCase], None], ...] = (
    check_learner_declaration,
    check_learner_constructor,
    check_learner_build,
    check_learner_output_shapes,
    check_learner_sizes_to_spec,
    check_learner_determinism,
    check_learner_resets_state,
    check_learner_block_split,
    check_learner_predict_is_pure,
    check_learner_copy,
    check_learner_gradient,
    check_learner_trial,
    check_learner_learns,
)


def learner_checks(learner: type[Learner], params: Mapping[str, Any] | None = None, *,
                   task: type[Task] | Task | None = None,
                   task_params: Mapping[str, Any] | None = None) -> list[tuple[str, Check]]:
    """``(name, check)`` for every learner check; ``check()`` runs it (for pytest parametrize).

    Parameters are resolved when a check first runs, so listing the checks never fails.
    """
    name = getattr(learner, "name", repr(learner))
    cache: dict[str, LearnerCase] = {}

    def case() -> LearnerCase:
        if "case" not in cache:
            cache["case"] = learner_case(learner, params, task=task, task_params=task_params)
        return cache["case"]

    return [(c.__name__, _named("learner", name, c.__name__, lambda c=c: c(case())))
            for c in LEARNER_CHECKS]


def check_learner(learner: type[Learner], params: Mapping[str, Any] | None = None, *,
                  task: type[Task] | Task | None = None,
                  task_params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every learner check; raise AssertionError naming the first failure.

    ``params`` override the learner's defaults and ``test_params``; ``task`` (a Task class or
    instance, with ``task_params``) supplies the sequences of the shape and determinism checks
    (default: the kit's toy task). The learning smoke test always uses the toy task.
    """
    return _run_checks(learner_checks(learner, params, task=task, task_params=task_params))


# --- tasks ------------------------------------------------------------------------------------


@dataclass
class TaskCase:
    """A task class with resolved parameters."""

    task_class: type[Task]
    params: dict[str, Any]

    def new(self) -> Task:
        return self.task_class(**self.params)

    def run(self, seed: int = SEED) -> TaskRun:
        """The task's run for trial 0 of ``seed``; the global random state is scrambled first, so
        a task that draws from it instead of its streams shows up as non-deterministic."""
        np.random.seed(seed * 7 + 3)
        random.seed(seed * 5 + 1)
        return self.new().start(task_streams(seed))


def task_case(task: type[Task], params: Mapping[str, Any] | None = None) -> TaskCase:
    """Resolve parameters: defaults, then the task's ``test_params``, then ``params``."""
    given = {**dict(getattr(task, "test_params", {}) or {}), **dict(params or {})}
    return TaskCase(task, resolve_params(getattr(task, "params", {}), given,
                                         getattr(task, "name", "?")))


def _blocks_equal(a: SequenceBlock, b: SequenceBlock) -> bool:
    same = (np.array_equal(a.inputs, b.inputs) and np.array_equal(a.targets, b.targets)
            and np.array_equal(a.target_mask, b.target_mask)
            and np.array_equal(a.lengths, b.lengths) and set(a.extras) == set(b.extras))
    return same and all(np.array_equal(np.asarray(a.extras[k]), np.asarray(b.extras[k]))
                        for k in a.extras)


def _constant_outputs(block: SequenceBlock, spec: TaskSpec) -> dict[str, np.ndarray]:
    """Constant predictions: the target range's ends and middle, and the per-unit mean target
    (the best constant in squared error)."""
    lo, hi = spec.target_range
    use = valid_steps(block) & block.target_mask
    mean = block.targets[use].mean(axis=0)
    shape = (len(block), block.inputs.shape[1], spec.n_outputs)
    out = {f"{v:g}": np.full(shape, float(v)) for v in (lo, (lo + hi) / 2, hi)}
    out["the mean target"] = np.broadcast_to(mean, shape).copy()
    return out


def check_task_declaration(case: TaskCase) -> None:
    """Subclass of Task; a usable name and summary; positive default budget and trial count;
    every parameter a documented :class:`Param` whose default validates as itself."""
    cls = case.task_class
    assert isinstance(cls, type) and issubclass(cls, Task), f"{cls!r} is not a Task subclass"
    _check_name("task", cls)
    for attr in ("default_budget", "default_trials"):
        v = getattr(cls, attr)
        assert isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1, (
            f"{attr} is {v!r}; it must be a positive int")
    _check_declared_params(cls, getattr(cls, "test_params", {}) or {})


def check_task_constructor(case: TaskCase) -> None:
    """The constructor only stores the parameters (``start`` makes the data)."""
    _check_constructor(case.task_class, case.params)


def check_task_spec(case: TaskCase) -> None:
    """``spec()`` is a TaskSpec with at least one input and one output, the same every call;
    ``dataset_index`` maps trials to non-negative ints, trial 0 to its own first dataset."""
    task = case.new()
    spec = task.spec()
    assert isinstance(spec, TaskSpec), f"spec() returned {spec!r}, not a TaskSpec"
    assert spec.n_inputs >= 1 and spec.n_outputs >= 1, f"spec {spec} has no inputs or outputs"
    lo, hi = spec.target_range
    assert lo < hi, f"target_range {spec.target_range} is empty"
    assert task.spec() == spec, "spec() differs between calls"
    indices = [task.dataset_index(t) for t in range(40)]
    assert all(isinstance(i, numbers.Integral) and i >= 0 for i in indices), (
        f"dataset_index gave {indices[:5]}...; it must give non-negative ints")
    assert indices == sorted(indices), "dataset_index must not decrease with the trial index"


def check_task_blocks(case: TaskCase) -> None:
    """Training blocks have the spec's shapes, n sequences for ``training_block(n)``, finite
    inputs and targets, targets in the target range, targets where the spec says they occur,
    and extras with the sequences on their first axis."""
    task = case.new()
    spec = task.spec()
    run = case.run()
    cap = getattr(run, "max_block_sequences", None)
    assert cap is None or (isinstance(cap, numbers.Integral) and cap >= 1), (
        f"max_block_sequences is {cap!r}; it must be None or a positive int")
    for n in (1, 7, min(40, cap or 40)):
        block = run.training_block(n)
        assert isinstance(block, SequenceBlock), f"training_block returned {type(block).__name__}"
        assert len(block) == n, f"training_block({n}) returned {len(block)} sequences"
        t = block.inputs.shape[1]
        assert block.inputs.shape == (n, t, spec.n_inputs), (
            f"inputs shape {block.inputs.shape}, expected ({n}, T, {spec.n_inputs})")
        assert block.targets.shape == (n, t, spec.n_outputs), (
            f"targets shape {block.targets.shape}, expected ({n}, T, {spec.n_outputs})")
        assert t == int(block.lengths.max()), (
            f"the block is padded to {t} steps but its longest sequence has "
            f"{int(block.lengths.max())}")
        valid = valid_steps(block)
        assert np.isfinite(block.inputs[valid]).all(), "non-finite inputs"
        assert np.isfinite(block.targets[valid]).all(), "non-finite targets"
        used = valid & block.target_mask
        lo, hi = spec.target_range
        assert ((block.targets[used] >= lo) & (block.targets[used] <= hi)).all(), (
            f"targets outside the spec's target_range {spec.target_range}")
        per_sequence = used.sum(axis=1)
        assert (per_sequence >= 1).all(), "a sequence without any target"
        last = block.target_mask[np.arange(n), block.lengths - 1]
        if spec.targets == "every_step":
            assert (used == valid).all(), "TaskSpec says every_step, but some steps have no target"
        elif spec.targets == "final_step":
            assert last.all() and (per_sequence == 1).all(), (
                "TaskSpec says final_step, but targets are not exactly at each sequence's end")
        for key, extra in block.extras.items():
            assert len(extra) == n, f"extras[{key!r}] has {len(extra)} rows for {n} sequences"


def check_task_determinism(case: TaskCase) -> None:
    """The same streams give identical blocks (whatever the global random state); another seed
    gives other data."""
    a, b = case.run(), case.run()
    for n in (5, 3):
        assert _blocks_equal(a.training_block(n), b.training_block(n)), (
            "two runs from identical streams gave different blocks (does the task draw from "
            "np.random or random instead of its streams?)")
    first = case.run().training_block(5)
    other = case.run(SEED + 1).training_block(5)
    assert not _blocks_equal(first, other), "another seed gave the same data: the seed is ignored"
    spec = case.new().spec()
    block = a.training_block(6)
    outputs = random_block(spec, stream(SEED, "data", 3), block.lengths).targets
    ja, jb = a.judge(block, outputs), b.judge(block, outputs)
    assert all(np.array_equal(x, y) for x, y in zip(ja, jb)), "judge differs between runs"


def check_task_judge(case: TaskCase) -> None:
    """``judge`` returns a bool array and a finite float array, one entry per sequence, and
    gives the same answer twice."""
    run, spec = case.run(), case.new().spec()
    block = run.training_block(9)
    outputs = random_block(spec, stream(SEED, "data", 5), block.lengths).targets
    result = run.judge(block, outputs)
    assert isinstance(result, tuple) and len(result) == 2, "judge must return (correct, error)"
    correct, error = result
    correct, error = np.asarray(correct), np.asarray(error)
    assert correct.shape == (9,) and correct.dtype == np.bool_, (
        f"correct has shape {correct.shape} and dtype {correct.dtype}; expected (9,) bool")
    assert error.shape == (9,) and np.issubdtype(error.dtype, np.floating), (
        f"error has shape {error.shape} and dtype {error.dtype}; expected (9,) float")
    assert np.isfinite(error).all(), "judge gave non-finite errors"
    again = run.judge(block, outputs)
    assert np.array_equal(correct, again[0]) and np.array_equal(error, again[1]), (
        "judge gave another answer for the same block and outputs")


def check_task_rejects_constants(case: TaskCase) -> None:
    """No constant output is judged correct on more than 90% of 100 training sequences (the
    TCN copy-memory flaw), and the periodic success check rejects a constant predictor."""
    run, spec = case.run(), case.new().spec()
    block = run.training_block(100)
    for label, outputs in _constant_outputs(block, spec).items():
        correct, _ = run.judge(block, outputs)
        share = float(np.mean(correct))
        assert share <= 0.9, (
            f"a constant output of {label} is judged correct on {share:.0%} of sequences; the "
            "success measure must need what the task tests")
    criterion = run.criterion
    assert isinstance(criterion, Criterion), f"criterion is {criterion!r}, not a Criterion"
    every = getattr(criterion, "check_every", 0)
    assert isinstance(every, numbers.Integral) and every >= 0, f"check_every is {every!r}"
    if every:
        constant = ConstantLearner(value=sum(spec.target_range) / 2)
        constant.build(spec, stream(SEED, "init", 0))
        assert not criterion.check(constant.predict), "the success check accepts constant outputs"


def check_task_evaluate(case: TaskCase) -> None:
    """``evaluate`` returns a dict of finite numbers (``test_error`` a fraction) and the same
    dict for the same streams."""
    spec = case.new().spec()
    constant = ConstantLearner(value=sum(spec.target_range) / 2)
    constant.build(spec, stream(SEED, "init", 0))
    results = [case.run().evaluate(constant.predict) for _ in range(2)]
    metrics = results[0]
    assert isinstance(metrics, dict), f"evaluate returned {type(metrics).__name__}, not a dict"
    for key, value in metrics.items():
        assert isinstance(key, str), f"metric name {key!r} is not a string"
        assert isinstance(value, numbers.Real) and not isinstance(value, bool), (
            f"metric {key!r} is {value!r}; metrics must be numbers")
        assert math.isfinite(value), f"metric {key!r} is {value!r}"
    if "test_error" in metrics:
        assert 0.0 <= metrics["test_error"] <= 1.0, (
            f"test_error {metrics['test_error']} is not a fraction")
    assert results[0] == results[1], "evaluate gave other figures for the same streams"


def check_task_trial(case: TaskCase) -> None:
    """A trial of a constant learner through :func:`~seqbench.trial.run_trial` exhausts its
    budget (covering at least two periodic checks) without error: it must not be solved."""
    from .plugins import Registry
    from .trial import TrialSpec, run_trial

    registry = Registry()
    registry.tasks[case.task_class.name] = case.task_class
    registry.learners[ConstantLearner.name] = ConstantLearner
    every = int(getattr(case.run().criterion, "check_every", 0) or 0)
    spec = TrialSpec(task=case.task_class.name, learner=ConstantLearner.name,
                     task_params=case.params,
                     learner_params={"value": sum(case.new().spec().target_range) / 2},
                     seed=SEED, trial=0, budget=max(2 * LEARN_BLOCK, min(2 * every, 5000)))
    result = run_trial(spec, registry)
    assert result.status == "budget_exhausted", (
        f"a constant learner's trial ended {result.status} ({result.error or result.stop_reason})")


TASK_CHECKS: tuple[Callable[[TaskCase], None], ...] = (
    check_task_declaration,
    check_task_constructor,
    check_task_spec,
    check_task_blocks,
    check_task_determinism,
    check_task_judge,
    check_task_rejects_constants,
    check_task_evaluate,
    check_task_trial,
)


def task_checks(task: type[Task], params: Mapping[str, Any] | None = None
                ) -> list[tuple[str, Check]]:
    """``(name, check)`` for every task check; ``check()`` runs it (for pytest parametrize)."""
    name = getattr(task, "name", repr(task))
    cache: dict[str, TaskCase] = {}

    def case() -> TaskCase:
        if "case" not in cache:
            cache["case"] = task_case(task, params)
        return cache["case"]

    return [(c.__name__, _named("task", name, c.__name__, lambda c=c: c(case())))
            for c in TASK_CHECKS]


def check_task(task: type[Task], params: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Run every task check; raise AssertionError naming the first failure.

    ``params`` override the task's defaults and its ``test_params``.
    """
    return _run_checks(task_checks(task, params))


def iter_checks(registry=None) -> Iterator[tuple[str, str, Check]]:
    """``("learner:NAME" or "task:NAME", check name, check)`` for every registered learner and
    task, each with its defaults overlaid by its ``test_params``."""
    from .plugins import get_registry

    registry = registry or get_registry()
    for name, cls in sorted(registry.learners.items()):
        for check_name, check in learner_checks(cls):
            yield f"learner:{name}", check_name, check
    for name, cls in sorted(registry.tasks.items()):
        for check_name, check in task_checks(cls):
            yield f"task:{name}", check_name, check


__all__ = [
    "ConstantLearner", "GradientProtocol", "LEARNER_CHECKS", "LearnerCase", "RecallFirstBit",
    "SkipCheck", "TASK_CHECKS", "TaskCase", "check_learner", "check_task", "iter_checks",
    "learner_case", "learner_checks", "random_block", "squared_error", "task_case",
    "task_checks", "task_streams",
    *[c.__name__ for c in LEARNER_CHECKS], *[c.__name__ for c in TASK_CHECKS],
]
