"""In-trial checkpoints and the per-trial wall-clock limit (issue 14): an interrupted trial
(Ctrl-C, kill -9) resumes from its checkpoint to the result an uninterrupted run stores, bit for
bit but for timings; ``--trial-timeout`` ends a trial with status ``timeout``."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli

from seqbench import trial as trial_mod
from seqbench.plugins import get_registry
from seqbench.runner import checkpoint_dir_for, execute, plan
from seqbench.store import Store
from seqbench.trial import checkpoint_path, run_trial

TIMINGS = ("wall_s", "compile_s", "train_s", "ns_per_step")
#: the stored columns that must match between a resumed and an uninterrupted trial
COMPARED = ("status, stop_reason, sequences, sequences_to_success, time_steps, n_weights, "
            "check_every, metrics, diagnostics, error, points")


def _spec(task: str, learner: str, budget: int):
    return plan(get_registry(), task, [(learner, None)], budget=budget, trials=1)[0].specs()[0]


def _outcome(result) -> dict:
    out = result.as_dict()
    for k in TIMINGS:
        out.pop(k)
    return out


def _interrupt_after(monkeypatch, calls: int) -> None:
    """Raise KeyboardInterrupt in the trial loop at its ``calls``-th block (or fit call)."""
    update = trial_mod.TrialProgress.update
    count = [0]

    def interrupting(self, sequences, force=False):
        count[0] += 1
        if count[0] == calls:
            raise KeyboardInterrupt
        return update(self, sequences, force)

    monkeypatch.setattr(trial_mod.TrialProgress, "update", interrupting)


@pytest.mark.parametrize("task, learner, budget, calls", [
    ("reber", "lstm97", 3000, 7),   # a stream learner, interrupted at its 7th block
    ("reber", "rcc", 20000, 2),     # a set learner, interrupted at its 2nd fit call
])
def test_resumed_trial_equals_uninterrupted_run(tmp_path, monkeypatch, task, learner, budget,
                                                calls):
    spec = _spec(task, learner, budget)
    whole = run_trial(spec)
    assert whole.status != "error", whole.error
    with monkeypatch.context() as m:
        _interrupt_after(m, calls)
        with pytest.raises(KeyboardInterrupt):
            run_trial(spec, checkpoint_dir=tmp_path, checkpoint_every=1e-9)
    path = checkpoint_path(tmp_path, spec.key)
    assert path.exists()
    assert path.stat().st_size < 1_500_000  # data the task regenerates is not in the file
    notes: list[str] = []
    resumed = run_trial(spec, checkpoint_dir=tmp_path, checkpoint_every=1e-9, notes=notes)
    assert notes == []
    assert _outcome(resumed) == _outcome(whole)


def test_a_damaged_checkpoint_starts_the_trial_afresh(tmp_path):
    spec = _spec("reber", "lstm97", 500)
    checkpoint_path(tmp_path, spec.key).write_bytes(b"not a pickle")
    notes: list[str] = []
    result = run_trial(spec, checkpoint_dir=tmp_path, checkpoint_every=1e-9, notes=notes)
    assert _outcome(result) == _outcome(run_trial(spec))
    assert len(notes) == 1 and "unreadable" in notes[0]


class _Unpicklable:
    """Wraps the registry so that the learner carries a lambda (pickle refuses it)."""

    def __init__(self, registry):
        self.registry = registry

    def __getattr__(self, name):
        return getattr(self.registry, name)

    def learner(self, name):
        cls = self.registry.learner(name)

        class Holding(cls):
            def build(self, *args, **kwargs):
                super().build(*args, **kwargs)
                self.hook = lambda: None

        return Holding


def test_a_learner_that_cannot_be_saved_runs_without_checkpoints_reported_once(tmp_path):
    specs = plan(get_registry(), "reber", [("lstm97", None)], budget=300, trials=2)[0].specs()
    notes: list[str] = []
    with Store(tmp_path / "s.db") as store:
        out = execute(specs, store, registry=_Unpicklable(get_registry()), checkpoint_every=1e-9,
                      on_note=notes.append)
    assert out.ran == 2
    assert {r["status"] for r in out.results.values()} == {"budget_exhausted"}
    off = [n for n in notes if "checkpoints off" in n]  # (besides the note on lanes)
    assert len(off) == 1 and "checkpoints off for lstm97 on reber" in off[0], notes
    assert "cannot be saved" in off[0]
    assert not checkpoint_dir_for(tmp_path / "s.db").exists()


# -- through the real command line -----------------------------------------------------------
RUN = ["compare", "--task", "reber", "--learners", "lstm97", "--budget", "60000", "--trials", "1",
       "--jobs", "1", "-q", "--format", "json"]


def _stored(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(f"SELECT {COMPARED} FROM trials JOIN curves USING (key) "
                            "ORDER BY key").fetchall()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> list[tuple]:
    db = tmp_path_factory.mktemp("whole") / "whole.db"
    out = run_cli([*RUN, "--db", str(db), "--checkpoint-every", "0"])
    assert out.returncode == 0, out.stderr
    return _stored(db)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_interrupted_command_resumes_to_the_uninterrupted_result(tmp_path, uninterrupted, sig):
    db = tmp_path / "s.db"
    args = [*RUN, "--db", str(db), "--checkpoint-every", "0.01"]
    proc = subprocess.Popen([sys.executable, "-c", "from seqbench.cli import main; main()",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ckpts = checkpoint_dir_for(db)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not any(ckpts.glob("*.ckpt")):
        time.sleep(0.05)
    time.sleep(0.3)  # some way into the trial, past its first checkpoints
    assert proc.poll() is None, "the trial ended before it could be interrupted"
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and "Traceback" not in err, err
    assert _stored(db) == []  # the trial was in the middle
    assert len(list(ckpts.glob("*.ckpt"))) == 1
    again = run_cli(args)
    assert again.returncode == 0, again.stderr
    assert "1 trial resume from its checkpoint" in again.stderr
    assert _stored(db) == uninterrupted
    assert not ckpts.exists()  # a finished trial drops its checkpoint (and the empty directory)


def test_trial_timeout_status_and_a_rerun_with_a_larger_limit_continues(tmp_path,
                                                                        uninterrupted):
    db = tmp_path / "s.db"
    args = [*RUN, "--db", str(db), "--checkpoint-every", "0.01"]
    out = run_cli([*args, "--trial-timeout", "0.3"])
    assert out.returncode == 0, out.stderr
    row = json.loads(out.stdout)["rows"][0]
    assert row["statuses"]["timeout"] == 1
    with sqlite3.connect(db) as conn:
        status, reason, sequences = conn.execute(
            "SELECT status, stop_reason, sequences FROM trials").fetchone()
    assert status == "timeout" and reason == "wall-clock limit of 0.3 s"
    assert 0 < sequences < 60000
    assert len(list(checkpoint_dir_for(db).glob("*.ckpt"))) == 1  # kept to continue from
    table = run_cli([*args, "--trial-timeout", "0.3", "--format", "table"])  # not reused
    assert table.returncode == 0 and "0 trials reused" in table.stderr, table.stderr
    assert "lstm97" in table.stdout
    with sqlite3.connect(db) as conn:  # the limit was already spent: it stops where it was
        assert conn.execute("SELECT status, sequences FROM trials").fetchone() == (
            "timeout", sequences)
    done = run_cli(args)  # no limit: the trial goes on from its checkpoint to its end
    assert done.returncode == 0, done.stderr
    assert _stored(db) == uninterrupted
    assert not checkpoint_dir_for(db).exists()


def test_bad_limits_are_one_line_errors(tmp_path):
    for option, value in (("--checkpoint-every", "-1"), ("--trial-timeout", "0")):
        out = run_cli([*RUN, "--db", str(tmp_path / "s.db"), option, value])
        assert out.returncode == 2 and option in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_a_lane_resumed_from_its_checkpoint_keeps_its_share_of_the_wall_time(tmp_path):
    import pickle

    from seqbench.batch import run_batch

    specs = plan(get_registry(), "reber", [("lstm97", None)], budget=100_000,
                 trials=2)[0].specs()
    limits = {"checkpoint_dir": str(tmp_path), "checkpoint_every": 1e-9, "timeout": 0.5}
    first = [r for kind, _, r in run_batch([(s, None) for s in specs], lanes=2, **limits)]
    assert [r.status for r in first] == ["timeout", "timeout"]
    with open(checkpoint_path(tmp_path, specs[0].key), "rb") as f:
        head = pickle.load(f)  # then the state, whose arrays the task regenerates

        class Loader(pickle.Unpickler):
            def persistent_load(self, pid):
                return None

        share = Loader(f).load()["wall_s"]
    assert 0 < share < first[0].wall_s + 1e-9 and head["elapsed_s"] >= 0.5
    # the limit is spent, so the resumed lanes stop at once: each goes on from the share of
    # the two lanes' time it had, not from the elapsed time (which counts the other's work)
    t0 = time.perf_counter()
    again = [r for kind, _, r in run_batch([(s, None) for s in specs], lanes=2, **limits)]
    session = time.perf_counter() - t0
    assert [r.sequences for r in again] == [r.sequences for r in first]
    assert share <= again[0].wall_s <= share + session
