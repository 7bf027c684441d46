"""Continual tasks: one endless stream without sequence boundaries, judged by how long a learner
predicts it without a mistake (Gers, Schmidhuber & Cummins 2000; docs/protocol.md §12).

A continual task declares ``protocol = "continual"`` on its :class:`~seqbench.contracts.Task`
class (the runner must know before any trial starts: such trials never run as SIMD lanes, and a
learner without :attr:`~seqbench.contracts.Learner.continual` is refused) and on its
:class:`~seqbench.contracts.TaskRun`. The run offers:

``rule``
    a :class:`~seqbench.contracts.StepRule`: when a prediction counts as wrong;
``resets``
    whether the learner is reset at the start of every sequence (row) of a block (external
    resets at known boundaries) or runs on through them;
``training_cap``, ``test_cap``
    the most symbols (time steps) of one training stream and of one test stream;
``test_streams``, ``good_length``
    test streams per test round; the mean test-stream length above which a result is "good";
``training_stream(index)``
    an iterator over the blocks of training stream ``index`` (0, 1, ...), endless: its rows are
    consecutive pieces of the stream, in order;
``test_stream(round, index)``
    the same for test stream ``index`` of the test round after ``round`` training streams; it
    depends on nothing but the trial's test seed, ``round`` and ``index``;
``criterion``
    a :class:`ContinualPerfect` (its description is the stop reason of a solved trial).

The trial (:func:`run_continual`): the harness's unit of work is one training stream, so a
trial's ``sequences`` and budget count training streams and ``time_steps`` training symbols.
Each training stream starts afresh (``learner.start_stream(True)``) and is fed block by block
(``train_steps``) until the first wrong prediction or the training cap. Then the weights are
frozen for a test round: ``test_streams`` test streams, each from ``start_stream(False)``,
each ending at its first wrong prediction or at the test cap. When every test stream of a round
reaches the cap, the trial is solved after that many training streams. A round run during
training stops at its first test stream that ends early (the round can no longer be perfect);
the final evaluation completes the last round, and reports its mean test-stream length and
whether it is perfect, good or neither (:func:`final_metrics`).

A stream's **length** is the number of symbols predicted correctly before its first wrong
prediction (the cap for a stream without one), so a perfect round, and only a perfect one, has
a mean length equal to the cap.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np

from .blocks import SequenceBlock
from .criteria import Criterion
from .errors import ParamError

#: the value of ``Task.protocol`` / ``TaskRun.protocol`` that selects this protocol
CONTINUAL = "continual"


def is_continual(task: Any) -> bool:
    """Whether ``task`` (a Task or TaskRun class or instance) follows the continual protocol."""
    return getattr(task, "protocol", "blocks") == CONTINUAL


def continual_learners(registry) -> list[str] | None:
    """The registered learners that can run a continual task, by name (None for a registry
    that cannot list its learners)."""
    learners = getattr(registry, "learners", None)
    if not hasattr(learners, "items"):
        return None
    return sorted(name for name, cls in learners.items() if getattr(cls, "continual", False))


def refuse_non_continual(task: str, learner, capable: Sequence[str] | None = None) -> None:
    """Raise :class:`~seqbench.errors.ParamError` (one line) unless ``learner`` (a class or an
    instance) can run the continual task ``task``; ``capable`` names the learners that can."""
    if getattr(learner, "continual", False):
        return
    name = getattr(learner, "name", "") or type(learner).__name__
    can = "" if capable is None else (
        f"; learners that can: {', '.join(capable) if capable else 'none installed'}")
    raise ParamError(
        f"task {task!r} is one continual stream with no sequence boundaries and learner "
        f"{name!r} cannot run it (it has no start_stream/train_steps/test_steps){can}")


class ContinualPerfect(Criterion):
    """A continual task's success: every test stream of a round predicted without a mistake up
    to the test cap. The continual trial loop decides it; as a block criterion it never holds."""

    observe_can_succeed = False

    def __init__(self, streams: int, cap: int):
        self.streams, self.cap = int(streams), int(cap)
        self.name = (f"perfect: {self.streams} test streams of {self.cap:,} symbols each "
                     "predicted without a mistake")


class StreamOutcome(NamedTuple):
    """One stream as it ended: ``length`` symbols predicted correctly before its first wrong
    prediction (the cap when none), ``steps`` symbols presented (the wrong one included) and
    whether a wrong prediction ended it."""

    length: int
    steps: int
    wrong: bool


def truncate(block: SequenceBlock, steps: int) -> SequenceBlock:
    """The first ``steps`` time steps of ``block``'s stream (rows in order): the rows they reach,
    the last one shortened, its steps beyond the cut without targets."""
    ends = np.cumsum(block.lengths)
    rows = int(np.searchsorted(ends, steps)) + 1  # the row holding the last step kept
    lengths = block.lengths[:rows].copy()
    lengths[-1] -= int(ends[rows - 1]) - steps
    sub = block.take(slice(0, rows))
    mask = sub.target_mask & (np.arange(sub.inputs.shape[1])[None, :] < lengths[:, None])
    return SequenceBlock(sub.inputs, sub.targets, mask, lengths, sub.extras, sub.input_symbols)


def first_wrong(block: SequenceBlock, outputs: np.ndarray, rule) -> tuple[int, bool]:
    """What ``train_steps``/``test_steps`` return for a learner that computed ``outputs`` for
    the whole block: the steps up to and including the first wrong one, in stream order, and
    True; or all the block's steps and False. For pure NumPy learners and tests."""
    valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    wrong = rule.wrong(block.targets, outputs, block.target_mask & valid)[valid]
    hits = np.flatnonzero(wrong)
    return (int(hits[0]) + 1, True) if hits.size else (block.n_steps, False)


