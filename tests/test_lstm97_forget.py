"""LSTM97's later-LSTM options (forget gates, peepholes, state decay, Gers 2000's net) and its
continual-stream methods: kernel against the readable reference, the truncated gradient against
clamped finite differences, and the 1997 net recovered bit for bit when the forget gate is 1."""

import copy
import zlib

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import StepRule, TaskSpec
from seqbench_learners.lstm97 import reference as ref
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_learners.lstm97.network import (build_layout, initial_peepholes, initial_weights,
                                              peephole_mask)

from test_lstm97_kernel import MODES, _inputs, _kernel

# blocks, size, output gate, connectivity, bias, g, h, forget gate, recurrence, shortcuts, peepholes
ARCHITECTURES = [
    (2, 2, True, "F", "gates", "sym2", "sym1", True, "all", False, False),
    (2, 2, True, "F", "gates+outputs", "sym2", "sym1", True, "cells", True, False),
    (2, 2, True, "F", "gates+outputs", "sym2", "sym1", True, "cells", True, True),
    (1, 3, True, "F", "all", "sym1", "sym2", False, "all", False, True),
    (2, 1, False, "F", "hidden", "logistic", "identity", True, "all", True, True),
    (1, 2, True, "B", "gates", "sym2", "sym1", True, "all", False, True),
]
OPTIONS = [{}, {"reset_activation": 0.5}, {"learning_rate_decay": 0.9}]


def _problem(rng, arch, n_in=3, n_out=2, T=9, inputs="dense"):
    C, S, og, conn, bias, g, h, fg, rec, short, peep = arch
    layout = build_layout(n_in, n_out, C, S, og, conn, bias, forget_gate=fg, recurrence=rec,
                          output_shortcuts=short)
    wh, wo = initial_weights(layout, rng, 0.8, None, (), ())
    wp = initial_peepholes(layout, rng, 0.8, True) if peep else None
    x = _inputs(rng, inputs, T, n_in)
    target = rng.uniform(size=(T, n_out))
    has_target = rng.uniform(size=T) < 0.7
    has_target[-1] = True
    return layout, wh, wo, wp, x, target, has_target


@pytest.mark.parametrize("options", OPTIONS, ids=["plain", "reset0.5", "alpha-decay"])
@pytest.mark.parametrize("inputs", ("dense", "symbols"))
@pytest.mark.parametrize("arch", ARCHITECTURES)
@pytest.mark.parametrize("mode", list(MODES))
def test_kernel_equals_reference(arch, mode, inputs, options):
    rng = np.random.default_rng(zlib.crc32(repr((arch, mode, inputs, options)).encode()))
    g, h = arch[5], arch[6]
    for _ in range(2):
        layout, wh, wo, wp, x, target, has_target = _problem(
            rng, arch, inputs="one-hot" if inputs == "symbols" else inputs)
        r = ref.run_sequence(layout, wh, wo, x, target, has_target, g, h, alpha=0.7, mode=mode,
                             wp=wp, reset_activation=options.get("reset_activation", 0.0),
                             alpha_decay=options.get("learning_rate_decay", 1.0))
        k = _kernel(layout, wh, wo, x, target, has_target, g, h, 0.7, MODES[mode],
                    inputs == "symbols", wp=wp, **options)
        compared = ("outputs", "wh", "wo") + (("dwh", "dwo") if mode == "accumulate" else ())
        for name, got, want in zip(compared, k, r):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12, err_msg=name)
        if wp is not None:
            np.testing.assert_allclose(k[6], r[7], rtol=0, atol=1e-12, err_msg="wp")
            if mode == "accumulate":
                np.testing.assert_allclose(k[5], r[6], rtol=0, atol=1e-12, err_msg="dwp")
        if mode == "accumulate":
            assert np.abs(k[3]).max() > 0
            if layout.has_forget_gates:  # the forget gates' own weights do learn
                assert np.abs(k[3][layout.forget_gate]).max() > 0
            if wp is not None:
                assert np.abs(k[5][peephole_mask(layout, True)]).min() > 0


