"""The GRU learner: gated recurrent units, logistic outputs, full BPTT, one update per sequence."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

from .network import Shape

FORWARD, TRAIN, ACCUMULATE = -1, 0, 2


class GRU(Learner):
    """A gated recurrent unit network (Cho et al. 2014; equations in ``reference.py``) trained
    on-line: each sequence's exact gradient of ½Σ(target − y)², by back-propagation through
    all of its steps, changes the weights at the sequence end, optionally clipped in norm."""

    name = "gru"
    summary = "gated recurrent units, full BPTT per sequence (example third-party plugin)"
    params = {
        "hidden": Param(16, "number of GRU units", "int", low=1, high=10_000),
        "learning_rate": Param(0.1, "learning rate (error summed over the sequence's steps)",
                               "float", low=0.0, high=1e6),
        "init_range": Param(0.3, "initial weights uniform in [-r, r]; biases start at 0",
                            "float", low=0.0, high=1e3),
        "clip": Param(1.0, "largest norm of one sequence's gradient step (0: no clipping)",
                      "float", low=0.0, high=1e9),
    }
    #: small parameters for seqbench.testing's conformance checks
    test_params = {"hidden": 4, "learning_rate": 0.5}
    #: the rule is the exact gradient (seqbench.testing checks it on sequences of any length)
    gradient_truncated = False

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        self.shape = Shape(spec.n_inputs, self.params["hidden"], spec.n_outputs)
        r = self.params["init_range"]
        self.w = rng.uniform(-r, r, self.shape.n_weights)
        W, U, b, V, c = self.shape.split(self.w)
        b[:] = 0.0
        c[:] = 0.0
        self._grad = np.zeros_like(self.w)

    @property
    def n_weights(self) -> int:
        return self.shape.n_weights

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.w).all())

    def compile(self) -> None:
        tiny = SequenceBlock(np.zeros((1, 2, self.shape.n_inputs)),
                             np.zeros((1, 2, self.shape.n_outputs)), np.ones((1, 2), bool),
                             np.array([2]))
        w = self.w.copy()
        for mode in (TRAIN, FORWARD, ACCUMULATE):
            self._run(tiny, mode)
        self.w[:] = w
        self._grad[:] = 0.0

    def _run(self, block: SequenceBlock, mode: int) -> np.ndarray:
        from .kernel import run_block

        out = np.zeros((len(block), block.inputs.shape[1], self.shape.n_outputs))
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  self.shape.n_hidden, float(self.params["learning_rate"]),
                  float(self.params["clip"]), mode, self._grad, out)
        return out

    def train(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, TRAIN)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, FORWARD)

    # the optional gradient protocol of seqbench.testing
    def get_weights(self) -> np.ndarray:
        return self.w.copy()

    def set_weights(self, weights: np.ndarray) -> None:
        self.w[:] = weights

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw summed over the block's sequences, weights frozen (unclipped)."""
        self._grad[:] = 0.0
        self._run(block, ACCUMULATE)
        return self._grad.copy()
