"""The fused per-sequence judge gives numpy's numbers, NaN and padding included."""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock, max_abs_error


def _numpy_rule(block, outputs):
    per_step = np.abs(block.targets - outputs).max(axis=2)
    steps = np.arange(outputs.shape[1])[None, :] < block.lengths[:, None]
    return np.where(steps & block.target_mask, per_step, 0.0).max(axis=1)


def _block(rng, n=40, width=12, n_out=5):
    lengths = rng.integers(1, width + 1, n)
    mask = rng.random((n, width)) < 0.6
    return SequenceBlock(rng.random((n, width, 3)), rng.random((n, width, n_out)), mask, lengths)


@pytest.mark.parametrize("seed", range(5))
def test_it_equals_the_numpy_rule_on_ragged_masked_blocks(seed):
    rng = np.random.default_rng(seed)
    block = _block(rng)
    outputs = rng.random(block.targets.shape)
    np.testing.assert_array_equal(max_abs_error(block, outputs), _numpy_rule(block, outputs))


def test_nan_counts_where_judged_and_is_ignored_in_padding_and_unjudged_steps():
    rng = np.random.default_rng(7)
    block = _block(rng, n=4)
    block.target_mask[:] = True
    block.target_mask[1, 0] = False
    outputs = rng.random(block.targets.shape)
    outputs[0, 0, 2] = np.nan  # judged: the sequence's error is NaN
    outputs[1, 0, 0] = np.nan  # an unjudged step
    block.lengths[2] = 3
    outputs[2, 3:, :] = np.nan  # padding
    found = max_abs_error(block, outputs)
    expected = _numpy_rule(block, outputs)
    assert np.isnan(found[0]) and np.isnan(expected[0])
    np.testing.assert_array_equal(found[1:], expected[1:])
    assert np.isfinite(found[1:]).all()


def test_a_sequence_with_no_judged_step_has_error_zero():
    rng = np.random.default_rng(1)
    block = _block(rng, n=3)
    block.target_mask[1] = False
    assert max_abs_error(block, rng.random(block.targets.shape))[1] == 0.0


def test_outputs_of_another_shape_are_refused():
    block = _block(np.random.default_rng(2), n=3)
    with pytest.raises(ValueError, match="do not match"):
        max_abs_error(block, np.zeros((3, 2, 1)))
