"""The LSTM97 numba kernel against its readable NumPy reference and against finite differences."""

import zlib

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench_learners.lstm97 import reference as ref
from seqbench_learners.lstm97.learner import LSTM97, run_kernel
from seqbench_learners.lstm97.network import build_layout, initial_weights

ARCHITECTURES = [
    # blocks, block size, output gate, connectivity, bias, g, h
    (2, 2, True, "F", "gates", "sym2", "sym1"),
    (3, 1, True, "F", "all", "sym2", "sym1"),
    (1, 3, True, "F", "hidden", "sym1", "sym2"),
    (1, 1, False, "B", "none", "logistic", "identity"),
    (2, 1, False, "F", "all", "logistic", "identity"),
]
MODES = {"step": 0, "sequence": 1, "accumulate": 2}
#: the kernel reads only the non-zero inputs of each step, so inputs with exact zeros (one-hot
#: symbols, or real values with gaps, including all-zero steps) are checked besides dense ones
INPUT_KINDS = ("dense", "sparse", "one-hot", "symbols")


def _inputs(rng, kind, T, n_in):
    if kind in ("one-hot", "symbols"):
        return np.eye(n_in)[rng.integers(n_in, size=T)]
    x = rng.normal(size=(T, n_in))
    if kind == "sparse":
        x[rng.uniform(size=x.shape) < 0.6] = 0.0
        x[0] = 0.0
    return x


def _random_problem(rng, arch, n_in=3, n_out=2, T=7, inputs="dense"):
    C, S, og, conn, bias, g, h = arch
    layout = build_layout(n_in, n_out, C, S, og, conn, bias)
    wh, wo = initial_weights(layout, rng, 0.8, None, (), ())
    x = _inputs(rng, inputs, T, n_in)
    target = rng.uniform(size=(T, n_out))
    has_target = rng.uniform(size=T) < 0.6
    has_target[-1] = True
    return layout, wh, wo, x, target, has_target


def _kernel(layout, wh, wo, x, target, has_target, g, h, alpha, mode, symbols=False,
            wp=None, **options):
    """Run the kernel on one sequence (a batch of one lane); ``symbols``: also hand it the
    one-hot indices; ``wp``: peephole weights; ``options``: the learner's other options."""
    block = SequenceBlock(x[None], target[None], has_target[None], np.array([len(x)]),
                          input_symbols=x.argmax(axis=1)[None] if symbols else None)
    params = {"g": g, "h": h, "peepholes": wp is not None,
              "forget_gate": layout.has_forget_gates, **options}
    wh, wo = wh[..., None].copy(), wo[..., None].copy()
    wp = (np.zeros((3, layout.n_cells)) if wp is None else wp)[..., None].copy()
    out, dwh, dwo, dwp = run_kernel(layout, params, [block], wh, wo, wp, np.array([alpha]), mode)
    found = (out[0][0], wh[..., 0], wo[..., 0], dwh[..., 0], dwo[..., 0])
    return found + (dwp[..., 0], wp[..., 0]) if params["peepholes"] else found


