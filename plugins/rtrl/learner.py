"""The RTRL learner: exact sensitivities carried forward, on-line or off-line updates."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.params import Param

from ..recurrent.learner import ACCUMULATE, NETWORK_PARAMS, RecurrentLearner


class RTRL(RecurrentLearner):
    """Real-time recurrent learning (Williams & Zipser 1989; LEARNERS.md §2).

    Only units on delay-1 paths carry sensitivities (§2.4), so the Exp. 2a net costs O(W) per
    step while the fully recurrent net costs O(n²W). ``update`` ``step`` changes the weights
    after every step (on-line RTRL), ``sequence`` sums the step gradients and applies them at
    the sequence end (off-line RTRL, the same gradient as epochwise BPTT).
    """

    name = "rtrl"
    summary = "real-time recurrent learning (exact sensitivities, on-line or off-line)"
    params = {
        **NETWORK_PARAMS,
        "update": Param("step", "step: change weights after every step (on-line RTRL); "
                        "sequence: sum and apply at each sequence end (off-line)", "str",
                        choices=("step", "sequence")),
        "teacher_forcing": Param(False, "output units with a target feed the target, not their "
                                 "activation, into the next step", "bool"),
    }

    #: small, fast parameters for the conformance kit (seqbench.testing)
    test_params = {"hidden": 4, "learning_rate": 0.5}

    @property
    def gradient_truncated(self) -> bool:
        """With teacher forcing the gradient is that of the forced graph, not of the free run."""
        return bool(self.params["teacher_forcing"])

    def _prepare(self) -> None:
        net = self.network
        self._carried = net.recurrent_units()
        self._slot = np.full(net.n_units, -1, np.int64)
        self._slot[self._carried] = np.arange(len(self._carried))
        self._arrays = (*net.segments, *net.unit_links, net.src_unit, net.delay,
                        net.outputs, self._slot, self._carried)
        self._no_steps = np.zeros((0, len(self.w)))

    def _run(self, block: SequenceBlock, mode: int, alpha: float,
             step_grads: np.ndarray | None = None) -> np.ndarray:
        from .kernel import run_block

        out = self._outputs(block)
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  *self._arrays, alpha, mode, self.params["update"] == "step",
                  bool(self.params["teacher_forcing"]), self._grad,
                  self._no_steps if step_grads is None else step_grads, out)
        return out

    def step_gradients(self, block: SequenceBlock) -> np.ndarray:
        """∂E(t)/∂w for every step t of the block's first sequence, weights frozen; (T, W)."""
        steps = np.zeros((block.inputs.shape[1], len(self.w)))
        self._grad[:] = 0.0
        self._run(block.take(np.array([0])), ACCUMULATE, 1.0, steps)
        self._grad[:] = 0.0
        return steps
