"""The result store: one SQLite file holding every run and every finished trial.

Each trial is committed on its own the moment it finishes, so a crash or Ctrl-C loses at most
the trials still in flight. Trials are keyed by the hash of their canonical spec
(:attr:`seqbench.trial.TrialSpec.key`): asking for the same work again finds it. The schema is
versioned by a ``schema_migrations`` table, in the manner of simonw/llm.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from .errors import StoreError
from .trial import TrialResult, TrialSpec

DEFAULT_DB_ENV = "SEQBENCH_DB"
#: seconds to wait for another process's lock before giving up ($SEQBENCH_DB_TIMEOUT)
LOCK_TIMEOUT_ENV = "SEQBENCH_DB_TIMEOUT"
DEFAULT_DB_NAME = "seqbench.db"
#: statuses that are final: such a trial is reused, never recomputed
REUSABLE = ("solved", "budget_exhausted", "stopped", "diverged")

MIGRATIONS: list[tuple[str, str]] = [
    (
        "001_initial",
        """
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            started_at REAL NOT NULL,
            command TEXT NOT NULL,
            seqbench_version TEXT,
            plugin_versions TEXT,
            git_revision TEXT,
            machine TEXT
        );
        CREATE TABLE trials (
            key TEXT PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            config_key TEXT NOT NULL,
            task TEXT NOT NULL,
            learner TEXT NOT NULL,
            preset TEXT,
            trial INTEGER NOT NULL,
            seed INTEGER NOT NULL,
            budget INTEGER NOT NULL,
            spec TEXT NOT NULL,
            status TEXT NOT NULL,
            stop_reason TEXT,
            sequences INTEGER,
            sequences_to_success INTEGER,
            time_steps INTEGER,
            wall_s REAL,
            compile_s REAL,
            train_s REAL,
            ns_per_step REAL,
            n_weights INTEGER,
            check_every INTEGER,
            metrics TEXT,
            error TEXT,
            finished_at REAL NOT NULL
        );
        CREATE INDEX trials_config ON trials(config_key);
        CREATE INDEX trials_task_learner ON trials(task, learner);
        CREATE TABLE curves (
            key TEXT PRIMARY KEY REFERENCES trials(key) ON DELETE CASCADE,
            points TEXT NOT NULL
        );
        """,
    ),
    (
        "002_learner_diagnostics",
        """
        ALTER TABLE trials ADD COLUMN diagnostics TEXT
        """,
    ),
]


def default_db_path() -> Path:
    """``$SEQBENCH_DB`` if set, else ``seqbench.db`` in the current directory."""
    return Path(os.environ.get(DEFAULT_DB_ENV) or DEFAULT_DB_NAME)


def _lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV) or "30"
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise StoreError(f"${LOCK_TIMEOUT_ENV} must be a number of seconds >= 0, got {raw!r}")
    return value


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except Exception:
        return None
    return out.stdout.strip() or None


def _package_version(name: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _cpu() -> dict[str, Any]:
    """The CPU model and its flags from /proc/cpuinfo where there is one (Linux), else
    :func:`platform.processor` (flags then unknown)."""
    model, flags = None, None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if model is None and key in ("model name", "cpu model", "processor name"):
                    model = value.strip() or None
                elif flags is None and key in ("flags", "features"):
                    flags = value.split()
                if model is not None and flags is not None:
                    break
    except OSError:
        pass
    return {"cpu_model": model or platform.processor() or platform.machine() or None,
            "cpu_flags": flags}


def _machine_provenance() -> dict[str, Any]:
    """What decides a trial's speed (and, for numba's fastmath, its last bits): the numerical
    stack's versions and the CPU."""
    versions = {name: _package_version(name) for name in ("numba", "llvmlite", "numpy", "scipy")}
    return {"python_implementation": platform.python_implementation(),
            "versions": {"python": platform.python_version(), **versions}, **_cpu()}


