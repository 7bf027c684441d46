"""Progress of a command that runs trials: how many are done, running, solved and failed, time
spent and left, and how far each running trial has trained.

A running trial tells how many sequences it has presented by writing that number, at most once a
second, to a small file named after its key in the directory ``$SEQBENCH_PROGRESS_DIR`` (set by
the command for itself and its worker processes; nothing is written when it is unset). The
command's display reads those files, so it works the same for trials run in this process and in
local worker processes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

PROGRESS_DIR_ENV = "SEQBENCH_PROGRESS_DIR"
#: seconds between two progress writes of one trial
WRITE_EVERY = 1.0


class TrialProgress:
    """What a running trial writes: its sequences presented so far (throttled)."""

    def __init__(self, key: str):
        root = os.environ.get(PROGRESS_DIR_ENV)
        self.path = Path(root) / f"{key}.seq" if root else None
        self._last = 0.0

    def update(self, sequences: int, force: bool = False) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if not force and now - self._last < WRITE_EVERY:
            return
        self._last = now
        try:
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(str(int(sequences)))
            tmp.replace(self.path)
        except OSError:  # progress is a courtesy; a full disk must not fail a trial
            pass


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Display:
    """The live status line of a command (on stderr, only when stdout and stderr are terminals
    and not ``quiet``), with the per-trial lines printed above it.

    Use as a context manager around the work; call :meth:`trial_done` for each finished trial.
    ``estimate_s`` (optional, total seconds for all trials, e.g. from stored trials) seeds the
    time-left estimate until trials finish.
    """

    def __init__(self, total: int, jobs: int, quiet: bool, budget: dict[str, int] | None = None):
        import sys

        self.total, self.jobs, self.quiet = total, max(1, jobs), quiet
        self.budget = budget or {}
        self.done = self.solved = self.unsolved = self.failed = 0
        self.walls: list[float] = []
        # drawn on stderr, and only when the command talks to a person: stdout and stderr
        # are both terminals (a table piped to a file gets no escape codes beside it)
        self.live_on = (not quiet) and sys.stdout.isatty() and sys.stderr.isatty() and total > 0
        self._dir: str | None = None
        self._saved_env: str | None = None
        self._live = None
        self._console = None
        self.start = time.monotonic()

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Display:
        self._dir = tempfile.mkdtemp(prefix="seqbench-progress-")
        self._saved_env = os.environ.get(PROGRESS_DIR_ENV)
        os.environ[PROGRESS_DIR_ENV] = self._dir
        if self.live_on:
            from rich.console import Console
            from rich.live import Live

            self._console = Console(stderr=True)
            self._live = Live(self._render(), console=self._console, refresh_per_second=2,
                              transient=True, get_renderable=self._render)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
        if self._saved_env is None:
            os.environ.pop(PROGRESS_DIR_ENV, None)
        else:
            os.environ[PROGRESS_DIR_ENV] = self._saved_env
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)

    # -- events ------------------------------------------------------------------------------
    def trial_done(self, key: str, status: str, wall_s: float | None, line: str) -> None:
        """Count a finished trial and print its line (unless quiet)."""
        self.done += 1
        if status == "solved":
            self.solved += 1
        elif status in ("error", "diverged"):
            self.failed += 1
        else:
            self.unsolved += 1
        if wall_s:
            self.walls.append(float(wall_s))
        if self._dir:
            Path(self._dir, f"{key}.seq").unlink(missing_ok=True)
        if self.quiet:
            return
        if self._console is not None:
            self._console.print(line, highlight=False, markup=False)
        else:
            import click

            click.echo(line, err=True)

    # -- the status line ---------------------------------------------------------------------
    def running(self) -> dict[str, int]:
        """Sequences presented so far by each running trial (by key)."""
        out: dict[str, int] = {}
        if not self._dir:
            return out
        for path in Path(self._dir).glob("*.seq"):
            try:
                out[path.stem] = int(path.read_text() or 0)
            except (OSError, ValueError):
                continue
        return out

    def left_s(self) -> float | None:
        """Estimated seconds left: the finished trials' mean wall time for every trial still to
        finish, spread over the jobs (None before the first trial finishes)."""
        if not self.walls:
            return None
        remaining = self.total - self.done
        return sum(self.walls) / len(self.walls) * remaining / self.jobs

    def status(self) -> str:
        elapsed = time.monotonic() - self.start
        running = self.running()
        left = self.left_s()
        parts = [f"trials {self.done}/{self.total} done", f"{len(running)} running",
                 f"{self.solved} solved", f"{self.unsolved} unsolved"]
        if self.failed:
            parts.append(f"{self.failed} failed")
        parts.append(f"elapsed {_clock(elapsed)}")
        parts.append(f"left ~{_clock(left)}" if left is not None else "left ?")
        if running:
            key = max(running, key=running.get)
            budget = self.budget.get(key)
            parts.append(f"furthest running trial at {running[key]:,}"
                         + (f"/{budget:,}" if budget else "") + " sequences")
        return " · ".join(parts)

    def _render(self):
        from rich.text import Text

        return Text(self.status())
