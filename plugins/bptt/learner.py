"""The BPTT learner: epochwise back-propagation through time, or truncated BPTT(h; h') on-line."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.errors import ParamError
from seqbench.params import Param

from ..recurrent.learner import NETWORK_PARAMS, RecurrentLearner


class BPTT(RecurrentLearner):
    """Back-propagation through time on a logistic recurrent net (docs/learners.md §3).

    ``window`` 0 (default): epochwise BPTT, the exact gradient of each sequence's error, one
    weight update at the sequence end. ``window`` h > 0: BPTT(h; h') with h' = ``update_every``,
    weights changed on-line every h' steps and at the sequence end; BPTT(h) is h' = 1.
    """

    #: 2: strict IEEE arithmetic (no reordered sums or fused multiply-adds), so a trial's
    #: result no longer depends on whether its kernel was compiled now or loaded from cache
    behaviour_version = 2

    name = "bptt"
    summary = "back-propagation through time (epochwise, or truncated BPTT(h;h') on-line)"
    params = {
        **NETWORK_PARAMS,
        "window": Param(0, "0: epochwise (full) BPTT, one update per sequence; h > 0: "
                        "back-propagate through the last h steps only", "int",
                        low=0, high=1_000_000),
        "update_every": Param(1, "h': steps between on-line updates when window > 0 "
                              "(must not exceed window)", "int", low=1, high=1_000_000),
    }

    #: small, fast parameters for the conformance kit (seqbench.testing)
    test_params = {"hidden": 4, "learning_rate": 0.5}

    @property
    def gradient_truncated(self) -> bool:
        """BPTT(h; h') drops error older than its window; epochwise BPTT is exact."""
        return bool(self.params["window"])

    def build(self, spec, rng: np.random.Generator) -> None:
        if self.params["window"] and self.params["update_every"] > self.params["window"]:
            raise ParamError(f"update_every ({self.params['update_every']}) must not exceed "
                             f"window ({self.params['window']})")
        super().build(spec, rng)

    def _prepare(self) -> None:
        net = self.network
        self._arrays = (*net.segments, net.col, *net.unit_links, net.outputs)

    def _run(self, block: SequenceBlock, mode: int, alpha: float) -> np.ndarray:
        from .kernel import run_block

        out = self._outputs(block)
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  *self._arrays, alpha, mode,
                  int(self.params["window"]), int(self.params["update_every"]), self._grad, out)
        return out
