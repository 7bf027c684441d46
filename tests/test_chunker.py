"""The two-net chunker (plugins/chunker): kernel against the dense NumPy reference, the chunker's
own oracle tests (a perfect automatizer passes C only the unpredictable events; an automatizer
that is always surprised leaves C alone on the full stream), each net's gradient against finite
differences, the target of A's extra output, weight counts, diagnostics and presets."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _recurrent_helpers import finite_differences
from seqbench_learners.chunker import reference as ref
from seqbench_learners.chunker.learner import LAG_RUN, Chunker
from seqbench_learners.recurrent import reference as net_ref
from seqbench_learners.recurrent.network import build_network, self_loop_wz
from seqbench_learners.rtrl.learner import RTRL

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.testing import check_learner, random_block, squared_error, task_streams

REGISTRY = get_registry()


def lag_block(task: str, p: int, n: int, seed: int = 0) -> tuple[SequenceBlock, TaskSpec]:
    """The first ``n`` training sequences of lag-2a/2b (a copy: task blocks are reused)."""
    cls = REGISTRY.task(task)
    t = cls(**resolve_params(cls.params, {"p": p, "test_size": 10}, task))
    block = t.start(task_streams(seed)).training_block(n)
    return SequenceBlock.concatenate([block]), t.spec()


def make(spec: TaskSpec, seed: int = 3, **params) -> Chunker:
    learner = Chunker(**resolve_params(Chunker.params, params, "chunker"))
    learner.build(spec, np.random.default_rng(seed))
    return learner


def reference_run(UA, UC, block: SequenceBlock, learn=True, **kw):
    """The reference over a block, sequence by sequence, weights carried along."""
    runs = []
    for i in range(len(block)):
        T = int(block.lengths[i])
        r = ref.chunker_sequence(UA, UC, block.inputs[i, :T], block.targets[i, :T],
                                 block.target_mask[i, :T], learn=learn, **kw)
        UA, UC = r["UA"], r["UC"]
        runs.append(r)
    return runs, UA, UC


def without_symbols(block: SequenceBlock) -> SequenceBlock:
    return SequenceBlock(block.inputs, block.targets, block.target_mask, block.lengths)


# --------------------------------------------------------------------------- the kernel


@pytest.mark.parametrize("task", ["lag-2a", "lag-2b"])
@pytest.mark.parametrize("readout", ["previous", "same"])
@pytest.mark.parametrize("surprise,output,state_target", list(itertools.product(
    ["winner", "epsilon", "always"], ["automatizer", "gated"], ["next", "current"])))
def test_kernel_trains_as_the_dense_reference(task, readout, surprise, output, state_target):
    block, spec = lag_block(task, 5, 25)
    kw = dict(surprise=surprise, output=output, state_target=state_target)
    learner = make(spec, learning_rate=3.0, learning_rate_c=2.0, init_range=1.0,
                   readout=readout, **kw)
    UA, UC = learner.UA, learner.UC
    trace = learner.trace(block, train=True)
    runs, UA, UC = reference_run(UA, UC, block, alpha_a=3.0, alpha_c=2.0,
                                 same=readout == "same", **kw)
    for i, r in enumerate(runs):
        T = int(block.lengths[i])
        assert np.array_equal(r["events"], trace["events"][i, :T + 1])
        np.testing.assert_allclose(trace["outputs"][i, :T], r["outputs"], rtol=0, atol=1e-12)
        np.testing.assert_allclose(trace["q_targets"][i, :T], r["q_targets"], rtol=0, atol=1e-12)
        assert trace["surprises"][i] == r["surprised"].sum()
    np.testing.assert_allclose(learner.UA, UA, rtol=0, atol=1e-12)
    np.testing.assert_allclose(learner.UC, UC, rtol=0, atol=1e-12)
    assert trace["events"].sum() > len(block)  # C saw more than the first inputs


@pytest.mark.parametrize("n_in,n_out", [(3, 3), (4, 2), (2, 5)])
def test_dense_inputs_train_as_the_reference(n_in, n_out):
    """Inputs that are not one-hot, partial target masks, other alphabets (the kit's tasks)."""
    spec = TaskSpec(n_in, n_out)
    block = random_block(spec, np.random.default_rng(n_in * 10 + n_out), [6, 3, 5, 6])
    for surprise, readout in itertools.product(("winner", "epsilon", "always"),
                                               ("previous", "same")):
        learner = make(spec, learning_rate=2.0, init_range=1.0, surprise=surprise,
                       epsilon=0.3, readout=readout)
        UA, UC = learner.UA, learner.UC
        trace = learner.trace(block, train=True)
        runs, UA, UC = reference_run(UA, UC, block, alpha_a=2.0, alpha_c=2.0,
                                     surprise=surprise, epsilon=0.3, same=readout == "same")
        for i, r in enumerate(runs):
            T = int(block.lengths[i])
            assert np.array_equal(r["events"], trace["events"][i, :T + 1])
            np.testing.assert_allclose(trace["outputs"][i, :T], r["outputs"], atol=1e-12)
        np.testing.assert_allclose(learner.UA, UA, atol=1e-12)
        np.testing.assert_allclose(learner.UC, UC, atol=1e-12)


def test_one_hot_and_dense_paths_agree():
    block, spec = lag_block("lag-2b", 6, 20)
    a, b = make(spec, init_range=1.0), make(spec, init_range=1.0)
    out_a = a.train(block)  # input_symbols given
    dense = without_symbols(block)
    dense.inputs = dense.inputs * (1 + 1e-300)  # still one-hot: symbols found by Chunker
    out_b = b.train(dense)
    np.testing.assert_allclose(out_a, out_b, atol=1e-12)
    c = make(spec, init_range=1.0)
    forced = without_symbols(block)
    forced.inputs = forced.inputs.copy()
    forced.inputs[forced.inputs == 0.0] = -0.0  # still one-hot; force the dense path instead:
    c.symbols = lambda blk: np.full(blk.inputs.shape[:2], -1, np.int64)
    out_c = c.train(forced)
    np.testing.assert_allclose(out_a, out_c, atol=1e-12)
    np.testing.assert_allclose(a.get_weights(), c.get_weights(), atol=1e-12)


def test_fast_logistic_is_within_a_few_ulps_of_numpy():
    from seqbench_learners.chunker.kernel import logistic_layer

    x = np.concatenate([np.linspace(-700, 40, 200_001),
                        np.random.default_rng(0).normal(0, 5, 10_000)])
    y, t = np.zeros_like(x), np.zeros_like(x)
    logistic_layer(x.copy(), y, t, t.view(np.int64), len(x))
    want = 1.0 / (1.0 + np.exp(-x))
    assert np.max(np.abs(y - want) / want) < 1e-15
    big = np.array([-800.0, 800.0, np.nan])
    out, t = np.zeros(3), np.zeros(3)
    logistic_layer(big.copy(), out, t, t.view(np.int64), 3)
    assert out[0] < 1e-300 and out[1] == 1.0 and np.isnan(out[2])


# --------------------------------------------------------------------------- oracle tests


def latch_automatizer(p: int, big: float = 20.0) -> np.ndarray:
    """A hand-coded perfect automatizer for lag-2a: its hidden unit latches x (on) or y (off)
    and every output predicts the next symbol; its extra output is left at 0."""
    m = K = p + 1
    x_sym, y_sym = p - 1, p
    U = np.zeros((K + 2, m + 1))
    U[0, :m] = -big / 2  # the hidden unit keeps its value (self weight big) ...
    U[0, x_sym], U[0, y_sym] = big, -big  # ... and is set by the first symbol
    U[0, m] = big
    for s in range(m):
        U[1:K + 1, s] = -big  # every output off ...
    for s in range(p - 2):
        U[1 + s + 1, s] = big  # a_i -> a_{i+1}
    U[1 + 0, x_sym] = U[1 + 0, y_sym] = big  # x, y -> a_1
    U[1 + x_sym, :m] = -2 * big  # the x output reads the latch: keep it off elsewhere
    last = p - 2  # a_{p-1}: x if the latch is on, y if off
    U[1 + x_sym, last], U[1 + x_sym, m] = -big / 2, big
    U[1 + y_sym, last], U[1 + y_sym, m] = big / 2, -big
    return U


@pytest.mark.parametrize("surprise", ["winner", "epsilon"])
def test_a_perfect_automatizer_passes_c_only_the_first_input(surprise):
    p = 6
    block, spec = lag_block("lag-2a", p, 40)
    learner = make(spec, surprise=surprise, epsilon=0.25)
    learner.UA = latch_automatizer(p)
    assert np.abs(learner.predict(block) - block.targets).max() < 1e-3
    for train in (False, True):  # frozen, and while C learns (and A adjusts its extra output)
        trace = learner.trace(block, train=train)
        expected = np.zeros_like(trace["events"])
        expected[:, 0] = True
        assert np.array_equal(trace["events"], expected)
        assert trace["surprises"].sum() == 0 and trace["lag_right"].all()


def test_a_local_automatizer_passes_c_exactly_the_symbols_it_cannot_predict():
    """On lag-2b a hand-coded A that predicts "a_{i+1} after a_i", "a_1 after x or y" and "x"
    at the end is right exactly where the data agree; C must receive the first input and every
    observation that differs from A's guess, nothing else."""
    p = 8
    block, spec = lag_block("lag-2b", p, 60, seed=5)
    m = K = p + 1
    U = np.zeros((K + 2, m + 1))
    U[1:K + 1, :m] = -20.0
    guess = {s: s + 1 for s in range(p - 2)}
    guess.update({p - 1: 0, p: 0, p - 2: p - 1})  # x, y -> a_1; a_{p-1} -> x
    for s, g in guess.items():
        U[1 + g, s] = 20.0
    learner = make(spec)
    learner.UA = U
    symbols = block.input_symbols
    final = block.targets[:, -1].argmax(axis=1)
    observations = np.column_stack([symbols, final])  # the p+1 symbols of each sequence
    expected = np.zeros((len(block), p + 1), bool)
    expected[:, 0] = True
    for t in range(p):
        expected[:, t + 1] = observations[:, t + 1] != np.vectorize(guess.get)(observations[:, t])
    for train in (False, True):
        trace = learner.trace(block, train=train)
        assert np.array_equal(trace["events"], expected)
        assert np.array_equal(trace["surprises"], expected[:, 1:].sum(axis=1))
    assert 0 < expected[:, 1:].mean() < 1


@pytest.mark.parametrize("task", ["lag-2a", "lag-2b"])
@pytest.mark.parametrize("readout", ["previous", "same"])
def test_always_surprised_is_c_alone_on_the_full_stream_bit_for_bit(task, readout):
    from seqbench_learners.chunker.kernel import TRAIN, run_single

    block, spec = lag_block(task, 7, 30)
    learner = make(spec, surprise="always", output="gated", learning_rate=2.0, init_range=0.5,
                   readout=readout)
    hw, ow = learner.hwC.copy(), learner.owC.copy()
    out = learner.train(block)
    alone = np.zeros_like(out)
    run_single(TRAIN, block.input_symbols, block.inputs, block.targets, block.target_mask,
               block.lengths, hw, ow, np.zeros(0), np.zeros((0, 0)), 2.0, alone,
               readout == "same")
    assert np.array_equal(out, alone)
    assert np.array_equal(learner.hwC, hw) and np.array_equal(learner.owC, ow)


@pytest.mark.parametrize("architecture", ["self_loop_wz", "self_loop"])
def test_c_alone_is_the_rtrl_learner_on_the_table_2_net(architecture):
    """C alone is plain on-line RTRL of the Table 2 net (readout previous: Williams-Zipser
    timing, the rtrl presets' self_loop_wz; same: the three-phase self_loop)."""
    from seqbench_learners.chunker.kernel import TRAIN, run_single

    block, spec = lag_block("lag-2a", 6, 40)
    learner = make(spec, init_range=0.5)
    U = learner.UC
    rtrl = RTRL(**resolve_params(RTRL.params, {"architecture": architecture, "hidden": 1,
                                               "learning_rate": 2.0}, "rtrl"))
    rtrl.build(spec, np.random.default_rng(0))
    rtrl.use_network(build_network(architecture, spec.n_inputs, 1, spec.n_outputs, False),
                     U.ravel())
    want = rtrl.train(block)
    got = np.zeros_like(want)
    hw, ow = learner.hwC.copy(), learner.owC.copy()
    run_single(TRAIN, block.input_symbols, block.inputs, block.targets, block.target_mask,
               block.lengths, hw, ow, np.zeros(0), np.zeros((0, 0)), 2.0, got,
               architecture == "self_loop")
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.vstack([hw[None], ow.T]).ravel(), rtrl.w, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("state_target", ["next", "current"])
@pytest.mark.parametrize("readout", ["previous", "same"])
def test_each_nets_gradient_equals_finite_differences(state_target, readout):
    """A's over its task outputs and its prediction of C's state (targets as the frozen run
    gives them), C's over its predictions at its events."""
    block, spec = lag_block("lag-2b", 4, 6, seed=2)
    same = readout == "same"
    learner = make(spec, init_range=1.5, surprise="epsilon", epsilon=0.2,
                   state_target=state_target, readout=readout)
    gA, gC = learner.net_gradients(block)
    trace = learner.trace(block)
    UA, UC = learner.UA, learner.UC

    def loss_a(w):
        U = w.reshape(UA.shape)
        return sum(ref.automatizer_loss(U, block.inputs[i], block.targets[i],
                                        block.target_mask[i], trace["q_targets"][i], same)
                   for i in range(len(block)))

    events = []
    runs, _, _ = reference_run(UA, UC, block, learn=False, surprise="epsilon", epsilon=0.2,
                               state_target=state_target, same=same)
    for i, r in enumerate(runs):
        assert np.array_equal(r["events"], trace["events"][i])
        events.append(ref.c_event_sequence(block.inputs[i], block.targets[i],
                                           block.target_mask[i], r["events"], r["surprised"]))

    def loss_c(w):
        U = w.reshape(UC.shape)
        return sum(ref.chunker_loss(U, *ev, same=same) for ev in events)

    np.testing.assert_allclose(gA.ravel(), finite_differences(loss_a, UA.ravel()),
                               rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(gC.ravel(), finite_differences(loss_c, UC.ravel()),
                               rtol=1e-6, atol=1e-8)
    assert np.abs(gC).max() > 1e-3 and sum(len(ev[0]) for ev in events) > 2 * len(block)


@pytest.mark.parametrize("output", ["automatizer", "gated"])
@pytest.mark.parametrize("readout", ["previous", "same"])
def test_system_gradient_equals_finite_differences_of_the_predicted_outputs(output, readout):
    block, spec = lag_block("lag-2a", 4, 4, seed=1)
    learner = make(spec, init_range=1.5, output=output, readout=readout)
    w = learner.get_weights()
    grad = learner.loss_gradient(block)

    def loss(v):
        learner.set_weights(v)
        return squared_error(block, learner.predict(block))

    numeric = finite_differences(loss, w)
    learner.set_weights(w)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    nA = learner.weights_a
    if output == "automatizer":
        assert not grad[nA:].any()
    else:
        assert np.abs(grad[nA:]).max() > 1e-3


# --------------------------------------------------------------------------- A's extra output


@pytest.mark.parametrize("state_target,ahead", [("next", 1), ("current", 0)])
@pytest.mark.parametrize("task", ["lag-2a", "lag-2b"])
def test_extra_output_target_is_c_hidden_unit_of_the_right_step(state_target, ahead, task):
    """At step t A has read x(t). Its extra output's target is C's hidden unit after C has
    processed the observations up to x(t+1) (next: the input A is predicting) or up to x(t)
    (current), as computed by C alone on the events it received."""
    block, spec = lag_block(task, 6, 12, seed=4)
    learner = make(spec, init_range=1.0, state_target=state_target, surprise="epsilon")
    trace = learner.trace(block)
    UC = learner.UC
    for i in range(len(block)):
        T = int(block.lengths[i])
        obs = list(block.inputs[i, :T]) + [block.targets[i, T - 1]]
        h, states = 0.0, []  # C's hidden unit after each of its steps
        for j in np.flatnonzero(trace["events"][i]):
            h = ref.forward_step(UC, obs[j], h)[0]
            states.append(h)
        for t in range(T):
            seen = int(trace["events"][i, :t + 1 + ahead].sum())  # C's steps so far
            assert trace["q_targets"][i, t] == pytest.approx(states[seen - 1], abs=1e-14)
        assert len(set(np.round(states, 12))) > 1


# --------------------------------------------------------------------------- bookkeeping


def test_weight_counts_and_the_network_order_of_the_weights():
    learner = make(TaskSpec(101, 101))
    assert learner.weights_a == 10506  # the paper's CH count: A alone = 10404 + 102
    assert learner.n_weights == 10506 + 10404
    small, spec = make(TaskSpec(5, 5), init_range=1.0), TaskSpec(5, 5)
    block, _ = lag_block("lag-2a", 4, 3)
    nA = small.weights_a
    net = self_loop_wz(5, 1, 6)  # A: 5 task outputs and the extra one
    a, _, _ = net_ref.forward(net, small.get_weights()[:nA], block.inputs[0])
    np.testing.assert_allclose(small.predict(block)[0], a[:, net.outputs[:5]], atol=1e-14)
    assert spec.n_outputs == 5


def test_diagnostics_count_surprises_events_and_when_the_lag_was_learned():
    p = 5
    block, spec = lag_block("lag-2a", p, 100)
    learner = make(spec)
    learner.UA = latch_automatizer(p)
    assert learner.diagnostics()["lag_symbol_learned_at"] is None
    learner.train(block.take(slice(0, 60)))
    assert learner.diagnostics()["lag_symbol_learned_at"] is None  # a run of 60 so far
    learner.train(block.take(slice(60, 100)))
    d = learner.diagnostics()
    assert LAG_RUN == 100 and d["lag_symbol_learned_at"] == 1
    assert d["surprise_rate"] == 0.0 and d["c_steps_per_sequence"] == 1.0
    assert d["lag_right_recent"] == 1.0 and d["weights_a"] == (p + 3) * (p + 2)

    fresh = make(spec, init_range=1.0)
    trace = fresh.trace(block, train=True)
    d = fresh.diagnostics()
    assert d["surprise_rate"] == pytest.approx(trace["surprises"].sum() / block.n_steps)
    assert d["c_steps_per_sequence"] == pytest.approx(trace["c_steps"].mean())
    assert d["lag_right_recent"] == pytest.approx(trace["lag_right"].mean())


def test_predict_leaves_the_diagnostics_alone():
    block, spec = lag_block("lag-2a", 4, 10)
    learner = make(spec)
    learner.train(block)
    before = learner.diagnostics()
    learner.predict(block)
    learner.trace(block)
    assert learner.diagnostics() == before


def test_presets_are_the_papers_rows():
    presets = {name: p for (learner, name), p in REGISTRY.presets.items() if learner == "chunker"}
    a, b = presets["exp2a-p100"], presets["exp2b-p100"]
    assert (a.task, a.experiment, a.task_params["p"]) == ("lag-2a", "exp2a", 100)
    assert (b.task, b.experiment, b.task_params["p"]) == ("lag-2b", "exp2b", 100)
    for preset in (a, b):
        params = resolve_params(Chunker.params, preset.learner_params, "chunker")
        assert params["learning_rate"] == 1.0 and params["init_range"] == 0.2
        assert preset.budget == 5_000_000 and preset.trials == 18
    assert a.paper.success_rate == 0.33 and a.paper.sequences_to_success == 32_400
    assert a.paper.extra["weights"] == 10506 and b.paper.success_rate == 0.0


def test_conforms_on_the_lag_task_itself():
    """The conformance kit on lag-2a's own (one-hot, input_symbols) sequences."""
    task = REGISTRY.task("lag-2a")
    results = check_learner(Chunker, task=task, task_params={"p": 4, "test_size": 20})
    assert all(v == "passed" for v in results.values()), results