def run_stream(step: Callable[[SequenceBlock], tuple[int, bool]],
               blocks: Iterable[SequenceBlock], cap: int,
               healthy: Callable[[], bool] | None = None) -> tuple[StreamOutcome, bool]:
    """Feed ``blocks`` to ``step`` (a learner's ``train_steps``/``test_steps`` with the rule
    bound) until a wrong prediction or ``cap`` steps; the last block is cut at the cap.

    Returns the outcome and whether ``healthy()`` (asked after every block when given) held
    throughout: a learner whose weights turn non-finite ends the stream at once."""
    done = 0
    for block in blocks:
        n = block.n_steps
        if n > cap - done:
            block, n = truncate(block, cap - done), cap - done
        steps, wrong = step(block)
        steps, wrong = int(steps), bool(wrong)
        if not (0 < steps <= n) or (not wrong and steps != n):
            raise RuntimeError(f"a continual learner reported {steps} steps consumed "
                               f"(wrong={wrong}) of a block of {n}")
        done += steps
        if healthy is not None and not healthy():
            return StreamOutcome(done, done, wrong), False
        if wrong:
            return StreamOutcome(done - 1, done, True), True
        if done >= cap:
            return StreamOutcome(cap, done, False), True
    raise RuntimeError("a continual task's stream ended before its cap")


def run_test_round(learner, run, round_: int, done: Sequence[StreamOutcome] = (),
               stop_early: bool = False) -> list[StreamOutcome]:
    """The test streams of round ``round_`` on the frozen learner, after those in ``done`` (a
    round already begun); with ``stop_early`` it stops after the first stream that ends before
    the test cap."""
    outcomes = list(done)
    if stop_early and any(o.wrong for o in outcomes):
        return outcomes

    def step(block):
        return learner.test_steps(block, run.rule, run.resets)

    for index in range(len(outcomes), int(run.test_streams)):
        learner.start_stream(False)
        outcome, _ = run_stream(step, run.test_stream(round_, index), int(run.test_cap))
        outcomes.append(outcome)
        if stop_early and outcome.wrong:
            break
    return outcomes


def is_perfect(run, outcomes: Sequence[StreamOutcome]) -> bool:
    """Whether a test round is complete and no stream of it ended before the cap."""
    return len(outcomes) == int(run.test_streams) and not any(o.wrong for o in outcomes)