@pytest.mark.parametrize("decay", (0.7, 0.95))
def test_state_decay_equals_reference(decay):
    rng = np.random.default_rng(5)
    arch = (2, 2, True, "F", "gates", "sym2", "sym1", False, "all", False, False)
    layout, wh, wo, _, x, target, has_target = _problem(rng, arch)
    r = ref.run_sequence(layout, wh, wo, x, target, has_target, alpha=0.7, state_decay=decay)
    k = _kernel(layout, wh, wo, x, target, has_target, "sym2", "sym1", 0.7, 0,
                state_decay=decay)
    plain = _kernel(layout, wh, wo, x, target, has_target, "sym2", "sym1", 0.7, 0)
    for got, want in zip(k[:3], r[:3]):  # outputs and weights
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert np.abs(k[0] - plain[0]).max() > 1e-6  # the decay does change the run


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_truncated_gradient_equals_clamped_finite_differences(arch):
    """docs/learners.md §9: with the previous step's activations and the peepholes' states held
    at their nominal values and the CEC left free, finite differences of ½Σ(target−y)² give
    the truncated rule's change, forget-gate and peephole weights included."""
    rng = np.random.default_rng(17)
    g, h = arch[5], arch[6]
    layout, wh, wo, wp, x, target, has_target = _problem(rng, arch)
    k = _kernel(layout, wh, wo, x, target, has_target, g, h, 1.0, 2, wp=wp)
    clamp = ref.run_sequence(layout, wh, wo, x, target, has_target, g, h, mode="forward",
                             wp=wp)[5]
    weights = [(wh, k[3], layout.hidden_mask()), (wo, k[4], layout.output_mask())]
    if wp is not None:
        weights.append((wp, k[5], peephole_mask(layout, True)))
    eps = 1e-6
    for which, (w, delta, mask) in enumerate(weights):
        for idx in zip(*np.nonzero(mask)):
            losses = []
            for sign in (1, -1):
                moved = [wh, wo, wp]
                moved[which] = w.copy()
                moved[which][idx] += sign * eps
                losses.append(ref.clamped_loss(layout, moved[0], moved[1], x, target,
                                               has_target, clamp, g, h, wp=moved[2]))
            fd = -(losses[0] - losses[1]) / (2 * eps)
            assert abs(fd - delta[idx]) < 1e-8 * max(1.0, abs(fd)), (which, idx, fd, delta[idx])


# -- the forget gate held at 1 is the 1997 net, to the last bit ---------------------------------

def _reber_like_block(rng, n=12, n_sym=7):
    lengths = rng.integers(5, 14, size=n)
    T = int(lengths.max())
    sym = rng.integers(n_sym, size=(n, T))
    x = np.eye(n_sym)[sym]
    y = np.eye(n_sym)[rng.integers(n_sym, size=(n, T))]
    mask = np.arange(T)[None, :] < lengths[:, None]
    return SequenceBlock(x, y, mask, lengths, input_symbols=np.where(mask, sym, 0))


def _pair(seed, **extra):
    """An Exp. 1 net and the same net with forget gates whose bias saturates them at 1."""
    spec = TaskSpec(7, 7)
    base = dict(blocks=3, block_size=2, output_gate_bias=(-1.0, -2.0, -3.0), init_range=0.2,
                learning_rate=0.5, **extra)
    plain = LSTM97(**{**LSTM97_DEFAULTS, **base})
    plain.build(spec, np.random.default_rng(seed))
    forget = LSTM97(**{**LSTM97_DEFAULTS, **base, "forget_gate": True,
                       "forget_gate_bias": (1000.0,) * 3})
    forget.build(spec, np.random.default_rng(seed + 1))
    nf = forget.layout.n_blocks
    forget.wh[nf:, nf:] = plain.wh  # every 1997 unit reads the same sources in the same order
    forget.wo[:] = plain.wo
    return plain, forget


LSTM97_DEFAULTS = {name: p.default for name, p in LSTM97.params.items()}


def test_forget_gate_at_one_equals_lstm97_bit_for_bit():
    rng = np.random.default_rng(0)
    plain, forget = _pair(3)
    nf = forget.layout.n_blocks
    assert forget.n_weights == plain.n_weights + nf * (plain.layout.n_hidden + 7 + 1)
    for _ in range(4):
        block = _reber_like_block(rng)
        out_p = plain.train(block)
        out_f = forget.train(block)
        np.testing.assert_array_equal(out_f, out_p)
    np.testing.assert_array_equal(forget.wh[nf:, nf:], plain.wh)
    np.testing.assert_array_equal(forget.wo, plain.wo)
    assert np.abs(plain.wh - _pair(3)[0].wh).max() > 0  # it did learn


def test_forget_gate_at_one_equals_lstm97_in_lanes():
    rng = np.random.default_rng(1)
    pairs = [_pair(s) for s in (4, 5, 6)]
    blocks = [_reber_like_block(rng) for _ in pairs]
    outs_p = LSTM97.train_batch([p for p, _ in pairs], blocks)
    outs_f = LSTM97.train_batch([f for _, f in pairs], blocks)
    for (p, f), op, of in zip(pairs, outs_p, outs_f):
        np.testing.assert_array_equal(of, op)
        np.testing.assert_array_equal(f.wh[3:, 3:], p.wh)


def test_gers2000_cerg_net_has_424_weights():
    net = LSTM97(**{**LSTM97_DEFAULTS, "blocks": 4, "block_size": 2, "forget_gate": True,
                    "recurrence": "cells", "output_shortcuts": True, "bias": "gates+outputs",
                    "forget_gate_bias": (0.5, 1.0, 1.5, 2.0),
                    "input_gate_bias": (-0.5, -1.0, -1.5, -2.0),
                    "output_gate_bias": (-0.5, -1.0, -1.5, -2.0)})
    net.build(TaskSpec(7, 7), np.random.default_rng(0))
    assert net.n_weights == 424
    L = net.layout
    bias = L.n_src - 1
    np.testing.assert_array_equal(net.wh[L.forget_gate, bias], [0.5, 1.0, 1.5, 2.0])
    np.testing.assert_array_equal(net.wh[L.in_gate, bias], [-0.5, -1.0, -1.5, -2.0])
    assert not net.wh[L.cell_unit, bias].any()  # cells carry no bias
    gates = np.concatenate([L.in_gate, L.out_gate, L.forget_gate])
    assert not net.wh[:, gates].any()  # no unit reads a gate: no gate-to-gate recurrence
    assert net.wo[:, :7].any() and net.wo[:, -1].any()  # input shortcuts and output biases
    with_peep = LSTM97(**{**net.params, "peepholes": True})
    with_peep.build(TaskSpec(7, 7), np.random.default_rng(0))
    assert with_peep.n_weights == 424 + 3 * 8


