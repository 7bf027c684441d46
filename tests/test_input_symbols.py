"""One-hot blocks may carry their symbols (inputs and targets); learners that read them must agree
with the dense arrays."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskStreams
from seqbench.lanes import pack
from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.trial import TrialSpec, run_trial
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_tasks import lag


def _block(symbols, n_symbols=4):
    n, t = symbols.shape
    inputs = np.eye(n_symbols)[symbols]
    lengths = np.full(n, t)
    return SequenceBlock(inputs, np.zeros((n, t, 1)), np.ones((n, t), bool), lengths,
                         input_symbols=symbols)


@pytest.mark.parametrize("name", ["input_symbols", "target_symbols"])
def test_symbols_must_match_the_block_shape(name):
    with pytest.raises(ValueError, match=f"{name} must have shape"):
        SequenceBlock(np.zeros((2, 3, 4)), np.zeros((2, 3, 1)), np.ones((2, 3), bool),
                      np.array([3, 3]), **{name: np.zeros((2, 4), int)})


def test_take_and_concatenate_keep_input_symbols_aligned():
    a = _block(np.array([[0, 1, 2], [3, 2, 1]]))
    b = _block(np.array([[1, 1], [2, 0]]))
    both = SequenceBlock.concatenate([a, b])
    np.testing.assert_array_equal(both.input_symbols[2:, :2], b.input_symbols)
    part = both.take(np.array([1, 3]))
    np.testing.assert_array_equal(part.input_symbols[0], [3, 2, 1])
    np.testing.assert_array_equal(part.input_symbols[1, :2], [2, 0])
    plain = SequenceBlock(a.inputs, a.targets, a.target_mask, a.lengths)
    assert SequenceBlock.concatenate([plain, b]).input_symbols is None


def test_take_and_concatenate_keep_target_symbols_aligned():
    def with_targets(symbols):
        block = _block(symbols)
        return SequenceBlock(block.inputs, np.eye(4)[symbols], block.target_mask, block.lengths,
                             target_symbols=symbols)

    a, b = with_targets(np.array([[0, 1, 2], [3, 2, 1]])), with_targets(np.array([[1, 1]]))
    both = SequenceBlock.concatenate([a, b])
    np.testing.assert_array_equal(both.target_symbols[2, :2], [1, 1])
    np.testing.assert_array_equal(both.take(np.array([1])).target_symbols, [[3, 2, 1]])
    plain = with_targets(np.array([[0, 1]]))
    plain.target_symbols = None
    assert SequenceBlock.concatenate([plain, b]).target_symbols is None


def _task_run(task, **params):
    cls = get_registry().task(task)
    values = {k: p.default for k, p in cls.params.items()}
    values.update(params)
    instance = cls(**values)
    return instance, instance.start(TaskStreams(*(np.random.default_rng(i) for i in range(3))))


@pytest.mark.parametrize("task, params", [
    ("lag-2a", {"p": 8}), ("lag-2b", {"p": 8}), ("lag-2c", {"q": 10, "p": 6}), ("reber", {}),
])
def test_one_hot_tasks_symbols_are_the_active_input_units(task, params):
    _, run = _task_run(task, **params)
    _assert_symbols_are_the_active_units(run.training_block(20))


def _assert_symbols_are_the_active_units(block):
    """At every real step the inputs are exactly the one-hot code of ``input_symbols``: unit
    ``input_symbols[i, t]`` is 1.0, every other unit 0.0; the same of the targets and
    ``target_symbols`` where the block has them (at every step with a target)."""
    assert block.input_symbols is not None
    real = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    n_units = block.inputs.shape[2]
    np.testing.assert_array_equal(block.inputs[real], np.eye(n_units)[block.input_symbols[real]])
    if block.target_symbols is not None:
        judged = real & block.target_mask
        n_out = block.targets.shape[2]
        np.testing.assert_array_equal(block.targets[judged],
                                      np.eye(n_out)[block.target_symbols[judged]])


@pytest.mark.parametrize("task", ["lag-2a", "lag-2b"])
def test_every_2a_2b_block_carries_its_symbols(task):
    """Not only the training blocks: the training set, the frozen test's chunks, the final
    test's and the in-order stream of a learner that carries state."""
    _, run = _task_run(task, p=8, test_size=1_200)
    seen = []

    def check(block):  # at once: a training block's arrays are reused by the next one
        assert block.target_symbols is not None
        _assert_symbols_are_the_active_units(block)
        seen.append(block)
        return block.targets  # a perfect net passes every test, so sees all of its blocks

    check(run.training_block(20))
    check(run.training_block(7))
    if task == "lag-2a":
        check(run.training_set())
    for carries_state in (False, True):
        run.learner_carries_state = carries_state
        assert run.criterion.check_frozen(check, 0)
        assert run.evaluate(check)["test_error"] == 0.0
    assert len(seen) > 6


