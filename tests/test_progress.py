"""The progress display: running trials report their sequences through small files, the
display counts finished trials and estimates the time left; nothing shows without a terminal."""

from __future__ import annotations

import os

from helpers import run_cli

from seqbench.progress import PROGRESS_DIR_ENV, Display, TrialProgress


def test_a_running_trial_writes_its_sequences_where_the_display_reads_them(monkeypatch):
    monkeypatch.delenv(PROGRESS_DIR_ENV, raising=False)
    with Display(total=3, jobs=2, quiet=True, budget={"k1": 500, "k2": 900}) as display:
        assert os.environ[PROGRESS_DIR_ENV]
        one, two = TrialProgress("k1"), TrialProgress("k2")
        one.update(120)
        two.update(340)
        one.update(130)  # within a second of the last write: throttled
        assert display.running() == {"k1": 120, "k2": 340}
        assert "2 running" in display.status() and "at 340/900 sequences" in display.status()
        assert display.left_s() is None  # nothing finished yet
        display.trial_done("k1", "solved", 4.0, "line")
        display.trial_done("k2", "budget_exhausted", 2.0, "line")
        assert display.running() == {}
        assert (display.done, display.solved, display.unsolved) == (2, 1, 1)
        assert display.left_s() == 3.0 * 1 / 2  # mean 3 s, one trial left, two jobs
    assert PROGRESS_DIR_ENV not in os.environ  # restored
    TrialProgress("k3").update(5, force=True)  # no directory: writes nothing, raises nothing


def test_without_a_terminal_the_trial_lines_stay_and_no_live_display_is_drawn(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "elman", "--trials", "2",
                   "--budget", "100", "--db", str(tmp_path / "s.db")])
    assert out.returncode == 0, out.stderr
    assert "[1/2] elman@exp1-15h on reber" in out.stderr
    assert "running ·" not in out.stderr and "\x1b[" not in out.stderr
    quiet = run_cli(["compare", "--task", "reber", "--learners", "elman", "--trials", "3",
                     "--budget", "100", "--db", str(tmp_path / "s.db"), "-q"])
    assert "[1/1]" not in quiet.stderr
