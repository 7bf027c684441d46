"""Speed of every task generator, in ns per generated time step.

For each task, with the task parameters of its paper presets (lag: the 2a, 2b and 2c presets,
p = 100 and q = 100; two-sequence: 3a, T = 100, N = 3; the others at their defaults, which are
the paper's):

* ``test_training_block``: ``run.training_block(100)``, the harness's block of training
  sequences (successive calls, as a trial makes them; the steps are counted over the calls
  actually timed, since lengths vary);
* ``test_test_set``: the generation of the task's final test set where that is cheap:
  ``generate(streams.test, 2560)`` for the final-target tasks of Exps. 3-6 (what
  ``FinalTargetRun.evaluate`` draws), ``task.start(streams)`` where the start draws the test set
  (reber: both 256-string sets, their encoding and the check set; lag-2b/2c: the 10,000 test
  sequences as symbols; latch and parity: the fixed training and test sets). Left out: lag-2a,
  whose test set is its two training sequences, and the one-hot encoding of the lag tests, which
  happens inside the frozen test, chunk by chunk, with a learner.

``benchmark.extra_info`` holds ``ns_per_step`` and ``steps_per_call`` (and ``n_weights`` /
``ns_per_weight_step`` as ``None``: a generator has no weights, the keys are kept so every
seqbench benchmark has the same fields). See docs/benchmarks.md.

    pytest benchmarks/test_generator_speed.py --benchmark-enable
"""

from __future__ import annotations

import numpy as np
import pytest

from seqbench.contracts import TaskStreams
from seqbench.params import resolve_params

BLOCK = 100


def _task(name: str, params):
    from seqbench_tasks.adding import Adding
    from seqbench_tasks.lag import Lag2a, Lag2b, Lag2c
    from seqbench_tasks.latch import Latch
    from seqbench_tasks.multiplication import Multiplication
    from seqbench_tasks.parity import Parity
    from seqbench_tasks.reber import EmbeddedReber
    from seqbench_tasks.temporal_order import TemporalOrder
    from seqbench_tasks.two_sequence import TwoSequence

    classes = {c.name: c for c in (Adding, Lag2a, Lag2b, Lag2c, Latch, Multiplication, Parity,
                                   EmbeddedReber, TemporalOrder, TwoSequence)}
    cls = classes[name]
    return cls(**resolve_params(cls.params, dict(params), name))


def _streams(seed: int = 0) -> TaskStreams:
    return TaskStreams(*(np.random.default_rng([seed, i]) for i in range(3)))


def _record(benchmark, steps: float, **extra) -> None:
    stats = getattr(benchmark, "stats", None)
    ns = stats.stats.mean / steps * 1e9 if stats and steps else None
    benchmark.extra_info.update(ns_per_step=ns, ns_per_weight_step=None, n_weights=None,
                                steps_per_call=steps, **extra)


#: (id, task, task parameters, how its test set is generated: "final" (generate 2,560 from the
#: test stream), "start" (task.start draws it) or None (left out))
CASES = [
    ("reber", "reber", {}, "start"),
    ("lag-2a-p100", "lag-2a", {"p": 100}, None),
    ("lag-2b-p100", "lag-2b", {"p": 100}, "start"),
    ("lag-2c-q100-p100", "lag-2c", {"q": 100, "p": 100}, "start"),
    ("two-sequence-3a-T100-N3", "two-sequence", {"variant": "a", "T": 100, "N": 3}, "final"),
    ("adding-T100", "adding", {"T": 100}, "final"),
    ("multiplication-T100", "multiplication", {"T": 100}, "final"),
    ("temporal-order-6a", "temporal-order", {"variant": "a"}, "final"),
    ("latch-I", "latch", {"variant": "I"}, "start"),
    ("parity", "parity", {}, "start"),
]


@pytest.mark.parametrize("name,params", [(c[1], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_training_block(benchmark, name, params):
    task = _task(name, params)
    run = task.start(_streams())
    steps: list[int] = []
    sequences: list[int] = []

    def block():
        b = run.training_block(BLOCK)
        steps.append(b.n_steps)
        sequences.append(len(b))
        return b

    benchmark(block)
    assert sequences[-1] == BLOCK
    _record(benchmark, float(np.mean(steps)), sequences_per_call=BLOCK)


def _test_set_steps(run) -> int:
    """Time steps of the test data a task's start drew (see the module docstring)."""
    if hasattr(run, "test_lengths"):  # lag: symbols of the test sequences (steps = length - 1)
        return int((run.test_lengths - 1).sum())
    return sum(b.n_steps for b in (run.train_set, run.test_set))


TEST_CASES = [c for c in CASES if c[3] is not None]


@pytest.mark.parametrize("name,params,kind", [(c[1], c[2], c[3]) for c in TEST_CASES],
                         ids=[c[0] for c in TEST_CASES])
def test_test_set(benchmark, name, params, kind):
    from seqbench_tasks.final_step import FINAL_TEST_SIZE

    task = _task(name, params)
    if kind == "final":
        run = task.start(_streams())

        def setup():
            return (np.random.default_rng([0, 2]), FINAL_TEST_SIZE), {}

        block = benchmark.pedantic(run.generate, setup=setup, rounds=10, warmup_rounds=1)
        assert len(block) == FINAL_TEST_SIZE
        _record(benchmark, block.n_steps, sequences_per_call=FINAL_TEST_SIZE,
                what="generate(streams.test, 2560)")
    else:
        def setup():
            return (_streams(),), {}

        run = benchmark.pedantic(task.start, setup=setup, rounds=10, warmup_rounds=1)
        _record(benchmark, _test_set_steps(run), what="task.start(streams)")
