"""Set learners: learners that fit on the task's fixed training set (SetLearner.fit) instead of
learning from the stream, judged only on their frozen network, counted in sequences presented."""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import SetLearner, TaskSpec, Work
from seqbench.errors import ParamError
from seqbench.params import Param, resolve_params
from seqbench.plugins import get_registry
from seqbench.runner import execute, plan
from seqbench.store import Store
from seqbench.trial import TrialSpec, fixed_training_set, run_trial, task_streams_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "docs" / "examples"))
from ridge_reservoir import RidgeReservoir  # noqa: E402  (the plugin guide's set learner)


class Scripted(SetLearner):
    """Presents the sequences its parameters say, call after call, predicts a constant (which
    no frozen check of a real task accepts) and reports what the harness handed it."""

    name = "scripted"
    summary = "a set learner that follows a script (tests only)"
    params = {
        "per_call": Param(30, "sequences presented per fit call", "int", low=0),
        "check_every_call": Param(True, "ask to be judged after every call", "bool"),
        "stop_after": Param(0, "stop on its own after this many calls (0: never)", "int", low=0),
        "sample_size": Param(40, "fixed sample of an on-line task", "int", low=1),
    }
    work_units = ("calls",)

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self.n_outputs = spec.n_outputs
        self.calls = 0
        self.allowances: list[int] = []
        self.sets: list[int] = []

    @property
    def n_weights(self) -> int:
        return 1

    def fit(self, training_set: SequenceBlock, allowance: int) -> Work:
        self.calls += 1
        self.allowances.append(allowance)
        self.sets.append(id(training_set))
        n = min(self.params["per_call"], allowance)
        stop = bool(self.params["stop_after"]) and self.calls >= self.params["stop_after"]
        return Work(sequences=n, time_steps=7 * n, check=self.params["check_every_call"],
                    stopped=stop)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return np.full((len(block), block.inputs.shape[1], self.n_outputs), 0.5)

    def diagnostics(self) -> dict[str, float]:
        return {"calls": np.int64(self.calls), "distinct_sets": len(set(self.sets)),
                "allowances": sum(self.allowances)}


class Greedy(Scripted):
    """Presents more than it was allowed."""

    name = "greedy"

    def fit(self, training_set, allowance):
        return Work(sequences=allowance + 1, time_steps=1)


@pytest.fixture()
def registry():
    reg = get_registry()
    reg.learners["scripted"] = Scripted
    reg.learners["greedy"] = Greedy
    try:
        yield reg
    finally:
        reg.learners.pop("scripted")
        reg.learners.pop("greedy")


def _spec(reg, task, learner, budget, task_params=None, learner_params=None, trial=0):
    return TrialSpec(
        task=task, learner=learner,
        task_params=resolve_params(reg.tasks[task].params, task_params or {}, task),
        learner_params=resolve_params(reg.learners[learner].params, learner_params or {}, learner),
        seed=3, trial=trial, budget=budget)


def test_sequences_presented_are_summed_over_fit_calls_and_stay_within_the_budget(registry):
    # reber's frozen check fails for a constant net: every call is judged, none succeeds
    result = run_trial(_spec(registry, "reber", "scripted", 100), registry)
    assert result.status == "budget_exhausted", result.error
    assert result.sequences == 100 and result.sequences_to_success is None
    assert result.time_steps == 700
    # 30 + 30 + 30 + 10 sequences; allowances 100, 70, 40, 10; one training set object
    assert result.diagnostics == {"calls": 4, "distinct_sets": 1, "allowances": 220}
    assert [p[0] for p in result.curve] == [30, 60, 90, 100]


def test_reber_hands_set_learners_its_256_training_strings(registry):
    spec = _spec(registry, "reber", "scripted", 100)
    task = registry.task("reber")(**spec.task_params)
    run = task.start(task_streams_for(spec, task))
    assert fixed_training_set(run, Scripted(**spec.learner_params)) is run.train_set
    assert len(run.train_set) == 256


def test_a_learner_that_stops_on_its_own_gets_its_own_status(registry):
    result = run_trial(_spec(registry, "reber", "scripted", 10_000,
                             learner_params={"stop_after": 2}), registry)
    assert (result.status, result.sequences) == ("stopped", 60)
    assert result.stop_reason == "the learner stopped on its own"


def test_success_is_counted_at_the_call_that_asked_to_be_judged(registry):
    # the plugin guide's ridge readout solves lag-2a at p = 4 in one pass of its two sequences
    registry.learners["ridge-reservoir"] = RidgeReservoir
    try:
        result = run_trial(_spec(registry, "lag-2a", "ridge-reservoir", 1000,
                                 task_params={"p": 4}), registry)
    finally:
        registry.learners.pop("ridge-reservoir")
    assert (result.status, result.sequences, result.sequences_to_success) == ("solved", 2, 2)
    assert result.time_steps == 8 and result.metrics["test_error"] == 0.0


