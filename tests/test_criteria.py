"""The stopping rules of Exps. 3-6: exact to the sequence across block boundaries, and the
figures of the final test."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqbench.contracts import Learner
from seqbench.criteria import (ST3, FewerWrongInWindow, PeriodicCheck, StagedTestSet,
                               final_test)


def feed(criterion, correct, error, sizes):
    """Feed a history in blocks of the given sizes; the 1-based count where the rule first held."""
    seen = 0
    for size in sizes:
        c, e = correct[seen:seen + size], error[seen:seen + size]
        if not len(c):
            break
        hit = criterion.observe(c, e)
        if hit is not None:
            return seen + hit + 1
        seen += len(c)
    return None


def blocks_of(n, size):
    return [size] * (n // size + 1)


def naive_st3(correct, error, beta, window, average_over):
    for k in range(max(window, average_over), len(correct) + 1):
        if correct[k - window:k].all() and error[k - average_over:k].mean() < beta:
            return k
    return None


def naive_fewer_wrong(correct, n, window):
    for k in range(window, len(correct) + 1):
        if (~correct[k - window:k]).sum() < n:
            return k
    return None


def test_st3_holds_exactly_2000_correct_sequences_after_the_last_wrong_one():
    correct = np.ones(5000, bool)
    correct[:500] = False
    correct[1234] = False  # the last wrong sequence is number 1235
    error = np.full(5000, 0.001)
    for size in (100, 37, 2500, 1):
        assert feed(ST3(0.01), correct, error, blocks_of(5000, size)) == 1235 + 2000


def test_st3_waits_for_the_average_error_to_fall_below_beta():
    correct = np.ones(6000, bool)
    error = np.full(6000, 0.001)
    error[:3000] = 0.03  # correct but too large on average
    # window mean (0.03 * m + 0.001 * (2000 - m)) / 2000 < 0.01 needs m < 620.7, so the
    # window may hold at most 620 of the large errors: it ends at 3000 - 620 + 2000.
    assert feed(ST3(0.01), correct, error, blocks_of(6000, 100)) == 4380


def test_st3_never_holds_before_a_full_window():
    correct = np.ones(1999, bool)
    assert feed(ST3(0.01), correct, np.zeros(1999), [1999]) is None


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 400),
       window=st.integers(1, 60), average_over=st.integers(1, 60))
def test_st3_matches_a_naive_sliding_window(seed, size, window, average_over):
    rng = np.random.default_rng(seed)
    n = 600
    correct = rng.random(n) < rng.uniform(0.9, 1.0)
    error = rng.uniform(0, 0.03, n)
    got = feed(ST3(0.01, window=window, average_over=average_over), correct, error,
               blocks_of(n, size))
    assert got == naive_st3(correct, error, 0.01, window, average_over)


def test_fewer_wrong_in_window_reports_the_exact_sequence_and_the_looser_milestone():
    correct = np.ones(6000, bool)
    wrong = np.arange(0, 3000, 10)  # 300 wrong sequences, one every 10, in the first 3000
    correct[wrong] = False
    rule = FewerWrongInWindow(13, window=2000, milestone_ns=(140,))
    hit = feed(rule, correct, np.zeros(6000), blocks_of(6000, 100))
    # fewer than 13 wrong in the window (k-2000, k]: at most 12 of the wrong ones, the last
    # wrong at index 2990 -> the window must start after index 2870
    assert hit == 2871 + 2000
    # fewer than 140: window must start after index 1600 (then 139 wrong inside)
    assert rule.milestones == {"sequences_to_fewer_than_140_wrong": 1601 + 2000}
    assert hit == naive_fewer_wrong(correct, 13, 2000)
    assert rule.milestones["sequences_to_fewer_than_140_wrong"] == naive_fewer_wrong(
        correct, 140, 2000)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 300), n=st.integers(1, 20),
       window=st.integers(1, 80))
def test_fewer_wrong_matches_a_naive_sliding_window(seed, size, n, window):
    rng = np.random.default_rng(seed)
    correct = rng.random(500) < rng.uniform(0.6, 1.0)
    rule = FewerWrongInWindow(n, window=window, milestone_ns=(n + 5,))
    hit = feed(rule, correct, np.zeros(500), blocks_of(500, size))
    assert hit == naive_fewer_wrong(correct, n, window)
    loose = naive_fewer_wrong(correct, n + 5, window)
    assert rule.milestones.get(f"sequences_to_fewer_than_{n + 5}_wrong") == loose


def run_checks(criterion, figures, every):
    """Drive a test-set criterion as run_trial does; return the count when it stopped."""
    seen = 0
    for wrong, mean_abs in figures:
        criterion.observe(np.ones(every, bool), np.zeros(every))
        seen += every
        if criterion.check(lambda *_: None):
            return seen
    return None


def staged(figures, max_wrong, mean_abs_below, every=500):
    it = iter(figures)
    return StagedTestSet(lambda predict: next(it), max_wrong, mean_abs_below, every)


def test_st1_is_recorded_as_a_milestone_and_st2_stops():
    figures = [(9, 0.4), (1, 0.2), (0, 0.05), (3, 0.03), (0, 0.02), (0, 0.009), (0, 0.001)]
    rule = staged(figures, max_wrong=0, mean_abs_below=0.01)
    assert run_checks(rule, figures, 500) == 3000
    assert rule.milestones == {"st1_sequences": 1500}
    assert rule.check_every == 500


def test_3b_allows_five_wrong_test_sequences_but_not_six():
    figures = [(6, 0.03), (5, 0.05), (5, 0.039)]
    rule = staged(figures, max_wrong=5, mean_abs_below=0.04, every=100)
    assert run_checks(rule, figures, 100) == 300
    assert rule.milestones == {"st1_sequences": 200}


def test_final_test_figures():
    outputs = np.array([[0.5], [0.55], [0.3], [0.9]])
    reference = np.array([[0.5], [0.5], [0.5], [0.5]])
    got = final_test(outputs, reference, tolerance=0.1)
    assert got["test_wrong"] == 2 and got["test_sequences"] == 4
    assert got["test_error"] == pytest.approx(0.5)
    assert got["test_mae"] == pytest.approx((0 + 0.05 + 0.2 + 0.4) / 4)
    assert got["test_mse"] == pytest.approx((0 + 0.0025 + 0.04 + 0.16) / 4)


def test_final_test_needs_every_output_within_tolerance():
    outputs = np.array([[0.1, 0.9], [0.1, 0.5]])
    reference = np.array([[0.0, 1.0], [0.0, 1.0]])
    assert final_test(outputs, reference, tolerance=0.3)["test_wrong"] == 1


def test_periodic_check_keeps_its_keyword_construction():
    rule = PeriodicCheck(name="x", test=lambda predict: predict() > 1, check_every=7)
    assert rule.check_every == 7 and rule.check(lambda: 2) and not rule.check(lambda: 0)
    assert "every 7" in rule.describe()


def _trial_on_a_blank_task(rule, learner_cls, correct: bool, budget: int, evaluate=None):
    """run_trial of ``learner_cls`` on a one-input task of blank 2-step sequences whose every
    sequence is judged ``correct``, stopped by ``rule``."""
    from types import SimpleNamespace

    from seqbench.blocks import SequenceBlock
    from seqbench.contracts import Task, TaskRun, TaskSpec
    from seqbench.trial import TrialSpec, run_trial

    class Run(TaskRun):
        criterion = rule

        def training_block(self, n):
            return SequenceBlock(np.zeros((n, 2, 1)), np.zeros((n, 2, 1)), np.ones((n, 2), bool),
                                 np.full(n, 2))

        def judge(self, block, outputs):
            return np.full(len(block), correct), np.full(len(block), 0.0 if correct else 1.0)

        def evaluate(self, predict):
            return evaluate(predict) if evaluate else {}

    class BlankTask(Task):
        name = "blank"

        def spec(self):
            return TaskSpec(1, 1)

        def start(self, streams):
            return Run()

    registry = SimpleNamespace(task=lambda name: BlankTask, learner=lambda name: learner_cls)
    return run_trial(TrialSpec("blank", learner_cls.name, {}, {}, seed=0, trial=0,
                               budget=budget), registry)


class _SilentLearner(Learner):
    """Outputs zeros and learns nothing."""

    name = "silent"
    n_weights = 1

    def build(self, spec, rng):
        pass

    def train(self, block):
        return np.zeros((len(block), block.inputs.shape[1], 1))

    predict = train


def test_the_final_test_sees_the_net_as_it_was_when_a_history_rule_held():
    """run_trial rolls the learner back to the success point inside a block."""

    class CountingLearner(_SilentLearner):
        def build(self, spec, rng):
            self.trained = 0

        def train(self, block):
            self.trained += len(block)
            return super().train(block)

        def predict(self, block):
            return super().train(block)

    result = _trial_on_a_blank_task(
        FewerWrongInWindow(1, window=137), CountingLearner, correct=True, budget=1000,
        evaluate=lambda predict: {"trained_when_tested": predict.__self__.trained})
    assert result.status == "solved", result.error
    assert result.sequences_to_success == 137 and result.sequences == 200  # blocks of 100
    assert result.metrics["trained_when_tested"] == 137


@pytest.mark.parametrize("rule, copies", [
    (PeriodicCheck(name="never", test=lambda predict: False, check_every=50), 0),
    (FewerWrongInWindow(0, window=10_000), 2),  # one copy per block of 100
])
def test_the_learner_is_copied_before_a_block_only_when_observe_can_succeed(rule, copies):
    """A criterion that only succeeds in frozen checks needs no rollback copy per block."""
    made = []

    class CopiedLearner(_SilentLearner):
        def __deepcopy__(self, memo):
            made.append(1)
            return CopiedLearner()

    result = _trial_on_a_blank_task(rule, CopiedLearner, correct=False, budget=200)
    assert result.status == "budget_exhausted", result.error
    assert len(made) == copies
