"""Sequential construction (Exp. 2a/2b): a block added with its outgoing weights at zero leaves
the net's outputs unchanged at the step it is added; drawn weights (the default) do not."""

import numpy as np
import pytest

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench_learners.lstm97.learner import LSTM97

DEFAULTS = {name: p.default for name, p in LSTM97.params.items()}


def _block(rng, n=6, T=9, n_sym=5):
    sym = rng.integers(n_sym, size=(n, T))
    return SequenceBlock(np.eye(n_sym)[sym], rng.uniform(size=(n, T, n_sym)),
                         np.ones((n, T), bool), np.full(n, T), input_symbols=sym)


@pytest.mark.parametrize("connectivity", ("B", "F"))
@pytest.mark.parametrize("outgoing", ("zero", "drawn"))
def test_an_added_block_with_zero_outgoing_weights_changes_no_output(connectivity, outgoing):
    rng = np.random.default_rng(1)
    net = LSTM97(**{**DEFAULTS, "blocks": 3, "block_size": 1, "connectivity": connectivity,
                    "construction": "sequential", "grown_block_outgoing": outgoing,
                    "init_range": 0.5})
    net.build(TaskSpec(5, 5), np.random.default_rng(2))
    probe = _block(rng)
    for _ in range(2):  # grow twice by hand: the second addition meets a trained first block
        net.train(_block(rng))
        before = net.predict(probe)
        net.grown_at.append(net._seen)
        net._enter_stage(net.layout.n_blocks + 1)
        after = net.predict(probe)
        if outgoing == "zero":
            np.testing.assert_array_equal(after, before)
        else:
            assert np.abs(after - before).max() > 1e-6
    net.train(_block(rng))
    if outgoing == "zero":  # the silenced weights do learn afterwards
        assert np.abs(net.wo[:, 5:5 + net.layout.n_cells]).max() > 0


def test_the_drift_probe_measures_the_initial_net_and_changes_nothing():
    rng = np.random.default_rng(4)
    blocks = [_block(rng, T=40) for _ in range(2)]
    params = {**DEFAULTS, "blocks": 2, "block_size": 1, "bias": "none", "init_range": 0.2}
    plain, probed = LSTM97(**params), LSTM97(**{**params, "drift_probe": True})
    for net in (plain, probed):
        net.build(TaskSpec(5, 5), np.random.default_rng(3))
    for block in blocks:
        np.testing.assert_array_equal(probed.train(block), plain.train(block))
    found = probed.diagnostics()
    assert plain.diagnostics() == {}
    assert found["initial_state_end_max_abs"] >= found["initial_state_end_median_abs"] > 0
    assert 0 < found["initial_h_slope_end_min"] <= 1
    # the probe reads the first sequence with the initial weights: the reference's own states
    from seqbench_learners.lstm97 import reference
    fresh = LSTM97(**params)
    fresh.build(TaskSpec(5, 5), np.random.default_rng(3))
    n = int(blocks[0].lengths[0])
    run = reference.run_sequence(fresh.layout, fresh.wh, fresh.wo, blocks[0].inputs[0, :n],
                                 blocks[0].targets[0, :n], blocks[0].target_mask[0, :n],
                                 mode="forward")
    assert found["initial_state_end_max_abs"] == np.abs(run[5][-1][2]).max()
