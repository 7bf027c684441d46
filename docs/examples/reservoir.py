"""A complete, minimal seqbench learner: an echo-state network with a delta-rule readout.

The recurrent layer (the reservoir) is random and fixed; only the logistic readout learns, on-line,
one sequence at a time, by gradient descent on ½Σ(target − y)². Because nothing learned feeds
back into the reservoir, the states of a whole block are computed at once, vectorised over its
sequences, and the readout is trained sequence by sequence on them.
"""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock
from seqbench.contracts import Learner, TaskSpec
from seqbench.hookspecs import hookimpl
from seqbench.params import Param


class Reservoir(Learner):
    """Echo-state network: fixed random tanh reservoir, logistic readout trained on-line."""

    name = "reservoir"
    summary = "echo-state network: fixed random tanh reservoir, delta-rule logistic readout"
    params = {
        "units": Param(50, "reservoir units", "int", low=1, high=10_000),
        "spectral_radius": Param(0.9, "largest |eigenvalue| of the reservoir's weights", "float",
                                 low=0.0, high=10.0),
        "input_scale": Param(1.0, "input weights uniform in [-s, s]", "float", low=0.0, high=100.0),
        "learning_rate": Param(0.1, "readout learning rate", "float", low=0.0, high=100.0),
    }
    #: small parameters for seqbench.testing's conformance checks
    test_params = {"units": 20}

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        recurrent = rng.normal(size=(p["units"], p["units"]))
        radius = np.max(np.abs(np.linalg.eigvals(recurrent)))
        self.recurrent = recurrent * (p["spectral_radius"] / radius)
        self.input = rng.uniform(-p["input_scale"], p["input_scale"], (p["units"], spec.n_inputs))
        self.readout = rng.uniform(-0.1, 0.1, (spec.n_outputs, p["units"] + 1))  # last: bias

    @property
    def n_weights(self) -> int:
        return self.readout.size  # only the readout learns

    def is_finite(self) -> bool:
        return bool(np.isfinite(self.readout).all())

    def _states(self, block: SequenceBlock) -> np.ndarray:
        """Reservoir states of every sequence, (n, T, units + 1), a constant 1 appended."""
        n, steps, _ = block.inputs.shape
        states = np.ones((n, steps, self.params["units"] + 1))
        h = np.zeros((n, self.params["units"]))  # every sequence starts from rest
        for t in range(steps):  # one step of all n sequences at once
            h = np.tanh(h @ self.recurrent.T + block.inputs[:, t] @ self.input.T)
            states[:, t, :-1] = h
        return states

    def _deltas(self, block: SequenceBlock, i: int, y: np.ndarray) -> np.ndarray:
        """dE/d(net input) of the readout units on sequence ``i``: zero where no target."""
        has_target = block.target_mask[i, :, None] & (np.arange(len(y)) < block.lengths[i])[:, None]
        return np.where(has_target, (y - block.targets[i]) * y * (1.0 - y), 0.0)

    def train(self, block: SequenceBlock) -> np.ndarray:
        states = self._states(block)
        outputs = np.zeros((len(block), block.inputs.shape[1], self.readout.shape[0]))
        for i in range(len(block)):  # on-line: each sequence sees the previous one's update
            outputs[i] = 1.0 / (1.0 + np.exp(-states[i] @ self.readout.T))
            grad = self._deltas(block, i, outputs[i]).T @ states[i]
            self.readout -= self.params["learning_rate"] * grad
        return outputs

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._states(block) @ self.readout.T))

    # the optional gradient protocol of seqbench.testing
    def get_weights(self) -> np.ndarray:
        return self.readout.ravel().copy()

    def set_weights(self, weights: np.ndarray) -> None:
        self.readout[:] = np.reshape(weights, self.readout.shape)

    def loss_gradient(self, block: SequenceBlock) -> np.ndarray:
        states, outputs = self._states(block), self.predict(block)
        grad = sum(self._deltas(block, i, outputs[i]).T @ states[i] for i in range(len(block)))
        return np.ravel(grad)


@hookimpl
def seqbench_register_learners(register):
    register(Reservoir)