def test_bias_offsets_add_to_the_random_draw():
    spec = TaskSpec(7, 7)
    params = {**LSTM97_DEFAULTS, "input_gate_bias": (-1.0, -2.0, -3.0),
              "output_gate_bias": (-1.0, -2.0, -3.0)}
    given, offset = LSTM97(**params), LSTM97(**{**params, "bias_offsets": True})
    given.build(spec, np.random.default_rng(2))
    offset.build(spec, np.random.default_rng(2))
    bias = given.layout.n_src - 1
    for gates in (given.layout.in_gate, given.layout.out_gate):
        np.testing.assert_array_equal(given.wh[gates, bias], [-1.0, -2.0, -3.0])
        jitter = offset.wh[gates, bias] - given.wh[gates, bias]
        assert np.all(np.abs(jitter) <= 0.1) and np.all(jitter != 0)


# -- continual streams ---------------------------------------------------------------------------

def _stream(rng, T, n_sym=7):
    sym = rng.integers(n_sym, size=(1, T))
    y = np.eye(n_sym)[rng.integers(n_sym, size=(1, T))]
    return SequenceBlock(np.eye(n_sym)[sym], y, np.ones((1, T), bool), np.array([T]),
                         input_symbols=sym)


def _net(**extra):
    net = LSTM97(**{**LSTM97_DEFAULTS, "forget_gate": True, "peepholes": True,
                    "forget_gate_bias": (1.0, 2.0, 3.0), **extra})
    net.build(TaskSpec(7, 7), np.random.default_rng(9))
    return net


def _cut(block, lo, hi):
    return SequenceBlock(block.inputs[:, lo:hi], block.targets[:, lo:hi],
                         block.target_mask[:, lo:hi], np.array([hi - lo]),
                         input_symbols=block.input_symbols[:, lo:hi])


def test_a_training_stream_stops_after_its_first_wrong_step():
    block = _stream(np.random.default_rng(3), 60)
    rule = StepRule(0.6)
    a = _net()
    a.start_stream(True)
    n, wrong = a.train_steps(block, rule, resets=False)
    assert wrong and 1 <= n < 60
    b = _net()  # the same stream, trained without a rule up to the same step
    b.start_stream(True)
    assert b.train_steps(_cut(block, 0, n), StepRule(1e9), resets=False) == (n, False)
    np.testing.assert_array_equal(a.wh, b.wh)
    np.testing.assert_array_equal(a.wp, b.wp)
    # the step it stopped at is the first the rule calls wrong, judged before its weight change
    c = _net()
    outs = []
    c.start_stream(True)
    for t in range(n):
        step = _cut(block, t, t + 1)
        outs.append(c._run_lanes([c], [step], 0, carry=c._carry or _start(c))[0][0, 0])
    bad = rule.wrong(block.targets[0, :n], np.array(outs), np.ones(n, bool))
    assert bad[-1] and not bad[:-1].any()


def _start(net):
    from seqbench_learners.lstm97.learner import _Carry
    net._carry = _Carry(net.layout, 1, True)
    net._carry.resets = False
    return net._carry


def test_a_stream_goes_on_across_calls():
    block = _stream(np.random.default_rng(4), 40)
    never = StepRule(1e9)
    whole, split = _net(learning_rate_decay=0.99), _net(learning_rate_decay=0.99)
    whole.start_stream(True)
    whole.train_steps(block, never, resets=False)
    split.start_stream(True)
    for lo, hi in ((0, 13), (13, 29), (29, 40)):
        split.train_steps(_cut(block, lo, hi), never, resets=False)
    np.testing.assert_array_equal(split.wh, whole.wh)
    assert split.alpha == whole.alpha
    expected = 0.5
    for _ in range(40):
        expected *= 0.99
    assert whole.alpha == expected
    whole.start_stream(True)
    assert whole.alpha == 0.5  # every training stream starts from the initial rate


def test_external_resets_equal_training_on_sequences():
    block = _reber_like_block(np.random.default_rng(6))
    a, b = _net(), _net()
    a.start_stream(True)
    assert a.train_steps(block, StepRule(1e9), resets=True) == (block.n_steps, False)
    b.train(block)
    np.testing.assert_array_equal(a.wh, b.wh)
    c = copy.deepcopy(a)
    c.start_stream(False)
    n, wrong = c.test_steps(block, StepRule(1e9), resets=False)
    assert (n, wrong) == (block.n_steps, False)
    np.testing.assert_array_equal(c.wh, a.wh)  # testing changes no weight
