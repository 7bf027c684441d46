"""In-trial checkpoints: a running trial's state saved now and then, so that a trial stopped by
Ctrl-C, kill -9 or a crash resumes where it was, with the same result as if never stopped.

The state (learner, the task's run with its criterion and random generators, loop counters, the
curve so far, the result's counters) is pickled at a block or fit-call boundary into
``<store>.checkpoints/<trial key>.ckpt``, written atomically. Arrays the task's run builds at its
start (fixed training and test sets) are saved by reference and rebuilt on resume from the
trial's seeds. A trial's wall-clock limit (``--trial-timeout``) is kept here too.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .trial import TrialSpec


#: the layout of a checkpoint file; a file of another layout is ignored (the trial starts afresh)
CHECKPOINT_FORMAT = 1
#: arrays of at least this many bytes that a task's run holds right after its start (fixed
#: training and test sets) are not written into a checkpoint: a resume rebuilds them
REGENERATE_BYTES = 1 << 15
#: TrialResult fields a checkpoint carries (timings but ``train_s`` start again on resume)
CARRIED_FIELDS = ("status", "stop_reason", "sequences", "sequences_to_success", "time_steps",
            "train_s", "n_weights", "check_every", "metrics", "curve", "error", "diagnostics")


def checkpoint_path(directory: str | os.PathLike, key: str) -> Path:
    """The checkpoint file of the trial with key ``key`` in ``directory``."""
    return Path(directory) / f"{key}.ckpt"


def _digest(array: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(array).view(np.uint8).data,
                           digest_size=16).hexdigest()


class Checkpoints:
    """A running trial's checkpoints and wall-clock limit.

    The trial's state (learner, task run with its criterion and random generators, loop
    counters, curve so far, result counters) is pickled every ``every`` seconds at a block (or
    fit call) boundary to ``directory/<key>.ckpt``, written atomically. Big arrays the run built
    at its start are saved by reference (their position in the run and a digest) and rebuilt on
    resume by starting the task's run again from the trial's seeds. State that cannot be
    pickled turns checkpoints off for the trial, with one ``note``.
    """

    def __init__(self, spec: TrialSpec, directory=None, every: float = 0.0,
                 timeout: float | None = None, cancelled=None):
        self.spec = spec
        #: ``cancelled()`` is True once the coordinator has asked the trial to stop (Dask)
        self.cancelled = cancelled or (lambda: False)
        on = directory is not None and every is not None and every > 0
        self.path = checkpoint_path(directory, spec.key) if on else None
        self.every = float(every or 0.0)
        self.timeout = float(timeout) if timeout else None
        self.note: str | None = None
        self.resumed = False
        #: training wall seconds spent in earlier sessions of a resumed trial
        self.prior_s = 0.0
        self._t0 = time.perf_counter()
        self._last = time.monotonic()
        self._regen: list[np.ndarray] = []  # held so that their ids stay theirs
        self._digests: list[str] = []

    def start_clock(self) -> None:
        self._t0 = time.perf_counter()
        self._last = time.monotonic()

    def seconds_since_save(self) -> float:
        """Seconds since the trial's state was last written (or its clock started)."""
        return time.monotonic() - self._last

    def continue_save_clock(self, seconds_since_save: float) -> None:
        """Go on counting toward the next checkpoint from where the process that ran the trial
        before left off: a trial handed on every few seconds (a --jobs slice) must still be
        saved every ``every`` seconds, not restart its count with every hand-over."""
        self._last = time.monotonic() - max(0.0, float(seconds_since_save))

    def elapsed(self) -> float:
        """Training wall seconds of the trial so far, over every session."""
        return self.prior_s + time.perf_counter() - self._t0

    def timed_out(self) -> bool:
        return self.timeout is not None and self.elapsed() >= self.timeout

    def _off(self, why: str) -> None:
        if self.path is not None and self.note is None:
            self.note = (f"checkpoints off for {self.spec.learner} on {self.spec.task}: {why}; "
                         "its trials run without")
        self.path = None

    def index(self, run) -> None:
        """Note the big arrays ``run`` holds right after its start, in pickling order."""
        if self.path is None:
            return
        found: list[np.ndarray] = []
        seen: set[int] = set()

        class Walk(pickle.Pickler):
            def persistent_id(self, obj):
                if (isinstance(obj, np.ndarray) and obj.dtype != object
                        and obj.nbytes >= REGENERATE_BYTES and id(obj) not in seen):
                    seen.add(id(obj))
                    found.append(obj)
                return None

        try:
            Walk(io.BytesIO(), protocol=pickle.HIGHEST_PROTOCOL).dump(run)
        except Exception as exc:
            self._off(f"the task's run cannot be saved ({type(exc).__name__}: {exc})")
            return
        self._regen = found
        self._digests = [_digest(a) for a in found]

    def load(self) -> dict | None:
        """The saved state, or None (no file, another layout, or unreadable: start afresh)."""
        if self.path is None or not self.path.exists():
            return None
        arrays = self._regen
        try:
            with open(self.path, "rb") as f:
                head = pickle.load(f)
                if (not isinstance(head, dict) or head.get("format") != CHECKPOINT_FORMAT
                        or head.get("key") != self.spec.key):
                    return None
                for i, digest in head["regenerated"].items():
                    if i >= len(arrays) or self._digests[i] != digest:
                        return None

                class Loader(pickle.Unpickler):
                    def persistent_load(self, pid):
                        return arrays[pid]

                state = Loader(f).load()
        except Exception as exc:  # a torn or stale file: the trial starts afresh
            self.note = (f"checkpoint of {self.spec.learner} on {self.spec.task} trial "
                         f"{self.spec.trial} unreadable ({type(exc).__name__}); started afresh")
            return None
        self.prior_s = float(head.get("elapsed_s") or 0.0)
        self.resumed = True
        return state

    def save(self, state: dict, force: bool = False) -> None:
        """Write ``state`` if the interval has passed (or ``force``)."""
        if self.path is None or (not force and time.monotonic() - self._last < self.every):
            return
        by_id = {id(a): i for i, a in enumerate(self._regen) if _digest(a) == self._digests[i]}

        class Saver(pickle.Pickler):
            def persistent_id(self, obj):
                return by_id.get(id(obj)) if isinstance(obj, np.ndarray) else None

        buf = io.BytesIO()
        try:
            pickle.dump({"format": CHECKPOINT_FORMAT, "key": self.spec.key,
                         "regenerated": {i: self._digests[i] for i in by_id.values()},
                         "elapsed_s": self.elapsed()}, buf, protocol=pickle.HIGHEST_PROTOCOL)
            Saver(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(state)
        except Exception as exc:
            self._off(f"its state cannot be saved ({type(exc).__name__}: {exc})")
            return
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(buf.getbuffer())
            os.replace(tmp, self.path)
        except OSError as exc:  # a full disk must not fail the trial
            tmp.unlink(missing_ok=True)
            self._off(f"cannot write {self.path.parent} ({exc.strerror or exc})")
            return
        self._last = time.monotonic()


class TrialCancelled(BaseException):
    """The coordinator asked a running trial to stop (it is not a result: nothing is stored).
    A BaseException, so that no learner's or task's ``except Exception`` can swallow it."""


class DaskCancel:
    """Whether the Dask event ``name`` is set, asked at most once every ``every`` seconds: the
    cooperative way a coordinator stops its trials on a shared cluster, between blocks, instead
    of killing workers that other work may be using."""

    def __init__(self, name: str, every: float = 1.0):
        self.name = name
        self.every = every
        self._next = 0.0
        self._event = None

    def __call__(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.every
        try:
            if self._event is None:
                from distributed import Event

                self._event = Event(self.name)
            return bool(self._event.is_set())
        except Exception:  # no cluster to ask (a plain process): never cancelled
            return False
