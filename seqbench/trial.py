"""One trial: train a learner online on a task until the task's criterion holds or the budget ends.

Seeding: a trial's randomness comes from ``numpy.random.SeedSequence([seed, stream, index])``
with one named stream each for the task's data, the presentation order, the final test set and the
learner's initial weights. The data stream is indexed by the task's dataset index (not by the
learner), so every learner at the same trial index sees exactly the same sequences.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .blocks import SequenceBlock
from .checkpoints import (  # noqa: F401  (checkpoint_path re-exported)
    CARRIED_FIELDS, Checkpoints, DaskCancel, TrialCancelled, checkpoint_path)
from .contracts import TaskStreams
from .params import to_jsonable
from .progress import TrialProgress

#: the harness's own behaviour version, part of every resume key: bumped when the harness
#: would give other results for the same trial (seeding, block cutting, criteria bookkeeping)
HARNESS_BEHAVIOUR = "1"
#: ``stopped``: a set learner ended on its own (a cap of units or draws) before success;
#: ``timeout``: the trial reached ``--trial-timeout`` (wall clock) before success or budget
STATUSES = ("solved", "budget_exhausted", "stopped", "diverged", "timeout", "error")
STREAMS = {"data": 0, "order": 1, "test": 2, "init": 3}
#: sequences per call into a learner's kernel, unless a periodic check needs a smaller step
BLOCK_SEQUENCES = 100
CURVE_POINTS = 200
#: a set learner's allowance per fit call (at least one pass over its training set), so that
#: long fits return now and then for progress, curves and Ctrl-C
FIT_SEQUENCES = 100_000
#: sequences in the fixed sample a set learner fits on when the task has no fixed training set
#: and the learner declares no ``sample_size`` (the 100 training sequences of Hochreiter &
#: Schmidhuber's guessing experiments)
DEFAULT_SAMPLE_SIZE = 100


def stream(seed: int, name: str, index: int) -> np.random.Generator:
    """The generator of one named random stream of a trial (see the module docstring)."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), STREAMS[name], int(index)]))


