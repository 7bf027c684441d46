"""A request that cannot succeed fails before any work, in one line, with nothing stored; what
is not an error but worth knowing is said; machine-readable output carries plain numbers."""

from __future__ import annotations

import csv
import io
import json

import pytest
from helpers import run_cli

import seqbench


def _errors(out) -> list[str]:
    assert "Traceback" not in out.stderr, out.stderr
    return [line for line in out.stderr.splitlines() if line.startswith("seqbench: error")]


def test_a_configuration_that_cannot_be_built_fails_before_any_trial(tmp_path):
    db = tmp_path / "s.db"
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm@exp1-4x1-lr0.1",
                   "-p", "output_gate_bias=-1,-2,-3", "--trials", "2", "--db", str(db)])
    (line,) = _errors(out)
    assert out.returncode == 2
    assert "lstm97@exp1-4x1-lr0.1 on reber" in line and "one value per block" in line
    assert not db.exists()


def test_run_refuses_a_list_of_learners(tmp_path):
    out = run_cli(["run", "--task", "reber", "--learner", "lstm,bptt",
                   "--db", str(tmp_path / "s.db")])
    (line,) = _errors(out)
    assert out.returncode == 2 and "run takes one learner" in line and "compare" in line
    assert not (tmp_path / "s.db").exists()


def test_duplicate_learners_run_once_and_bare_parameters_name_who_lacks_them(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm,lstm97,bptt", "-p",
                   "window=5", "--trials", "1", "--budget", "100", "--db",
                   str(tmp_path / "s.db"), "--format", "json", "-q"])
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["learner"] for r in rows] == ["lstm97", "bptt"]
    assert rows[1]["overrides"] == {"window": "5"} and rows[0]["overrides"] == {}
    assert "duplicate learners merged: lstm97" in out.stderr
    assert "-p window=5 applies to bptt only; lstm97 has no parameter 'window'" in out.stderr


def test_overrides_that_change_a_preset_make_the_papers_figures_not_comparable(tmp_path):
    db = str(tmp_path / "s.db")
    base = ["compare", "--task", "reber", "--learners", "lstm", "--trials", "1", "--budget",
            "100", "--db", db, "-q"]
    same = json.loads(run_cli(base + ["-p", "learning_rate=0.5", "--format", "json"]).stdout)
    changed = run_cli(base + ["-p", "learning_rate=0.3"])
    assert same["rows"][0]["paper"]["comparable"] is True  # the preset's own value
    assert "100%*" in changed.stdout and "not comparable" in changed.stdout


def test_csv_has_plain_numbers_empty_missing_values_and_lf_line_ends(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm,elman", "--trials", "2",
                   "--budget", "100", "--db", str(tmp_path / "s.db"), "--format", "csv", "-q"])
    assert out.returncode == 0, out.stderr
    assert "\r" not in out.stdout
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["learner"] for r in rows] == ["lstm97", "elman"]
    lstm = rows[0]
    assert lstm["trials"] == "2" and float(lstm["success_rate"]) == 0.0
    assert 0.0 == float(lstm["success_low"]) < float(lstm["success_high"]) < 1.0
    assert lstm["seq_mean"] == "" and lstm["km_median"] == ""  # nothing solved
    assert float(lstm["paper_success_rate"]) == 1.0 and lstm["paper_sequences_to_success"] == "8440"
    assert float(lstm["ns_per_step"]) > 0 and "," not in lstm["ns_per_step"]


def test_dry_run_speaks_json_and_estimates_the_cost(tmp_path):
    db = str(tmp_path / "s.db")
    args = ["compare", "--task", "reber", "--learners", "elman", "--trials", "3", "--budget",
            "300", "--db", db, "--format", "json"]
    plan = json.loads(run_cli(args + ["--dry-run"]).stdout)
    (row,) = plan["rows"]
    assert (row["to_run"], row["already_stored"]) == (3, 0)
    assert row["estimated_s"] > 0 and "calibration" in row["basis"]
    run_cli(args + ["-q", "--trials", "1"])  # store one trial; the estimate then uses it
    plan = json.loads(run_cli(args + ["--dry-run"]).stdout)
    assert plan["rows"][0]["already_stored"] == 1 and plan["rows"][0]["basis"] == "1 stored trials"
    assert plan["total"]["to_run"] == 2


