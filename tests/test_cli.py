"""The command line, end to end in fresh interpreters, on tiny budgets."""

from __future__ import annotations

import json

import pytest
from helpers import run_cli

TINY = ["--trials", "2", "--budget", "200", "-t", "check_every=100", "-t", "n_train=32",
        "-t", "n_test=32", "-q"]


def _one_line_error(out, *needles):
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = [l for l in out.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_compare_twice_reuses_trials_and_prints_the_same_numbers(tmp_path):
    db = str(tmp_path / "s.db")
    args = ["compare", "--task", "reber", "--learners", "lstm", "--db", db, "--format", "json",
            *TINY]
    first = run_cli(args)
    assert first.returncode == 0, first.stderr
    second = run_cli(args)
    assert "2 trials reused from the store, 0 run now" in second.stderr
    rows_a, rows_b = (json.loads(o.stdout)["rows"] for o in (first, second))
    for key in ("successes", "sequences_to_success", "test_error", "n_weights"):
        assert rows_a[0][key] == rows_b[0][key]
    row = rows_a[0]
    for key in ("task", "learner", "preset", "n_weights", "trials", "successes", "success_rate",
                "sequences_to_success", "wall_s_per_trial", "ns_per_step", "paper"):
        assert key in row
    assert row["preset"] == "exp1-3x2-lr0.5" and row["n_weights"] == 276 and row["trials"] == 2
    assert row["paper"]["success_rate"] == 1.0 and row["paper"]["sequences_to_success"] == 8440


def test_parallel_jobs_and_presets_in_one_table(tmp_path):
    db = str(tmp_path / "p.db")
    out = run_cli(["compare", "--task", "reber", "--learners",
                   "lstm@exp1-4x1-lr0.1,lstm@exp1-3x2-lr0.2", "--db", db, "--jobs", "2",
                   "--format", "csv", *TINY])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 3 and "exp1-4x1-lr0.1" in lines[1] and ",264," in lines[1]
    assert "exp1-3x2-lr0.2" in lines[2] and ",276," in lines[2]


@pytest.mark.parametrize("args,needles", [
    (["compare", "--task", "rebr", "--learners", "lstm"], ["unknown task 'rebr'", "reber"]),
    (["compare", "--task", "reber", "--learners", "lstn"], ["unknown learner 'lstn'", "lstm97"]),
    (["compare", "--task", "reber", "--learners", "lstm", "--preset", "nope"],
     ["unknown preset 'nope'", "exp1-3x2-lr0.5"]),
    (["compare", "--task", "reber", "--learners", "lstm", "-p", "blockz=3"],
     ["unknown parameter 'blockz'", "blocks"]),
    (["compare", "--task", "reber", "--learners", "lstm", "-p", "blocks=many"],
     ["'blocks'", "expected int"]),
    (["compare", "--task", "reber", "--learners", "lstm", "-p", "learning_rate=-1"],
     ["'learning_rate'", "[0,"]),
    (["compare", "--task", "reber", "--learners", "lstm", "--budget", "0"], ["--budget"]),
    (["compare", "--task", "reber", "--learners", "lstm", "--trials", "-3"], ["--trials"]),
    (["reproduce", "exp99"], ["unknown experiment 'exp99'", "exp1"]),
])
def test_bad_input_gives_one_line_errors(args, needles, tmp_path):
    _one_line_error(run_cli([*args, "--db", str(tmp_path / "x.db")]), *needles)


def test_store_that_is_not_sqlite(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_text("hello, not a database\n" * 50)
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm", "--db", str(junk), *TINY])
    _one_line_error(out, "not a seqbench SQLite database")
    assert junk.read_text().startswith("hello")  # untouched


def test_list_and_plugins_json():
    tasks = json.loads(run_cli(["list", "tasks", "--json"]).stdout)
    reber = next(t for t in tasks if t["name"] == "reber")
    assert {p["name"] for p in reber["params"]} >= {"target_coding", "sets", "check_every"}
    learners = json.loads(run_cli(["list", "learners", "--json"]).stdout)
    lstm = next(x for x in learners if x["name"] == "lstm97")
    assert "lstm" in lstm["aliases"] and "exp1-3x2-lr0.5" in lstm["presets"]
    presets = json.loads(run_cli(["list", "presets", "--task", "reber", "--json"]).stdout)
    assert {p["name"] for p in presets if p["learner"] == "lstm97"} >= {
        "exp1-4x1-lr0.1", "exp1-3x2-lr0.1", "exp1-3x2-lr0.2", "exp1-4x1-lr0.5", "exp1-3x2-lr0.5"}


def test_executors_do_not_change_results(tmp_path):
    """The same trials run in-process, on loky workers and on a local Dask cluster give the same
    outcomes (seeding depends only on the spec)."""
    rows = {}
    for name, extra in (("inproc", ["--jobs", "1"]), ("loky", ["--jobs", "2"]),
                        ("dask", ["--executor", "dask", "--jobs", "2"])):
        out = run_cli(["compare", "--task", "reber", "--learners", "lstm", "--db",
                       str(tmp_path / f"{name}.db"), "--format", "json", *TINY, *extra])
        assert out.returncode == 0, out.stderr
        row = json.loads(out.stdout)["rows"][0]
        rows[name] = (row["successes"], row["sequences_to_success"], row["test_error"])
    assert rows["inproc"] == rows["loky"] == rows["dask"]


def test_dry_run_shows_the_matrix_and_runs_nothing(tmp_path):
    db = tmp_path / "d.db"
    args = ["compare", "--task", "reber", "--learners", "lstm,lstm@exp1-4x1-lr0.1", "--db",
            str(db), *TINY]
    plan = run_cli([*args, "--dry-run"])
    assert plan.returncode == 0 and "4 trials planned, 0 already stored, 4 to run" in plan.stdout
    assert not db.exists()
    assert run_cli(args).returncode == 0
    again = run_cli([*args, "--dry-run"])
    assert "4 trials planned, 4 already stored, 0 to run" in again.stdout


def test_reproduce_can_be_limited_to_some_learners(tmp_path):
    out = run_cli(["reproduce", "exp1", "--learners", "lstm", "--dry-run", "--db",
                   str(tmp_path / "r.db")])
    assert out.returncode == 0
    lines = [l for l in out.stdout.splitlines() if l.startswith("reber")]
    assert len(lines) == 5 and all(" lstm97 " in l for l in lines)
    assert "150 trials planned" in out.stdout  # the paper's 30 trials per Table 1 row


def test_reproduce_rows_pick_table_rows_exactly(tmp_path):
    out = run_cli(["reproduce", "exp4", "--rows", "T100", "--trials", "3", "--dry-run",
                   "--db", str(tmp_path / "r.db")])
    assert out.returncode == 0
    assert " exp4-T100 " in out.stdout and "exp4-T1000" not in out.stdout
    assert "3 trials planned" in out.stdout
    bad = run_cli(["reproduce", "exp4", "--rows", "T10", "--db", str(tmp_path / "r.db")])
    assert bad.returncode == 2 and "Did you mean 'T100'" in bad.stderr
