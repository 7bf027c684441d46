"""The latch and parity tasks of the guessing papers: data, balance, targets, judging rules,
seeding, the fixed training set and the conformance kit."""

from __future__ import annotations

import numpy as np
import pytest
from seqbench_tasks.latch import Latch
from seqbench_tasks.parity import Parity

from seqbench.blocks import final_step_outputs
from seqbench.contracts import TaskStreams
from seqbench.errors import ParamError
from seqbench.params import resolve_params
from seqbench.testing import check_task
from seqbench.trial import stream


def make(cls, **params):
    return cls(**resolve_params(cls.params, params, cls.name))


def start(task, seed: int = 0, trial: int = 0):
    return task.start(TaskStreams(stream(seed, "data", trial), stream(seed, "order", trial),
                                  stream(seed, "test", trial)))


def predictor(outputs_of):
    """predict() answering ``outputs_of(block)`` at every step (only the last one is read)."""

    def predict(block):
        final = outputs_of(block)
        return np.repeat(final[:, None, :], block.inputs.shape[1], axis=1)

    return predict


def targets_of(block):
    return block.extras["reference"]


def valid(block):
    return np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]


@pytest.mark.parametrize("cls, params", [(Parity, {}), (Parity, {"noise": 0.2}),
                                         (Latch, {"variant": "I"}), (Latch, {"variant": "II"})])
def test_sets_lengths_and_balance(cls, params):
    run = start(make(cls, **params))
    for block in (run.train_set, run.test_set):
        assert len(block) == 100
        assert block.lengths.min() >= 500 and block.lengths.max() <= 600
        assert len(np.unique(block.lengths)) > 30  # spread over the range
        class1 = block.extras["class1"]
        assert class1.sum() == 50
        assert 0 < class1[:50].sum() < 50  # shuffled, not sorted by class
        assert (block.target_mask.sum(axis=1) == 1).all()
        assert block.target_mask[np.arange(100), block.lengths - 1].all()
        assert (block.inputs[~valid(block)] == 0).all()
    assert not np.array_equal(run.train_set.inputs[:, :500], run.test_set.inputs[:, :500])


def test_parity_targets_by_counting():
    for noise in (0.0, 0.2):
        run = start(make(Parity, noise=noise), seed=3)
        block = run.train_set
        x = block.inputs[:, :, 0]
        for q in range(len(block)):
            clean = block.extras["clean"][q, :block.lengths[q]]
            assert set(np.unique(clean)) <= {-1.0, 1.0}
            odd = int((clean == 1.0).sum()) % 2 == 1
            assert targets_of(block)[q, 0] == (1.0 if odd else 0.0)
            assert block.targets[q, block.lengths[q] - 1, 0] == (1.0 if odd else 0.0)
            noise_q = x[q, :block.lengths[q]] - clean
            if noise == 0.0:
                assert (noise_q == 0).all()
            else:
                assert np.abs(noise_q).max() <= noise and np.abs(noise_q).max() > 0.15
        assert (targets_of(block)[:, 0] == block.extras["class1"]).all()


def test_parity_elements_are_fair_coins():
    """Every element, the last one (which fixes the class's parity) included, is +1 about
    half the time."""
    run = start(make(Parity), seed=1)
    clean = np.concatenate([run.train_set.extras["clean"], run.test_set.extras["clean"]])
    lengths = np.concatenate([run.train_set.lengths, run.test_set.lengths])
    elements = clean[valid_mask(clean, lengths)]
    assert abs((elements == 1.0).mean() - 0.5) < 0.01  # ~110,000 elements: sd 0.0015
    last = clean[np.arange(len(clean)), lengths - 1]
    assert 0.35 < (last == 1.0).mean() < 0.65  # 200 elements: sd 0.035


def valid_mask(a, lengths):
    return np.arange(a.shape[1])[None, :] < lengths[:, None]


@pytest.mark.parametrize("variant, target", [("I", 0.8), ("II", 1.0)])
def test_latch_inputs_and_targets(variant, target):
    run = start(make(Latch, variant=variant), seed=2)
    block = run.train_set
    class1 = block.extras["class1"]
    assert (block.inputs[:, 0, 0] == np.where(class1, 1.0, -1.0)).all()
    assert (targets_of(block)[:, 0] == np.where(class1, target, -target)).all()
    rest = block.inputs[:, 1:, 0][valid(block)[:, 1:]]
    assert len(rest) > 50_000
    # variance 0.2: the standard error of the sample variance is 0.2 sqrt(2 / n) < 0.0013
    assert abs(rest.var() - 0.2) < 0.006
    assert abs(rest.mean()) < 0.006
    assert block.inputs.dtype == np.float64


