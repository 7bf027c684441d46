"""Faults and bad input through the real CLI: nothing stored is lost, every error is one line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seqbench_learners.lstm97.learner import LSTM97
from helpers import run_cli

TESTS = Path(__file__).parent
FAKES_PLUGIN = """
from fakes import Dunce, FirstBit, Oracle
from seqbench.hookspecs import hookimpl

@hookimpl
def seqbench_register_tasks(register):
    register(FirstBit)

@hookimpl
def seqbench_register_learners(register):
    register(Oracle)
    register(Dunce)
"""


@pytest.fixture
def fakes_env(plugin_dist):
    env = plugin_dist("fakes-dist", {"fakes": FAKES_PLUGIN})
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(TESTS)])
    return env


def _error_line(out) -> str:
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert "Traceback" not in out.stderr, out.stderr
    return lines[-1]


def test_diverging_and_raising_learners_are_recorded_and_the_run_goes_on(fakes_env, tmp_path):
    db = tmp_path / "f.db"
    out = run_cli(["compare", "--task", "first-bit", "--learners", "dunce,oracle,dunce@none",
                   "-p", "dunce.bad_after=0", "--trials", "2", "--db", str(db),
                   "--format", "json", "-q"], fakes_env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert rows[0]["statuses"]["diverged"] == 2 and rows[1]["successes"] == 2
    out = run_cli(["compare", "--task", "first-bit", "--learners", "dunce,oracle",
                   "-p", "dunce.raise_after=0", "--trials", "2", "--db", str(db),
                   "--format", "json", "-q"], fakes_env)
    rows = json.loads(out.stdout)["rows"]
    assert rows[0]["statuses"]["error"] == 2
    assert "exploded on purpose" in rows[0]["errors"][0]
    # the table is printed, then the command fails with a one-line summary of the errors
    assert out.returncode == 1 and "2 trials ended in error" in _error_line(out)
    assert "2 trials reused" in out.stderr  # the oracle's trials from the first run


def _immutable(path: Path) -> bool:
    """Make ``path`` unwritable even for root (chattr +i); False if this machine cannot."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return True
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def test_read_only_store_keeps_its_trials(fakes_env, tmp_path):
    db = tmp_path / "ro.db"
    args = ["compare", "--task", "first-bit", "--learners", "oracle", "--trials", "2",
            "--db", str(db), "-q", "--format", "json"]
    assert run_cli(args, fakes_env).returncode == 0
    size = db.stat().st_size
    if not _immutable(db):
        pytest.skip("cannot make a file read-only for root here (chattr +i refused)")
    try:
        reread = run_cli(args, fakes_env)  # everything reused: reading a read-only store is fine
        assert reread.returncode == 0 and json.loads(reread.stdout)["rows"][0]["successes"] == 2
        more = run_cli([*args[:-2], "--trials", "3"], fakes_env)  # needs a write
        assert more.returncode == 2
        assert "read-only" in _error_line(more)
    finally:
        subprocess.run(["chattr", "-i", str(db)], capture_output=True)
        db.chmod(0o644)
    assert db.stat().st_size == size
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 2


def test_store_locked_by_another_process(fakes_env, tmp_path):
    db = tmp_path / "lock.db"
    args = ["compare", "--task", "first-bit", "--learners", "oracle", "--db", str(db), "-q"]
    assert run_cli([*args, "--trials", "1"], fakes_env).returncode == 0
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None);"
         "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(30)", str(db)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        out = run_cli([*args, "--trials", "3"], {**fakes_env, "SEQBENCH_DB_TIMEOUT": "0.5"})
    finally:
        holder.kill()
        holder.wait()
    assert out.returncode == 2 and "locked by another process" in _error_line(out)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 1


