"""The lstm-vanilla learner (Greff et al. 2017's vanilla LSTM and its eight variants):
kernel against the NumPy reference and finite differences, parameter counts, CIFG's coupling,
the Nesterov step, the conformance kit and a learning smoke test (docs/lstm_vanilla.md)."""

from __future__ import annotations

import numpy as np
import pytest
from seqbench_learners.lstm_vanilla import reference as ref
from seqbench_learners.lstm_vanilla.learner import LSTMVanilla

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench.params import resolve_params
from seqbench.testing import check_learner

VARIANTS = ref.VARIANTS


def make(variant="vanilla", N=3, M=2, K=2, seed=0, **params):
    learner = LSTMVanilla(**resolve_params(LSTMVanilla.params,
                                           {"variant": variant, "blocks": N, **params},
                                           "lstm-vanilla"))
    learner.build(TaskSpec(M, K), np.random.default_rng(seed))
    return learner


def random_block(seed, n=3, M=2, K=2, T=6) -> SequenceBlock:
    """``n`` sequences of ragged lengths with targets at random steps (always the last)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, T + 1, size=n)
    lengths[0] = T
    x = rng.normal(size=(n, T, M))
    d = rng.uniform(size=(n, T, K))
    mask = rng.uniform(size=(n, T)) < 0.6
    mask[np.arange(n), lengths - 1] = True
    return SequenceBlock(x, d, mask, lengths)


def random_weights(learner, seed, scale=0.5):
    """Larger weights than the default initialisation, so every path carries signal."""
    w = np.random.default_rng(seed).normal(0.0, scale, learner.n_weights)
    learner.set_weights(w)
    return w


def ref_block_gradient(layout, w, block):
    outs = np.zeros((len(block), block.inputs.shape[1], layout.K))
    g = np.zeros_like(w)
    for q, L in enumerate(block.lengths):
        out, gq = ref.gradient(layout, w, block.inputs[q, :L], block.targets[q, :L],
                               block.target_mask[q, :L])
        outs[q, :L] = out
        g += gq
    return outs, g


def block_loss(layout, w, block):
    return sum(ref.loss(layout, w, block.inputs[q, :L], block.targets[q, :L],
                        block.target_mask[q, :L]) for q, L in enumerate(block.lengths))


def hidden_formula(variant, N, M):
    """Greff et al. §4.2 counts of the LSTM layer: 4N(M + N) + 7N for the vanilla net."""
    vanilla = 4 * N * (M + N) + 7 * N
    gate = N * M + N * N + 2 * N  # W, R, bias and peephole of one gate
    return vanilla + {"vanilla": 0, "NIG": -gate, "NFG": -gate, "NOG": -gate, "NIAF": 0,
                      "NOAF": 0, "NP": -3 * N, "CIFG": -gate, "FGR": 9 * N * N}[variant]


@pytest.mark.parametrize("variant", VARIANTS)
def test_kernel_equals_reference(variant):
    """Outputs and frozen gradients (predict, loss_gradient), and on-line Nesterov training
    over a block: kernel == NumPy reference to 1e-12."""
    learner = make(variant)
    w = random_weights(learner, 1)
    block = random_block(2)
    lay, w_full = learner.layout, learner.w.copy()
    out_r, g_r = ref_block_gradient(lay, w_full, block)
    real = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    np.testing.assert_allclose(learner.predict(block)[real], out_r[real], rtol=0, atol=1e-12)
    np.testing.assert_allclose(learner.full_gradient(block), g_r, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(learner.get_weights(), w)

    learner = make(variant, learning_rate=0.3, momentum=0.8)
    learner.set_weights(w)
    learner.velocity[learner.layout.active] = np.random.default_rng(3).normal(
        0.0, 0.1, learner.n_weights)
    v0 = learner.velocity.copy()
    out = learner.train(block)
    out_t, w_t, v_t = ref.train(lay, w_full, v0, block.inputs, block.targets, block.target_mask,
                                block.lengths, 0.3, 0.8)
    np.testing.assert_allclose(out[real], out_t[real], rtol=0, atol=1e-12)
    np.testing.assert_allclose(learner.w, w_t, rtol=0, atol=1e-12)
    np.testing.assert_allclose(learner.velocity, v_t, rtol=0, atol=1e-12)
    assert np.abs(learner.get_weights() - w).max() > 1e-3
    absent = ~lay.active_mask()
    assert not learner.w[absent].any() and not learner.velocity[absent].any()


@pytest.mark.parametrize("variant", VARIANTS)
def test_gradient_equals_finite_differences(variant):
    """The exact BPTT gradient of every variant == central differences (float64), 1e-7."""
    learner = make(variant)
    w = random_weights(learner, 4)
    block = random_block(5, n=3, T=5)
    g = learner.loss_gradient(block)
    lay, active = learner.layout, learner.layout.active
    eps = 1e-6
    fd = np.zeros_like(g)
    for k, c in enumerate(active):
        plus, minus = learner.w.copy(), learner.w.copy()
        plus[c] += eps
        minus[c] -= eps
        fd[k] = (block_loss(lay, plus, block) - block_loss(lay, minus, block)) / (2 * eps)
    scale = np.abs(fd).max()
    assert scale > 1e-3
    assert np.abs(g - fd).max() <= 1e-7 * scale, np.abs(g - fd).max() / scale
    np.testing.assert_array_equal(learner.get_weights(), w)  # frozen


@pytest.mark.parametrize("variant", VARIANTS)
def test_parameter_counts(variant):
    for N, M, K in ((1, 1, 1), (3, 2, 2), (8, 8, 4), (5, 7, 7), (20, 3, 1)):
        learner = make(variant, N=N, M=M, K=K)
        assert learner.hidden_weights == hidden_formula(variant, N, M)
        assert learner.n_weights == hidden_formula(variant, N, M) + K * (N + 1)
        assert learner.get_weights().shape == (learner.n_weights,)


def test_vanilla_count_formula_examples():
    assert make(N=8, M=8, K=4).n_weights == 4 * 8 * 16 + 56 + 36 == 604
    assert make(variant="FGR", N=2, M=3, K=1).hidden_weights == 4 * 2 * 5 + 14 + 36


def test_cifg_forget_gate_is_one_minus_input_gate():
    learner = make("CIFG", N=4)
    random_weights(learner, 6)
    block = random_block(7, n=1, T=8)
    tr = ref.forward(learner.layout, learner.w, block.inputs[0])
    np.testing.assert_array_equal(tr["f"], 1.0 - tr["i"])
    assert tr["i"].std() > 1e-3
    # and the kernel runs the same net
    np.testing.assert_allclose(learner.predict(block)[0], tr["out"], rtol=0, atol=1e-12)
    # other variants' constant gates
    for variant, gate in (("NIG", "i"), ("NFG", "f"), ("NOG", "o")):
        other = make(variant, N=4)
        random_weights(other, 6)
        assert (ref.forward(other.layout, other.w, block.inputs[0])[gate] == 1.0).all()


def test_nesterov_update_by_hand_over_two_sequences():
    """v ← μv − ε g(w + μv), w ← w + μv − ε g(w + μv): the gradient of each sequence is taken
    at the look-ahead point (Sutskever et al. 2013, as in Greff et al.'s Brainstorm)."""
    lr, mu = 0.2, 0.7
    block = random_block(8, n=2, T=5)
    first, second = block.take(slice(0, 1)), block.take(slice(1, 2))
    learner = make(learning_rate=lr, momentum=mu)
    w0 = random_weights(learner, 9)

    probe = make(learning_rate=lr, momentum=mu)
    probe.set_weights(w0)
    g1 = probe.loss_gradient(first)  # v0 = 0: look-ahead point is w0
    v1 = -lr * g1
    w1 = w0 + v1
    probe.set_weights(w1 + mu * v1)
    g2 = probe.loss_gradient(second)
    v2 = mu * v1 - lr * g2
    w2 = w1 + v2

    learner.train(block)
    np.testing.assert_allclose(learner.get_weights(), w2, rtol=0, atol=1e-13)
    np.testing.assert_allclose(learner.velocity[learner.layout.active], v2, rtol=0, atol=1e-13)
    # with Brainstorm's scaling the step is ε(1 − μ)
    scaled = make(learning_rate=lr, momentum=mu, scale_learning_rate=True)
    scaled.set_weights(w0)
    scaled.train(first)
    np.testing.assert_allclose(scaled.get_weights(), w0 - lr * (1 - mu) * g1, rtol=0, atol=1e-13)


def test_compile_changes_nothing():
    learner = make()
    learner.velocity[:] = 0.5 * learner.layout.active_mask()
    w, v = learner.w.copy(), learner.velocity.copy()
    learner.compile()
    np.testing.assert_array_equal(learner.w, w)
    np.testing.assert_array_equal(learner.velocity, v)


@pytest.mark.parametrize("variant", ["vanilla", "FGR"])
def test_conformance_kit(variant):
    results = check_learner(LSTMVanilla, params={"variant": variant})
    assert results["check_learner_gradient"] == "passed"
    assert results["check_learner_learns"] == "passed"


def test_learns_a_tiny_task():
    """XOR of two bits shown at steps 0 and 1, answered at step 3 (a lag of 2), on-line."""
    rng = np.random.default_rng(0)

    def xor_block(n):
        bits = rng.integers(0, 2, size=(n, 2))
        x = np.zeros((n, 4, 3))
        x[:, 0, 0] = bits[:, 0]
        x[:, 1, 1] = bits[:, 1]
        x[:, 3, 2] = 1.0
        d = np.zeros((n, 4, 1))
        d[:, 3, 0] = bits[:, 0] ^ bits[:, 1]
        mask = np.zeros((n, 4), bool)
        mask[:, 3] = True
        return SequenceBlock(x, d, mask, np.full(n, 4))

    # weights of std 1: from a small initialisation XOR sits on its symmetric saddle for long
    learner = make(N=6, M=3, K=1, learning_rate=0.3, momentum=0.9, init_scale=1.0, seed=1)
    test = xor_block(200)

    def error():
        return float(np.mean((learner.predict(test)[:, 3, 0] - test.targets[:, 3, 0]) ** 2))

    before = error()
    for _ in range(20):
        learner.train(xor_block(100))
    assert error() < 0.02 < before
