"""Experiment 2 tasks (lag-2a, lag-2b, lag-2c) and the LSTM97 pieces they need.

docs/protocol.md §3."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqbench.contracts import TaskStreams
from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.trial import TrialSpec, run_trial
from seqbench_learners.lstm97.construction import ErrorPlateau, stage_index
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_learners.lstm97.network import build_layout
from seqbench_tasks.lag import (
    FrozenTestABS,
    Lag2a,
    Lag2b,
    Lag2c,
    OneHotBuffer,
    lag_2a_sequences,
    lag_2b_sequences,
    lag_2c_sequences,
    one_hot,
)


def make(cls, **params):
    return cls(**resolve_params(cls.params, params, cls.name))


def streams(seed: int = 0) -> TaskStreams:
    return TaskStreams(*(np.random.default_rng([seed, i]) for i in range(3)))


def sigmas(n: int, var: float) -> float:
    """Five standard errors of a mean of ``n`` draws of variance ``var``."""
    return 5.0 * np.sqrt(var / n)


# --------------------------------------------------------------------------- generators


@given(p=st.integers(2, 60), classes=st.lists(st.integers(0, 1), min_size=1, max_size=20))
def test_2a_sequences_are_the_two_training_sequences(p, classes):
    seq = lag_2a_sequences(np.array(classes), p)
    assert seq.shape == (len(classes), p + 1)
    assert (seq[:, 0] == p - 1 + np.array(classes)).all()  # x = a_p = p-1, y = a_{p+1} = p
    assert (seq[:, -1] == seq[:, 0]).all()
    assert (seq[:, 1:p] == np.arange(p - 1)).all()


@settings(max_examples=30, deadline=None)
@given(p=st.integers(2, 40), seed=st.integers(0, 2**32 - 1))
def test_2b_sequences(p, seed):
    seq, classes = lag_2b_sequences(np.random.default_rng(seed), 50, p)
    assert seq.shape == (50, p + 1)
    assert (seq[:, 0] == p - 1 + classes).all() and (seq[:, -1] == seq[:, 0]).all()
    assert seq[:, 1:p].min() >= 0 and seq[:, 1:p].max() <= p - 2


def test_2b_middle_is_uniform_and_classes_balanced():
    p, n = 20, 4000
    seq, classes = lag_2b_sequences(np.random.default_rng(1), n, p)
    counts = np.bincount(seq[:, 1:p].ravel(), minlength=p - 1)
    expected = n * (p - 1) / (p - 1)
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 18 + 5 * np.sqrt(2 * 18)  # 18 degrees of freedom, far tail
    assert abs(classes.mean() - 0.5) < sigmas(n, 0.25)


@settings(max_examples=30, deadline=None)
@given(q=st.integers(0, 40), p=st.integers(1, 30), seed=st.integers(0, 2**32 - 1))
def test_2c_sequences_follow_the_grammar(q, p, seed):
    seq, lengths, classes = lag_2c_sequences(np.random.default_rng(seed), 40, q, p)
    e, b, x = p, p + 1, p + 2
    assert seq.shape == (40, lengths.max())
    assert (lengths >= q + 4).all()
    for row, n, c in zip(seq, lengths, classes):
        assert row[0] == b and row[1] == x + c and row[n - 2] == e and row[n - 1] == row[1]
        middle = row[2:n - 2]
        assert len(middle) >= q and middle.min(initial=0) >= 0 and middle.max(initial=0) < p
        assert (row[n:] == -1).all()


def test_2c_tail_is_geometric_and_lengths_average_q_plus_13():
    q, p, n = 30, 10, 20_000
    seq, lengths, classes = lag_2c_sequences(np.random.default_rng(2), n, q, p)
    tail = lengths - (q + 4)
    # k ~ Geometric(1/10) from 0: mean 9, variance 0.9 / 0.1**2 = 90, P(k = 0) = 0.1
    assert abs(tail.mean() - 9.0) < sigmas(n, 90.0)
    assert abs((tail == 0).mean() - 0.1) < sigmas(n, 0.09)
    assert abs(lengths.mean() - (q + 13)) < sigmas(n, 90.0)  # docs/protocol.md §3.7
    assert abs(classes.mean() - 0.5) < sigmas(n, 0.25)
    # each distractor a_i occurs (q + 9) / p times per sequence on average
    valid = seq >= 0
    counts = np.bincount(seq[valid][seq[valid] < p], minlength=p) / n
    # per sequence a_i occurs Binomial(q + k, 1/p) times: variance <= (q + 9)/p + Var(k)/p**2
    assert np.allclose(counts, (q + 9) / p, atol=sigmas(n, (q + 9) / p + 90 / p**2))


def test_same_seed_same_data_and_different_seeds_differ():
    for cls, kw in ((Lag2a, {"p": 10}), (Lag2b, {"p": 10}), (Lag2c, {"q": 10, "p": 10})):
        a, b, c = (make(cls, test_size=50, **kw).start(streams(s)) for s in (7, 7, 8))
        ba, bb, bc = (r.training_block(30) for r in (a, b, c))
        assert np.array_equal(ba.inputs, bb.inputs) and np.array_equal(ba.targets, bb.targets)
        assert np.array_equal(a.test_symbols, b.test_symbols)
        assert not (ba.inputs.shape == bc.inputs.shape and np.array_equal(ba.inputs, bc.inputs))


# --------------------------------------------------------------------------- blocks


def test_one_hot_buffer_matches_fresh_encoding_across_reuse():
    rng = np.random.default_rng(3)
    buf = OneHotBuffer(7)
    for width in (9, 4, 12, 3):
        sym = rng.integers(-1, 7, size=(5, width))
        assert np.array_equal(buf.encode(sym), one_hot(sym, 7))


@pytest.mark.parametrize("cls", [Lag2a, Lag2b])
def test_2ab_block_targets_are_the_next_symbol_at_every_step(cls):
    p = 12
    run = make(cls, p=p, test_size=20).start(streams())
    block = run.training_block(40)
    assert block.inputs.shape == (40, p, p + 1) and (block.lengths == p).all()
    assert block.target_mask.all()
    assert (block.inputs.sum(axis=2) == 1).all() and (block.targets.sum(axis=2) == 1).all()
    assert np.array_equal(block.targets[:, :-1], block.inputs[:, 1:])
    assert np.array_equal(block.targets[:, -1], block.inputs[:, 0])  # the last x|y repeats the first
    first = block.inputs[:, 0].argmax(axis=1)
    assert set(first) <= {p - 1, p}


def test_2a_draws_both_sequences_evenly():
    run = make(Lag2a, p=5).start(streams())
    first = run.training_block(100).inputs[:, 0].argmax(axis=1)
    for _ in range(39):
        first = np.concatenate([first, run.training_block(100).inputs[:, 0].argmax(axis=1)])
    assert abs((first == 5).mean() - 0.5) < sigmas(len(first), 0.25)
    assert np.array_equal(run.test_symbols, lag_2a_sequences(np.array([0, 1]), 5))


def test_2c_block_has_one_target_after_the_trigger():
    q, p = 15, 8
    run = make(Lag2c, q=q, p=p, test_size=20).start(streams())
    block = run.training_block(60)
    rows = np.arange(60)
    last = block.lengths - 1
    assert block.inputs.shape[2] == p + 4 and block.targets.shape[2] == 2
    assert (block.target_mask.sum(axis=1) == 1).all() and block.target_mask[rows, last].all()
    assert (block.inputs[rows, last, p] == 1).all()  # the input at the judged step is e
    second_is_y = block.inputs[:, 1, p + 3] == 1
    assert np.array_equal(block.targets[rows, last], np.stack([~second_is_y, second_is_y], 1) * 1.0)
    valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    assert np.array_equal(block.inputs.sum(axis=2), valid * 1.0)


def test_2c_block_size_bounds_memory():
    assert make(Lag2c, q=100, p=100, test_size=1).start(streams()).max_block_sequences == 100
    big = make(Lag2c, q=1000, p=1000, test_size=1).start(streams())
    assert big.max_block_sequences < 10
    block = big.training_block(big.max_block_sequences)
    assert block.inputs.nbytes < 100 * 2**20


# --------------------------------------------------------------------------- criteria


def test_2a_judges_every_step_at_0_25():
    run = make(Lag2a, p=6).start(streams())
    block = run.training_block(3)
    out = block.targets.copy()
    out[0, 2, 4] += 0.25
    out[1, 0, 1] -= 0.2499
    ok, err = run.judge(block, out)
    assert ok.tolist() == [False, True, True]
    assert err[0] == pytest.approx(0.25) and err[1] == pytest.approx(0.2499) and err[2] == 0


def test_2b_judges_only_the_final_prediction():
    run = make(Lag2b, p=6, test_size=5).start(streams())
    block = run.training_block(3)
    out = block.targets.copy()
    out[0, 2, 4] += 0.9  # an unpredictable middle step: not judged
    out[1, -1, 3] += 0.25
    out[2, -1, 0] += 0.24
    ok, err = run.judge(block, out)
    assert ok.tolist() == [True, False, True]


def test_2c_judges_both_outputs_at_the_end_at_0_2():
    run = make(Lag2c, q=4, p=3, test_size=5).start(streams())
    block = run.training_block(3)
    out = block.targets.copy()
    last = block.lengths - 1
    out[0, 0, 0] = 0.7  # not a judged step
    out[1, last[1]] = np.abs(out[1, last[1]] - 0.2)  # the output whose target is 0 reads 0.2
    out[2, last[2]] = np.abs(out[2, last[2]] - 0.19)
    ok, _ = run.judge(block, out)
    assert ok.tolist() == [True, False, True]


def test_frozen_test_runs_only_after_a_screen_of_correct_sequences():
    results = [(False, 8), (True, 10)]
    calls = []
    crit = FrozenTestABS("t", test=lambda predict: calls.append(1) or results[len(calls) - 1],
                         screen=5, check_every=10)
    assert crit.observe(np.array([1, 1, 1, 0, 1, 1], bool), np.zeros(6)) is None
    assert crit.run_length == 2 and not crit.check(None) and not calls
    crit.observe(np.ones(3, bool), np.zeros(3))
    assert crit.run_length == 5 and not crit.check(None) and calls == [1]  # test failed at 8
    crit.observe(np.ones(4, bool), np.zeros(4))
    assert not crit.check(None) and calls == [1]  # run 9 < 2 x 5 (and >= the 8 it evaluated)
    crit.observe(np.ones(1, bool), np.zeros(1))
    assert crit.check(None) and calls == [1, 1] and crit.milestones["frozen_tests"] == 2
    crit.observe(np.array([1, 0], bool), np.zeros(2))
    assert crit.run_length == 0


def test_frozen_test_and_evaluate_on_a_hand_made_predictor():
    run = make(Lag2c, q=5, p=4, test_size=40, screen=0).start(streams())
    perfect = lambda block: block.targets.copy()  # noqa: E731
    assert run.criterion.test(perfect) == (True, 40)
    assert run.evaluate(perfect)["test_error"] == 0.0
    # wrong on exactly the test sequences whose second symbol is y
    ys = run.test_symbols[:, 1] == 4 + 3

    def wrong_on_y(block):
        out = block.targets.copy()
        out[block.inputs[:, 1, 4 + 3] == 1] = 0.5
        return out

    assert run.criterion.test(wrong_on_y)[0] is False
    assert run.evaluate(wrong_on_y)["test_error"] == pytest.approx(ys.mean())


def test_2a_test_error_weights_the_two_sequences_by_their_draws():
    run = make(Lag2a, p=4, test_size=1000).start(streams())
    assert run.test_weights.sum() == 1000

    def wrong_on_x(block):
        out = block.targets.copy()
        out[block.inputs[:, 0, 3] == 1] = 0.5
        return out

    assert run.evaluate(wrong_on_x)["test_error"] == pytest.approx(run.test_weights[0] / 1000)


# --------------------------------------------------------------------------- LSTM97


def built(preset_name: str, task_params=None):
    reg = get_registry()
    preset = reg.preset("lstm97", preset_name)
    task_cls = reg.task(preset.task)
    task = make(task_cls, **{**preset.task_params, **(task_params or {})})
    learner = LSTM97(**resolve_params(LSTM97.params, preset.learner_params, "lstm97"))
    learner.build(task.spec(), np.random.default_rng(0))
    return task, learner, preset


def test_weight_counts_match_the_paper():
    for name in ("exp2a-p100", "exp2b-p100"):
        assert built(name)[1].n_weights == 10504
    reg = get_registry()
    rows = [p for p in reg.presets.values() if p.experiment == "exp2c"]
    assert len(rows) == 9
    for preset in rows:
        _, learner, _ = built(preset.name)
        assert learner.n_weights == preset.paper.extra["n_weights"]
        assert learner.n_weights == 6 * preset.task_params["p"] + 64


def test_stage_index_maps_a_partial_net_into_the_full_one():
    for conn in ("B", "F"):
        full = build_layout(5, 3, 3, 2, True, conn, "all")
        part = build_layout(5, 3, 1, 2, True, conn, "all")
        rows, cols_h, cols_o = stage_index(full, part)
        # every weight the partial net uses is one the full net uses too
        assert full.hidden_mask()[np.ix_(rows, cols_h)][part.hidden_mask()].all()
        assert full.output_mask()[:, cols_o][part.output_mask()].all()


def test_error_plateau_rule():
    rule = ErrorPlateau(window=2, tolerance=0.1)
    assert not rule.feed(np.array([4.0])) and rule.left == 1
    assert not rule.feed(np.array([4.0]))  # first window: mean 4, nothing to compare
    assert not rule.feed(np.array([3.0, 3.0]))  # 3 < 0.9 * 4
    assert rule.feed(np.array([2.8, 2.8]))  # 2.8 >= 0.9 * 3: stopped decreasing
    with pytest.raises(ValueError):
        rule.feed(np.zeros(3))


def test_sequential_construction_starts_without_the_cell_and_adds_it():
    task, learner, _ = built("exp2a-p100", {"p": 6})
    assert learner.n_weights == 2 * 7 + 7 * 8
    assert learner.layout.n_blocks == 0 and learner.growing
    run = task.start(streams())
    block = run.training_block(5)
    # without a cell the outputs are logistic(W x) of the current input alone
    out = learner.predict(block)
    expected = 1 / (1 + np.exp(-block.inputs @ learner.wo[:, :7].T))
    assert np.allclose(out, expected)
    for _ in range(200):
        learner.train(run.training_block(50))
        if not learner.growing:
            break
    assert not learner.growing and len(learner.grown_at) == 1
    assert learner.grown_at[0] % learner.params["grow_window"] == 0
    assert learner.layout is learner.full_layout and learner.n_weights == 70


def test_sequential_growth_keeps_the_weights_learned_so_far():
    task, learner, _ = built("exp2a-p100", {"p": 6})
    learner.params = {**learner.params, "grow_window": 10, "grow_tolerance": 1.0}
    learner.build(task.spec(), np.random.default_rng(0))  # tolerance 1: grows at the 2nd window
    run = task.start(streams())
    learner.train(run.training_block(10))
    before = learner.wo.copy()
    initial_cell_column = learner._full_wo[:, 7].copy()
    learner.train(run.training_block(10))
    assert learner.grown_at == [20] and not learner.growing
    assert not np.array_equal(learner.wo[:, :7], before[:, :7])  # trained on, then carried over
    assert np.array_equal(learner.wo[:, 7], initial_cell_column)  # the new cell's initial draw


# --------------------------------------------------------------------------- trials


@pytest.mark.parametrize(
    "preset,task_params,budget",
    [("exp2a-p100", {"p": 4}, 400), ("exp2b-p100", {"p": 4, "test_size": 200}, 400),
     ("exp2c-q100-p100", {"q": 5, "p": 5, "test_size": 200}, 400)],
)
def test_lstm97_trial_smoke(preset, task_params, budget):
    reg = get_registry()
    pr = reg.preset("lstm97", preset)
    tp = resolve_params(reg.task(pr.task).params, {**pr.task_params, **task_params}, pr.task)
    lp = resolve_params(reg.learner("lstm97").params, pr.learner_params, "lstm97")
    spec = TrialSpec(task=pr.task, learner="lstm97", task_params=tp, learner_params=lp, seed=1,
                     trial=0, budget=budget)
    res = run_trial(spec, reg)
    assert res.error is None and res.status in ("solved", "budget_exhausted")
    assert res.sequences <= budget and res.time_steps > 0
    assert 0.0 <= res.metrics["test_error"] <= 1.0
    if res.status == "solved":
        assert res.metrics["test_error"] == 0.0 and res.sequences_to_success % 100 == 0


def test_trial_honours_the_task_block_cap(monkeypatch):
    from seqbench_tasks import lag

    asked = []
    original = lag.Lag2cRun.training_block

    def spy(self, n):
        asked.append(n)
        return original(self, n)

    monkeypatch.setattr(lag.Lag2cRun, "training_block", spy)
    # q = p = 3: a block sized for (3 + 3 + 60) steps x (7 + 2 + 1) values of 8 bytes per sequence
    monkeypatch.setattr(lag, "BLOCK_BYTES", 7 * 66 * 10 * 8)
    reg = get_registry()
    tp = resolve_params(Lag2c.params, {"q": 3, "p": 3, "test_size": 10}, "lag-2c")
    lp = resolve_params(LSTM97.params, {"blocks": 1, "block_size": 1}, "lstm97")
    res = run_trial(TrialSpec("lag-2c", "lstm97", tp, lp, seed=0, trial=0, budget=30), reg)
    assert res.error is None and max(asked) == 7 and sum(asked) == res.sequences == 30


def test_frozen_test_trying_suspects_first_never_skips_a_sequence():
    """The frozen test reorders sequences (last failures first). Failing exactly one test
    sequence at a time, in a random order, every one of them must be found."""
    run = make(Lag2c, q=6, p=5, test_size=120, screen=0).start(streams(4))
    sequences = [run.test_symbols[i, : run.test_lengths[i]] for i in range(len(run.test_lengths))]
    for j in np.random.default_rng(0).permutation(len(sequences)):
        def predict(block, bad=sequences[j]):
            out = block.targets.copy()
            symbols = block.inputs.argmax(axis=2)
            for i in range(len(block)):
                n = block.lengths[i]
                if n == len(bad) - 1 and np.array_equal(symbols[i, :n], bad[:n]):
                    out[i] = 0.5
            return out

        assert run._frozen_test(predict)[0] is False, j
    perfect = lambda block: block.targets.copy()  # noqa: E731
    assert run._frozen_test(perfect) == (True, 120)


@pytest.mark.parametrize("task", ["lag-2a", "lag-2b", "lag-2c"])
def test_a_pickled_run_leaves_its_encoding_scratch_behind_and_goes_on_identically(task):
    """Checkpoints and the states handed between --jobs processes carry no one-hot scratch
    (8 MB per buffer on Exp. 2a); the next block is the same either way."""
    import pickle

    cls = get_registry().task(task)
    run = cls(**{k: p.default for k, p in cls.params.items()}).start(
        TaskStreams(*(np.random.default_rng(i) for i in range(3))))
    run.training_block(100)
    data = pickle.dumps(run)
    assert len(data) < 5 * 2**20
    again = pickle.loads(data)
    a, b = run.training_block(100), again.training_block(100)
    for field in ("inputs", "targets", "target_mask", "lengths", "input_symbols"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
