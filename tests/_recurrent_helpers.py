"""Helpers shared by the tests of the gradient baselines (bptt, rtrl, elman)."""

from __future__ import annotations

import numpy as np
from seqbench_learners.recurrent import reference as ref
from seqbench_learners.recurrent.network import Network, random_network

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.trial import TrialSpec, run_trial


def random_problem(seed: int, m: int = 3, n: int = 5, K: int = 2, T: int = 7, scale: float = 1.0):
    """A random sparse net with delay-0 and delay-1 links, weights, and one sequence."""
    rng = np.random.default_rng(seed)
    net = random_network(rng, m, n, K)
    w = net.initial_weights(rng, scale)
    x = rng.normal(size=(T, m))
    d = rng.uniform(size=(T, K))
    mask = rng.uniform(size=T) < 0.7
    mask[-1] = True
    return net, w, x, d, mask


def block_of(x, d, mask) -> SequenceBlock:
    """A one-sequence block."""
    return SequenceBlock(x[None], d[None], mask[None], np.array([len(x)]))


def make_learner(cls, net: Network | None = None, w: np.ndarray | None = None, **params):
    """A learner of ``cls`` with ``params`` over defaults; optionally put on a given net/weights."""
    learner = cls(**resolve_params(cls.params, params, cls.name))
    spec = TaskSpec(net.n_inputs, net.n_outputs) if net is not None else TaskSpec(7, 7)
    learner.build(spec, np.random.default_rng(0))
    if net is not None:
        learner.use_network(net, w)
    return learner


def finite_differences(loss, w, eps: float = 1e-6) -> np.ndarray:
    """Central finite differences of ``loss(w)``, one weight at a time."""
    g = np.zeros_like(w)
    for c in range(len(w)):
        plus, minus = w.copy(), w.copy()
        plus[c] += eps
        minus[c] -= eps
        g[c] = (loss(plus) - loss(minus)) / (2 * eps)
    return g


def assert_rel_close(a, b, rel: float) -> None:
    """Max absolute difference below ``rel`` times the largest magnitude, and not vacuous."""
    scale = max(np.abs(a).max(), np.abs(b).max())
    assert scale > 1e-6, "vacuous comparison: gradients are all zero"
    err = np.abs(a - b).max()
    assert err <= rel * scale, (err, scale)


def reber_trial(learner: str, preset: str, budget: int, **overrides):
    """One trial of ``learner`` with ``preset`` on reber, through the harness."""
    registry = get_registry()
    p = registry.preset(learner, preset)
    tp = resolve_params(registry.task(p.task).params, p.task_params, "task")
    lp = resolve_params(registry.learner(learner).params, {**p.learner_params, **overrides},
                        learner)
    return run_trial(TrialSpec(p.task, learner, tp, lp, seed=1, trial=0, budget=budget), registry)


__all__ = [
    "assert_rel_close",
    "block_of",
    "finite_differences",
    "make_learner",
    "random_problem",
    "reber_trial",
    "ref",
]
