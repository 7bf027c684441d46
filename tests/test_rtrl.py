"""The RTRL learner: structured sensitivities against BPTT, finite differences and the dense
textbook recursion of the reference (docs/learners.md §9)."""

from __future__ import annotations

import copy

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
from seqbench_learners.recurrent.network import fully_recurrent, self_loop, self_loop_wz
from seqbench_learners.rtrl.learner import RTRL

from seqbench.blocks import SequenceBlock
from seqbench.testing import learner_checks



def _problems():
    """Random sparse nets, plus the paper's two layouts at small size."""
    for seed in range(4):
        yield random_problem(seed, n=6, T=8)
    rng = np.random.default_rng(42)
    for net in (fully_recurrent(3, 2, 2), self_loop(5, 1, 5), self_loop_wz(5, 1, 5)):
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
    """docs/learners.md §4.5: only the hidden unit carries sensitivities, so a step costs O(W)."""
    learner = make_learner(RTRL, self_loop(101, 1, 101), np.zeros(10404))
    assert learner.n_weights == 10404
    np.testing.assert_array_equal(learner._carried, [0])


@pytest.mark.parametrize("preset,weights", [("exp1-3h-lr0.05", 170), ("exp1-12h-lr0.1", 494)])
def test_trains_on_reber_through_run_trial(preset, weights):
    result = reber_trial("rtrl", preset, budget=100)
    assert result.status == "budget_exhausted", result.error
    assert result.n_weights == weights and result.sequences == 100


# --- reset=never: the paper's "on-line RTRL, no activation resets" (docs/learners.md §4.3) ---


def _stream_problem(seed: int, lengths=(5, 3, 6, 4)):
    """A random sparse net and a block of sequences of different lengths with gappy targets."""
    net, w, _, _, _ = random_problem(seed, n=6)
    rng = np.random.default_rng(1000 + seed)
    n, T = len(lengths), max(lengths)
    x = rng.normal(size=(n, T, net.n_inputs))
    d = rng.uniform(size=(n, T, net.n_outputs))
    mask = rng.uniform(size=(n, T)) < 0.7
    return net, w, SequenceBlock(x, d, mask, np.array(lengths))


def _joined(block):
    """The block's real steps as one long sequence: (x, d, mask)."""
    valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    return block.inputs[valid], block.targets[valid], block.target_mask[valid]


def _real(block, out):
    valid = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    return out[valid]


@pytest.mark.parametrize("seed", range(4))
def test_no_reset_trains_as_the_reference_on_the_joined_stream(seed):
    """reset=never: a block (cut into two train calls, too) trains exactly as the dense
    reference trains on all its steps joined into one sequence."""
    net, w, block = _stream_problem(seed)
    x, d, mask = _joined(block)
    out_r, w_r, _, _ = ref.rtrl_train(net, w, x, d, mask, 0.7)
    learner = make_learner(RTRL, net, w, reset="never", learning_rate=0.7)
    np.testing.assert_allclose(_real(block, learner.train(block)), out_r, rtol=0, atol=1e-10)
    np.testing.assert_allclose(learner.w, w_r, rtol=0, atol=1e-10)
    assert np.abs(learner.w - w).max() > 1e-3
    # with resets the same block trains differently: the check above is not vacuous
    resetting = make_learner(RTRL, net, w, learning_rate=0.7)
    resetting.train(block)
    assert np.abs(resetting.w - w_r).max() > 1e-6


@pytest.mark.parametrize("update", ["step", "sequence"])
@pytest.mark.parametrize("teacher_forcing", [False, True])
def test_no_reset_equals_the_reference_carrying_its_state(update, teacher_forcing):
    """Every update rule and teacher forcing: the kernel, carrying only the hidden units'
    sensitivities, equals the reference called sequence after sequence with one state."""
    for seed in range(3):
        net, w, block = _stream_problem(10 + seed)
        learner = make_learner(RTRL, net, w, reset="never", learning_rate=0.7, update=update,
                               teacher_forcing=teacher_forcing)
        out = learner.train(block)
        state = {"a": np.zeros(net.n_units), "p": np.zeros((net.n_units, len(w)))}
        w_r = w
        for i, T in enumerate(block.lengths):
            out_r, w_r, _, _ = ref.rtrl_train(net, w_r, block.inputs[i, :T], block.targets[i, :T],
                                              block.target_mask[i, :T], 0.7, update,
                                              teacher_forcing, state=state)
            np.testing.assert_allclose(out[i, :T], out_r, rtol=0, atol=1e-10)
        np.testing.assert_allclose(learner.w, w_r, rtol=0, atol=1e-10)
        np.testing.assert_allclose(learner._a_state, state["a"], rtol=0, atol=1e-10)
        np.testing.assert_allclose(learner._p_state, state["p"][learner._carried], rtol=0,
                                   atol=1e-10)


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_no_reset_two_train_calls_equal_one(cut):
    net, w, block = _stream_problem(20)
    whole = make_learner(RTRL, net, w, reset="never", learning_rate=0.7)
    out = whole.train(block)
    split = make_learner(RTRL, net, w, reset="never", learning_rate=0.7)
    first = split.train(block.take(slice(0, cut)))
    second = split.train(block.take(slice(cut, len(block))))
    for i, T in enumerate(block.lengths):
        part = first[i] if i < cut else second[i - cut]
        np.testing.assert_array_equal(out[i, :T], part[:T])
    np.testing.assert_array_equal(whole.w, split.w)
    np.testing.assert_array_equal(whole._a_state, split._a_state)
    np.testing.assert_array_equal(whole._p_state, split._p_state)