@dataclass(frozen=True)
class TrialSpec:
    """Everything that determines a trial's outcome; its canonical form is its resume key.

    ``task_params`` and ``learner_params`` are complete (defaults filled in by the harness), so
    the same work asked for in another order, or with a default spelled out, has the same key.
    ``versions`` holds the **behaviour versions** of the harness, the task and the learner
    (:data:`HARNESS_BEHAVIOUR`, ``Task.behaviour_version``, ``Learner.behaviour_version``): a
    plugin bumps its version whenever the same parameters would give other results, so stale
    trials are never reused, while a release that changes nothing keeps every key.
    ``neutral`` names the parameters (``"task.x"``, ``"learner.y"``) that sit at their declared
    neutral value (:func:`seqbench.params.neutral`); they stay out of the key, so adding such a
    parameter to a plugin keeps the keys of the trials stored before it.
    """

    task: str
    learner: str
    task_params: Mapping[str, Any]
    learner_params: Mapping[str, Any]
    seed: int
    trial: int
    budget: int
    preset: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)
    neutral: frozenset[str] = frozenset()

    def canonical(self) -> dict[str, Any]:
        """A JSON-ready dict with sorted keys and normalised values (neutral parameters left
        out)."""
        return {
            "task": self.task,
            "task_params": {k: to_jsonable(self.task_params[k]) for k in sorted(self.task_params)
                            if f"task.{k}" not in self.neutral},
            "learner": self.learner,
            "learner_params": {
                k: to_jsonable(self.learner_params[k]) for k in sorted(self.learner_params)
                if f"learner.{k}" not in self.neutral
            },
            "seed": int(self.seed),
            "trial": int(self.trial),
            "budget": int(self.budget),
            "versions": {k: self.versions[k] for k in sorted(self.versions)},
        }

    @property
    def key(self) -> str:
        """SHA-256 of the canonical form (the preset name is a label, not part of the key)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def config_key(self) -> str:
        """Hash of everything but seed and trial: trials with the same config form one row."""
        c = self.canonical()
        for k in ("trial",):
            c.pop(k)
        text = json.dumps(c, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class TrialResult:
    """The outcome of one trial.

    ``status`` is one of ``solved``, ``budget_exhausted``, ``stopped`` (a set learner ended on
    its own), ``diverged``, ``timeout`` (the wall-clock limit) or ``error``;
    ``stop_reason`` names the criterion that stopped a solved trial (or the budget, the
    non-finite value, the exception). ``sequences`` counts training sequences presented;
    ``sequences_to_success`` is the count when the criterion first held (None if it never did);
    it is exact to the sequence, while ``sequences`` and ``time_steps`` also count the rest of
    the block in which it held (work that was done).
    ``ns_per_step`` is the time spent inside the learner's training calls per trained time step;
    ``compile_s`` (just-in-time compilation) is never part of ``wall_s``. ``curve`` is a sampled
    learning curve of ``(sequences, mean training error, fraction correct)`` triples.
    ``diagnostics`` holds the learner's own measurements (:meth:`Learner.diagnostics`).
    """

    key: str
    status: str
    stop_reason: str
    sequences: int
    sequences_to_success: int | None
    time_steps: int
    wall_s: float
    compile_s: float
    train_s: float
    ns_per_step: float | None
    n_weights: int | None
    check_every: int
    metrics: dict[str, Any] = field(default_factory=dict)
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    error: str | None = None
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _downsample(curve: list[tuple[int, float, float]], points: int = CURVE_POINTS) -> list:
    if len(curve) <= points:
        return curve
    idx = np.unique(np.linspace(0, len(curve) - 1, points).round().astype(int))
    return [curve[i] for i in idx]


def _begin(spec: TrialSpec, task, learner, result: TrialResult, ckpt: Checkpoints):
    """Start the trial afresh, or resume it from its checkpoint: ``(learner, run, state)``
    with ``state`` None when starting afresh."""
    if ckpt.path is not None and ckpt.path.exists():
        fresh = task.start(task_streams_for(spec, task))  # rebuilds the data the file omits
        fresh.learner_carries_state = bool(getattr(learner, "carries_state", False))
        ckpt.index(fresh)
        state = ckpt.load()
        del fresh
        if state is not None:
            learner, run = state["learner"], state["run"]
            for k, v in state["result"].items():
                setattr(result, k, v)
            t0 = time.perf_counter()
            learner.compile()
            result.compile_s = time.perf_counter() - t0
            ckpt.start_clock()
            return learner, run, state
    run = _start(spec, task, learner, result)
    ckpt.index(run)
    ckpt.start_clock()
    return learner, run, None


def run_trial(spec: TrialSpec, registry=None, *, checkpoint_dir: str | os.PathLike | None = None,
              checkpoint_every: float = 0.0, timeout: float | None = None,
              notes: list[str] | None = None, cancel_event: str | None = None) -> TrialResult:
    """Run ``spec`` to completion and return its result; never raises for a learner's fault.

    With ``checkpoint_dir`` and ``checkpoint_every`` > 0 the trial saves its state there every
    ``checkpoint_every`` seconds and resumes from a checkpoint it finds (the caller deletes the
    file once the result is stored). ``timeout`` (seconds of training wall time, over every
    session of a resumed trial) ends the trial with status ``timeout``. What is worth telling
    the user (checkpoints off, an unreadable checkpoint) is appended to ``notes`` and also
    attached to the result as ``result.notes`` (not stored). ``cancel_event`` names a Dask
    event; once it is set the trial stops between blocks (its checkpoint saved, if any) by
    raising :class:`~seqbench.checkpoints.TrialCancelled`.
    """
    from .continual import continual_learners, is_continual, run_continual
    from .plugins import get_registry

    registry = registry or get_registry()
    task = registry.task(spec.task)(**spec.task_params)
    learner = registry.learner(spec.learner)(**spec.learner_params)
    result = TrialResult(
        key=spec.key, status="error", stop_reason="", sequences=0, sequences_to_success=None,
        time_steps=0, wall_s=0.0, compile_s=0.0, train_s=0.0, ns_per_step=None, n_weights=None,
        check_every=0,
    )
    ckpt = Checkpoints(spec, checkpoint_dir, checkpoint_every, timeout,
                       DaskCancel(cancel_event) if cancel_event else None)
    t_start = time.perf_counter()
    try:
        if is_continual(task):  # one endless stream, in training streams (seqbench.continual)
            learner = run_continual(spec, task, learner, result, ckpt, None if getattr(
                learner, "continual", False) else continual_learners(registry))
        elif getattr(learner, "kind", "stream") == "set":
            learner = _fit(spec, task, learner, result, ckpt)
        else:  # the learner may be rolled back to a copy taken at the success point
            learner = _train(spec, task, learner, result, ckpt)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # a learner or task that raises gives an ``error`` trial
        result.status = "error"
        result.stop_reason = type(exc).__name__
        result.error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=6)
    result.diagnostics = _diagnostics(learner)
    result.wall_s = ckpt.prior_s + time.perf_counter() - t_start - result.compile_s
    if result.time_steps:
        result.ns_per_step = result.train_s / result.time_steps * 1e9
    result.notes = [ckpt.note] if ckpt.note else []  # type: ignore[attr-defined]
    if notes is not None:
        notes.extend(result.notes)  # type: ignore[attr-defined]
    return result


def _must_stop(spec: TrialSpec, result: TrialResult, ckpt: Checkpoints, state) -> bool:
    """Between blocks (or fit calls): raise :class:`TrialCancelled` when the coordinator asked
    the trial to stop, and end it as ``timeout`` at its wall-clock limit (True). Either way its
    checkpoint, taken now, lets a re-run continue it."""
    if ckpt.cancelled():
        ckpt.save(state(), force=True)
        raise TrialCancelled(spec.key)
    if ckpt.timed_out():
        result.status = "timeout"
        ckpt.save(state(), force=True)
        return True
    return False


def task_streams_for(spec: TrialSpec, task) -> TaskStreams:
    """The task's random streams for the trial ``spec`` (data and test by dataset index)."""
    dataset = task.dataset_index(spec.trial)
    return TaskStreams(
        data=stream(spec.seed, "data", dataset),
        order=stream(spec.seed, "order", spec.trial),
        test=stream(spec.seed, "test", dataset),
    )