def final_metrics(run, outcomes: Sequence[StreamOutcome], training_streams: int
                  ) -> dict[str, float]:
    """The final test of a continual trial, from a complete round: ``mean_test_length``,
    ``perfect`` (1 when every stream reached the cap), ``good`` (1 when not perfect but the mean
    length exceeds ``run.good_length``), ``rest`` (1 otherwise), ``training_streams``,
    ``test_streams_perfect`` (streams that reached the cap) and ``test_error``: the fraction of
    test predictions that were wrong (each stream ends at its only wrong prediction, so this is
    the wrong streams over the symbols presented; 0 when perfect)."""
    lengths = [o.length for o in outcomes]
    mean = float(np.mean(lengths)) if lengths else 0.0
    perfect = is_perfect(run, outcomes)
    good = not perfect and mean > float(run.good_length)
    presented = sum(o.steps for o in outcomes)
    return {
        "mean_test_length": mean,
        "perfect": float(perfect),
        "good": float(good),
        "rest": float(not perfect and not good),
        "training_streams": float(training_streams),
        "test_streams_perfect": float(sum(not o.wrong for o in outcomes)),
        "test_error": float(sum(o.wrong for o in outcomes) / presented) if presented else 1.0,
    }


def run_continual(spec, task, learner, result, ckpt, capable: Sequence[str] | None = None):
    """A continual trial (the module docstring); returns the learner as it ended (the resumed
    one after a checkpoint). Raises :class:`~seqbench.errors.ParamError` for a learner that
    cannot run a continual task (:func:`~seqbench.trial.run_trial` stores it as an error;
    ``capable``, the learners that can, completes the message)."""
    from .checkpoints import CARRIED_FIELDS
    from .trial import _begin, _downsample, _limit, _must_stop, resumed_counters

    refuse_non_continual(spec.task, learner, capable)
    learner, run, saved = _begin(spec, task, learner, result, ckpt)
    result.check_every = 1  # the test round follows every training stream
    progress, seen, curve = resumed_counters(spec, result, saved, "seen")
    # the test round after ``seen`` training streams, as far as it has run
    tested: list[StreamOutcome] = list(saved["tested"]) if saved else []

    def state() -> dict[str, Any]:  # everything the loop below needs to go on from here
        return {"learner": learner, "run": run, "seen": seen, "curve": curve,
                "tested": list(tested),
                "result": {k: getattr(result, k) for k in CARRIED_FIELDS}}

    def train(block):
        return learner.train_steps(block, run.rule, run.resets)

    while result.status not in ("solved", "diverged"):
        if seen >= spec.budget:
            result.status = "budget_exhausted"
            break
        if _must_stop(spec, result, ckpt, state):
            break
        t0 = time.perf_counter()
        learner.start_stream(True)
        outcome, finite = run_stream(train, run.training_stream(seen), int(run.training_cap),
                                     learner.is_finite)
        result.train_s += time.perf_counter() - t0
        result.time_steps += outcome.steps
        seen += 1
        if not finite:
            result.status, result.stop_reason = "diverged", "non-finite outputs or weights"
            break
        curve.append((seen, 1.0 / outcome.steps if outcome.wrong else 0.0,
                      (outcome.steps - 1) / outcome.steps if outcome.wrong else 1.0))
        progress.update(seen)
        tested = run_test_round(learner, run, seen, stop_early=True)
        if is_perfect(run, tested):
            result.status, result.sequences_to_success = "solved", seen
            break
        ckpt.save(state())
    result.sequences = seen
    result.curve = _downsample(curve)
    if result.status == "diverged":
        return learner
    result.stop_reason = {"solved": run.criterion.describe(),
                          "timeout": _limit(ckpt)}.get(result.status, "budget")
    tested = run_test_round(learner, run, seen, tested)
    result.metrics.update(final_metrics(run, tested, seen))
    return learner


__all__ = ["CONTINUAL", "ContinualPerfect", "StreamOutcome", "continual_learners",
           "final_metrics", "first_wrong", "is_continual", "is_perfect", "refuse_non_continual",
           "run_continual", "run_stream", "run_test_round", "truncate"]
