"""Conformance checks for learners."""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..blocks import SequenceBlock, final_step_outputs
from ..contracts import Learner, Task, TaskSpec, Work
from ..params import resolve_params
from ..trial import stream
from .support import (
    GRADIENT_METHODS,
    LEARN_BLOCK,
    LEARN_BUDGET,
    LEARN_BUDGET_SET,
    SET_SIZE,
    NAME_PATTERN,
    SEED,
    Check,
    RecallFirstBit,
    SkipCheck,
    _check_constructor,
    _check_declared_params,
    _check_name,
    _max_diff,
    _named,
    _run_checks,
    _same_on_valid,
    random_block,
    recall_first_bit_block,
    squared_error,
    task_streams,
    valid_steps,
)

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

    @property
    def is_set(self) -> bool:
        """Whether the learner fits on a fixed set (:class:`~seqbench.contracts.SetLearner`)."""
        return getattr(self.learner, "kind", "stream") == "set"


def _learn(learner: Learner, block: SequenceBlock, is_set: bool) -> np.ndarray | None:
    """Train a stream learner on ``block`` (its outputs), or let a set learner fit on it as its
    fixed set until it asks to be judged, stops, or has presented four passes (None)."""
    if not is_set:
        return learner.train(block)
    _fit_until(learner, block, 4 * len(block), len(block))
    return None


def _fit_until(learner: Learner, data: SequenceBlock, total: int, step: int,
               judge: Callable[[], bool] | None = None) -> tuple[int, bool]:
    """Call ``fit`` with allowances of at most ``step`` until ``total`` sequences are presented,
    the learner asks to be judged or stops, or it can do nothing more; checks every
    :class:`~seqbench.contracts.Work` on the way. With ``judge``, a request to be judged ends
    the loop only when ``judge()`` is true (as the harness goes on when a check fails). Returns
    (sequences presented, whether the last call asked to be judged or stopped)."""
    presented = 0
    while presented < total:
        allowance = min(step, total - presented)
        work = learner.fit(data, allowance)
        assert isinstance(work, Work), f"fit returned {type(work).__name__}, not Work"
        for field in ("sequences", "time_steps"):
            value = getattr(work, field)
            assert isinstance(value, numbers.Integral) and not isinstance(value, bool), (
                f"Work.{field} is {value!r}; it must be an int")
        assert 0 <= work.sequences <= allowance, (
            f"fit presented {work.sequences} sequences with an allowance of {allowance}")
        assert work.time_steps >= 0, f"Work.time_steps is {work.time_steps}"
        presented += work.sequences
        if work.stopped or (work.check and (judge is None or judge())):
            return presented, True
        if work.sequences == 0:
            break
    return presented, False


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
        if case.is_set:  # fit reports honest Work; the outputs come from predict alone
            _fit_until(learner, block, 2 * len(block), len(block))
        for what in (("predict",) if case.is_set else ("predict", "train")):
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
        out = _learn(learner, block, case.is_set)
        if out is None:
            out = learner.predict(block)
        assert out.shape == (2, 3, n_out), f"after learning, outputs have shape {out.shape}"


def check_learner_determinism(case: LearnerCase) -> None:
    """The same initial-weight seed and the same block give identical outputs (training and
    prediction); another seed gives another network."""
    block, later = case.block(6), case.block(6, SEED + 1)
    a, b = case.built(), case.built()
    a.compile()
    train_a, train_b = _learn(a, block, case.is_set), _learn(b, block, case.is_set)
    if case.is_set:
        train_a, train_b = a.predict(block), b.predict(block)
    assert _same_on_valid(block, train_a, train_b), (
        f"two learners built from one seed trained on one block gave different outputs (by up "
        f"to {_max_diff(block, train_a, train_b):.3g})")
    pa, pb = a.predict(later), b.predict(later)
    assert _same_on_valid(later, pa, pb), "after identical training, predictions differ"
    other, fresh = case.built(SEED + 1), case.built()
    if case.is_set:  # a set learner's net may be blank until it has fitted
        _learn(other, block, True)
        _learn(fresh, block, True)
    other, fresh = other.predict(later), fresh.predict(later)
    assert not _same_on_valid(later, other, fresh), (
        "learners built from different seeds compute the same outputs: build ignores its rng")


def check_learner_resets_state(case: LearnerCase) -> None:
    """Network state is reset at every sequence start: predicting a block gives each sequence
    the outputs it gets alone. A learner that declares ``carries_state`` promises the opposite,
    and is checked for it: a block is one continuous stream, so predicting it gives the outputs
    of its steps joined into one sequence."""
    learner = case.built()
    learner.compile()
    block = case.block(4)
    if getattr(learner, "carries_state", False):
        joined = _joined(block)
        together, alone = learner.predict(block)[valid_steps(block)], learner.predict(joined)[0]
        assert np.allclose(together, alone, rtol=1e-9, atol=1e-12), (
            "the learner declares carries_state, but predicting a block differs from predicting "
            f"its steps as one sequence (by up to {np.max(np.abs(together - alone)):.3g})")
        return
    together = learner.predict(block)
    for i in range(len(block)):
        alone_block = block.take(np.array([i]))
        alone = learner.predict(alone_block)
        t = int(block.lengths[i])
        assert np.allclose(together[i, :t], alone[0, :t], rtol=1e-9, atol=1e-12), (
            f"sequence {i} gives other outputs after sequences 0..{i - 1} than alone (by up to "
            f"{np.max(np.abs(together[i, :t] - alone[0, :t])):.3g}): state leaks between sequences")


