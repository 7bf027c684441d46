"""Speed of every learner kernel except lstm97 (which has its own file), at the size of the
paper preset it runs on.

* stream learners (bptt, rtrl, elman, chunker): one ``train`` and one ``predict`` call on a
  100-sequence training block of the preset's task, the net at the preset's size;
* rcc (a set learner, Reber preset): ``fit`` with a fixed allowance of 5 epochs in the output
  phase and in the candidate phase (its two training kernels), and ``predict`` on the training
  set;
* guessing (a set learner, parity A1 preset): one call of the search kernel over a fixed number
  of draws, and ``predict`` on the training set.

Every learner is compiled first (``learner.compile()``) and every seed is fixed. Each timed
training call starts from the same state (a copy of the freshly built learner, made untimed by
``benchmark.pedantic``'s setup), so the work per call is the same in every round and on every
commit: the chunker, for one, costs less once its automatizer predicts well, and BPTT skips
zero deltas.

``benchmark.extra_info`` holds ``ns_per_step`` (mean seconds per call / time steps per call),
``ns_per_weight_step`` (that over ``n_weights``), ``n_weights`` (the weights the timed kernel
trains, see each test) and ``steps_per_call``; the ns figures are ``None`` when the benchmark ran
disabled (the default ``--benchmark-disable`` of the test run: one untimed call each). See
docs/benchmarks.md.

    pytest benchmarks/test_learner_speed.py --benchmark-enable
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from seqbench.contracts import TaskStreams
from seqbench.params import resolve_params

#: training sequences per benchmarked block (the harness's own block size)
BLOCK = 100
#: rcc: epochs (passes over the 256 training strings) per timed fit call
RCC_EPOCHS = 5
#: guessing: weight draws per timed search call
GUESS_DRAWS = 500


def _streams(seed: int = 0) -> TaskStreams:
    return TaskStreams(*(np.random.default_rng([seed, i]) for i in range(3)))


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


def _preset(module: str, name: str):
    import importlib

    presets = importlib.import_module(f"seqbench_learners.{module}.presets").PRESETS
    return next(p for p in presets if p.name == name)


def _learner_class(name: str):
    from seqbench_learners.bptt.learner import BPTT
    from seqbench_learners.chunker.learner import Chunker
    from seqbench_learners.elman.learner import Elman
    from seqbench_learners.guessing.learner import Guessing
    from seqbench_learners.rcc.learner import RCC
    from seqbench_learners.rtrl.learner import RTRL

    return {c.name: c for c in (BPTT, Chunker, Elman, Guessing, RCC, RTRL)}[name]


def _setup(learner_name: str, preset_name: str, seed: int = 0):
    """(task, run, learner): the preset's task started on fixed streams and the preset's learner
    built with a fixed seed and compiled."""
    preset = _preset(learner_name, preset_name)
    task = _task(preset.task, preset.task_params)
    run = task.start(_streams(seed))
    cls = _learner_class(learner_name)
    learner = cls(**resolve_params(cls.params, dict(preset.learner_params), learner_name))
    learner.build(task.spec(), np.random.default_rng([seed, 99]))
    run.learner_carries_state = learner.carries_state
    learner.compile()
    return task, run, learner


def _record(benchmark, steps: int, n_weights: int, **extra) -> None:
    """Store the per-step figures in ``extra_info`` (ns ``None`` when no stats were taken)."""
    stats = getattr(benchmark, "stats", None)
    ns = stats.stats.mean / steps * 1e9 if stats and steps else None
    benchmark.extra_info.update(
        ns_per_step=ns,
        ns_per_weight_step=ns / n_weights if ns is not None and n_weights else None,
        n_weights=int(n_weights), steps_per_call=int(steps), **extra)


def _copy_block(block):
    """A private copy (lag tasks refill their training block's buffers on the next call)."""
    return copy.deepcopy(block)


# -- stream learners: train and predict on one 100-sequence block --------------------------------

#: (learner, preset, rounds of the timed train call): every default preset of the three gradient
#: baselines and of the chunker, at its paper size
STREAM_CASES = [
    ("bptt", "exp1-12h-lr0.1", 20),  # reber, 12 hidden, fully recurrent, 494 weights
    ("bptt", "exp2a-p100-lr1", 5),  # lag-2a p = 100, 10404 weights
    ("rtrl", "exp1-12h-lr0.1", 5),  # reber, 494 weights, O(n^2 W) per step
    ("rtrl", "exp2a-p4-lr1", 20),  # lag-2a p = 4, 36 weights
    ("elman", "exp1-15h", 20),  # reber, 435 weights
    ("chunker", "exp2a-p100", 5),  # lag-2a p = 100, 20910 weights (A and C)
]
_IDS = [f"{learner}@{preset}" for learner, preset, _ in STREAM_CASES]


@pytest.fixture(scope="module", params=STREAM_CASES, ids=_IDS)
def stream_case(request):
    learner_name, preset_name, rounds = request.param
    task, run, learner = _setup(learner_name, preset_name)
    block = _copy_block(run.training_block(BLOCK))
    return learner, block, rounds


def test_train_block(benchmark, stream_case):
    """One ``train`` call on the block, from the freshly built (compiled) learner every round."""
    learner, block, rounds = stream_case
    snapshot = copy.deepcopy(learner)

    def setup():
        return (copy.deepcopy(snapshot), block), {}

    out = benchmark.pedantic(lambda lrn, b: lrn.train(b), setup=setup, rounds=rounds,
                             warmup_rounds=1)
    assert out.shape[0] == len(block)
    _record(benchmark, block.n_steps, learner.n_weights, sequences_per_call=len(block))


def test_predict_block(benchmark, stream_case):
    """One ``predict`` call on the block (frozen net, nothing changes between rounds)."""
    learner, block, _ = stream_case
    out = benchmark(learner.predict, block)
    assert out.shape[0] == len(block)
    _record(benchmark, block.n_steps, learner.n_weights, sequences_per_call=len(block))


# -- rcc: output and candidate epochs through fit, and predict ------------------------------------

@pytest.fixture(scope="module")
def rcc_case():
    task, run, learner = _setup("rcc", "exp1-rcc")
    training_set = run.training_set()
    return learner, training_set


def _rcc_to_candidate_phase(learner, training_set):
    """Fit epoch by epoch until the first candidate phase has passed its correlations epoch."""
    n = len(training_set)
    for _ in range(1000):
        if learner._phase == "candidate" and learner._cand_i >= 0:
            return learner
        learner.fit(training_set, n)
    raise AssertionError("rcc never reached its candidate phase")


def test_rcc_fit_output_epochs(benchmark, rcc_case):
    """``fit`` with an allowance of RCC_EPOCHS epochs at the start (the output phase of the
    bare net: output_epoch kernel and Quickprop). n_weights: the output weights trained."""
    learner, training_set = rcc_case
    allowance = RCC_EPOCHS * len(training_set)

    def setup():
        return (copy.deepcopy(learner), training_set, allowance), {}

    work = benchmark.pedantic(lambda lrn, s, a: lrn.fit(s, a), setup=setup, rounds=10,
                              warmup_rounds=1)
    assert work.sequences == allowance and not work.check
    _record(benchmark, work.time_steps, learner.n_weights, epochs_per_call=RCC_EPOCHS,
            phase="output")


def test_rcc_fit_candidate_epochs(benchmark, rcc_case):
    """``fit`` with an allowance of RCC_EPOCHS epochs inside the first candidate phase (the
    candidate_epoch kernel training the whole pool). n_weights: the pool's weights (16
    candidates x (bias, 7 inputs, self-loop)); steps: cases (time steps) per epoch x epochs."""
    learner, training_set = rcc_case
    start = _rcc_to_candidate_phase(copy.deepcopy(learner), training_set)
    allowance = RCC_EPOCHS * len(training_set)

    def setup():
        return (copy.deepcopy(start), training_set, allowance), {}

    work = benchmark.pedantic(lambda lrn, s, a: lrn.fit(s, a), setup=setup, rounds=10,
                              warmup_rounds=1)
    assert work.sequences == allowance
    _record(benchmark, work.time_steps, start._cw.size, epochs_per_call=RCC_EPOCHS,
            phase="candidate", candidates=start._cw.shape[0])


def test_rcc_predict(benchmark, rcc_case):
    """``predict`` on the 256 training strings with the net after its first output phase."""
    learner, training_set = rcc_case
    trained = _rcc_to_candidate_phase(copy.deepcopy(learner), training_set)
    out = benchmark(trained.predict, training_set)
    assert out.shape[0] == len(training_set)
    _record(benchmark, training_set.n_steps, trained.n_weights)


# -- guessing: one search call over a fixed number of draws, and predict ---------------------------

@pytest.fixture(scope="module")
def guessing_case():
    task, run, learner = _setup("guessing", "guess-parity-a1")
    return learner, run.training_set()


def test_guessing_search(benchmark, guessing_case):
    """One call of the search kernel over the first GUESS_DRAWS draws of the preset's draw
    stream (early rejection, as the preset runs); steps: the time steps the kernel ran, its own
    count (a rejected draw stops at its first wrong final output)."""
    from seqbench_learners.guessing.kernel import search

    g, data = guessing_case
    p = g.params
    thetas = g._thetas[:GUESS_DRAWS].copy()
    args = (thetas, 0, 0, False, 10**9, GUESS_DRAWS, bool(p["early_rejection"]), g._W,
            g._row_ptr, g._row_col, g._rows, g._cols, g._n_out, g._activation, g._latch1,
            data.inputs, data.targets, data.target_mask, data.lengths,
            0 if p["accept"] == "abs" else 1, float(p["tolerance"]), g._middle)

    def call():
        return search(*args)

    status, pos, seq, failed, sequences, steps, started, last = benchmark(call)
    assert steps > 0
    _record(benchmark, int(steps), g.n_weights, draws_per_call=int(started),
            sequences_per_call=int(sequences))


def test_guessing_predict(benchmark, guessing_case):
    """``predict`` on the 100 training sequences (500-600 steps each) with draw 0."""
    g, data = guessing_case
    out = benchmark(g.predict, data)
    assert out.shape[0] == len(data)
    _record(benchmark, data.n_steps, g.n_weights)
