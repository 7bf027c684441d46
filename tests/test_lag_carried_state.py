"""Exp. 2's success test for a learner that carries state across sequences (rtrl reset=never).

For a learner that resets at every sequence start, "10,000 successive 2a sequences all pass" is
"both training sequences pass", and lag-2a checks those two. A learner without resets is judged
on the 10,000 drawn sequences in order, in one predict call (docs/protocol.md §3.5, tasks/lag.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from _recurrent_helpers import make_learner
from seqbench_learners.recurrent.network import self_loop
from seqbench_learners.rtrl.learner import RTRL
from seqbench_tasks import lag
from seqbench_tasks.lag import Lag2a, Lag2b, Lag2c, lag_2a_sequences

from seqbench.contracts import TaskStreams
from seqbench.errors import ParamError
from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.trial import TrialSpec, run_trial


def make(cls, **params):
    return cls(**resolve_params(cls.params, params, cls.name))


def streams(seed: int = 0) -> TaskStreams:
    return TaskStreams(*(np.random.default_rng([seed, i]) for i in range(3)))


def first_symbols(block) -> np.ndarray:
    return block.inputs[:, 0].argmax(axis=1)


def test_2a_stream_is_the_drawn_sequences_in_order():
    p = 4
    run = make(Lag2a, p=p, test_size=1000).start(streams())
    assert run.learner_carries_state is False
    run.learner_carries_state = True
    assert run.criterion.cap == 2  # when checks run is decided as for a resetting learner
    block = run._stream()
    assert len(block) == 1000 and (block.lengths == p).all()
    np.testing.assert_array_equal(first_symbols(block), p - 1 + run.test_draws)
    seq = lag_2a_sequences(run.test_draws, p)
    np.testing.assert_array_equal(block.targets.argmax(axis=2), seq[:, 1:])
    np.testing.assert_array_equal(run.test_weights, np.bincount(run.test_draws, minlength=2))


def _stream_predictor(p, fails):
    """A hand-made predictor that sees its block as one stream: perfect outputs, except a 0.5
    error at the last step of sequence i wherever ``fails(previous class, class)``."""
    def predict(block):
        out = block.targets.copy()
        cls = first_symbols(block) - (p - 1)
        for i in range(len(block)):
            if fails(cls[i - 1] if i else None, cls[i]):
                out[i, block.lengths[i] - 1] = np.abs(out[i, block.lengths[i] - 1] - 0.5)
        return out
    return predict


@pytest.mark.parametrize("name,fails", [
    ("perfect", lambda prev, c: False),
    ("fails y", lambda prev, c: c == 1),
    ("fails x", lambda prev, c: c == 0),
])
def test_2a_both_checks_agree_for_state_free_predictors(name, fails):
    """A predictor that judges each sequence alone gets the same verdict and test metrics from
    the two-sequence shortcut and from the 10,000-sequence stream."""
    p = 4
    predict = _stream_predictor(p, fails)
    shortcut = make(Lag2a, p=p).start(streams(3))
    stream = make(Lag2a, p=p).start(streams(3))
    stream.learner_carries_state = True
    (ok_a, _), (ok_b, _) = shortcut._frozen_test(predict), stream._frozen_test(predict)
    assert ok_a == ok_b == (name == "perfect")
    a, b = shortcut.evaluate(predict), stream.evaluate(predict)
    assert a.keys() == b.keys()
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("budget", [0, 300, 3000])
def test_2a_both_checks_agree_for_a_resetting_rtrl(budget):
    """The paper's p = 4 RTRL net with resets, untrained and part-trained: the shortcut and the
    stream give the same verdict and the same test metrics."""
    p = 4
    task = make(Lag2a, p=p)
    learner = make_learner(RTRL, self_loop(p + 1, 1, p + 1),
                           self_loop(p + 1, 1, p + 1).initial_weights(np.random.default_rng(1),
                                                                      0.2),
                           learning_rate=10.0, architecture="self_loop", hidden=1)
    assert learner.carries_state is False
    train = task.start(streams(5))
    for _ in range(budget // 100):
        learner.train(train.training_block(100))
    shortcut, stream = task.start(streams(5)), task.start(streams(5))
    stream.learner_carries_state = True
    assert shortcut._frozen_test(learner.predict)[0] == stream._frozen_test(learner.predict)[0]
    a, b = shortcut.evaluate(learner.predict), stream.evaluate(learner.predict)
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-9, abs=1e-15), key


def test_2a_stream_check_sees_what_the_shortcut_misses():
    """A net that fails only on a y-sequence after a y-sequence passes both sequences alone;
    the stream check fails it at the first such pair, and the back-off counts up to there."""
    p = 4
    predict = _stream_predictor(p, lambda prev, c: prev == 1 and c == 1)
    shortcut = make(Lag2a, p=p).start(streams(7))
    assert shortcut._frozen_test(predict) == (True, 2)
    stream = make(Lag2a, p=p).start(streams(7))
    stream.learner_carries_state = True
    d = stream.test_draws
    first = int(np.flatnonzero((d[1:] == 1) & (d[:-1] == 1))[0]) + 1
    assert stream._frozen_test(predict) == (False, first + 1)
    stream.criterion.run_length = 10**6
    assert stream.criterion.check(predict) is False
    assert stream.criterion.required == 2  # the back-off of the resetting path
    wrong = np.r_[False, (d[1:] == 1) & (d[:-1] == 1)]
    assert stream.evaluate(predict)["test_error"] == pytest.approx(wrong.mean())


@pytest.mark.parametrize("cls,params", [(Lag2b, {"p": 4, "test_size": 300}),
                                        (Lag2c, {"p": 4, "q": 4, "test_size": 300})])
def test_2b_2c_streams_are_the_test_sequences_in_order(cls, params):
    run = make(cls, **params).start(streams())
    run.learner_carries_state = True
    block = run._stream()
    stored = run._encode(run.test_symbols[:, : int(run.test_lengths.max())], run.test_lengths)
    np.testing.assert_array_equal(block.inputs, stored.inputs)
    np.testing.assert_array_equal(block.lengths, stored.lengths)


@pytest.mark.parametrize("first_failure", [0, 1, 5, 64, 999, None])
def test_the_stream_test_on_prefixes_equals_one_call_on_the_whole_stream(first_failure):
    """Prefixes of doubling length, each from the training state: the verdict and the count of
    one predict call on the whole stream, at a cost that grows with the first failure."""
    p, n = 4, 1000
    run = make(Lag2a, p=p, test_size=n).start(streams(11))
    run.learner_carries_state = True
    calls = []

    def predict(block):
        calls.append(len(block))
        out = block.targets.copy()
        if first_failure is not None and first_failure < len(block):
            out[first_failure, 0] = 1.0 - out[first_failure, 0]
        return out

    passed, counted = run._frozen_test(predict)
    assert passed == (first_failure is None)
    assert counted == (n if first_failure is None else first_failure + 1)
    want = [1]
    while want[-1] < n and (first_failure is None or want[-1] <= first_failure):
        want.append(min(2 * want[-1], n))
    assert calls == want


@pytest.mark.parametrize("budget", [0, 2000])
def test_the_stream_test_of_rtrl_without_resets_is_the_whole_streams_verdict(budget):
    p = 4
    task = make(Lag2a, p=p, test_size=2000)
    net = self_loop(p + 1, 1, p + 1)
    learner = make_learner(RTRL, net, net.initial_weights(np.random.default_rng(2), 0.2),
                           learning_rate=4.0, reset="never")
    train = task.start(streams(9))
    for _ in range(budget // 100):
        learner.train(train.training_block(100))
    run = task.start(streams(9))
    run.learner_carries_state = True
    err = run.judged_abs_error(run._stream(), learner.predict(run._stream()))
    bad = np.flatnonzero(err >= 0.25)
    want = (False, int(bad[0]) + 1) if len(bad) else (True, 2000)
    assert run._frozen_test(learner.predict) == want
    assert run.evaluate(learner.predict)["test_error"] == pytest.approx((err >= 0.25).mean())


def test_the_stream_must_fit_in_memory():
    run = make(Lag2a, p=100).start(streams())
    with pytest.raises(ParamError, match="lower test_size"):
        run.learner_carries_state = True
    run = make(Lag2a, p=100, test_size=100).start(streams())
    run.learner_carries_state = True


@pytest.mark.parametrize("reset", ["sequence", "never"])
def test_the_harness_tells_the_task(monkeypatch, reset):
    """Through run_trial, rtrl reset=never is judged on the stream; the default is not."""
    seen = []
    original = lag.LagRun._stream_errors

    def spy(self, predict):
        seen.append(len(self._stream()))
        return original(self, predict)

    monkeypatch.setattr(lag.LagRun, "_stream_errors", spy)
    registry = get_registry()
    preset = registry.preset("rtrl", "exp2a-p4-lr10")
    tp = resolve_params(Lag2a.params, {**preset.task_params, "test_size": 500}, "task")
    lp = resolve_params(RTRL.params, {**preset.learner_params, "reset": reset}, "rtrl")
    result = run_trial(TrialSpec("lag-2a", "rtrl", tp, lp, seed=0, trial=0, budget=300),
                       registry)
    assert result.status in ("budget_exhausted", "solved"), result.error
    assert "test_error" in result.metrics
    assert seen == ([500] * len(seen) if reset == "never" else [])
    assert (len(seen) > 0) == (reset == "never")
