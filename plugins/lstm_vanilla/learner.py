"""The ``lstm-vanilla`` learner: Greff et al.'s vanilla LSTM and its eight variants, trained by
full back-propagation through time with Nesterov momentum, one update per sequence
(docs/lstm_vanilla.md)."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

from .reference import F, VARIANTS, Layout

#: kernel modes (mirrors ``kernel.py``, which imports numba)
FORWARD, TRAIN, ACCUMULATE = -1, 0, 2


class LSTMVanilla(Learner):
    """One hidden layer of N one-cell LSTM blocks (Greff et al. 2017 §2 "vanilla LSTM": input,
    forget and output gates, diagonal peepholes, g = h = tanh, recurrence from the block outputs
    of t−1), logistic output units, squared error; exact BPTT over each whole sequence and one
    Nesterov momentum step per sequence. ``variant`` picks one of the paper's eight variants."""

    name = "lstm-vanilla"
    summary = ("Greff et al.'s vanilla LSTM (forget gate, peepholes) or one of its 8 variants; "
               "full BPTT, Nesterov momentum per sequence")
    params = {
        "variant": Param("vanilla", "vanilla, or one of Greff et al.'s variants: NIG (no input "
                         "gate), NFG (no forget gate), NOG (no output gate), NIAF (no input "
                         "activation), NOAF (no output activation), NP (no peepholes), CIFG "
                         "(forget gate = 1 - input gate), FGR (full gate recurrence)", "str",
                         choices=VARIANTS),
        "blocks": Param(8, "N, the number of LSTM blocks (one cell each)", "int",
                        low=1, high=10_000),
        "learning_rate": Param(0.01, "epsilon: SGD step on dE/dw of one sequence, E = ½Σ(y−d)² "
                               "summed over outputs and steps with a target", "float",
                               low=0.0, high=1e6),
        "momentum": Param(0.9, "mu: Nesterov momentum (0: plain SGD)", "float", low=0.0,
                          high=0.999999),
        "scale_learning_rate": Param(False, "multiply the learning rate by (1 - momentum), as "
                                     "Brainstorm's NesterovStep does by default", "bool"),
        "init": Param("normal", "initial weight distribution: normal (std = init_scale) or "
                      "uniform (in [-init_scale, init_scale])", "str",
                      choices=("normal", "uniform")),
        "init_scale": Param(0.1, "scale of the initial weights (see init)", "float",
                            low=0.0, high=100.0),
        "forget_gate_bias": Param(0.0, "added to the drawn initial forget-gate biases (positive: "
                                  "the cells start out remembering)", "float",
                                  low=-100.0, high=100.0),
    }

    #: small, fast parameters for the conformance kit (seqbench.testing)
    test_params = {"blocks": 4, "learning_rate": 0.1, "momentum": 0.9}

    layout: Layout
    w: np.ndarray

    # -- building -------------------------------------------------------------------------------
    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        layout = Layout(int(p["blocks"]), spec.n_inputs, spec.n_outputs, p["variant"])
        s = float(p["init_scale"])
        # every parameter of the full layout is drawn, whatever the variant, so that variants
        # built from one seed share their common weights; absent ones are then zeroed
        if p["init"] == "normal":
            w = rng.normal(0.0, s, layout.size)
        else:
            w = rng.uniform(-s, s, layout.size)
        w[~layout.active_mask()] = 0.0
        if layout.flags[1]:  # a forget gate with its own weights
            layout.views(w)["b"][F] += float(p["forget_gate_bias"])
        self.use_layout(layout, w)

    def use_layout(self, layout: Layout, w: np.ndarray) -> None:
        """Put the learner on ``layout`` with full-layout weights ``w`` (copied), velocity 0."""
        self.layout = layout
        self.w = np.array(w, dtype=np.float64)
        self.velocity = np.zeros_like(self.w)
        self._grad = np.zeros_like(self.w)
        self._active = layout.active
        self._flags = layout.flags

    @property
    def n_weights(self) -> int:
        """Every trained parameter: the LSTM layer (Greff et al.'s count, :attr:`hidden_weights`)
        plus the output layer's K(N + 1) weights and biases."""
        return int(self._active.shape[0])

    @property
    def hidden_weights(self) -> int:
        """Parameters of the LSTM layer alone, e.g. 4N(M + N) + 7N for the vanilla net."""
        return self.layout.n_hidden

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.w).all())

    # -- running --------------------------------------------------------------------------------
    def _rate(self) -> float:
        lr = float(self.params["learning_rate"])
        if self.params["scale_learning_rate"]:
            lr *= 1.0 - float(self.params["momentum"])
        return lr

    def _run(self, block: SequenceBlock, mode: int) -> np.ndarray:
        from .kernel import run_block

        out = np.zeros((len(block), block.inputs.shape[1], self.layout.K))
        run_block(block.inputs, block.targets, block.target_mask, block.lengths, self.w,
                  self.velocity, self._active, self.layout.N, self.layout.K, self._flags,
                  self._rate(), float(self.params["momentum"]), mode, self._grad, out)
        return out

    def compile(self) -> None:
        lay = self.layout
        tiny = SequenceBlock(np.zeros((1, 2, lay.M)), np.zeros((1, 2, lay.K)),
                             np.ones((1, 2), bool), np.array([2]))
        w, v = self.w.copy(), self.velocity.copy()
        for mode in (TRAIN, FORWARD, ACCUMULATE):
            self._run(tiny, mode)
        self.w, self.velocity = w, v
        self._grad[:] = 0.0

    def train(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, TRAIN)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, FORWARD)

    # -- the gradient protocol of seqbench.testing ------------------------------------------
    gradient_truncated = False

    def get_weights(self) -> np.ndarray:
        """A copy of the trained parameters, in full-layout order (reference.Layout)."""
        return self.w[self._active]

    def set_weights(self, weights: np.ndarray) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self._active.shape:
            raise ValueError(f"expected {self._active.shape[0]} weights, got shape "
                             f"{weights.shape}")
        self.w[self._active] = weights

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw of the trained parameters, summed over the block, weights frozen."""
        return self.full_gradient(block)[self._active]

    def full_gradient(self, block: SequenceBlock) -> np.ndarray:
        """dE/dw over the full layout (absent parameters included), weights frozen."""
        self._grad[:] = 0.0
        self._run(block, ACCUMULATE)
        out = self._grad.copy()
        self._grad[:] = 0.0
        return out
