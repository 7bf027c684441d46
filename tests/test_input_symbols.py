"""One-hot blocks may carry their symbols; learners that read them must agree with the dense inputs."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskStreams
from seqbench.plugins import get_registry
from seqbench_learners.lstm97.learner import LSTM97


def _block(symbols, n_symbols=4):
    n, t = symbols.shape
    inputs = np.eye(n_symbols)[symbols]
    lengths = np.full(n, t)
    return SequenceBlock(inputs, np.zeros((n, t, 1)), np.ones((n, t), bool), lengths,
                         input_symbols=symbols)


def test_input_symbols_must_match_the_block_shape():
    with pytest.raises(ValueError, match="input_symbols must have shape"):
        SequenceBlock(np.zeros((2, 3, 4)), np.zeros((2, 3, 1)), np.ones((2, 3), bool),
                      np.array([3, 3]), input_symbols=np.zeros((2, 4), int))


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
    block = run.training_block(20)
    assert block.input_symbols is not None
    real = np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]
    np.testing.assert_array_equal(block.inputs.sum(axis=2)[real], 1.0)
    np.testing.assert_array_equal(block.inputs.argmax(axis=2)[real], block.input_symbols[real])


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