def test_determinism_and_seeds():
    for task in (make(Parity), make(Latch)):
        a, b = start(task, seed=5), start(task, seed=5)
        assert np.array_equal(a.train_set.inputs, b.train_set.inputs)
        assert np.array_equal(a.test_set.inputs, b.test_set.inputs)
        assert np.array_equal(a.training_block(30).inputs, b.training_block(30).inputs)
        c = start(task, seed=6)
        assert not np.array_equal(a.train_set.inputs, c.train_set.inputs)
        d = start(task, seed=5, trial=1)
        assert not np.array_equal(a.train_set.inputs, d.train_set.inputs)


def test_training_set_and_training_blocks_agree():
    """training_set() is the fixed set; training_block(n) draws its exemplars from it with
    replacement, in an order from the order stream only (the data are the same for every
    order stream)."""
    task = make(Parity, min_length=20, max_length=30)
    run = start(task, seed=4)
    fixed = run.training_set()
    assert fixed is run.train_set and len(fixed) == 100
    rows = {fixed.inputs[q, :fixed.lengths[q], 0].tobytes(): q for q in range(len(fixed))}
    seen = []
    for _ in range(3):
        block = run.training_block(70)
        for q in range(len(block)):
            key = block.inputs[q, :block.lengths[q], 0].tobytes()
            assert key in rows
            i = rows[key]
            assert block.lengths[q] == fixed.lengths[i]
            assert np.array_equal(targets_of(block)[q], targets_of(fixed)[i])
            seen.append(i)
    assert len(set(seen)) > 80
    other_order = task.start(TaskStreams(stream(4, "data", 0), stream(9, "order", 0),
                                         stream(4, "test", 0)))
    assert np.array_equal(other_order.training_set().inputs, fixed.inputs)
    assert not np.array_equal(other_order.training_block(20).inputs,
                              start(task, seed=4).training_block(20).inputs)


def test_parity_judge_and_criterion():
    run = start(make(Parity, min_length=20, max_length=30))
    block = run.train_set
    exact = predictor(targets_of)
    correct, error = run.judge(block, exact(block))
    assert correct.all() and (error == 0).all()
    near = predictor(lambda b: np.abs(targets_of(b) - 0.09))
    assert run.judge(block, near(block))[0].all()
    off = predictor(lambda b: np.abs(targets_of(b) - 0.11))
    assert not run.judge(block, off(block))[0].any()
    assert run.criterion.check_frozen(exact, 0) and run.criterion.check(exact)
    one_wrong = predictor(lambda b: np.where(np.arange(len(b))[:, None] == 7, 0.5,
                                             targets_of(b)))
    assert not run.criterion.check(one_wrong)
    metrics = run.evaluate(exact)
    assert metrics["test_error"] == 0.0 and metrics["train_error"] == 0.0
    assert metrics["test_mae"] == 0.0
    assert run.evaluate(one_wrong)["train_error"] == 0.01
    assert run.criterion.check_every == 100


@pytest.mark.parametrize("variant, rule, in_force", [
    ("I", "paper", "sign"), ("II", "paper", "abs"), ("I", "abs", "abs"), ("II", "sign", "sign"),
])
def test_latch_rules(variant, rule, in_force):
    task = make(Latch, variant=variant, rule=rule, min_length=20, max_length=30)
    assert task.rule() == in_force
    run = start(task)
    block = run.train_set
    right_sign = predictor(lambda b: 0.3 * np.sign(targets_of(b)))  # far from +-0.8 / +-1
    close = predictor(lambda b: targets_of(b) * 0.95)
    wrong_sign = predictor(lambda b: -targets_of(b))
    assert run.judge(block, close(block))[0].all()
    assert not run.judge(block, wrong_sign(block))[0].any()
    assert run.judge(block, right_sign(block))[0].all() == (in_force == "sign")
    assert run.criterion.check(right_sign) == (in_force == "sign")
    error = run.judge(block, right_sign(block))[1]
    assert np.allclose(error, np.abs(final_step_outputs(block, right_sign(block))[:, 0]
                                     - targets_of(block)[:, 0]))


def test_task_declarations():
    for task in (make(Parity), make(Latch)):
        spec = task.spec()
        assert (spec.n_inputs, spec.n_outputs, spec.targets) == (1, 1, "final_step")
        assert task.default_trials == 40 and task.default_budget >= 1_000_000
    assert make(Parity).spec().target_range == (0.0, 1.0)
    assert make(Latch).spec().target_range == (-1.0, 1.0)
    with pytest.raises(ParamError, match="min_length"):
        make(Parity, min_length=50, max_length=40).spec()
    with pytest.raises(ParamError, match="min_length"):
        start(make(Latch, min_length=50, max_length=40))


def test_odd_set_sizes_give_class_1_the_extra_sequence():
    run = start(make(Latch, n_train=7, n_test=9, min_length=5, max_length=6))
    assert run.train_set.extras["class1"].sum() == 4
    assert run.test_set.extras["class1"].sum() == 5


@pytest.mark.parametrize("cls, params", [(Parity, {}), (Parity, {"noise": 0.2}),
                                         (Latch, {"variant": "I"}),
                                         (Latch, {"variant": "II", "rule": "sign"})])
def test_conformance_kit(cls, params):
    check_task(cls, params)
