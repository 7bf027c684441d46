"""The ELM learner: Elman's procedure against clamped finite differences, against BPTT with a
one-step window, and against a small dense NumPy statement of it (docs/learners.md §5.1, §9)."""

from __future__ import annotations

import numpy as np
import pytest
from _recurrent_helpers import (
    assert_rel_close,
    block_of,
    finite_differences,
    make_learner,
    reber_trial,
    ref,
)
from seqbench_learners.bptt.learner import BPTT
from seqbench_learners.elman.learner import Elman
from seqbench_learners.recurrent.network import elman

from seqbench.blocks import SequenceBlock


def _problem(seed, bias, m=3, nh=4, K=2, T=7):
    rng = np.random.default_rng(seed)
    net = elman(m, nh, K, bias)
    w = net.initial_weights(rng, 1.0)
    x = rng.normal(size=(T, m))
    d = rng.uniform(size=(T, K))
    mask = rng.uniform(size=T) < 0.8
    mask[-1] = True
    return net, w, x, d, mask


def _dense_elman(w, x, d, mask, nh, bias, alpha, momentum, context_init):
    """Elman's procedure written with matrices, straight from docs/learners.md §5.1."""
    m, K = x.shape[1], d.shape[1]
    sh, so = m + nh + bias, nh + bias
    w = w.copy()
    velocity = np.zeros_like(w)
    c = np.full(nh, context_init)
    outs = []
    for t in range(len(x)):
        Wh, Wy = w[: nh * sh].reshape(nh, sh), w[nh * sh:].reshape(K, so)
        h = ref.logistic(Wh @ np.concatenate([x[t], c, [1.0] * bias]))
        hb = np.concatenate([h, [1.0] * bias])
        y = ref.logistic(Wy @ hb)
        outs.append(y)
        if mask[t]:
            dy = y * (1 - y) * (y - d[t])
            dh = h * (1 - h) * (Wy[:, :nh].T @ dy)
            g = np.concatenate([np.outer(dh, np.concatenate([x[t], c, [1.0] * bias])).ravel(),
                                np.outer(dy, hb).ravel()])
            velocity = momentum * velocity - alpha * g
            w += velocity
        c = h
    return np.array(outs), w


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_gradient_equals_clamped_finite_differences(seed, bias):
    """With the context held at its nominal trajectory, FD of E is Elman's gradient; without
    the clamp it is not (so the check sees the truncation)."""
    net, w, x, d, mask = _problem(seed, bias)
    g = make_learner(Elman, net, w).gradient(block_of(x, d, mask))
    _, _, nominal = ref.forward(net, w, x)
    clamped = finite_differences(lambda v: ref.loss(net, v, x, d, mask, clamp=nominal), w)
    assert_rel_close(g, clamped, 1e-7)
    free = finite_differences(lambda v: ref.loss(net, v, x, d, mask), w)
    assert np.abs(g - free).max() > 1e-6


@pytest.mark.parametrize("bias", [False, True])
def test_gradient_equals_bptt_with_window_one(bias):
    net, w, x, d, mask = _problem(5, bias)
    block = block_of(x, d, mask)
    g = make_learner(Elman, net, w).gradient(block)
    g_bptt = make_learner(BPTT, net, w, window=1, update_every=1).gradient(block)
    assert_rel_close(g, g_bptt, 1e-12)


def test_training_equals_online_bptt_with_window_one():
    """Without momentum, Elman's procedure is on-line BPTT(1): same outputs, same weights."""
    net, w, x, d, mask = _problem(6, True)
    block = block_of(x, d, mask)
    a = make_learner(Elman, net, w, learning_rate=0.8)
    b = make_learner(BPTT, net, w, window=1, update_every=1, learning_rate=0.8)
    np.testing.assert_allclose(a.train(block), b.train(block), rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.w, b.w, rtol=0, atol=1e-12)


@pytest.mark.parametrize("bias,momentum,context_init", [
    (False, 0.0, 0.0), (True, 0.9, 0.0), (True, 0.5, 0.5), (False, 0.7, 0.5),
])
def test_kernel_equals_dense_statement(bias, momentum, context_init):
    net, w, x, d, mask = _problem(8, bias)
    learner = make_learner(Elman, net, w, learning_rate=0.6, momentum=momentum,
                           context_init=context_init)
    out = learner.train(block_of(x, d, mask))
    out_r, w_r = _dense_elman(w, x, d, mask, 4, int(bias), 0.6, momentum, context_init)
    np.testing.assert_allclose(out[0], out_r, rtol=0, atol=1e-12)
    np.testing.assert_allclose(learner.w, w_r, rtol=0, atol=1e-12)
    assert np.abs(learner.w - w).max() > 1e-3


def test_zero_learning_rate_leaves_forward_pass_unchanged():
    net, w, x, d, mask = _problem(9, True)
    learner = make_learner(Elman, net, w, learning_rate=0.0, momentum=0.9)
    block = block_of(x, d, mask)
    np.testing.assert_array_equal(learner.train(block), learner.predict(block))
    np.testing.assert_array_equal(learner.w, w)


def test_context_is_reset_between_sequences():
    net, w, _, _, _ = _problem(10, True)
    rng = np.random.default_rng(2)
    block = SequenceBlock(rng.normal(size=(2, 6, 3)), rng.uniform(size=(2, 6, 2)),
                         np.ones((2, 6), bool), np.array([6, 4]))
    learner = make_learner(Elman, net, w)
    both = learner.predict(block)
    for i in range(2):
        alone = learner.predict(block.take(np.array([i])))
        np.testing.assert_allclose(both[i, : block.lengths[i]], alone[0], rtol=0, atol=1e-15)


def test_trains_on_reber_through_run_trial():
    result = reber_trial("elman", "exp1-15h", budget=200)
    assert result.status == "budget_exhausted", result.error
    assert result.n_weights == 435 and result.sequences == 200