def _start(spec: TrialSpec, task, learner, result: TrialResult):
    """Build and compile the learner (compile time measured apart), start the task's run.

    Compiling first keeps one-time costs (numba's import and cache loading, which the task's
    generator may also need) in the compile time rather than in the trial's wall time."""
    learner.build(task.spec(), stream(spec.seed, "init", spec.trial))
    result.n_weights = int(learner.n_weights)
    t0 = time.perf_counter()
    learner.compile()
    result.compile_s = time.perf_counter() - t0
    run = task.start(task_streams_for(spec, task))
    # a learner without resets must be judged on successive sequences in one predict call
    run.learner_carries_state = bool(getattr(learner, "carries_state", False))
    return run


class StreamTrial:
    """A stream learner's trial as a sequence of blocks, so that a driver can advance several
    trials together: :meth:`next_block` gives the block to train on next (None once the trial
    has ended), the driver trains :attr:`learner` on it (alone, or in a batch with other
    trials' learners) and hands the outputs to :meth:`after`; :meth:`finish` completes the
    result. :func:`run_trial` drives one trial this way, :func:`run_batch` several at once; the
    loop body is the same, so a trial's result does not depend on the driver.
    """

    def __init__(self, spec: TrialSpec, task, learner, result: TrialResult,
                 ckpt: Checkpoints | None = None, saved: dict | None = None):
        self.spec, self.task, self.result = spec, task, result
        self.ckpt = ckpt or Checkpoints(spec)
        if saved is None:
            learner, run, saved = _begin(spec, task, learner, result, self.ckpt)
        else:  # handed over from another process (see run_batch): go on where it was
            learner, run = saved["learner"], saved["run"]
            self.ckpt.prior_s = float(saved.get("elapsed_s", 0.0))
            self.ckpt.index(run)
            self.ckpt.start_clock()
            self.ckpt.continue_save_clock(saved.get("since_checkpoint_s", 0.0))
        self.learner, self.run = learner, run
        if getattr(run, "protocol", "blocks") != "blocks":  # not for this loop
            raise TypeError(f"task {spec.task!r} runs the {run.protocol!r} protocol, not "
                            f"blocks (its Task class must declare protocol = {run.protocol!r})")
        self.progress = TrialProgress(spec.key)
        self.criterion = run.criterion
        self.every = int(getattr(self.criterion, "check_every", 0) or 0)
        result.check_every = self.every
        self.seen = saved["seen"] if saved else 0
        #: a batch driver's share of the wall time this trial has had, kept in its checkpoints
        #: (a lane's elapsed time counts the other lanes' work too); None when run alone
        self.wall_share: float | None = saved.get("wall_s") if saved else None
        self.curve: list[tuple[int, float, float]] = saved["curve"] if saved else []
        if saved:
            self.progress.update(self.seen, force=True)
        # a task may bound the block size (TaskRun.max_block_sequences) to bound its memory
        self.block_cap = min(BLOCK_SEQUENCES,
                             getattr(run, "max_block_sequences", None) or BLOCK_SEQUENCES)
        self.done = False
        self.diverged = False
        self._block = None
        self._before = None

    def state(self) -> dict[str, Any]:
        """Everything the loop needs to go on from here (what a checkpoint holds)."""
        state = {"learner": self.learner, "run": self.run, "seen": self.seen,
                 "curve": self.curve,
                 "result": {k: getattr(self.result, k) for k in CARRIED_FIELDS}}
        if self.wall_share is not None:
            state["wall_s"] = self.wall_share
        return state

    def next_block(self) -> SequenceBlock | None:
        """The next block to train on, or None when the trial has ended (budget, wall-clock
        limit)."""
        if self.done:
            return None
        if self.seen >= self.spec.budget:
            self.result.status = "budget_exhausted"
            self.done = True
            return None
        if _must_stop(self.spec, self.result, self.ckpt, self.state):
            self.done = True
            return None
        n = min(self.block_cap, self.spec.budget - self.seen)
        if self.every:
            n = min(n, self.every - self.seen % self.every)
        self._block = self.run.training_block(n)
        self._before = (_snapshot(self.learner)
                        if getattr(self.criterion, "observe_can_succeed", True) else None)
        return self._block

    def after(self, outputs: np.ndarray, train_s: float) -> None:
        """Judge the outputs of training on the last block (``train_s`` seconds of it are
        this trial's); ends the trial when it is solved or diverged."""
        block, result = self._block, self.result
        n = len(block)
        result.train_s += train_s
        result.time_steps += block.n_steps
        if not (_outputs_finite(block, outputs) and self.learner.is_finite()):
            result.sequences = self.seen + n
            result.status, result.stop_reason = "diverged", "non-finite outputs or weights"
            self.done = self.diverged = True
            return
        correct, error = self.run.judge(block, outputs)
        self.curve.append((self.seen + n, float(np.mean(error)), float(np.mean(correct))))
        hit = self.criterion.observe(correct, error)
        if hit is not None:
            result.status, result.sequences_to_success = "solved", self.seen + int(hit) + 1
            if self._before is not None and int(hit) + 1 < n:
                # the learner trained past the success point; the final test must see the net
                # as it was when the rule held, so replay the block up to that sequence
                self.learner = self._before
                self.learner.train(block.take(slice(0, int(hit) + 1)))
            self.seen += n
            self.done = True
            return
        self.seen += n
        self.progress.update(self.seen)
        if self.every and self.seen % self.every == 0 and self.criterion.check(
                self.learner.predict):
            result.status, result.sequences_to_success = "solved", self.seen
            self.done = True
            return
        self.ckpt.save(self.state())

    def finish(self):
        """Complete the result (stop reason, test metrics, curve); returns the learner as it
        ended (a rolled-back copy after a success inside a block)."""
        result = self.result
        result.curve = _downsample(self.curve)
        if self.diverged:
            return self.learner
        result.sequences = self.seen
        fired = getattr(self.criterion, "fired", None) or self.criterion
        result.stop_reason = (fired.describe() if result.status == "solved"
                              else _limit(self.ckpt) if result.status == "timeout" else "budget")
        result.metrics.update(getattr(self.criterion, "milestones", {}) or {})
        result.metrics.update(self.run.evaluate(self.learner.predict))
        return self.learner


