"""The ELM learner: an Elman net trained with Elman's procedure (one-step backprop, on-line)."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.params import Param

from ..recurrent.learner import NETWORK_PARAMS, RecurrentLearner


class Elman(RecurrentLearner):
    """Elman's simple recurrent net and training procedure (docs/learners.md §5): the context is a
    copy of the previous hidden state, treated as a constant input; each step's error is
    back-propagated through that step only and the weights change at once, with optional
    momentum. Equivalent to BPTT with window 1 on the same net."""

    name = "elman"
    aliases = ("elm",)
    summary = "Elman net, Elman's procedure (context copy, one-step backprop, on-line)"
    params = {
        "hidden": Param(15, "number of hidden (and context) units", "int", low=1, high=100_000),
        "bias": NETWORK_PARAMS["bias"],
        "learning_rate": NETWORK_PARAMS["learning_rate"],
        "momentum": Param(0.0, "momentum mu: each change adds mu times the previous one",
                          "float", low=0.0, high=1.0),
        "init_range": NETWORK_PARAMS["init_range"],
        "context_init": Param(0.0, "context activation at every sequence start (0 under the "
                              "LSTM-paper protocol; Elman reportedly used 0.5)", "float",
                              low=0.0, high=1.0),
    }

    #: Elman's rule back-propagates within one step only
    gradient_truncated = True
    #: small, fast parameters for the conformance kit (seqbench.testing). The one-step rule never
    #: trains the step that stores the kit's bit; only wide initial context weights carry it.
    test_params = {"hidden": 8, "learning_rate": 1.0, "init_range": 1.0}

    def _architecture(self) -> str:
        return "elman"

    def _prepare(self) -> None:
        if self.network.kind != "elman":
            raise ValueError("the Elman kernel runs only networks built by network.elman()")
        self._velocity = np.zeros_like(self.w)
        net = self.network
        self._n_hidden = net.n_units - net.n_outputs
        self._bias = int(bool(np.any(net.src == net.n_inputs + net.n_units)))

    def _after_compile(self) -> None:
        self._velocity[:] = 0.0

    def _run(self, block: SequenceBlock, mode: int, alpha: float) -> np.ndarray:
        from .kernel import run_block

        out = self._outputs(block)
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  self._n_hidden, self._bias, alpha,
                  float(self.params["momentum"]), float(self.params["context_init"]), mode,
                  self._velocity, self._grad, out)
        return out