@pytest.mark.parametrize("inputs", INPUT_KINDS)
@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("mode", list(MODES))
def test_kernel_equals_reference(arch, mode, inputs):
    rng = np.random.default_rng(zlib.crc32(repr((arch, mode, inputs)).encode()))
    for _ in range(3):
        layout, wh, wo, x, target, has_target = _random_problem(rng, arch, inputs=inputs)
        g, h = arch[5], arch[6]
        out_r, wh_r, wo_r, dwh_r, dwo_r, _ = ref.run_sequence(
            layout, wh, wo, x, target, has_target, g, h, alpha=0.7, mode=mode)
        out_k, wh_k, wo_k, dwh_k, dwo_k = _kernel(
            layout, wh, wo, x, target, has_target, g, h, 0.7, MODES[mode], inputs == "symbols")
        np.testing.assert_allclose(out_k, out_r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(wh_k, wh_r, rtol=0, atol=1e-12)
        np.testing.assert_allclose(wo_k, wo_r, rtol=0, atol=1e-12)
        if mode == "accumulate":
            np.testing.assert_allclose(dwh_k, dwh_r, rtol=0, atol=1e-12)
            np.testing.assert_allclose(dwo_k, dwo_r, rtol=0, atol=1e-12)
            assert np.abs(dwh_k).max() > 0  # the comparison is not vacuous


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_truncated_gradient_equals_clamped_finite_differences(arch):
    """docs/learners.md §9: with recurrent sources y(t-1) held at their nominal values and the CEC
    left free, the finite-difference gradient of ½Σ(target−y)² is the truncated rule's."""
    rng = np.random.default_rng(7)
    layout, wh, wo, x, target, has_target = _random_problem(rng, arch)
    g, h = arch[5], arch[6]
    _, _, _, dwh, dwo = _kernel(layout, wh, wo, x, target, has_target, g, h, 1.0, 2)
    _, _, _, _, _, clamp = ref.run_sequence(layout, wh, wo, x, target, has_target, g, h,
                                            mode="forward")
    eps = 1e-6
    for w, delta, mask, which in ((wh, dwh, layout.hidden_mask(), 0),
                                  (wo, dwo, layout.output_mask(), 1)):
        for idx in zip(*np.nonzero(mask)):
            plus, minus = w.copy(), w.copy()
            plus[idx] += eps
            minus[idx] -= eps
            args = [(plus, wo), (minus, wo)] if which == 0 else [(wh, plus), (wh, minus)]
            lp, lm = (ref.clamped_loss(layout, a, b, x, target, has_target, clamp, g, h)
                      for a, b in args)
            fd = -(lp - lm) / (2 * eps)
            assert abs(fd - delta[idx]) < 1e-8 * max(1.0, abs(fd)), (which, idx, fd, delta[idx])


def test_truncation_differs_from_the_full_gradient():
    """Guard for the test above: unclamped finite differences give a different gradient, so the
    clamped comparison really checks the truncation."""
    rng = np.random.default_rng(3)
    arch = ARCHITECTURES[0]
    layout, wh, wo, x, target, has_target = _random_problem(rng, arch)
    _, _, _, dwh, _ = _kernel(layout, wh, wo, x, target, has_target, "sym2", "sym1", 1.0, 2)
    eps, worst = 1e-6, 0.0
    for idx in zip(*np.nonzero(layout.hidden_mask())):
        plus, minus = wh.copy(), wh.copy()
        plus[idx] += eps
        minus[idx] -= eps
        full = [ref.clamped_loss(layout, w, wo, x, target, has_target, None) for w in (plus, minus)]
        worst = max(worst, abs(-(full[0] - full[1]) / (2 * eps) - dwh[idx]))
    assert worst > 1e-6


def test_zero_learning_rate_leaves_forward_pass_unchanged():
    rng = np.random.default_rng(11)
    layout, wh, wo, x, target, has_target = _random_problem(rng, ARCHITECTURES[0])
    out_train, wh2, wo2, _, _ = _kernel(layout, wh, wo, x, target, has_target, "sym2", "sym1",
                                        0.0, 0)
    out_fwd, *_ = _kernel(layout, wh, wo, x, target, has_target, "sym2", "sym1", 0.5, -1)
    np.testing.assert_array_equal(out_train, out_fwd)
    np.testing.assert_array_equal(wh2, wh)


def test_state_is_reset_between_sequences():
    """A block of two sequences gives the same outputs as each sequence on its own."""
    rng = np.random.default_rng(5)
    learner = LSTM97(**{k: p.default for k, p in LSTM97.params.items()})
    learner.build(TaskSpec(3, 2), rng)
    x = rng.normal(size=(2, 6, 3))
    block = SequenceBlock(x, np.zeros((2, 6, 2)), np.ones((2, 6), bool), np.array([6, 4]))
    both = learner.predict(block)
    for i in range(2):
        alone = learner.predict(block.take(np.array([i])))
        np.testing.assert_allclose(both[i, : block.lengths[i]], alone[0, : block.lengths[i]],
                                   atol=1e-15)


@pytest.mark.parametrize("blocks,size,ogb,weights", [
    (4, 1, (-1.0, -2.0, -3.0, -4.0), 264),
    (3, 2, (-1.0, -2.0, -3.0), 276),
])
def test_experiment1_weight_counts(blocks, size, ogb, weights):
    """docs/learners.md §2.2: 7 inputs, 7 outputs, connectivity F, only gates biased."""
    params = {k: p.default for k, p in LSTM97.params.items()}
    params.update(blocks=blocks, block_size=size, output_gate_bias=ogb, bias="gates",
                  init_range=0.2)
    learner = LSTM97(**params)
    learner.build(TaskSpec(7, 7), np.random.default_rng(0))
    assert learner.n_weights == weights
    # the given output-gate biases are in place, the input-gate biases are random in [-.2, .2]
    L = learner.layout
    np.testing.assert_array_equal(learner.wh[L.out_gate, -1], ogb)
    assert np.all(np.abs(learner.wh[L.in_gate, -1]) <= 0.2)
    assert np.all(learner.wh[L.cell_unit, -1] == 0)
