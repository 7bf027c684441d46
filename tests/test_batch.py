"""Trials advanced together as the lanes of one kernel call give exactly the results they give
alone: every stored field but the timings, bit for bit, whatever the batch size, the refill
order, the worker slicing or the way a trial ends (solved, budget, diverged)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from seqbench.batch import lanes_for, run_batch, run_slice
from seqbench.plugins import load_registry
from seqbench.hookspecs import hookimpl
from seqbench.runner import _batched, execute, plan
from seqbench.store import Store
from seqbench.trial import run_trial
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_tasks.reber import EmbeddedReber, ReberRun

TIMINGS = {"wall_s", "compile_s", "train_s", "ns_per_step"}


class PoisonedReberRun(ReberRun):
    """Reber, but about half of the trials meet a NaN input in their third block."""

    def __init__(self, task, streams):
        super().__init__(task, streams)
        self._poisoned = streams.order.uniform() < 0.5  # per trial (data is per dataset)
        self._calls = 0

    def training_block(self, n):
        block = super().training_block(n)
        self._calls += 1
        if self._poisoned and self._calls == 3:
            block.inputs = block.inputs.copy()
            block.inputs[min(5, len(block) - 1)] = np.nan
        return block


class PoisonedReber(EmbeddedReber):
    name = "poisoned-reber"

    def start(self, streams):
        return PoisonedReberRun(self, streams)


class Poisoned:
    @hookimpl
    def seqbench_register_tasks(self, register):
        register(PoisonedReber)


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra_plugins=(Poisoned(),))


def _outcome(result) -> dict:
    return {k: v for k, v in result.as_dict().items() if k not in TIMINGS}


def _specs(registry, task, trials, budget, preset=None, tp=None, lp=None):
    config = plan(registry, task, [("lstm", preset)], trials=trials, budget=budget,
                  task_params=tp or {}, learner_params=lp or {})[0]
    return config.specs()


CASES = {
    # trials solving at different times (exact to the sequence, with rollback), cells added
    # by sequential construction at different times
    "2a-solves": ("lag-2a", 6, 3000, "exp2a-p100", {"p": "4"}, {}),
    "2a-fixed": ("lag-2a", 5, 3000, "exp2a-p100", {"p": "4"}, {"construction": "fixed"}),
    # every trial to its budget, periodic frozen checks, final test
    "reber-budget": ("reber", 5, 700, None, {"n_train": "16", "n_test": "8"}, {}),
    # sequence-end updates
    "reber-sequence": ("reber", 3, 400, None, {"n_train": "16", "n_test": "8"},
                       {"update": "sequence"}),
    # some trials diverge in their third block, the others run on
    "diverging": ("poisoned-reber", 6, 600, None, {"n_train": "16", "n_test": "8"}, {}),
    # dense (not one-hot) inputs, targets at the last step only
    "adding": ("adding", 4, 300, "exp4-T100", {"T": "20"}, {}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_batched_trials_equal_lone_trials(registry, case):
    task, trials, budget, preset, tp, lp = CASES[case]
    specs = _specs(registry, task, trials, budget, preset, tp, lp)
    lone = {s.key: _outcome(run_trial(s, registry)) for s in specs}
    statuses = {r["status"] for r in lone.values()}
    assert "error" not in statuses, lone
    if case == "diverging":
        assert statuses == {"diverged", "budget_exhausted"}  # the case tests what it says
    if case == "2a-solves":
        assert statuses == {"solved"}
        assert len({r["sequences_to_success"] for r in lone.values()}) > 1
    for lanes in (2, trials):  # refilled lanes, and all trials in one batch
        batched = {spec.key: _outcome(result) for kind, spec, result in
                   run_batch([(s, None) for s in specs], registry, lanes=lanes)}
        assert batched == lone, f"{case}: batch of {lanes} differs from lone trials"


def test_sliced_calls_resume_to_the_same_results(registry):
    """A worker's call that returns at the first finished trial hands back states from which
    the next calls finish every trial exactly as an uninterrupted run does."""
    specs = _specs(registry, "lag-2a", 5, 3000, "exp2a-p100", {"p": "4"})
    lone = {s.key: _outcome(run_trial(s, registry)) for s in specs}
    items = [(s, None) for s in specs]
    got, calls = {}, 0
    while items:
        finished, items = run_slice(items, lanes=3, slice_s=0.0, registry=registry)
        calls += 1
        got.update((k, _outcome(r)) for k, r in finished)
    assert got == lone
    assert calls > 2
    assert "NUMBA_NUM_THREADS" not in os.environ or os.environ["NUMBA_NUM_THREADS"] == THREADS


THREADS = os.environ.get("NUMBA_NUM_THREADS")  # a call in this process must leave it alone


def test_train_batch_equals_train_alone_on_every_lane():
    task = EmbeddedReber(**{k: p.default for k, p in EmbeddedReber.params.items()})
    from seqbench.trial import task_streams_for
    from seqbench.trial import TrialSpec

    learners, blocks = [], []
    for i in range(5):
        ln = LSTM97(**{k: p.default for k, p in LSTM97.params.items()})
        ln.build(task.spec(), np.random.default_rng(i))
        spec = TrialSpec("reber", "lstm97", {}, {}, seed=0, trial=i, budget=1)
        run = task.start(task_streams_for(spec, task))
        learners.append(ln)
        blocks.append(run.training_block(7 + 3 * i))  # lanes of different lengths
    import copy

    alone = [copy.deepcopy(ln) for ln in learners]
    outs = LSTM97.train_batch(learners, blocks)
    for ln, ref, block, out in zip(learners, alone, blocks, outs):
        expected = ref.train(block)
        assert np.array_equal(out, expected)
        assert np.array_equal(ln.wh, ref.wh) and np.array_equal(ln.wo, ref.wo)


def test_runner_batches_by_configuration_and_stores_the_same_results(registry, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setenv("SEQBENCH_SLICE_SECONDS", "0")
    specs = _specs(registry, "lag-2a", 4, 3000, "exp2a-p100", {"p": "4"})
    specs += _specs(registry, "lag-2a", 3, 3000, "exp2a-p100", {"p": "4"},
                    {"learning_rate": "0.5"})
    lone, batched = _batched(specs, registry)
    assert not lone and sorted(len(s) for _, s in batched) == [3, 4]
    expected = {s.key: _outcome(run_trial(s, registry)) for s in specs}
    for jobs in (1, 2):
        with Store(tmp_path / f"j{jobs}.db") as store:
            done = execute(specs, store, jobs=jobs, registry=registry if jobs == 1 else None)
        assert done.ran == len(specs)
        for key, row in done.results.items():
            want = expected[key]
            for field in ("status", "sequences", "sequences_to_success", "time_steps"):
                assert row[field] == want[field], (jobs, field)


def test_lanes_follow_the_learner_and_the_trial_count(registry):
    assert lanes_for(LSTM97, 100) == LSTM97.batch_lanes
    assert lanes_for(LSTM97, 3) == 3
    assert lanes_for(registry.learner("rcc"), 30) == 1  # a set learner trains alone
    assert lanes_for(registry.learner("rtrl"), 30) == 1  # declares no batch path


def test_a_trial_handed_on_every_slice_still_writes_its_checkpoints(registry, tmp_path):
    """--jobs runs hand a batch's trials from call to call every few seconds; the checkpoint
    interval counts across those hand-overs instead of starting again with each call."""
    import time

    from seqbench.trial import checkpoint_path

    # saturated within the first few thousand sequences: nothing finishes in these 3 seconds
    specs = _specs(registry, "lag-2a", 2, 10**6, "exp2a-p100", {}, {"construction": "fixed"})
    # each call runs one block (well under the interval); the calls together run 3 intervals
    limits = {"checkpoint_dir": tmp_path, "checkpoint_every": 2.0}
    finished, items = run_slice([(s, None) for s in specs], limits, lanes=2, slice_s=0.0,
                                registry=registry)  # starts the trials (compiles, perhaps)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 6.0:
        t1 = time.monotonic()
        finished, items = run_slice(items, limits, lanes=2, slice_s=0.0, registry=registry)
        assert not finished
        assert time.monotonic() - t1 < 2.0
    for spec in specs:
        assert checkpoint_path(tmp_path, spec.key).exists()
