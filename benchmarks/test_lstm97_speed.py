"""Speed of the LSTM97 kernel at the paper's Experiment 1 size (276 weights).

Reports ns per trained time step and per weight-step in ``extra_info``, and the speed-up of the
numba kernel over the readable NumPy reference measured in the same run (a ratio, which drifts
far less than absolute times on shared machines).

    pytest benchmarks --benchmark-enable
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from seqbench.contracts import TaskStreams
from seqbench_learners.lstm97 import reference as ref
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_learners.lstm97.presets import PRESETS
from seqbench_tasks.reber import EmbeddedReber

PRESET = next(p for p in PRESETS if p.name == "exp1-3x2-lr0.5")


@pytest.fixture(scope="module")
def reber_block():
    task = EmbeddedReber(**{k: p.default for k, p in EmbeddedReber.params.items()})
    run = task.start(TaskStreams(*(np.random.default_rng(i) for i in range(3))))
    return run.training_block(100)


def _learner(spec_rng=0):
    params = {k: p.default for k, p in LSTM97.params.items()}
    params.update(PRESET.learner_params)
    learner = LSTM97(**params)
    learner.build(EmbeddedReber(**{k: p.default for k, p in EmbeddedReber.params.items()}).spec(),
                  np.random.default_rng(spec_rng))
    learner.compile()
    return learner


def test_lstm97_train_reber_block(benchmark, reber_block):
    learner = _learner()
    benchmark(learner.train, reber_block)
    steps = reber_block.n_steps
    ns = benchmark.stats.stats.mean / steps * 1e9 if benchmark.stats else float("nan")
    benchmark.extra_info.update(ns_per_step=ns, ns_per_weight_step=ns / learner.n_weights,
                                n_weights=learner.n_weights, steps_per_call=steps)


def test_lstm97_predict_reber_block(benchmark, reber_block):
    learner = _learner()
    benchmark(learner.predict, reber_block)
    if benchmark.stats:
        benchmark.extra_info["ns_per_step"] = benchmark.stats.stats.mean / reber_block.n_steps * 1e9


def test_lstm97_kernel_vs_reference_ratio(reber_block):
    """The kernel must be much faster than the NumPy reference of the same rule (one run)."""
    learner = _learner()
    sub = reber_block.take(np.arange(10))
    t0 = time.perf_counter()
    for _ in range(20):
        learner.train(sub)
    kernel_s = (time.perf_counter() - t0) / 20
    L, wh, wo = learner.layout, learner.wh.copy(), learner.wo.copy()
    t0 = time.perf_counter()
    for i in range(len(sub)):
        n = sub.lengths[i]
        _, wh, wo, *_ = ref.run_sequence(L, wh, wo, sub.inputs[i, :n], sub.targets[i, :n],
                                         sub.target_mask[i, :n], alpha=0.5, mode="step")
    reference_s = time.perf_counter() - t0
    ratio = reference_s / kernel_s
    print(f"\nLSTM97 kernel {kernel_s / sub.n_steps * 1e9:.0f} ns/step, reference "
          f"{reference_s / sub.n_steps * 1e9:.0f} ns/step: kernel {ratio:.0f}x faster")
    assert ratio > 20


@pytest.fixture(scope="module")
def lane_blocks():
    """One 100-string Reber block per lane, each from its own trial's stream."""
    task = EmbeddedReber(**{k: p.default for k, p in EmbeddedReber.params.items()})
    return [task.start(TaskStreams(*(np.random.default_rng(10 * i + j) for j in range(3))))
            .training_block(100) for i in range(LSTM97.batch_lanes)]


def test_lstm97_train_batched(benchmark, lane_blocks):
    """``batch_lanes`` trials trained together: ns per trial-step and per weight-step."""
    learners = [_learner(seed) for seed in range(len(lane_blocks))]
    benchmark(LSTM97.train_batch, learners, lane_blocks)
    steps = sum(b.n_steps for b in lane_blocks)
    ns = benchmark.stats.stats.mean / steps * 1e9 if benchmark.stats else float("nan")
    benchmark.extra_info.update(ns_per_step=ns, ns_per_weight_step=ns / learners[0].n_weights,
                                n_weights=learners[0].n_weights, lanes=len(learners),
                                steps_per_call=steps)


def _best_of_alternating(first, second, repeats=7) -> tuple[float, float]:
    """The best time of each of two functions, run in turn, so that a burst of load from other
    processes slows both alike rather than only whichever ran during it."""
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((first, second)):
            t0 = time.perf_counter()
            fn()
            best[i] = min(best[i], time.perf_counter() - t0)
    return best[0], best[1]


def test_lstm97_batched_vs_lone_ratio(lane_blocks):
    """Trials advanced together must beat the same trials trained one at a time (one run)."""
    learners = [_learner(seed) for seed in range(len(lane_blocks))]
    LSTM97.train_batch(learners, lane_blocks)  # compile this lane count
    batched, lone = _best_of_alternating(
        lambda: LSTM97.train_batch(learners, lane_blocks),
        lambda: [ln.train(b) for ln, b in zip(learners, lane_blocks)])
    steps = sum(b.n_steps for b in lane_blocks)
    W = learners[0].n_weights
    print(f"\nLSTM97 at the Reber preset ({W} weights): one trial at a time "
          f"{lone / steps * 1e9:.0f} ns/step ({lone / steps / W * 1e9:.2f} ns/weight-step); "
          f"{len(learners)} lanes {batched / steps * 1e9:.0f} ns/trial-step "
          f"({batched / steps / W * 1e9:.2f} ns/weight-step): {lone / batched:.1f}x")
    assert lone / batched > 1.3