def test_the_python_api_and_export_give_trials_curves_and_summaries(tmp_path):
    db = str(tmp_path / "s.db")
    run_cli(["compare", "--task", "reber", "--learners", "lstm,elman", "--trials", "2",
             "--budget", "200", "--db", db, "-q"])
    results = seqbench.load(db)
    assert len(results.trials()) == 4 and len(results.trials(learner="elman")) == 2
    curves = results.curves(learner="lstm97")
    assert {c["trial"] for c in curves} == {0, 1} and curves[0]["sequences"] == 100
    summary = {r["learner"]: r for r in results.summary()}
    assert summary["lstm97"]["trials"] == 2 and summary["lstm97"]["paper"]["success_rate"] == 1.0
    exported = run_cli(["export", "--db", db, "--curves", "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == len(results.curves()) and float(rows[0]["train_error"]) >= 0
    pandas = pytest.importorskip("pandas", reason="to_pandas is optional; pandas not installed")
    assert isinstance(results.to_pandas("summary"), pandas.DataFrame)


@pytest.mark.parametrize("extra, needle", [
    (["--jobs", "0"], "--jobs must be at least 1"),
    (["--seed", "99999999999999999999"], "--seed must be in [0, 9223372036854775807]"),
    (["--budget", "99999999999999999999"], "--budget must be at most"),
    (["--executor", "dask", "--scheduler", "nonsense"], "cannot reach the Dask scheduler"),
])
def test_out_of_range_options_and_bad_schedulers_are_one_line_errors(tmp_path, extra, needle):
    if "dask" in extra:
        pytest.importorskip("dask.distributed")
    db = tmp_path / "s.db"
    out = run_cli(["compare", "--task", "reber", "--learners", "elman", "--trials", "1",
                   "--budget", "100", "--db", str(db), *extra])
    (line,) = _errors(out)
    assert out.returncode == 2 and needle in line
    assert not db.exists()


def test_json_carries_numbers_as_numbers_and_missing_values_as_null(tmp_path):
    out = run_cli(["compare", "--task", "reber", "--learners", "elman", "--trials", "2",
                   "--budget", "100", "--db", str(tmp_path / "s.db"), "--format", "json", "-q"])
    (row,) = json.loads(out.stdout)["rows"]
    assert isinstance(row["success_rate"], float) and isinstance(row["trials"], int)
    low, high = row["success_interval"]
    assert isinstance(low, float) and isinstance(high, float) and low <= high
    assert row["sequences_km"] == {"q25": None, "q50": None, "q75": None}
    assert row["sequences_to_success"] is None and isinstance(row["ns_per_step"], float)
    assert row["paper"]["comparable"] is True and row["paper"]["success_rate"] == 0.0


def test_the_calibrated_cost_separates_a_trials_fixed_part_from_its_training():
    from seqbench.runner import _cost_split
    from seqbench.trial import TrialResult

    def ran(sequences, wall_s, train_s):
        result = TrialResult.__new__(TrialResult)
        result.sequences, result.wall_s, result.train_s = sequences, wall_s, train_s
        return result

    # 5 s of data and final test, 0.6 ms per training sequence: 1000 sequences take 5.6 s
    per_sequence, once = _cost_split(ran(1000, 5.6, 0.6))
    assert per_sequence == pytest.approx(6e-4) and once == pytest.approx(5.0)
    # a learner that times nothing apart: all of its wall time scales with the sequences
    assert _cost_split(ran(1000, 2.0, 0.0)) == (2e-3, 0.0)
    # clocks read apart can put training a hair over the wall time: never a negative fixed part
    assert _cost_split(ran(1000, 2.0, 2.1)) == (2e-3, 0.0)


def test_a_stored_preset_trial_stays_comparable_with_its_neutral_parameters_left_out(tmp_path):
    """lstm97's later options are stored only away from their neutral values; the summary read
    back from the store must still see the preset's own configuration."""
    db = str(tmp_path / "s.db")
    out = run_cli(["compare", "--task", "reber", "--learners", "lstm@exp1-3x2-lr0.5",
                   "--trials", "1", "--budget", "20", "--db", db, "-q"])
    assert out.returncode == 0, out.stderr
    (row,) = seqbench.load(db).summary()
    assert row["paper"]["comparable"] is True and row["good_rest"] is None


def test_the_cost_estimate_resumes_timed_out_trials_for_the_rest_of_their_budget():
    from seqbench.runner import Config, estimate_cost

    config = Config(task="reber", task_params={}, learner="elman", learner_params={},
                    preset=None, budget=1000, trials=4, seed=0)
    solved = {"status": "solved", "sequences": 200, "wall_s": 1.0}
    timed_out = {"status": "timeout", "sequences": 600, "wall_s": 10.0}  # 1/60 s a sequence
    cost = estimate_cost(config, [solved, timed_out])
    # two new trials at the finished one's mean wall time (worst case: the whole budget at the
    # stored trials' 11/800 s a sequence), the timed-out one's last 400 at its own speed
    assert cost["estimated_s"] == pytest.approx(2 * 1.0 + 400 / 60)
    assert cost["worst_case_s"] == pytest.approx(2 * 1000 * 11 / 800 + 400 / 60)
    assert cost["basis"] == "2 stored trials (1 timed out, resumed)"
    everything = estimate_cost(config, [solved] * 3 + [timed_out])
    assert everything["estimated_s"] == pytest.approx(400 / 60)  # nothing new, one to resume
    assert estimate_cost(config, [solved] * 4)["basis"] == "all stored"
