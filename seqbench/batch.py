"""Several trials of one configuration advanced together, as the lanes of one kernel call.

A learner that declares :attr:`~seqbench.contracts.Learner.batch_lanes` > 1 trains independent
trials side by side (:meth:`~seqbench.contracts.Learner.train_batch`). :func:`run_batch` keeps
up to that many trials of one configuration running: each is a
:class:`~seqbench.trial.StreamTrial` with its own data, criterion, rollback point and
checkpoints, so every lane goes through exactly the loop a lone trial goes through; a lane whose
trial ends (solved, budget, diverged, wall-clock limit, error) is reported at once and its place
taken by the next trial waiting. A trial's stored result (all but its timings) is the same
whether it ran alone or in a batch of any size.

For worker processes, :func:`run_slice` runs a batch until one of its trials finishes or a time
slice ends and returns the finished results with the running trials' states, which the
coordinator hands to the next call (:mod:`seqbench.runner`): so a finished trial reaches the
store as soon as the call that finished it returns, and no call runs longer than its slice
(plus one block).
"""

from __future__ import annotations

import time
import traceback
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .checkpoints import Checkpoints, DaskCancel, TrialCancelled
from .trial import StreamTrial, TrialResult, TrialSpec, _diagnostics

#: seconds a worker's call may run before it hands its running trials back (see run_slice)
SLICE_SECONDS = 30.0


@dataclass
class _Lane:
    spec: TrialSpec
    trial: StreamTrial | None
    result: TrialResult
    #: this lane's share of the batch's wall time so far (over every session of the trial):
    #: a batch call's time is shared among its lanes
    wall: float = 0.0


def lanes_for(learner_cls, trials: int) -> int:
    """How many trials of one configuration to advance together: the learner's
    ``batch_lanes``, at most the number of trials (1 for a learner that trains one at a time)."""
    if getattr(learner_cls, "kind", "stream") != "stream":
        return 1
    return max(1, min(int(getattr(learner_cls, "batch_lanes", 1) or 1), trials))


def _new_result(spec: TrialSpec) -> TrialResult:
    return TrialResult(
        key=spec.key, status="error", stop_reason="", sequences=0, sequences_to_success=None,
        time_steps=0, wall_s=0.0, compile_s=0.0, train_s=0.0, ns_per_step=None,
        n_weights=None, check_every=0,
    )


def _fail(result: TrialResult, exc: BaseException) -> None:
    result.status = "error"
    result.stop_reason = type(exc).__name__
    result.error = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc(limit=6)


def _open(spec: TrialSpec, registry, saved: dict | None, limits: dict[str, Any]) -> _Lane:
    """Start (or continue, from ``saved``) one trial as a lane."""
    t0 = time.perf_counter()
    result = _new_result(spec)
    cancel = limits.get("cancel_event")
    ckpt = Checkpoints(spec, limits.get("checkpoint_dir"), limits.get("checkpoint_every", 0.0),
                       limits.get("timeout"), DaskCancel(cancel) if cancel else None)
    lane = _Lane(spec, None, result)
    try:
        task = registry.task(spec.task)(**spec.task_params)
        if saved is None:
            learner = registry.learner(spec.learner)(**spec.learner_params)
            lane.trial = StreamTrial(spec, task, learner, result, ckpt)
            # a trial resumed from its checkpoint file: its share, not the elapsed time
            shared = lane.trial.wall_share
            lane.wall = ckpt.prior_s if shared is None else shared
        else:
            for k, v in saved["result"].items():
                setattr(result, k, v)
            result.compile_s = saved.get("compile_s", 0.0)
            t1 = time.perf_counter()
            saved["learner"].compile()
            result.compile_s += time.perf_counter() - t1
            lane.trial = StreamTrial(spec, task, saved["learner"], result, ckpt, saved=saved)
            lane.wall = saved.get("wall_s", 0.0)
    except (KeyboardInterrupt, SystemExit, TrialCancelled):
        raise
    except Exception as exc:
        _fail(result, exc)
    lane.wall += time.perf_counter() - t0 - (result.compile_s if saved is None else 0.0)
    return lane


def _close(lane: _Lane) -> TrialResult:
    """The lane's finished result, completed as :func:`~seqbench.trial.run_trial` does."""
    result, learner = lane.result, None
    t0 = time.perf_counter()
    if lane.trial is not None:
        try:
            learner = lane.trial.finish()
        except (KeyboardInterrupt, SystemExit, TrialCancelled):
            raise
        except Exception as exc:
            _fail(result, exc)
            learner = lane.trial.learner
    result.diagnostics = _diagnostics(learner) if learner is not None else {}
    result.wall_s = lane.wall + time.perf_counter() - t0
    if result.time_steps:
        result.ns_per_step = result.train_s / result.time_steps * 1e9
    ckpt = lane.trial.ckpt if lane.trial is not None else None
    result.notes = [ckpt.note] if ckpt is not None and ckpt.note else []  # type: ignore
    return result


