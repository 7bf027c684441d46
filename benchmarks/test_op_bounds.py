"""BPTT, RTRL and Elman against an operation-count bound, measured in one run.

The bound of a learner's trained time step is the number of multiply-adds its rule needs, times
the machine's cost of one multiply-add in the access pattern the rule allows, both measured here:

- **BPTT** (epochwise): the forward pass reads every connection once (W multiply-adds); the
  backward pass propagates each step's deltas through every connection (W) and accumulates every
  weight's gradient (W): **3W**. Its sums are dot products in a fixed order (strict IEEE
  arithmetic: the order is part of the result), so each multiply-add is a link of a dependent
  chain: cost ``t_chain``.
- **Elman** (one-step rule): forward W, the output deltas back to the hidden units through the
  hidden-to-output connections (H), every weight's change (W): **2W + H**, at ``t_chain``.
- **RTRL**: forward W; each unit-to-unit connection (U of them, delayed or not) carries the
  sensitivity of every weight (U x W); the outputs' errors times their sensitivities (K x W):
  **(1 + U + K) W**. The sensitivity updates of different weights are independent, so they stream:
  cost ``t_stream``.

``t_chain`` and ``t_stream`` come from two minimal numba loops over arrays in the L1 cache. A
kernel cannot beat its bound by much; the test asserts it stays within 3x of it when benchmarks
are enabled (``pytest benchmarks --benchmark-enable``), and within 10x in the ordinary run (so
that it never depends on the load of a shared machine but still catches a gross slowdown).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from numba import njit

from seqbench.contracts import TaskStreams
from seqbench.params import resolve_params
from seqbench.plugins import get_registry

CASES = [("bptt", "exp1-12h-lr0.1"), ("elman", "exp1-15h"), ("rtrl", "exp1-12h-lr0.1"),
         ("rtrl", "exp1-3h-lr0.05")]


@njit(cache=True)
def _streams(w, x, y, reps):
    # independent multiply-adds of a row times a scalar into an accumulator row, the pattern of
    # RTRL's sensitivity update (one weight per lane)
    for _ in range(reps):
        for u in range(w.shape[0]):
            c = x[u]
            for v in range(w.shape[1]):
                y[v] += c * w[u, v]


@njit(cache=True)
def _chains(w, x, y, reps):
    for _ in range(reps):
        for u in range(w.shape[0]):
            acc = 0.0
            for v in range(w.shape[1]):
                acc += w[u, v] * x[v]
            y[u] += acc


def _per_multiply_add(kernel) -> float:
    w, x, y = np.random.default_rng(0).random((32, 64)), np.ones(64), np.zeros(64)
    kernel(w, x, y, 1)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        kernel(w, x, y, 2000)
        best = min(best, time.perf_counter() - t0)
    return best / (2000 * w.size) * 1e9


def multiply_adds(name: str, learner) -> tuple[int, str]:
    """Multiply-adds per trained step of ``learner``'s rule and the access pattern they allow."""
    net, W = learner.network, learner.n_weights
    m, n, K = net.n_inputs, net.n_units, len(net.outputs)
    from_unit = (net.src >= m) & (net.src < m + n)
    if name == "bptt":
        return 3 * W, "chain"
    if name == "elman":
        hidden_to_output = int(np.isin(net.dst, net.outputs).sum())
        return 2 * W + hidden_to_output, "chain"
    return (1 + int(from_unit.sum()) + K) * W, "stream"


@pytest.fixture(scope="module")
def costs():
    return {"chain": _per_multiply_add(_chains), "stream": _per_multiply_add(_streams)}


@pytest.mark.parametrize("name,preset", CASES)
def test_within_three_times_the_operation_count_bound(name, preset, costs, request):
    registry = get_registry()
    cls, task_cls = registry.learner(name), registry.task("reber")
    learner = cls(**resolve_params(cls.params, registry.preset(name, preset, "reber")
                                   .learner_params, name))
    task = task_cls(**resolve_params(task_cls.params, {}, "reber"))
    learner.build(task.spec(), np.random.default_rng(0))
    learner.compile()
    block = task.start(TaskStreams(*(np.random.default_rng(i) for i in range(3)))) \
        .training_block(100)
    learner.train(block)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        learner.train(block)
        best = min(best, time.perf_counter() - t0)
    measured = best / block.n_steps * 1e9
    ops, pattern = multiply_adds(name, learner)
    bound = ops * costs[pattern]
    ratio = measured / bound
    print(f"\n{name} {preset}: W {learner.n_weights}, {ops:,} multiply-adds per step "
          f"({pattern}, {costs[pattern]:.3f} ns each): bound {bound:,.0f} ns, measured "
          f"{measured:,.0f} ns/step, {ratio:.2f}x the bound")
    enabled = not request.config.getoption("benchmark_disable", default=True)
    assert ratio <= (3.0 if enabled else 10.0)
