"""Trial runner, seeding, resume keys and the store, on instant fake plugins."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from fakes import FakePlugin, Oracle

from seqbench.errors import ParamError, StoreError
from seqbench.plugins import load_registry
from seqbench.runner import Config, execute, plan
from seqbench.store import Store
from seqbench.trial import TrialSpec, run_trial


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra_plugins=(FakePlugin(),))


def _spec(learner="oracle", trial=0, budget=1000, **lp):
    params = {"bad_after": -1, "raise_after": -1, **lp}
    return TrialSpec("first-bit", learner, {"need": 5}, params, seed=3, trial=trial,
                     budget=budget)


def test_solved_exact_to_the_sequence(registry):
    result = run_trial(_spec(), registry)
    assert result.status == "solved" and result.sequences_to_success == 5
    assert result.metrics["test_error"] == 0.25 and result.time_steps == 100 * 3 and result.sequences == 100


def test_budget_exhausted(registry):
    result = run_trial(_spec("dunce", budget=250), registry)
    assert result.status == "budget_exhausted" and result.sequences == 250
    assert result.sequences_to_success is None and result.curve[-1][0] == 250


def test_diverged_and_error_are_recorded_not_raised(registry):
    diverged = run_trial(_spec("dunce", bad_after=1), registry)
    assert diverged.status == "diverged" and diverged.sequences == 200
    failed = run_trial(_spec("dunce", raise_after=2), registry)
    assert failed.status == "error" and "exploded on purpose" in failed.error


def test_every_learner_sees_the_same_data_at_the_same_trial(registry):
    Oracle.seen.clear()
    run_trial(_spec("dunce", budget=120), registry)
    first = list(Oracle.seen)
    Oracle.seen.clear()
    run_trial(_spec("oracle", budget=120), registry)  # solves after 5: sees the first block
    np.testing.assert_array_equal(Oracle.seen[0], first[0])
    Oracle.seen.clear()
    run_trial(_spec("dunce", trial=1, budget=120), registry)
    assert not np.array_equal(Oracle.seen[0], first[0])


def test_resume_key_ignores_order_and_spelling():
    a = TrialSpec("t", "l", {"x": 1, "y": (1, 2)}, {"a": 0.5, "b": "s"}, 0, 0, 10)
    b = TrialSpec("t", "l", {"y": [1, 2], "x": 1}, {"b": "s", "a": 0.5}, 0, 0, 10)
    assert a.key == b.key
    assert a.key != TrialSpec("t", "l", {"x": 2, "y": (1, 2)}, {"a": 0.5, "b": "s"}, 0, 0, 10).key


def test_plan_resolves_defaults_presets_and_overrides(registry):
    (config,) = plan(registry, "first-bit", [("oracle", None)], learner_params={"bad_after": "3"},
                     task_params={"need": "7"})
    assert config.learner_params == {"bad_after": 3, "raise_after": -1}
    assert config.task_params == {"need": 7} and config.trials == 2 and config.budget == 1000
    with pytest.raises(ParamError, match="'need'.*expected int"):
        plan(registry, "first-bit", [("oracle", None)], task_params={"need": "lots"})
    with pytest.raises(ParamError, match="--trials"):
        plan(registry, "first-bit", [("oracle", None)], trials=0)


def test_store_reuses_finished_trials(tmp_path, registry):
    configs = plan(registry, "first-bit", [("oracle", None), ("dunce", None)], trials=3,
                   budget=200)
    specs = [s for c in configs for s in c.specs()]
    with Store(tmp_path / "r.db") as store:
        first = execute(specs, store, registry=registry)
        assert (first.reused, first.ran) == (0, 6)
    with Store(tmp_path / "r.db") as store:
        again = execute(specs, store, registry=registry)
        assert (again.reused, again.ran) == (6, 0)
        assert {k: v["sequences"] for k, v in again.results.items()} == {
            k: v["sequences"] for k, v in first.results.items()}
        assert len(store.curve(specs[0].key)) > 0


def test_interrupt_keeps_finished_trials(tmp_path, registry, monkeypatch):
    import seqbench.runner as runner

    calls = {"n": 0}
    real = runner.run_trial

    def flaky(spec, reg=None):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(spec, reg)

    monkeypatch.setattr(runner, "run_trial", flaky)
    specs = plan(registry, "first-bit", [("oracle", None)], trials=5)[0].specs()
    with Store(tmp_path / "i.db") as store:
        outcome = execute(specs, store, registry=registry)
    assert outcome.interrupted and outcome.ran == 2
    with Store(tmp_path / "i.db") as store:
        assert len(store.finished(s.key for s in specs)) == 2


def test_store_errors_are_one_line(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a seqbench SQLite database"):
        Store(junk)
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).execute("CREATE TABLE x (y)").connection.commit()
    with pytest.raises(StoreError, match="no seqbench schema"):
        Store(foreign, readonly=True)


def test_merge_copies_missing_trials(tmp_path, registry):
    specs = plan(registry, "first-bit", [("oracle", None)], trials=4)[0].specs()
    with Store(tmp_path / "a.db") as a:
        execute(specs[:3], a, registry=registry)
    with Store(tmp_path / "b.db") as b:
        execute(specs[2:], b, registry=registry)
        with Store(tmp_path / "a.db", readonly=True) as a:
            assert b.merge_from(a) == 2
        assert len(b.finished(s.key for s in specs)) == 4


def test_config_rows_have_one_spec_per_trial():
    c = Config("t", {}, "l", {}, None, budget=10, trials=4, seed=1)
    assert [s.trial for s in c.specs()] == [0, 1, 2, 3]
    assert len({s.key for s in c.specs()}) == 4 and len({s.config_key for s in c.specs()}) == 1
