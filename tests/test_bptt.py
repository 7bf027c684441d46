"""The BPTT learner: kernel against finite differences and the NumPy reference.

docs/learners.md §9."""

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

from seqbench.errors import ParamError

WINDOWS = [(0, 1), (1, 1), (3, 1), (4, 2), (3, 3), (20, 5)]  # (h, h'); h = 0: epochwise


@pytest.mark.parametrize("seed", range(5))
def test_epochwise_gradient_equals_finite_differences(seed):
    net, w, x, d, mask = random_problem(seed, n=6, T=8)
    learner = make_learner(BPTT, net, w)
    g = learner.gradient(block_of(x, d, mask))
    fd = finite_differences(lambda v: ref.loss(net, v, x, d, mask), w)
    assert_rel_close(g, fd, 1e-7)


@pytest.mark.parametrize("window,update_every", WINDOWS)
def test_kernel_training_equals_reference(window, update_every):
    """On-line training: outputs before each change, and final weights, to 1e-12."""
    for seed in range(3):
        net, w, x, d, mask = random_problem(100 + seed)
        learner = make_learner(BPTT, net, w, window=window, update_every=update_every,
                               learning_rate=0.9)
        out = learner.train(block_of(x, d, mask))
        out_r, w_r, _ = ref.bptt_train(net, w, x, d, mask, 0.9, window, update_every)
        np.testing.assert_allclose(out[0], out_r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(learner.w, w_r, rtol=0, atol=1e-12)
        assert np.abs(learner.w - w).max() > 1e-3  # training did change the weights


@pytest.mark.parametrize("window,update_every", WINDOWS)
def test_frozen_gradient_equals_reference(window, update_every):
    net, w, x, d, mask = random_problem(7)
    learner = make_learner(BPTT, net, w, window=window, update_every=update_every)
    g = learner.gradient(block_of(x, d, mask))
    _, _, g_r = ref.bptt_train(net, w, x, d, mask, 1.0, window, update_every, apply=False)
    assert_rel_close(g, g_r, 1e-12)


def test_full_windows_equal_epochwise():
    """BPTT(h) summed with frozen weights, h >= T, and BPTT(T; T) both give the epochwise
    gradient (docs/learners.md §9); a short window does not."""
    net, w, x, d, mask = random_problem(3, T=6)
    block = block_of(x, d, mask)
    full = make_learner(BPTT, net, w).gradient(block)
    for h, h2 in ((6, 1), (10, 1), (6, 6)):
        assert_rel_close(make_learner(BPTT, net, w, window=h, update_every=h2).gradient(block),
                         full, 1e-12)
    short = make_learner(BPTT, net, w, window=2).gradient(block)
    assert np.abs(short - full).max() > 1e-6


def test_zero_learning_rate_leaves_forward_pass_unchanged():
    net, w, x, d, mask = random_problem(11)
    for window in (0, 3):
        learner = make_learner(BPTT, net, w, learning_rate=0.0, window=window)
        block = block_of(x, d, mask)
        np.testing.assert_array_equal(learner.train(block), learner.predict(block))
        np.testing.assert_array_equal(learner.w, w)


def test_update_every_may_not_exceed_window():
    with pytest.raises(ParamError):
        make_learner(BPTT, window=2, update_every=3)


def test_trains_on_reber_through_run_trial():
    result = reber_trial("bptt", "exp1-12h-lr0.1", budget=200)
    assert result.status == "budget_exhausted", result.error
    assert result.n_weights == 494 and result.sequences == 200
    assert result.ns_per_step > 0
