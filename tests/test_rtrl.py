"""The RTRL learner: structured sensitivities against BPTT, finite differences and the dense
textbook recursion of the reference (LEARNERS.md §2.7, §8)."""

from __future__ import annotations

import numpy as np
import pytest
from _recurrent_helpers import (
    assert_rel_close,
    block_of,
    finite_differences,
    make_learner,
    random_problem,
    reber_trial,
    ref,
)
from seqbench_learners.bptt.learner import BPTT
from seqbench_learners.recurrent.network import fully_recurrent, self_loop
from seqbench_learners.rtrl.learner import RTRL



def _problems():
    """Random sparse nets, plus the paper's two layouts at small size."""
    for seed in range(4):
        yield random_problem(seed, n=6, T=8)
    rng = np.random.default_rng(42)
    for net in (fully_recurrent(3, 2, 2), self_loop(5, 1, 5)):
        T = 6
        x = rng.normal(size=(T, net.n_inputs))
        d = rng.uniform(size=(T, net.n_outputs))
        mask = np.ones(T, bool)
        yield net, net.initial_weights(rng, 1.0), x, d, mask


PROBLEMS = list(_problems())


@pytest.mark.parametrize("problem", PROBLEMS, ids=range(len(PROBLEMS)))
def test_offline_rtrl_equals_epochwise_bptt(problem):
    net, w, x, d, mask = problem
    block = block_of(x, d, mask)
    g_rtrl = make_learner(RTRL, net, w, update="sequence").gradient(block)
    g_bptt = make_learner(BPTT, net, w).gradient(block)
    assert_rel_close(g_rtrl, g_bptt, 1e-10)


@pytest.mark.parametrize("problem", PROBLEMS, ids=range(len(PROBLEMS)))
def test_each_step_gradient_equals_bptt_of_that_steps_error(problem):
    net, w, x, d, mask = problem
    steps = make_learner(RTRL, net, w).step_gradients(block_of(x, d, mask))
    for t in range(len(x)):
        expected = ref.bptt_step_gradient(net, w, x, d, mask, t) if mask[t] else 0 * w
        np.testing.assert_allclose(steps[t], expected, rtol=0, atol=1e-12)
    assert np.abs(steps).max() > 1e-3


@pytest.mark.parametrize("seed", range(4))
def test_teacher_forced_gradient_equals_finite_differences_of_forced_graph(seed):
    net, w, x, d, mask = random_problem(200 + seed, n=6, T=8)
    g = make_learner(RTRL, net, w, teacher_forcing=True).gradient(block_of(x, d, mask))
    fd = finite_differences(lambda v: ref.loss(net, v, x, d, mask, teacher_forcing=True), w)
    assert_rel_close(g, fd, 1e-7)
    plain = finite_differences(lambda v: ref.loss(net, v, x, d, mask), w)
    assert np.abs(g - plain).max() > 1e-6  # forcing changes the graph on these nets


@pytest.mark.parametrize("update", ["step", "sequence"])
@pytest.mark.parametrize("teacher_forcing", [False, True])
def test_kernel_training_equals_dense_reference(update, teacher_forcing):
    """The structured kernel trains exactly as the textbook recursion over all units."""
    for net, w, x, d, mask in PROBLEMS:
        learner = make_learner(RTRL, net, w, update=update, teacher_forcing=teacher_forcing,
                               learning_rate=0.7)
        out = learner.train(block_of(x, d, mask))
        out_r, w_r, _, _ = ref.rtrl_train(net, w, x, d, mask, 0.7, update, teacher_forcing)
        np.testing.assert_allclose(out[0], out_r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(learner.w, w_r, rtol=0, atol=1e-12)
        assert np.abs(learner.w - w).max() > 1e-3


def test_zero_learning_rate_leaves_forward_pass_unchanged():
    for net, w, x, d, mask in PROBLEMS[:3]:
        learner = make_learner(RTRL, net, w, learning_rate=0.0)
        block = block_of(x, d, mask)
        np.testing.assert_array_equal(learner.train(block), learner.predict(block))
        np.testing.assert_array_equal(learner.w, w)


def test_exp2a_p100_net_carries_one_sensitivity_vector():
    """LEARNERS.md §2.4: only the hidden unit carries sensitivities, so a step costs O(W)."""
    learner = make_learner(RTRL, self_loop(101, 1, 101), np.zeros(10404))
    assert learner.n_weights == 10404
    np.testing.assert_array_equal(learner._carried, [0])


@pytest.mark.parametrize("preset,weights", [("exp1-3h-lr0.05", 170), ("exp1-12h-lr0.1", 494)])
def test_trains_on_reber_through_run_trial(preset, weights):
    result = reber_trial("rtrl", preset, budget=100)
    assert result.status == "budget_exhausted", result.error
    assert result.n_weights == weights and result.sequences == 100