def _state(lane: _Lane) -> dict[str, Any]:
    """What another process needs to continue the lane's trial."""
    trial = lane.trial
    state = trial.state()
    state["elapsed_s"] = trial.ckpt.elapsed()
    state["since_checkpoint_s"] = trial.ckpt.seconds_since_save()
    state["compile_s"] = lane.result.compile_s
    state["wall_s"] = lane.wall
    return state


def run_batch(items: Sequence[tuple[TrialSpec, dict | None]], registry=None, *,
              lanes: int | None = None, slice_s: float | None = None,
              **limits: Any) -> Iterator[tuple[str, TrialSpec, Any]]:
    """Advance the trials ``items`` (``(spec, saved state or None)``, all of one configuration)
    ``lanes`` at a time; yields ``("result", spec, TrialResult)`` as each trial ends. With
    ``slice_s``, it stops after the batch call in which a trial ended or after which
    ``slice_s`` seconds have passed, yields that trial's result, and ``("state", spec, state)``
    for each trial still running and ``("waiting", spec, None)`` for each not yet started.

    ``limits``: ``checkpoint_dir``, ``checkpoint_every``, ``timeout``, ``cancel_event`` as for
    :func:`~seqbench.trial.run_trial`.
    """
    from .plugins import get_registry

    registry = registry or get_registry()
    if not items:
        return
    learner_cls = registry.learner(items[0][0].learner)
    width = lanes or lanes_for(learner_cls, len(items))
    waiting = deque(items)
    running: list[_Lane] = []
    t_start = time.perf_counter()
    while waiting or running:
        while waiting and len(running) < width:
            spec, saved = waiting.popleft()
            running.append(_open(spec, registry, saved, limits))
        blocks, active = [], []
        for lane in running:
            block = None
            if lane.trial is not None:
                try:
                    block = lane.trial.next_block()
                except (KeyboardInterrupt, SystemExit, TrialCancelled):
                    raise
                except Exception as exc:
                    _fail(lane.result, exc)
                    lane.trial.done = True
            if block is None:
                yield "result", lane.spec, _close(lane)
            else:
                blocks.append(block)
                active.append(lane)
        running = active
        if not running:
            continue
        t0 = time.perf_counter()
        learners = [lane.trial.learner for lane in running]
        try:
            outputs = learner_cls.train_batch(learners, blocks)
        except (KeyboardInterrupt, SystemExit, TrialCancelled):
            raise
        except Exception as exc:  # isolate the lane at fault: each learner alone
            outputs = []
            for lane, learner, block in zip(running, learners, blocks):
                try:
                    outputs.append(learner.train(block))
                except Exception:
                    _fail(lane.result, exc)
                    lane.trial.done = True
                    outputs.append(None)
        elapsed = time.perf_counter() - t0
        steps = sum(b.n_steps for b in blocks) or 1
        for lane, block, out in zip(running, blocks, outputs):
            t1 = time.perf_counter()
            lane.trial.wall_share = lane.wall + elapsed / len(running)  # for its checkpoints
            if out is not None and not lane.trial.done:
                try:
                    lane.trial.after(out, elapsed * block.n_steps / steps)
                except (KeyboardInterrupt, SystemExit, TrialCancelled):
                    raise
                except Exception as exc:
                    _fail(lane.result, exc)
                    lane.trial.done = True
            lane.wall += elapsed / len(running) + time.perf_counter() - t1
        if slice_s is not None and (any(lane.trial.done for lane in running)
                                    or time.perf_counter() - t_start >= slice_s):
                for lane in running:
                    if lane.trial.done:
                        yield "result", lane.spec, _close(lane)
                    else:
                        yield "state", lane.spec, _state(lane)
                for spec, saved in waiting:
                    yield ("state", spec, saved) if saved else ("waiting", spec, None)
                return


def run_slice(items: Sequence[tuple[TrialSpec, dict | None]], limits: dict[str, Any] | None
              = None, lanes: int | None = None, slice_s: float = SLICE_SECONDS,
              registry=None) -> tuple[list, list]:
    """One call's work: advance ``items`` until a trial finishes or ``slice_s`` passes;
    returns ``(finished, unfinished)``: ``[(key, TrialResult)]`` and ``[(spec, state or
    None)]`` to hand to the next call."""
    finished, unfinished = [], []
    for kind, spec, value in run_batch(items, registry, lanes=lanes, slice_s=slice_s,
                                       **(limits or {})):
        if kind == "result":
            finished.append((spec.key, value))
        else:
            unfinished.append((spec, value))
    return finished, unfinished


__all__ = ["SLICE_SECONDS", "lanes_for", "run_batch", "run_slice"]