@pytest.mark.parametrize("task, preset, task_params, budget", [
    ("lag-2a", "exp2a-p100", {"p": 10}, 3_000),
    ("lag-2b", "exp2b-p100", {"p": 4, "test_size": 500}, 1_000),
])
def test_lstm97_trial_is_the_same_with_and_without_the_symbols(monkeypatch, task, preset,
                                                               task_params, budget):
    """A whole trial (growth, training, frozen tests, final test) on the sparse one-hot path
    (input and target symbols) stores exactly what the dense path stores, timings aside."""
    reg = get_registry()
    pr = reg.preset("lstm97", preset)
    spec = TrialSpec(task, "lstm97",
                     resolve_params(reg.task(task).params, {**pr.task_params, **task_params}, task),
                     resolve_params(LSTM97.params, pr.learner_params, "lstm97"),
                     seed=1, trial=0, budget=budget)
    sparse = run_trial(spec, reg)

    encode, dropped = lag.PredictionRun._encode, []

    def dense_encode(self, *args, **kwargs):
        block = encode(self, *args, **kwargs)
        dropped.append(block.input_symbols is not None and block.target_symbols is not None)
        block.input_symbols = block.target_symbols = None
        return block

    monkeypatch.setattr(lag.PredictionRun, "_encode", dense_encode)
    dense = run_trial(spec, reg)
    assert dropped and all(dropped)
    assert sparse.error is None and sparse.diagnostics  # it ran, and grew its cell
    if task == "lag-2a":
        assert sparse.status == "solved"  # so the frozen tests and the final test ran too
    timings = {"wall_s", "compile_s", "train_s", "ns_per_step"}
    found = [{k: v for k, v in r.as_dict().items() if k not in timings} for r in (sparse, dense)]
    assert found[0] == found[1]


def test_lstm97_learns_the_same_with_and_without_the_symbols():
    task, run = _task_run("lag-2c", q=10, p=6)
    block = copy.deepcopy(run.training_block(30))
    dense = copy.deepcopy(block)
    dense.input_symbols = None
    params = {k: p.default for k, p in LSTM97.params.items()}
    params.update(blocks=2, block_size=1, bias="none", learning_rate=0.5, init_range=0.2)
    nets = []
    for b in (block, dense):
        net = LSTM97(**params)
        net.build(task.spec(), np.random.default_rng(5))
        initial = net.wh.copy()
        outputs = net.train(b)
        nets.append((outputs, net.wh, net.wo))
    assert not np.array_equal(nets[0][1], initial)  # it did learn
    for x, y in zip(*nets):
        np.testing.assert_array_equal(x, y)


def _2b_learners(lanes, seed=5):
    task, run = _task_run("lag-2b", p=12, test_size=100)
    params = {k: p.default for k, p in LSTM97.params.items()}
    params.update(get_registry().preset("lstm97", "exp2b-p100").learner_params)
    params["construction"] = "fixed"  # the cell from the start: every lane in one kernel call
    nets = []
    for i in range(lanes):
        net = LSTM97(**params)
        net.build(task.spec(), np.random.default_rng(seed + i))
        nets.append(net)
    return run, nets


def test_lstm97_lanes_learn_the_same_from_target_symbols_as_from_dense_targets():
    """Several lanes in one call, one of them idle for its last sequences, trained on one-hot
    target symbols: bit for bit the weights and outputs the dense targets give."""
    run, sparse = _2b_learners(3)
    _, dense = _2b_learners(3)
    blocks = [copy.deepcopy(run.training_block(n)) for n in (6, 4, 6)]
    assert pack(blocks).targets.size == 0 and pack(blocks).tsym.shape == (6 * 12, 3)  # sparse
    plain = [copy.deepcopy(b) for b in blocks]
    for b in plain:
        b.target_symbols = None
    initial = sparse[0].wo.copy()
    out_sparse = LSTM97.train_batch(sparse, blocks)
    out_dense = LSTM97.train_batch(dense, plain)
    assert not np.array_equal(sparse[0].wo, initial)  # it did learn
    for a, b, x, y in zip(sparse, dense, out_sparse, out_dense):
        np.testing.assert_array_equal(x, y)
        for name in ("wh", "wo"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_a_continual_stream_stops_at_the_same_step_with_target_symbols():
    """The stopping rule of continual streams reads the step's targets; from target symbols it
    stops at the same first wrong step."""
    from seqbench.contracts import StepRule

    run, (sparse,) = _2b_learners(1)
    _, (dense,) = _2b_learners(1)
    block = copy.deepcopy(run.training_block(5))
    plain = copy.deepcopy(block)
    plain.target_symbols = None
    rule = StepRule(0.3)
    found = []
    for net, b in ((sparse, block), (dense, plain)):
        net.start_stream(training=True)
        found.append(net.train_steps(b, rule, resets=True))
    assert found[0] == found[1] and found[0][1]  # stopped, at the same step
    assert 0 < found[0][0] < block.n_steps
    np.testing.assert_array_equal(sparse.wo, dense.wo)
