"""Conformance checks for tasks."""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..blocks import SequenceBlock
from ..contracts import Task, TaskRun, TaskSpec
from ..criteria import Criterion
from ..params import resolve_params
from ..trial import stream
from .support import (
    LEARN_BLOCK,
    SEED,
    Check,
    ConstantLearner,
    _check_constructor,
    _check_declared_params,
    _check_name,
    _named,
    _run_checks,
    random_block,
    task_streams,
    valid_steps,
)

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
    from ..plugins import Registry
    from ..trial import TrialSpec, run_trial

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


