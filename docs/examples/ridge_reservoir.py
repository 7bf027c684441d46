"""A complete, minimal set learner: a fixed random reservoir with a ridge-regression readout.

A set learner does not learn from a stream: the harness hands it the task's fixed training set and
it fits in its own way. Here that is one pass of every training sequence through a fixed random
tanh reservoir, then one closed-form ridge regression (scikit-learn) from the reservoir states at
the steps with a target to those targets. The fit is complete after that pass, so it asks to be
judged and stops: if the task's check fails, the trial ends as ``stopped``.
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import Ridge

from seqbench.blocks import SequenceBlock
from seqbench.contracts import SetLearner, TaskSpec, Work
from seqbench.hookspecs import hookimpl
from seqbench.params import Param


class RidgeReservoir(SetLearner):
    """Echo-state network whose linear readout is fitted once, in closed form, on the set."""

    name = "ridge-reservoir"
    summary = "fixed random tanh reservoir, ridge-regression readout fitted on the training set"
    params = {
        "units": Param(50, "reservoir units", "int", low=1, high=10_000),
        "spectral_radius": Param(0.9, "largest |eigenvalue| of the reservoir's weights", "float",
                                 low=0.0, high=10.0),
        "input_scale": Param(1.0, "input weights uniform in [-s, s]", "float", low=0.0, high=100.0),
        "alpha": Param(1e-3, "ridge penalty on the readout weights", "float", low=0.0, high=1e6),
        "sample_size": Param(100, "sequences sampled from an on-line task's stream to fit on",
                             "int", low=1, high=1_000_000),
    }
    #: small parameters for seqbench.testing's conformance checks
    test_params = {"units": 20}

    def build(self, spec: TaskSpec, rng: np.random.Generator) -> None:
        p = self.params
        recurrent = rng.normal(size=(p["units"], p["units"]))
        radius = np.max(np.abs(np.linalg.eigvals(recurrent)))
        self.recurrent = recurrent * (p["spectral_radius"] / radius)
        self.input = rng.uniform(-p["input_scale"], p["input_scale"], (p["units"], spec.n_inputs))
        self.readout = np.zeros((spec.n_outputs, p["units"] + 1))  # last column: bias
        self.fitted = False

    @property
    def n_weights(self) -> int:
        return self.readout.size  # only the readout is fitted

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

    def fit(self, training_set: SequenceBlock, allowance: int) -> Work:
        n = len(training_set)
        if self.fitted:
            return Work(sequences=0, time_steps=0, stopped=True)
        if allowance < n:  # the one pass does not fit into what is left of the budget
            return Work(sequences=0, time_steps=0)
        states = self._states(training_set)
        real = np.arange(states.shape[1])[None, :] < training_set.lengths[:, None]
        use = training_set.target_mask & real
        ridge = Ridge(alpha=self.params["alpha"], fit_intercept=False)
        ridge.fit(states[use], training_set.targets[use])
        self.readout = np.array(ridge.coef_, dtype=np.float64).reshape(self.readout.shape)
        self.fitted = True
        return Work(sequences=n, time_steps=training_set.n_steps, check=True, stopped=True)

    def predict(self, block: SequenceBlock) -> np.ndarray:
        return self._states(block) @ self.readout.T


@hookimpl
def seqbench_register_learners(register):
    register(RidgeReservoir)
