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