def _train(spec: TrialSpec, task, learner, result: TrialResult,
           ckpt: Checkpoints | None = None):
    """A stream learner's trial; returns the learner as it ended (a rolled-back copy after a
    success inside a block)."""
    trial = StreamTrial(spec, task, learner, result, ckpt)
    while (block := trial.next_block()) is not None:
        t0 = time.perf_counter()
        outputs = trial.learner.train(block)
        trial.after(outputs, time.perf_counter() - t0)
    return trial.finish()


def refuse_history_criterion(criterion, task: str, learner: str) -> None:
    """Raise :class:`~seqbench.errors.ParamError` unless ``criterion`` can judge a set learner."""
    from .errors import ParamError

    if not getattr(criterion, "frozen", False):
        raise ParamError(
            f"task {task!r} stops on {criterion.describe()!r}, a rule over the training "
            f"history; set learner {learner!r} can only be judged on its frozen network "
            "(tasks with such a check: reber, lag-2a/2b/2c, two-sequence, latch, parity)")


def fixed_training_set(run, learner) -> SequenceBlock:
    """The set a set learner fits on: the task's fixed training set, or else the first
    ``sample_size`` sequences of the trial's training stream (copied: blocks may be reused)."""
    fixed = run.training_set()
    if fixed is not None:
        return fixed
    n = int(learner.params.get("sample_size") or DEFAULT_SAMPLE_SIZE)
    cap = getattr(run, "max_block_sequences", None) or BLOCK_SEQUENCES
    parts = []
    while n > 0:
        parts.append(SequenceBlock.concatenate([run.training_block(min(n, cap))]))
        n -= len(parts[-1])
    return parts[0] if len(parts) == 1 else SequenceBlock.concatenate(parts)


