"""The shared network description of the gradient baselines and its NumPy reference."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from _recurrent_helpers import assert_rel_close, finite_differences, random_problem, ref
from seqbench_learners.recurrent.network import (
    Network,
    elman,
    fully_recurrent,
    self_loop,
    self_loop_wz,
)

from seqbench.errors import ParamError


@pytest.mark.parametrize("network,weights", [
    (fully_recurrent(7, 3, 7), 170),  # Table 1, RTRL 3 hidden
    (fully_recurrent(7, 12, 7), 494),  # Table 1, RTRL 12 hidden
    (elman(7, 15, 7), 435),  # Table 1, ELM
    (self_loop(5, 1, 5), 36),  # Table 2, p = 4
    (self_loop(11, 1, 11), 144),  # Table 2, p = 10
    (self_loop(101, 1, 101), 10404),  # Table 2, p = 100
    (self_loop_wz(5, 1, 5), 36),  # the same rows in Williams-Zipser timing
    (self_loop_wz(11, 1, 11), 144),
    (self_loop_wz(101, 1, 101), 10404),
])
def test_paper_weight_counts(network, weights):
    assert network.n_weights == weights


def test_biases_add_one_weight_per_unit():
    assert fully_recurrent(7, 3, 7, bias=True).n_weights == 170 + 10
    assert elman(7, 15, 7, bias=True).n_weights == 435 + 22


def test_carried_units_are_those_on_delay1_paths():
    """docs/learners.md §4.5: only recurrent units hold RTRL sensitivities."""
    np.testing.assert_array_equal(fully_recurrent(7, 3, 7).recurrent_units(), np.arange(10))
    np.testing.assert_array_equal(self_loop(101, 1, 101).recurrent_units(), [0])
    np.testing.assert_array_equal(self_loop_wz(101, 1, 101).recurrent_units(), [0])
    np.testing.assert_array_equal(elman(7, 15, 7).recurrent_units(), np.arange(15))
    # a unit feeding a recurrent unit through a delay-0 link must carry sensitivities too
    net = Network(1, 3, np.array([2]), dst=[1, 1, 2], src=[0, 1, 1 + 1], delay=[0, 0, 0])
    assert len(net.recurrent_units()) == 0
    net = Network(1, 3, np.array([2]), dst=[1, 1, 2], src=[1, 2, 2], delay=[0, 1, 0])
    np.testing.assert_array_equal(net.recurrent_units(), [0, 1])


def _two_layer_run(w_hidden, w_self, w_out_in, w_out_hidden, x, readout_delay):
    """The Exp. 2a net's forward pass written out by hand: one hidden unit h, outputs o."""
    h_prev, outs = 0.0, []
    for x_t in x:
        h = ref.logistic(w_hidden @ x_t + w_self * h_prev)
        outs.append(ref.logistic(w_out_in @ x_t + w_out_hidden * (h_prev if readout_delay else h)))
        h_prev = h
    return np.array(outs)


@pytest.mark.parametrize("build,readout_delay", [(self_loop, 0), (self_loop_wz, 1)])
def test_self_loop_timings(build, readout_delay):
    """self_loop's outputs read the hidden unit of the same step (the LSTM paper's three-phase
    step); self_loop_wz's read it one step late (Williams & Zipser's y(t+1) = f(W y(t)))."""
    m = 5
    net = build(m, 1, m)
    rng = np.random.default_rng(3)
    w = net.initial_weights(rng, 2.0)
    x = np.eye(m)[[4, 0, 1, 2]]
    a = ref.forward(net, w, x)[0]
    # the flat weights in connection order: hidden (inputs, self), then per output (inputs, hidden)
    w_hidden, w_self = w[:m], w[m]
    rows = w[m + 1:].reshape(m, m + 1)
    expected = _two_layer_run(w_hidden, w_self, rows[:, :m], rows[:, m], x, readout_delay)
    np.testing.assert_allclose(a[:, net.outputs], expected, rtol=0, atol=1e-14)


@pytest.mark.parametrize("dst,src,delay", [
    ([0], [1], 0),  # delay-0 self link
    ([0], [2], 0),  # delay-0 link from a later unit
    ([0], [0], 1),  # delay-1 link from an input
    ([0, 0], [1, 1], [1, 1]),  # duplicate
])
def test_invalid_connections_are_refused(dst, src, delay):
    with pytest.raises(ParamError):
        Network(1, 2, np.array([1]), dst=dst, src=src, delay=np.broadcast_to(delay, len(dst)))


@pytest.mark.parametrize("seed", range(4))
def test_reference_bptt_equals_finite_differences(seed):
    net, w, x, d, mask = random_problem(seed)
    g = ref.bptt_gradient(net, w, x, d, mask)
    fd = finite_differences(lambda v: ref.loss(net, v, x, d, mask), w)
    assert_rel_close(g, fd, 1e-7)


@pytest.mark.parametrize("seed", range(4))
def test_reference_rtrl_equals_reference_bptt(seed):
    net, w, x, d, mask = random_problem(seed)
    _, _, g, steps = ref.rtrl_train(net, w, x, d, mask, 0.0, update="accumulate")
    assert_rel_close(g, ref.bptt_gradient(net, w, x, d, mask), 1e-12)
    for t in range(len(x)):
        np.testing.assert_allclose(steps[t], ref.bptt_step_gradient(net, w, x, d, mask, t) * mask[t],
                                   rtol=0, atol=1e-13)


def test_listing_plugins_does_not_import_numba():
    code = ("import sys; from seqbench.plugins import load_registry; r = load_registry(); "
            "assert {'bptt', 'rtrl', 'elman'} <= set(r.learners), r.learners; "
            "assert 'numba' not in sys.modules, 'numba imported while listing plugins'")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("learner", ["bptt", "rtrl"])
def test_state_is_reset_between_sequences(learner):
    """A block of sequences trains exactly as the same sequences one block each."""
    from _recurrent_helpers import make_learner
    from seqbench_learners.bptt.learner import BPTT
    from seqbench_learners.rtrl.learner import RTRL

    from seqbench.blocks import SequenceBlock

    cls = {"bptt": BPTT, "rtrl": RTRL}[learner]
    net, w, _, _, _ = random_problem(5)
    rng = np.random.default_rng(0)
    block = SequenceBlock(rng.normal(size=(3, 6, 3)), rng.uniform(size=(3, 6, 2)),
                          np.ones((3, 6), bool), np.array([6, 4, 5]))
    together = make_learner(cls, net, w, learning_rate=0.5)
    out = together.train(block)
    apart = make_learner(cls, net, w, learning_rate=0.5)
    for i in range(3):
        one = apart.train(block.take(np.array([i])))
        np.testing.assert_allclose(out[i, : block.lengths[i]], one[0], rtol=0, atol=1e-14)
    np.testing.assert_allclose(together.w, apart.w, rtol=0, atol=1e-14)
