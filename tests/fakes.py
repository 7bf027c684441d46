"""Small fake task and learners for harness tests (no numba, instant)."""

from __future__ import annotations

import numpy as np

from seqbench.blocks import SequenceBlock, final_step_outputs
from seqbench.contracts import Learner, Task, TaskRun, TaskSpec
from seqbench.criteria import SuccessiveCorrect
from seqbench.hookspecs import hookimpl
from seqbench.params import Param


class CopyRun(TaskRun):
    def __init__(self, streams, need):
        self.rng = streams.data
        self.criterion = SuccessiveCorrect(need, name=f"{need} successive correct")

    def training_block(self, n):
        x = self.rng.uniform(size=(n, 3, 1))
        y = np.zeros((n, 3, 1))
        y[:, -1, 0] = x[:, 0, 0] > 0.5
        mask = np.zeros((n, 3), bool)
        mask[:, -1] = True
        return SequenceBlock(x, y, mask, np.full(n, 3))

    def judge(self, block, outputs):
        err = np.abs(final_step_outputs(block, outputs) - block.targets[:, -1])[:, 0]
        return err < 0.5, err

    def evaluate(self, predict):
        return {"test_error": 0.25}


class FirstBit(Task):
    """Remember whether the first input exceeds 0.5 until the third step."""

    name = "first-bit"
    summary = "toy task for harness tests"
    params = {"need": Param(5, "successive correct sequences to succeed", "int", low=1)}
    default_budget = 1000
    default_trials = 2

    def spec(self):
        return TaskSpec(1, 1, targets="final_step")

    def start(self, streams):
        return CopyRun(streams, self.params["need"])


class Oracle(Learner):
    """Answers correctly from the start; records every block it sees."""

    name = "oracle"
    params = {"bad_after": Param(-1, "emit NaN from this block on (-1: never)", "int"),
              "raise_after": Param(-1, "raise from this block on (-1: never)", "int")}
    seen: list = []

    def build(self, spec, rng):
        self.blocks = 0

    @property
    def n_weights(self):
        return 1

    def train(self, block):
        Oracle.seen.append(block.inputs.copy())
        self.blocks += 1
        if self.params["raise_after"] >= 0 and self.blocks > self.params["raise_after"]:
            raise ValueError("learner exploded on purpose")
        return self.predict(block)

    def predict(self, block):
        out = np.zeros(block.targets.shape)
        out[:, -1, 0] = block.inputs[:, 0, 0] > 0.5
        if self.params["bad_after"] >= 0 and self.blocks > self.params["bad_after"]:
            out[:] = np.nan
        return out


class Dunce(Oracle):
    """Always wrong."""

    name = "dunce"

    def predict(self, block):
        return 1.0 - super().predict(block)


class FakePlugin:
    @hookimpl
    def seqbench_register_tasks(self, register):
        register(FirstBit)

    @hookimpl
    def seqbench_register_learners(self, register):
        register(Oracle)
        register(Dunce)