def _fit(spec: TrialSpec, task, learner, result: TrialResult,
         ckpt: Checkpoints | None = None):
    """A set learner's trial: fit on the fixed set, judged frozen whenever it asks; returns the
    learner (the resumed one after a checkpoint)."""
    ckpt = ckpt or Checkpoints(spec)
    learner, run, saved = _begin(spec, task, learner, result, ckpt)
    criterion = run.criterion
    refuse_history_criterion(criterion, spec.task, spec.learner)
    data = saved["data"] if saved else fixed_training_set(run, learner)
    progress, presented, curve = resumed_counters(spec, result, saved, "presented")

    def state() -> dict[str, Any]:  # everything the loop below needs to go on from here
        return {"learner": learner, "run": run, "data": data, "presented": presented,
                "curve": curve, "result": {k: getattr(result, k) for k in CARRIED_FIELDS}}

    while presented < spec.budget:
        if _must_stop(spec, result, ckpt, state):
            break
        allowance = min(spec.budget - presented, max(FIT_SEQUENCES, len(data)))
        t0 = time.perf_counter()
        work = learner.fit(data, allowance)
        result.train_s += time.perf_counter() - t0
        if not 0 <= work.sequences <= allowance:
            raise RuntimeError(f"learner {spec.learner!r} reported {work.sequences} sequences "
                               f"presented in a call allowed {allowance}")
        presented += int(work.sequences)
        result.time_steps += int(work.time_steps)
        progress.update(presented)
        outputs = learner.predict(data)
        if not (_outputs_finite(data, outputs) and learner.is_finite()):
            result.sequences = presented
            result.status, result.stop_reason = "diverged", "non-finite outputs or weights"
            result.curve = _downsample(curve)
            return learner
        correct, error = run.judge(data, outputs)
        curve.append((presented, float(np.mean(error)), float(np.mean(correct))))
        if work.check and criterion.check_frozen(learner.predict, presented):
            result.status, result.sequences_to_success = "solved", presented
            break
        if work.stopped:
            result.status = "stopped"
            break
        if work.sequences == 0:  # the rest of the budget is too small for any work
            break
        ckpt.save(state())
    result.sequences = presented
    result.n_weights = int(learner.n_weights)  # a constructive learner has grown meanwhile
    result.stop_reason = {"solved": (getattr(criterion, "fired", None) or criterion).describe(),
                          "stopped": "the learner stopped on its own",
                          "timeout": _limit(ckpt)}.get(result.status, "budget")
    result.metrics.update(getattr(criterion, "milestones", {}) or {})
    result.metrics.update(run.evaluate(learner.predict))
    result.curve = _downsample(curve)
    return learner


def resumed_counters(spec: TrialSpec, result: TrialResult, saved: dict | None, count: str
                     ) -> tuple[TrialProgress, int, list[tuple[int, float, float]]]:
    """A trial loop's progress reporter, its count of work done (``saved[count]``) and its
    curve so far: from the checkpoint ``saved`` when resuming, else fresh (and the result
    marked ``budget_exhausted`` until the loop decides otherwise)."""
    progress = TrialProgress(spec.key)
    done = int(saved[count]) if saved else 0
    curve: list[tuple[int, float, float]] = saved["curve"] if saved else []
    if saved:
        progress.update(done, force=True)
    else:
        result.status = "budget_exhausted"
    return progress, done, curve


def _limit(ckpt: Checkpoints) -> str:
    return f"wall-clock limit of {ckpt.timeout:g} s" if ckpt.timeout else "wall-clock limit"


def _diagnostics(learner) -> dict[str, Any]:
    """The learner's diagnostics as JSON-ready numbers; a failing learner reports none."""
    try:
        found = dict(learner.diagnostics() or {})
    except Exception:
        return {}
    return {str(k): v.item() if isinstance(v, np.generic) else to_jsonable(v)
            for k, v in found.items()}


def _snapshot(learner):
    """A copy of the learner to roll back to, or None when it cannot be copied."""
    try:
        return copy.deepcopy(learner)
    except Exception:  # a learner holding uncopyable state keeps the old behaviour
        return None


def _outputs_finite(block, outputs: np.ndarray) -> bool:
    if np.isfinite(outputs).all():  # fast path; padding may hold anything, so look closer only
        return True
    valid = np.arange(outputs.shape[1])[None, :] < block.lengths[:, None]
    return bool(np.isfinite(outputs[valid]).all())