def test_no_reset_predict_continues_from_the_training_state_and_leaves_it():
    net, w, block = _stream_problem(30)
    _, _, probe = _stream_problem(31)
    learner = make_learner(RTRL, net, w, reset="never", learning_rate=0.7)
    learner.compile()  # the warm-up does not advance the stream either
    learner.train(block.take(slice(0, 2)))
    state = learner._a_state.copy(), learner._p_state.copy(), learner.w.copy()
    pred = learner.predict(probe)
    # predict = the frozen net continuing the stream: a zero-rate training run on a copy
    frozen = copy.deepcopy(learner)
    frozen.params["learning_rate"] = 0.0
    np.testing.assert_array_equal(frozen.train(probe), pred)
    # ... which is the reference on the probe's joined steps, started from the training state
    x, d, mask = _joined(probe)
    a = {"a": state[0].copy(), "p": np.zeros((net.n_units, len(w)))}
    a["p"][learner._carried] = state[1]
    out_r, _, _, _ = ref.rtrl_train(net, state[2], x, d, mask, 0.0, state=a)
    np.testing.assert_allclose(_real(probe, pred), out_r, rtol=0, atol=1e-10)
    assert np.abs(state[0]).max() > 0.0  # it does start from a non-zero state
    # and the training state is untouched: predicting or taking gradients changes nothing
    learner.gradient(probe)
    learner.step_gradients(probe)
    np.testing.assert_array_equal(learner.predict(probe), pred)
    for before, after in zip(state, (learner._a_state, learner._p_state, learner.w)):
        np.testing.assert_array_equal(before, after)
    twin = copy.deepcopy(learner)
    twin.predict(probe)
    np.testing.assert_array_equal(twin.train(block), copy.deepcopy(learner).train(block))


def test_no_reset_gradient_continues_from_the_carried_sensitivities():
    """The gradient protocol under reset=never is the rule's next gradient: the reference's
    summed gradient over the probe, continuing from the learner's carried state."""
    net, w, block = _stream_problem(40)
    _, _, probe = _stream_problem(41)
    learner = make_learner(RTRL, net, w, reset="never", learning_rate=0.7)
    learner.train(block)
    state = {"a": learner._a_state.copy(), "p": np.zeros((net.n_units, len(w)))}
    state["p"][learner._carried] = learner._p_state
    x, d, mask = _joined(probe)
    _, _, g_r, _ = ref.rtrl_train(net, learner.w, x, d, mask, 0.0, "accumulate", state=state)
    assert_rel_close(learner.gradient(probe), g_r, 1e-10)


def test_default_reset_is_sequence_and_unchanged():
    """reset=sequence is the default, declares no carried state, and computes what the kernel
    computed before reset existed (weights recorded from that kernel, lag-2a net, p = 4)."""
    assert RTRL.params["reset"].default == "sequence"
    net = self_loop(5, 1, 5)
    rng = np.random.default_rng(7)
    w = net.initial_weights(rng, 0.2)
    x = np.eye(5)[[[4, 0, 1, 2], [3, 0, 1, 2], [4, 0, 1, 2]]]
    d = np.eye(5)[[[0, 1, 2, 4], [0, 1, 2, 3], [0, 1, 2, 4]]]
    block = SequenceBlock(x, d, np.ones((3, 4), bool), np.array([4, 4, 4]))
    learner = make_learner(RTRL, net, w, learning_rate=4.0)
    assert learner.carries_state is False
    learner.train(block)
    np.testing.assert_allclose(learner.w[:6], GOLDEN_P4_LR4[:6], rtol=0, atol=1e-13)
    np.testing.assert_allclose(learner.w.sum(), GOLDEN_P4_LR4[6], rtol=0, atol=1e-12)
    never = make_learner(RTRL, net, w, learning_rate=4.0, reset="never")
    assert never.carries_state is True
    never.train(block)
    assert np.abs(never.w - learner.w).max() > 1e-6


#: the first six weights and the weight sum after the training of the test above, computed with
#: the kernel of commit de26d47 (before ``reset`` existed)
GOLDEN_P4_LR4 = (0.26656039161541056, 0.2832779382106359, 0.19434715766227215,
                 0.05263657402606015, 0.05373837714690979, 0.3709443949369099,
                 -13.360245712338521)


NEVER_CHECKS = learner_checks(RTRL, {"hidden": 4, "learning_rate": 0.5, "reset": "never"})


@pytest.mark.parametrize("check", [c for _, c in NEVER_CHECKS], ids=[n for n, _ in NEVER_CHECKS])
def test_no_reset_learner_conforms(check):
    """The conformance kit for reset=never (its state check becomes "a block is one stream")."""
    check()