def test_ctrl_c_keeps_finished_trials_and_the_same_command_resumes(tmp_path):
    db = tmp_path / "c.db"
    # more trials than one batch of lanes holds: a first batch finishes while others wait
    trials = 2 * LSTM97.batch_lanes + 4
    args = ["compare", "--task", "reber", "--learners", "lstm", "--trials", str(trials),
            "--budget", "1500", "-t", "n_train=16", "-t", "n_test=16", "--db", str(db)]
    proc = subprocess.Popen([sys.executable, "-c", "from seqbench.cli import main; main()",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    finished = 0
    while time.time() < deadline and finished < 2:
        time.sleep(0.2)
        if db.exists():
            try:
                with sqlite3.connect(db, timeout=1) as conn:
                    finished = conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    with sqlite3.connect(db) as conn:
        kept = conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    assert 2 <= kept < trials
    again = run_cli([*args, "-q"])
    assert again.returncode == 0
    assert f"{kept} trials reused from the store, {trials - kept} run now" in again.stderr


def test_bad_environment_values_are_one_line_errors(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm", "--db",
                   str(tmp_path / "e.db")], {"SEQBENCH_DB_TIMEOUT": "soon"})
    assert out.returncode == 2 and "SEQBENCH_DB_TIMEOUT" in _error_line(out)


def test_store_in_a_missing_directory(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm", "--db",
                   str(tmp_path / "no" / "such" / "dir.db")])
    assert out.returncode == 2 and "cannot be opened" in _error_line(out)


def test_a_finished_comparison_prints_from_a_store_on_a_read_only_disk(fakes_env, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "s.db"
    args = ["compare", "--task", "first-bit", "--learners", "oracle", "--trials", "2",
            "--db", str(db), "-q", "--format", "json"]
    assert run_cli(args, fakes_env).returncode == 0
    if not _immutable(folder):
        pytest.skip("cannot make a directory read-only for root here (chattr +i refused)")
    try:
        again = run_cli(args, fakes_env)  # nothing to write: the stored trials are printed
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["rows"][0]["successes"] == 2
        more = run_cli([*args[:-2], "--trials", "3"], fakes_env)
        assert more.returncode == 2 and "1 of the 3 trials asked for are not stored" in \
            _error_line(more)
        for reading in (["export", "--db", str(db)], [*args[:-2], "--trials", "3", "--dry-run"]):
            out = run_cli(reading, fakes_env)
            assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    finally:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True)
        folder.chmod(0o755)


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_local_workers_exit_when_their_coordinator_is_killed(tmp_path):
    if not Path("/proc").is_dir() or subprocess.run(["which", "pgrep"]).returncode:
        pytest.skip("needs /proc and pgrep")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from seqbench.cli import main; main()", "compare", "--task",
         "reber", "--learners", "elman", "--trials", "4", "--budget", "200000", "--jobs", "2",
         "--db", str(tmp_path / "k.db"), "-q"], stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 60
    while time.time() < deadline and len(workers) < 2:
        time.sleep(0.5)
        workers = {c for c in _children(proc.pid) if "loky" in Path(f"/proc/{c}/cmdline")
                   .read_text(errors="replace")} if _alive(proc.pid) else set()
    assert len(workers) >= 2, "the loky workers did not start"
    time.sleep(3)  # the workers are running trials
    proc.kill()  # kill -9: the coordinator cannot tell its workers anything
    proc.wait()
    deadline = time.time() + 15
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.5)
    left = [w for w in workers if _alive(w)]
    for w in left:
        os.kill(w, signal.SIGKILL)
    assert not left, f"loky workers {left} outlived their killed coordinator"


def test_a_worker_compiles_a_kernel_the_cache_does_not_hold():
    """A --jobs worker caps numba's threads; a kernel compiled after that (any kernel on a cold
    cache, e.g. the first parallel run of a fresh clone) must still compile."""
    from joblib.externals.loky import ProcessPoolExecutor

    def compile_in_worker():
        import numba

        from seqbench import runner

        runner._worker_setup(None)
        runner._worker_setup(None)  # every call of a worker sets up again

        @numba.njit  # not cached: compiled here, in the worker
        def plus_one(x):
            return x + 1

        return plus_one(1), numba.get_num_threads()

    with ProcessPoolExecutor(max_workers=1) as pool:
        assert pool.submit(compile_in_worker).result(timeout=120) == (2, 1)