def _joined(block: SequenceBlock) -> SequenceBlock:
    """The block's real steps, in order, as one sequence."""
    steps = valid_steps(block)
    return SequenceBlock(block.inputs[steps][None], block.targets[steps][None],
                         block.target_mask[steps][None], np.array([block.n_steps]))


def check_learner_block_split(case: LearnerCase) -> None:
    """Training on a block in one call or in two calls gives the same outputs and the same net:
    the harness cuts training into blocks wherever its checks fall. For a set learner: fitting
    in one long call or in calls of one pass each reaches the same point (the same sequences
    presented when it first asks to be judged, or after four passes) with the same net."""
    if case.is_set:
        data, probe = case.block(8), case.block(4, SEED + 1)
        whole, split = case.built(), case.built()
        n_whole = _fit_until(whole, data, 4 * len(data), 4 * len(data))
        n_split = _fit_until(split, data, 4 * len(data), len(data))
        assert n_whole == n_split, (
            f"one fit call reached (sequences, asked to be judged) = {n_whole}, calls of one "
            f"pass each {n_split}: the result depends on how the harness cuts fit calls")
        assert _same_on_valid(probe, whole.predict(probe), split.predict(probe), exact=False), (
            "the net fitted in one call predicts differently from the net fitted in several")
        return
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
    out_a, out_b = _learn(a, train_block, case.is_set), _learn(b, train_block, case.is_set)
    if case.is_set:
        out_a, out_b = a.predict(train_block), b.predict(train_block)
    assert _same_on_valid(train_block, out_a, out_b), (
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
    _learn(twin, case.block(6, SEED + 1), case.is_set)
    assert _same_on_valid(block, learner.predict(block), before), (
        "training the copy changed the original: they share weight arrays")


#: (sequence, step) pairs of the causality check: targets change from that step of that
#: sequence on, and in every later sequence of the block
CAUSAL_CUTS = ((0, 0), (0, 3), (1, 1), (2, 0), (2, 4), (3, 2))


def check_learner_causal(case: LearnerCase) -> None:
    """A stream learner's output at step t of a sequence does not depend on the targets at
    step t or later, nor on any later sequence of the block: two learners built alike, trained
    on one block and on the block with those targets changed (mask kept), give bit-identical
    outputs up to and including step t (and for every earlier sequence). On-line learning from
    the errors of earlier steps is fine; the output at step t is emitted before step t's target
    may be used."""
    if case.is_set:
        raise SkipCheck("a set learner fits on a fixed set whose targets it may see whole; "
                        "its outputs come from predict, which gets no targets to peek at")
    lengths = [5, 3, 6, 4]
    rng = stream(SEED, "data", 13)
    block = random_block(case.spec, rng, lengths)
    lo, hi = case.spec.target_range
    other = rng.uniform(lo, hi, block.targets.shape)
    if hi - lo == 0:  # a degenerate range: move the targets anyway
        other = block.targets + 1.0
    reference = case.built().train(block)
    valid = valid_steps(block)
    for i, t in CAUSAL_CUTS:
        if i >= len(block) or t >= int(block.lengths[i]):
            continue
        changed = np.zeros(block.target_mask.shape, bool)
        changed[i, t:] = True
        changed[i + 1:] = True
        changed &= valid
        targets = np.where(changed[:, :, None], other, block.targets)
        out = case.built().train(dataclasses.replace(block, targets=targets))
        same_before = np.array_equal(reference[:i][valid[:i]], out[:i][valid[:i]])
        assert same_before, (
            f"changing the targets of sequence {i} and later changed the outputs of earlier "
            "sequences: training is not causal")
        a, b = reference[i, :t + 1], out[i, :t + 1]
        if not np.array_equal(a, b):
            s = int(np.argmax(np.any(a != b, axis=-1)))
            raise AssertionError(
                f"changing the targets of sequence {i} from step {t} on (and of every later "
                f"sequence) changed its output at step {s} (by up to "
                f"{float(np.max(np.abs(a - b))):.3g}): the output at step {s} depends on a "
                "target the learner may only use after emitting it (does it fit on a "
                "sequence's targets before predicting it?)")


def check_learner_trial(case: LearnerCase) -> None:
    """A short trial through the harness's own :func:`~seqbench.trial.run_trial` on the task
    ends without error or divergence and records the weight count."""
    from ..plugins import Registry
    from ..trial import TrialSpec, run_trial

    registry = Registry()
    task_params = dict(case.task.params)
    if case.is_set and isinstance(case.task, RecallFirstBit):
        task_params["judge"] = "frozen"  # a set learner is judged on its frozen net
    registry.tasks[case.task.name] = type(case.task)
    registry.learners[case.learner.name] = case.learner
    spec = TrialSpec(task=case.task.name, learner=case.learner.name,
                     task_params=task_params, learner_params=case.params, seed=SEED,
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
    budget = LEARN_BUDGET
    if case.is_set:  # fit on a fixed sample of the toy stream as the harness would: judged
        budget = LEARN_BUDGET_SET  # at each check, going on while the held-out error is high
        _fit_until(learner, run.training_block(SET_SIZE), budget, budget,
                   judge=lambda: mse() < 0.125)
    else:
        for _ in range(LEARN_BUDGET // LEARN_BLOCK):
            learner.train(run.training_block(LEARN_BLOCK))
    after = mse()
    assert math.isfinite(after) and after < 0.125 and after < before, (
        f"after {budget} sequences of recall-first-bit the held-out squared error is "
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
    check_learner_causal,
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


