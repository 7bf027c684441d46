"""Property: whatever names and values a user types, the CLI answers with a result or a clear
one-line error, never a traceback."""

from __future__ import annotations

import contextlib
import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqbench.cli import main
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_tasks.reber import EmbeddedReber

NAMES = st.one_of(st.sampled_from(["reber", "lstm", "lstm97", "exp1-3x2-lr0.5", "none"]),
                  st.text(min_size=0, max_size=12))
VALUES = st.one_of(
    st.integers(-5, 150).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["true", "none", "F", "B", "sym1", "next", "distinct", "-1,-2,-3", "", "="]),
    st.text(max_size=10),
)
#: small values, and integers past what the store can hold (2**63 and up)
HUGE = st.integers(2**63, 2**80)
#: store file names with characters a URI would misread (spaces, '#', '?', '%', non-ASCII)
DB_NAMES = st.one_of(
    st.sampled_from(["fuzz.db", "a b.db", "x#y.db", "q?.db", "p%20.db", "ü né.db"]),
    st.text(st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)),
            min_size=1, max_size=12).filter(lambda t: t not in (".", "..")))
LEARNER_KEYS = st.one_of(st.sampled_from(sorted(LSTM97.params)), st.text(max_size=8))
TASK_KEYS = st.one_of(st.sampled_from(sorted(EmbeddedReber.params)), st.text(max_size=8))


def _invoke(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return code, err.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])
@given(task=NAMES, learner=NAMES, preset=st.one_of(st.none(), NAMES),
       lparams=st.lists(st.tuples(LEARNER_KEYS, VALUES), max_size=3),
       tparams=st.lists(st.tuples(TASK_KEYS, VALUES), max_size=2),
       trials=st.one_of(st.integers(-2, 2), HUGE), budget=st.one_of(st.integers(-2, 3), HUGE),
       jobs=st.integers(-1, 1), seed=st.one_of(st.integers(0, 3), HUGE), db=DB_NAMES)
def test_cli_never_shows_a_traceback(tmp_path, task, learner, preset, lparams, tparams, trials,
                                     budget, jobs, seed, db):
    argv = ["compare", "--task", task, "--learners", learner, "--trials", str(trials),
            "--budget", str(budget), "--jobs", str(jobs), "--seed", str(seed),
            "--db", str(tmp_path / db), "-q", "-t", "n_train=3", "-t", "n_test=3"]
    if preset is not None:
        argv += ["--preset", preset]
    for k, v in lparams:
        argv += ["-p", f"{k}={v}"]
    for k, v in tparams:
        argv += ["-t", f"{k}={v}"]
    code, err = _invoke(argv)
    assert "Traceback" not in err, err
    assert code in (0, 2), (code, err)
    if code == 0:  # what was stored reads back through the same odd path
        again, err = _invoke(argv)
        assert again == 0 and "reused from the store" in err and "0 run now" in err, err
    if code == 2:
        last = [l for l in err.splitlines() if l.strip()][-1]
        assert last.startswith(("seqbench: error:", "Error:")), err


def test_stores_with_odd_names_are_written_read_and_reused(tmp_path):
    names = ("a b.db", "x#y.db", "q?.db", "p%20.db", "ü né.db")
    for name in names:
        argv = ["compare", "--task", "reber", "--learners", "elman", "--trials", "1",
                "--budget", "5", "--db", str(tmp_path / name), "-q", "-t", "n_train=3",
                "-t", "n_test=3"]
        code, err = _invoke(argv)
        assert code == 0, err
        code, err = _invoke(argv)
        assert code == 0 and "1 trials reused from the store, 0 run now" in err, (name, err)
        for extra in (["export", "--db", str(tmp_path / name)], [*argv, "--dry-run"]):
            code, err = _invoke(extra)
            assert code == 0, (name, extra, err)
    # nothing but the stores themselves (and their -wal/-shm companions) was written
    stray = [p.name for p in tmp_path.iterdir()
             if not any(p.name in (n, f"{n}-wal", f"{n}-shm") for n in names)]
    assert not stray, stray