class Store:
    """A SQLite result store at ``path`` (created on first use)."""

    def __init__(self, path: str | os.PathLike, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not self.path.exists():
            raise StoreError(f"store {str(self.path)!r} does not exist")
        if self.path.is_dir():
            raise StoreError(f"store {str(self.path)!r} is a directory, not a SQLite file")
        try:
            timeout = _lock_timeout()
            if readonly:
                self.conn = self._connect_readonly(timeout)
            else:
                self.conn = sqlite3.connect(str(self.path), timeout=timeout)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None

    def _connect_readonly(self, timeout: float) -> sqlite3.Connection:
        """Open for reading only. A WAL store needs its -shm file, which SQLite cannot create
        in a directory we may not write; such a store, with no unfinished -wal beside it, cannot
        be being written by anyone, so it is then read as immutable."""
        uri = self.path.resolve().as_uri()  # percent-encodes '?', '#', '%' and spaces
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as exc:
            wal = Path(f"{self.path}-wal")
            cannot_write = "readonly" in str(exc) or "unable to open" in str(exc)
            if not cannot_write or (wal.exists() and wal.stat().st_size > 0):
                conn.close()
                raise
        conn.close()
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, timeout=timeout)

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        msg = str(exc)
        where = str(self.path)
        if "not a database" in msg or "malformed" in msg:
            return f"store {where!r} is not a seqbench SQLite database ({msg})"
        if "locked" in msg or "busy" in msg:
            return f"store {where!r} is locked by another process; wait for it or use --db"
        if "readonly" in msg or "read-only" in msg:
            return f"store {where!r} is read-only; use --db to write elsewhere"
        if "unable to open" in msg:
            return f"store {where!r} cannot be opened (check the directory exists and is writable)"
        return f"store {where!r}: {msg}"

    def _migrate(self) -> None:
        if not self.readonly:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)"
            )
        try:
            done = {r[0] for r in self.conn.execute("SELECT name FROM schema_migrations")}
        except sqlite3.OperationalError:
            raise StoreError(f"store {str(self.path)!r} has no seqbench schema") from None
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            if self.readonly:
                raise StoreError(f"store {str(self.path)!r} needs migration {name}; open it writable")
            with self.conn:
                for statement in filter(str.strip, sql.split(";")):
                    self.conn.execute(statement)
                self.conn.execute(
                    "INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)",
                    (name, time.time()),
                )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------------
    def start_run(self, command: str, plugin_versions: dict[str, str]) -> int:
        """Record the provenance of one invocation; returns its run id."""
        from . import __version__

        machine = {"python": platform.python_version(), "platform": platform.platform(),
                   "cpus": os.cpu_count(), **_machine_provenance()}
        try:
            with self.conn:
                cur = self.conn.execute(
                    "INSERT INTO runs (started_at, command, seqbench_version, plugin_versions, "
                    "git_revision, machine) VALUES (?, ?, ?, ?, ?, ?)",
                    (time.time(), command, __version__, json.dumps(plugin_versions),
                     _git_revision(), json.dumps(machine)),
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None
        return int(cur.lastrowid)

    def save(self, spec: TrialSpec, result: TrialResult, run_id: int | None = None) -> None:
        """Store one finished trial and commit at once (replacing an earlier attempt)."""
        row = (
            spec.key, run_id, spec.config_key, spec.task, spec.learner, spec.preset, spec.trial,
            spec.seed, spec.budget, json.dumps(spec.canonical(), sort_keys=True), result.status,
            result.stop_reason, result.sequences, result.sequences_to_success, result.time_steps,
            result.wall_s, result.compile_s, result.train_s, result.ns_per_step, result.n_weights,
            result.check_every, json.dumps(result.metrics, sort_keys=True), result.error,
            time.time(), json.dumps(result.diagnostics, sort_keys=True),
        )
        try:
            with self.conn:
                self.conn.execute(
                    "INSERT OR REPLACE INTO trials VALUES (" + ",".join("?" * len(row)) + ")", row
                )
                self.conn.execute(
                    "INSERT OR REPLACE INTO curves (key, points) VALUES (?, ?)",
                    (spec.key, json.dumps(result.curve)),
                )
        except sqlite3.DatabaseError as exc:
            raise StoreError(self._explain(exc)) from None

    # -- reading -------------------------------------------------------------------------------
    def finished(self, keys: Iterable[str]) -> dict[str, sqlite3.Row]:
        """The stored trials among ``keys`` whose status is final (reused, not recomputed)."""
        keys = list(keys)
        out: dict[str, sqlite3.Row] = {}
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            q = (f"SELECT * FROM trials WHERE key IN ({','.join('?' * len(chunk))}) "
                 f"AND status IN ({','.join('?' * len(REUSABLE))})")
            out.update({r["key"]: r for r in self.conn.execute(q, (*chunk, *REUSABLE))})
        return out

    def trials(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored trials (all, or those with the given keys) as dicts with decoded JSON."""
        if keys is None:
            rows = self.conn.execute("SELECT * FROM trials ORDER BY task, learner, trial").fetchall()
        else:
            keys = list(keys)
            rows = []
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                rows += self.conn.execute(
                    f"SELECT * FROM trials WHERE key IN ({','.join('?' * len(chunk))})", chunk
                ).fetchall()
        return [row_to_dict(r) for r in rows]

    def curve(self, key: str) -> list[tuple[int, float, float]]:
        row = self.conn.execute("SELECT points FROM curves WHERE key = ?", (key,)).fetchone()
        return [tuple(p) for p in json.loads(row[0])] if row else []

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        for r in self.conn.execute("SELECT * FROM trials ORDER BY task, learner, trial"):
            yield row_to_dict(r)

    def merge_from(self, other: Store | str | os.PathLike) -> int:
        """Copy every trial of ``other`` not already here; returns how many were copied.

        Columns are matched by name (those both stores have), so a store written with an older
        schema merges: a column it lacks is left at its default here. ``other`` may be a path:
        it is then opened read-only and read as it is, without applying (or requiring) its
        migrations, as a read-only :class:`Store` would demand."""
        if isinstance(other, Store):
            return self._merge_rows(other.conn, str(other.path))
        source = Store.__new__(Store)
        source.path, source.readonly = Path(other), True
        if not source.path.is_file():
            raise StoreError(f"store {str(source.path)!r} does not exist")
        try:
            source.conn = source._connect_readonly(_lock_timeout())
        except sqlite3.DatabaseError as exc:
            raise StoreError(source._explain(exc)) from None
        try:
            return self._merge_rows(source.conn, str(source.path))
        except sqlite3.DatabaseError as exc:
            raise StoreError(source._explain(exc)) from None
        finally:
            source.conn.close()

    def _merge_rows(self, src: sqlite3.Connection, where: str) -> int:
        def columns(conn: sqlite3.Connection, table: str) -> list[str]:
            return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

        theirs = columns(src, "trials")
        if "key" not in theirs:
            raise StoreError(f"store {where!r} has no seqbench trials table")
        names = [c for c in columns(self.conn, "trials") if c in theirs]
        has_curves = bool(columns(src, "curves"))
        mine = {r[0] for r in self.conn.execute("SELECT key FROM trials")}
        select = "SELECT " + ", ".join(f'"{c}"' for c in names) + " FROM trials"
        insert = ("INSERT INTO trials (" + ", ".join(f'"{c}"' for c in names) + ") VALUES ("
                  + ",".join("?" * len(names)) + ")")
        n = 0
        with self.conn:
            for r in src.execute(select).fetchall():
                row = dict(zip(names, r))
                if row["key"] in mine:
                    continue
                if "run_id" in row:
                    row["run_id"] = None  # run ids are local to a store
                self.conn.execute(insert, [row[c] for c in names])
                curve = src.execute(
                    "SELECT points FROM curves WHERE key = ?", (row["key"],)
                ).fetchone() if has_curves else None
                if curve:
                    self.conn.execute(
                        "INSERT OR REPLACE INTO curves (key, points) VALUES (?, ?)",
                        (row["key"], curve[0]),
                    )
                n += 1
        return n


def row_to_dict(row: sqlite3.Row) -> dict[str, Any]:
    d = dict(row)
    d["spec"] = json.loads(d["spec"])
    d["metrics"] = json.loads(d["metrics"] or "{}")
    d["diagnostics"] = json.loads(d.get("diagnostics") or "{}")
    return d