def test_a_call_that_presents_more_than_allowed_is_an_error(registry):
    result = run_trial(_spec(registry, "reber", "greedy", 100), registry)
    assert result.status == "error" and "allowed 100" in result.error


def test_when_no_work_fits_the_rest_of_the_budget_the_trial_ends(registry):
    result = run_trial(_spec(registry, "reber", "scripted", 100,
                             learner_params={"per_call": 0}), registry)
    assert (result.status, result.sequences) == ("budget_exhausted", 0)


def test_an_online_task_gives_the_first_sample_size_sequences_of_the_stream(registry):
    spec = _spec(registry, "two-sequence", "scripted", 100, task_params={"T": 10})
    task = registry.task("two-sequence")(**spec.task_params)
    learner = Scripted(**spec.learner_params)
    sample = fixed_training_set(task.start(task_streams_for(spec, task)), learner)
    first = task.start(task_streams_for(spec, task)).training_block(40)
    assert len(sample) == 40
    assert np.array_equal(sample.inputs, first.inputs)
    assert np.array_equal(sample.targets, first.targets)


def test_a_set_learner_cannot_be_judged_by_a_history_criterion(registry):
    with pytest.raises(ParamError, match="rule over the training history"):
        plan(registry, "adding", [("scripted", None)], trials=1)
    result = run_trial(_spec(registry, "adding", "scripted", 100), registry)
    assert result.status == "error" and "rule over the training history" in result.error


def test_diagnostics_and_stopped_trials_are_stored_reused_and_reported(registry, tmp_path):
    from seqbench.report import render, summarise

    configs = plan(registry, "reber", [("scripted", None)], trials=2, budget=10_000,
                   learner_params={"stop_after": "3"})
    specs = configs[0].specs()
    with Store(tmp_path / "s.db") as store:
        first = execute(specs, store, registry=registry)
        again = execute(specs, store, registry=registry)
        stored = store.trials()
    assert (first.ran, again.reused) == (2, 2)
    assert [t["status"] for t in stored] == ["stopped", "stopped"]
    assert [t["diagnostics"]["calls"] for t in stored] == [3, 3]
    row = summarise(configs[0], list(again.results.values()))
    assert row["statuses"]["stopped"] == 2 and row["diagnostics"]["calls"] == 3.0
    assert row["work_to_success"] == {"calls": None}  # nothing solved
    assert json.loads(render([row], "json"))["rows"][0]["diagnostics"]["calls"] == 3.0
    assert "own work" in render([row], "table")


def test_a_store_written_before_diagnostics_existed_is_migrated(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    from seqbench.store import MIGRATIONS

    name, sql = MIGRATIONS[0]
    con.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    for statement in filter(str.strip, sql.split(";")):
        con.execute(statement)
    con.execute("INSERT INTO schema_migrations VALUES (?, 0)", (name,))
    con.execute("INSERT INTO trials (key, config_key, task, learner, trial, seed, budget, spec, "
                "status, metrics, finished_at) VALUES ('k', 'c', 'reber', 'lstm97', 0, 0, 1, "
                "'{}', 'solved', '{}', 0)")
    con.commit()
    con.close()
    with Store(path) as store:
        (trial,) = store.trials()
    assert trial["diagnostics"] == {} and trial["status"] == "solved"


def test_lstm97_reports_when_sequential_construction_added_its_block():
    reg = get_registry()
    spec = _spec(reg, "lag-2a", "lstm97", 300, task_params={"p": 4},
                 learner_params={"construction": "sequential", "blocks": 1, "grow_window": 20,
                                 "grow_tolerance": 0.5})
    result = run_trial(spec, reg)
    assert result.status != "error", result.error
    added = result.diagnostics.get("block_1_added_at")
    assert added is not None and added % 20 == 0 and 0 < added <= result.sequences


class ThreadCounter(Scripted):
    """Reports the BLAS and numba threads it may use while fitting."""

    name = "thread-counter"

    def fit(self, training_set, allowance):
        import numba
        from threadpoolctl import threadpool_info

        self.blas = max((p["num_threads"] for p in threadpool_info()), default=1)
        self.numba = numba.get_num_threads()
        return Work(sequences=allowance, time_steps=1, stopped=True)

    def diagnostics(self):
        return {"blas_threads": self.blas, "numba_threads": self.numba}


def test_a_worker_runs_its_trial_with_one_blas_and_one_numba_thread(registry):
    import numba

    from seqbench.runner import _run_in_worker

    import os

    from seqbench.runner import WORKER_THREAD_ENV

    registry.learners["thread-counter"] = ThreadCounter
    before = numba.get_num_threads()
    env = {k: os.environ.get(k) for k in WORKER_THREAD_ENV}
    try:
        result = _run_in_worker(_spec(registry, "reber", "thread-counter", 10))
    finally:  # a worker's settings must not leak into this process (numba re-reads them)
        registry.learners.pop("thread-counter")
        numba.set_num_threads(before)
        for k, v in env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    assert result.diagnostics == {"blas_threads": 1, "numba_threads": 1}, result.error
