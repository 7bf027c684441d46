"""What the three gradient baselines share as learners: a :class:`Network` built from the
parameters, one flat weight vector, and the calls into a block kernel."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.params import Param

from .network import ARCHITECTURES, Network, build_network

#: kernel modes (mirrors ``steps.py``, which imports numba)
FORWARD, TRAIN, ACCUMULATE = -1, 0, 2

NETWORK_PARAMS = {
    "architecture": Param("fully_recurrent", "fully_recurrent: Williams-Zipser net (inputs -> "
                          "all units, all units -> all units delayed); self_loop: the Exp. 2a "
                          "net (self-recurrent hidden units, non-recurrent outputs, layers see "
                          "all layers below, outputs read this step's hidden units); "
                          "self_loop_wz: the same net in Williams-Zipser timing (outputs read "
                          "the previous step's hidden units); elman: simple recurrent net", "str",
                          choices=tuple(ARCHITECTURES)),
    "hidden": Param(12, "number of hidden units", "int", low=0, high=100_000),
    "bias": Param(False, "bias weights on all units (the paper's weight counts have none)",
                  "bool"),
    "learning_rate": Param(0.1, "learning rate alpha (error ½Σ(y−d)² summed over outputs and "
                           "steps)", "float", low=0.0, high=1e6),
    "init_range": Param(0.2, "initial weights uniform in [-r, r]", "float", low=0.0, high=1e3),
}


class RecurrentLearner(Learner):
    """Base of ``bptt``, ``rtrl`` and ``elman``: a logistic network of docs/learners.md §1.1.

    Subclasses implement :meth:`_run` (one kernel call over a block in a given mode).
    """

    network: Network
    w: np.ndarray

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        network = build_network(self._architecture(), spec.n_inputs, p["hidden"],
                                spec.n_outputs, p["bias"])
        self.use_network(network, network.initial_weights(rng, p["init_range"]))

    def use_network(self, network: Network, w: np.ndarray) -> None:
        """Put the learner on ``network`` with weights ``w`` (a copy), its rule state fresh.
        :meth:`build` does this for the parameters' architecture; tests use it for random nets."""
        self.network = network
        self.w = np.array(w, dtype=np.float64)
        self._grad = np.zeros_like(self.w)
        self._prepare()

    def _prepare(self) -> None:
        """Derive whatever the rule needs from ``self.network`` (subclasses)."""

    def _architecture(self) -> str:
        return self.params["architecture"]

    @property
    def n_weights(self) -> int:
        return self.network.n_weights

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.w).all())

    def _run(self, block: SequenceBlock, mode: int, alpha: float) -> np.ndarray:
        raise NotImplementedError

    def _outputs(self, block: SequenceBlock) -> np.ndarray:
        return np.zeros((len(block), block.inputs.shape[1], self.network.n_outputs))

    def compile(self) -> None:
        tiny = SequenceBlock(
            np.zeros((1, 2, self.network.n_inputs)), np.zeros((1, 2, self.network.n_outputs)),
            np.ones((1, 2), bool), np.array([2]),
        )
        w = self.w.copy()
        for mode in (TRAIN, FORWARD):
            self._run(tiny, mode, 0.0)
        self.w = w
        self._after_compile()

    def _after_compile(self) -> None:
        """Reset any optimiser state the warm-up touched."""

    def train(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, TRAIN, float(self.params["learning_rate"]))

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._run(block, FORWARD, 0.0)

    # -- the gradient protocol of seqbench.testing ---------------------------------------------
    #: whether :meth:`loss_gradient` follows a truncated rule rather than the exact gradient
    gradient_truncated = False

    def get_weights(self) -> np.ndarray:
        """A copy of the weights, one per connection, in connection order."""
        return self.w.copy()

    def set_weights(self, weights: np.ndarray) -> None:
        """Replace the weights (copied) by ``weights`` in :meth:`get_weights` order."""
        weights = np.asarray(weights, dtype=np.float64)
        if weights.shape != self.w.shape:
            raise ValueError(f"expected {self.w.shape[0]} weights, got shape {weights.shape}")
        self.w = weights.copy()

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        """∂E/∂w under the learner's rule, summed over the block, weights frozen."""
        return self.gradient(block)

    def gradient(self, block: SequenceBlock) -> np.ndarray:
        """∂E/∂w of the learner's rule summed over the block, weights frozen (flat vector in
        connection order). Note the sign: lstm97's ``gradient`` returns the weight change per
        unit rate, i.e. the negative of this."""
        self._grad[:] = 0.0
        self._run(block, ACCUMULATE, 1.0)
        out = self._grad.copy()
        self._grad[:] = 0.0
        return out
