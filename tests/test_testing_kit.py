"""The conformance kit can fail: each check catches the flaw it is for, and names itself.

The flawed plugins are one-line departures from the plugin guide's minimal learner and task
(docs/examples), which pass every check.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from seqbench import testing
from seqbench.params import Param

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"guide_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Reservoir = _load("reservoir").Reservoir
SumSign = _load("sum_sign").SumSign


def test_the_guide_examples_pass_every_check():
    assert set(testing.check_learner(Reservoir).values()) == {"passed"}
    assert set(testing.check_learner(Reservoir, task=SumSign).values()) == {"passed"}
    assert set(testing.check_task(SumSign).values()) == {"passed"}


# --- learners with one flaw each ----------------------------------------------------------------


class LeaksState(Reservoir):
    """Starts every sequence from a state that depends on the other sequences of its block."""

    def _states(self, block):
        states = super()._states(block)
        return states + states[:, :1].mean(axis=0, keepdims=True) * 0.1


class PredictTrains(Reservoir):
    def predict(self, block):
        super().train(block)
        return super().predict(block)


class IgnoresSeed(Reservoir):
    def build(self, spec, rng):
        super().build(spec, np.random.default_rng(0))


class ConstructorWorks(Reservoir):
    def __init__(self, **params):
        super().__init__(**params)
        self.cache = {}


class Float32Outputs(Reservoir):
    def predict(self, block):
        return super().predict(block).astype(np.float32)


class WrongGradient(Reservoir):
    def loss_gradient(self, block):
        return 1.01 * super().loss_gradient(block)


class HalfGradientProtocol(Reservoir):
    loss_gradient = None


class IntDefaultForFloat(Reservoir):
    params = {**Reservoir.params, "learning_rate": Param(1, "an int default of a float", "float")}


class SplitSensitive(Reservoir):
    """Learns once per call instead of once per sequence."""

    def train(self, block):
        rate = self.params["learning_rate"]
        self.params["learning_rate"] = 0.0
        outputs = super().train(block)
        self.params["learning_rate"] = rate
        states = self._states(block)
        self.readout -= rate * sum(self._deltas(block, i, outputs[i]).T @ states[i]
                                   for i in range(len(block)))
        return outputs


@pytest.mark.parametrize("learner, params, check", [
    (LeaksState, None, testing.check_learner_resets_state),
    (PredictTrains, None, testing.check_learner_predict_is_pure),
    (IgnoresSeed, None, testing.check_learner_determinism),
    (ConstructorWorks, None, testing.check_learner_constructor),
    (Float32Outputs, None, testing.check_learner_output_shapes),
    (WrongGradient, None, testing.check_learner_gradient),
    (HalfGradientProtocol, None, testing.check_learner_gradient),
    (IntDefaultForFloat, None, testing.check_learner_declaration),
    (SplitSensitive, None, testing.check_learner_block_split),
    (Reservoir, {"learning_rate": 0.0}, testing.check_learner_learns),
], ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_a_flawed_learner_fails_its_check(learner, params, check):
    name = check.__name__
    checks = dict(testing.learner_checks(learner, params))
    with pytest.raises(AssertionError, match=f"^{name} failed for learner 'reservoir'"):
        checks[name]()


def test_check_learner_names_the_first_failed_check():
    with pytest.raises(AssertionError, match="^check_learner_output_shapes failed .* float32"):
        testing.check_learner(Float32Outputs)


def test_a_learner_without_the_gradient_protocol_is_skipped_not_passed():
    class NoGradient(Reservoir):
        get_weights = set_weights = loss_gradient = None

    outcome = testing.check_learner(NoGradient)
    assert outcome["check_learner_gradient"].startswith("skipped")


def test_the_finite_difference_check_sees_lstm97s_truncation():
    """lstm97 declares its gradient truncated; claiming it exact must fail on longer sequences,
    so the one-step check it passes is not vacuous."""
    from seqbench_learners.lstm97.learner import LSTM97

    class ClaimsExact(LSTM97):
        gradient_truncated = False

    checks = dict(testing.learner_checks(ClaimsExact))
    with pytest.raises(AssertionError, match="differs from finite differences"):
        checks["check_learner_gradient"]()
    dict(testing.learner_checks(LSTM97))["check_learner_gradient"]()


# --- tasks with one flaw each -------------------------------------------------------------------


class GlobalRandom(SumSign):
    def start(self, streams):
        run = super().start(streams)
        run.training_block = lambda n: _sum_sign_block(np.random.default_rng(
            np.random.randint(1 << 30)), n, run.length)
        return run


class FixedSeed(SumSign):
    def start(self, streams):
        fixed = np.random.default_rng(0)
        return super().start(type(streams)(data=fixed, order=fixed, test=fixed))


class JudgesEverythingCorrect(SumSign):
    def start(self, streams):
        run = super().start(streams)
        judge = run.judge
        run.judge = lambda block, outputs: (np.ones(len(block), bool), judge(block, outputs)[1])
        return run


class WrongSpec(SumSign):
    def spec(self):
        return super().spec().__class__(n_inputs=2, n_outputs=1, targets="final_step")


class ClaimsEveryStep(SumSign):
    def spec(self):
        return super().spec().__class__(n_inputs=1, n_outputs=1, targets="every_step")


class TextMetric(SumSign):
    def start(self, streams):
        run = super().start(streams)
        run.evaluate = lambda predict: {"test_error": "none"}
        return run


_sum_sign_block = _load("sum_sign").sum_sign_block


@pytest.mark.parametrize("task, check", [
    (GlobalRandom, testing.check_task_determinism),
    (FixedSeed, testing.check_task_determinism),
    (JudgesEverythingCorrect, testing.check_task_rejects_constants),
    (JudgesEverythingCorrect, testing.check_task_trial),
    (WrongSpec, testing.check_task_blocks),
    (ClaimsEveryStep, testing.check_task_blocks),
    (TextMetric, testing.check_task_evaluate),
], ids=lambda v: getattr(v, "__name__", None) or str(v))
def test_a_flawed_task_fails_its_check(task, check):
    name = check.__name__
    with pytest.raises(AssertionError, match=f"^{name} failed for task 'sum-sign'"):
        dict(testing.task_checks(task))[name]()


def test_test_params_are_used_and_validated():
    assert testing.learner_case(Reservoir).params["units"] == 20
    assert testing.learner_case(Reservoir, {"units": 7}).params["units"] == 7

    class BadTestParams(Reservoir):
        test_params = {"units": -1}

    with pytest.raises(AssertionError, match="^check_learner_declaration failed.*test_params"):
        dict(testing.learner_checks(BadTestParams, {"units": 3}))["check_learner_declaration"]()
