"""Random weight guessing: the kernel against the NumPy reference, the draw stream, early
rejection, geometric draw counts against an independent brute-force estimate, the set-learner
protocol (cuts, caps, continuation after a rejected candidate) and short trials."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from seqbench_learners.guessing import reference as ref
from seqbench_learners.guessing.learner import DRAW_CHUNK, Guessing, network
from seqbench_tasks.latch import Latch
from seqbench_tasks.parity import Parity

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec, TaskStreams
from seqbench.params import resolve_params
from seqbench.testing import check_learner
from seqbench.trial import TrialSpec, run_trial, stream


def make(**params) -> Guessing:
    return Guessing(**resolve_params(Guessing.params, params, "guessing"))


def make_task(cls, **params):
    return cls(**resolve_params(cls.params, params, cls.name))


def training_set(task, seed: int = 0) -> SequenceBlock:
    streams = TaskStreams(stream(seed, "data", 0), stream(seed, "order", 0),
                          stream(seed, "test", 0))
    return task.start(streams).training_set()


def built(spec: TaskSpec, seed: int = 0, **params) -> Guessing:
    learner = make(**params)
    learner.build(spec, np.random.default_rng(seed))
    return learner


def fit_to_candidate(learner: Guessing, data: SequenceBlock, allowance: int = 10**9):
    """Call fit until the learner offers a candidate or stops; (sequences, steps, work)."""
    sequences = steps = 0
    while True:
        work = learner.fit(data, allowance)
        sequences += work.sequences
        steps += work.time_steps
        if work.check or work.stopped:
            return sequences, steps, work


def random_block(rng, m: int, K: int, n: int = 4, T: int = 30) -> SequenceBlock:
    lengths = rng.integers(1, T + 1, size=n)
    lengths[0] = T
    x = rng.choice([-1.0, 1.0], size=(n, T, m)) + rng.normal(0.0, 0.3, size=(n, T, m))
    return SequenceBlock(x, np.zeros((n, T, K)), np.ones((n, T), bool), lengths)


def draw_stream(seed: int, n_params: int, weight_range: float, count: int) -> np.ndarray:
    """The first ``count`` draws of a learner built from ``default_rng(seed)``, as the learner
    module documents them (chunks of DRAW_CHUNK rows)."""
    rng = np.random.default_rng(seed)
    chunks = -(-count // DRAW_CHUNK)
    rows = [rng.uniform(-weight_range, weight_range, (DRAW_CHUNK, n_params))
            for _ in range(chunks)]
    return np.concatenate(rows)[:count]


def reference_nets(architecture: str, thetas: np.ndarray, hidden: int = 1, **kw):
    """Full weight matrices (D, U, 2U+m+1) and latch parameters of draws, for 1 in / 1 out."""
    mask, fixed, latch1 = network(architecture, 1, 1, hidden, **kw)
    rows, cols = np.nonzero(mask)
    Ws = np.repeat(fixed[None], len(thetas), axis=0)
    Ws[:, rows, cols] = thetas[:, :len(rows)]
    return Ws, (thetas[:, len(rows):] if latch1 else None)


# --- architectures -------------------------------------------------------------------------


def test_weight_counts():
    """A1 with one hidden unit, 1 input and 1 output: 2 units x (2 from units + input + bias);
    A2 with 10 hidden: 10 x (input, output, self, bias) + output (10 hidden, itself, input,
    bias) = 40 + 13; without self-connections 30 + 13; the latch nets 3 free parameters."""
    spec = TaskSpec(1, 1, "final_step")
    assert built(spec, architecture="a1", hidden=1).n_weights == 8
    assert built(spec, architecture="a1", hidden=1, timing="wz").n_weights == 8
    assert built(spec, architecture="a1", hidden=1, output_bias=False).n_weights == 7
    assert built(spec, architecture="a2", hidden=10).n_weights == 53
    assert built(spec, architecture="a2", hidden=10, timing="wz").n_weights == 53
    assert built(spec, architecture="a2", hidden=10, self_connections=False).n_weights == 43
    assert built(spec, architecture="latch1").n_weights == 3
    assert built(spec, architecture="latch2").n_weights == 3
    # 3 hidden, 2 in, 2 out: every unit reads 5 units + 2 inputs + bias
    assert built(TaskSpec(2, 2), architecture="a1", hidden=3).n_weights == 40


def test_three_phase_outputs_read_hidden_units_of_the_same_step():
    """Three-phase A1: hidden units read all units at t-1; outputs read hidden units at t and
    outputs at t-1. Williams-Zipser A1: everything at t-1. Inputs and bias everywhere."""
    mask, _, _ = network("a1", 1, 1, 1)  # columns: h(t-1), o(t-1), h(t), o(t), x, bias
    assert mask.astype(int).tolist() == [[1, 1, 0, 0, 1, 1], [0, 1, 1, 0, 1, 1]]
    mask, _, _ = network("a1", 1, 1, 1, timing="wz")
    assert mask.astype(int).tolist() == [[1, 1, 0, 0, 1, 1], [1, 1, 0, 0, 1, 1]]
    mask, _, _ = network("a2", 1, 1, 2, self_connections=False)
    assert mask.astype(int).tolist() == [[0, 0, 1, 0, 0, 0, 1, 1], [0, 0, 1, 0, 0, 0, 1, 1],
                                         [0, 0, 1, 1, 1, 0, 1, 1]]


def test_williams_zipser_a1_cannot_compute_parity():
    """Why the default is the three-phase step: in Williams-Zipser timing the final output is
    f(a(state at t-1) + v x(t)), so flipping the last input moves it the same way whatever the
    prefix, while parity needs opposite ways after odd and even prefixes. Checked on random
    W&Z nets: the direction always has the sign of the output's input weight."""
    rng = np.random.default_rng(3)
    thetas = rng.uniform(-100, 100, (200, 8))
    Ws, _ = reference_nets("a1", thetas, timing="wz")
    prefixes = rng.choice([-1.0, 1.0], size=(6, 9))
    x = np.concatenate([np.repeat(prefixes, 2, axis=0),
                        np.tile([[1.0], [-1.0]], (6, 1))], axis=1)[:, :, None]
    final = ref.final_outputs_many(Ws, 1, "logistic", x, np.full(12, 10))[:, :, 0]
    rise = final[:, 0::2] - final[:, 1::2]  # output(+1 last) - output(-1 last), per prefix
    v_out = Ws[:, 1, 4]
    assert np.all(rise * v_out[:, None] >= 0)


# --- kernel against the reference ----------------------------------------------------------


CASES = [
    {"architecture": "a1", "hidden": 1},
    {"architecture": "a1", "hidden": 3},
    {"architecture": "a1", "hidden": 3, "timing": "wz"},
    {"architecture": "a2", "hidden": 10},
    {"architecture": "a2", "hidden": 10, "self_connections": False},
    {"architecture": "a2", "hidden": 4, "timing": "wz"},
    {"architecture": "latch1"},
    {"architecture": "latch2"},
]


@pytest.mark.parametrize("activation", ["logistic", "tanh"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_kernel_matches_reference(case, activation):
    latch = case["architecture"].startswith("latch")
    m, K = (1, 1) if latch else (2, 2)
    rng = np.random.default_rng(11)
    for seed in range(4):
        for weight_range in (100.0, 3.0):
            learner = built(TaskSpec(m, K), seed, activation=activation,
                            weight_range=weight_range, **case)
            block = random_block(rng, m, K)
            W, latch_params = learner.weights()
            want = ref.forward(W, K, "tanh" if latch else activation, block.inputs,
                               block.lengths, latch_params)
            got = learner.predict(block)
            assert np.max(np.abs(got - want)) < 1e-12
            # and the batched reference agrees at the sequence ends
            ends = ref.final_outputs_many(W[None], K, "tanh" if latch else activation,
                                          block.inputs, block.lengths,
                                          None if latch_params is None
                                          else np.array([latch_params]))[0]
            last = got[np.arange(len(block)), block.lengths - 1]
            assert np.max(np.abs(ends - last)) < 1e-12


def test_latch1_reads_its_class_parameters():
    """latch1 at the first step: tanh(h+) after a positive first input, tanh(h-) otherwise;
    afterwards tanh(w y + x)."""
    learner = built(TaskSpec(1, 1), 0, architecture="latch1")
    W, (h_pos, h_neg) = learner.weights()
    w = W[0, 0]
    x = np.array([[[0.5], [0.2], [-0.1]], [[-0.5], [0.3], [0.0]]])
    out = learner.predict(SequenceBlock(x, np.zeros((2, 3, 1)), np.ones((2, 3), bool),
                                        np.array([3, 3])))[:, :, 0]
    for q, h in ((0, h_pos), (1, h_neg)):
        y = math.tanh(h)
        assert out[q, 0] == pytest.approx(y, abs=1e-15)
        for t in (1, 2):
            y = math.tanh(w * y + x[q, t, 0])
            assert out[q, t] == pytest.approx(y, abs=1e-12)


def test_squashing_is_stable_for_huge_net_inputs():
    from seqbench_learners.guessing.kernel import LOGISTIC, TANH, squash

    for net in (1e4, -1e4, 1e300, -1e300, 39.9, -39.9, 40.0, -40.0, 0.0):
        for act, name in ((LOGISTIC, "logistic"), (TANH, "tanh")):
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                want = float(ref.squash(np.array(net), name))
            assert squash(net, act) == want
    assert squash(1e4, LOGISTIC) == 1.0 and squash(-1e4, LOGISTIC) == 0.0
    assert squash(-1e4, TANH) == -1.0
    # exactly the textbook logistic where it is not flat
    assert squash(-30.0, LOGISTIC) == math.exp(-30.0) / (1.0 + math.exp(-30.0))
    # whole nets with weights of 10^4: |net| in the tens of thousands, no warning, no NaN
    rng = np.random.default_rng(2)
    for case in CASES:
        latch = case["architecture"].startswith("latch")
        m, K = (1, 1) if latch else (2, 2)
        learner = built(TaskSpec(m, K), 5, weight_range=1e4, **case)
        block = random_block(rng, m, K)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with np.errstate(over="raise", invalid="raise", divide="raise"):
                W, latch_params = learner.weights()
                want = ref.forward(W, K, "tanh" if latch else "logistic", block.inputs,
                                   block.lengths, latch_params)
            got = learner.predict(block)
        assert np.isfinite(got).all() and np.max(np.abs(got - want)) < 1e-12


# --- the draw stream and early rejection ---------------------------------------------------


def _short_parity():
    return make_task(Parity, min_length=3, max_length=6, n_train=6)


def test_the_accepted_draw_is_the_first_the_reference_accepts():
    """Rebuild the learner's documented draw stream from its seed, judge every draw on every
    training sequence with the reference (no early rejection): the first one that passes is
    the learner's candidate, and its count of draws is that index + 1."""
    task = _short_parity()
    data = training_set(task)
    for seed in (1, 2, 3):
        learner = built(task.spec(), seed, architecture="a1", hidden=1)
        fit_to_candidate(learner, data)
        draws = learner.diagnostics()["draws"]
        thetas = draw_stream(seed, 8, 100.0, draws + 50)
        Ws, _ = reference_nets("a1", thetas)
        final = ref.final_outputs_many(Ws, 1, "logistic", data.inputs, data.lengths)
        ok = (np.abs(final - data.extras["reference"][None]) < 0.1).all(axis=(1, 2))
        assert ok.any()
        first = int(np.flatnonzero(ok)[0])
        assert draws == first + 1
        W, _ = learner.weights()
        assert np.array_equal(W, Ws[first])
        # the reference's per-step judge agrees with the batched one on the candidate
        outputs = ref.forward(W, 1, "logistic", data.inputs, data.lengths)
        assert ref.passes(outputs, data.targets, data.target_mask, data.lengths, "abs", 0.1,
                          0.5).all()


def test_early_rejection_changes_the_work_not_the_draws():
    task = _short_parity()
    data = training_set(task)
    for seed in (4, 5):
        results = []
        for early in (True, False):
            learner = built(task.spec(), seed, architecture="a1", early_rejection=early)
            sequences, steps, work = fit_to_candidate(learner, data)
            results.append((learner.diagnostics(), learner.weights()[0], sequences))
        (d_early, w_early, s_early), (d_full, w_full, s_full) = results
        assert d_early["draws"] == d_full["draws"] > 1
        assert np.array_equal(w_early, w_full)
        assert s_full == d_full["draws"] * len(data) > s_early
        assert d_full["sequences_evaluated"] == s_full


# --- geometric draw counts -----------------------------------------------------------------


GEOMETRIC = [
    # (task, learner params, acceptance); p about 0.125 and 0.09
    (dict(cls=Latch, variant="I", min_length=10, max_length=15, n_train=6),
     dict(architecture="latch1", accept="sign"), "sign"),
    (dict(cls=Latch, variant="II", min_length=10, max_length=15, n_train=4),
     dict(architecture="a1", hidden=1, activation="tanh"), "abs"),
]


@pytest.mark.parametrize("task_params, learner_params, accept", GEOMETRIC,
                         ids=["latch1-sign", "a1-tanh-abs"])
def test_draw_counts_are_geometric_with_mean_one_over_p(task_params, learner_params, accept):
    """p is estimated by brute force, independently of the learner: 50,000 nets drawn with
    NumPy, each judged on the whole training set by the NumPy reference. The mean draw count
    of 2,000 seeded learner runs must match 1/p: z = (mean - 1/p) / sqrt(var(mean) + var(1/p))
    with var(mean) = (1 - p) / (p^2 R) (geometric) and var(1/p) = (1 - p) / (p^3 M) (delta
    method); |z| < 4. For the latch1 case an error of one draw per run gives z of about 5, so
    the test can fail; the share of runs solved at the first draw must match p as well."""
    params = dict(task_params)
    task = make_task(params.pop("cls"), **params)
    data = training_set(task, seed=7)
    arch = learner_params["architecture"]
    activation = "tanh" if arch.startswith("latch") else learner_params.get("activation")
    M = 50_000
    n_params = built(task.spec(), 0, **learner_params).n_weights
    thetas = np.random.default_rng(12345).uniform(-100, 100, (M, n_params))
    Ws, latch = reference_nets(arch, thetas, learner_params.get("hidden", 1))
    final = ref.final_outputs_many(Ws, 1, activation, data.inputs, data.lengths, latch)
    target = data.extras["reference"][None]
    if accept == "abs":
        ok = (np.abs(final - target) < 0.1).all(axis=(1, 2))
    else:
        ok = (final * target > 0).all(axis=(1, 2))
    p = ok.mean()
    assert 0.02 < p < 0.5

    R = 2000
    draws = np.empty(R)
    for r in range(R):
        learner = built(task.spec(), 10_000 + r, **learner_params)
        _, _, work = fit_to_candidate(learner, data)
        assert work.check
        draws[r] = learner.diagnostics()["draws"]
    var_mean = (1 - p) / (p * p * R)
    var_inverse = (1 - p) / (p ** 3 * M)
    z = (draws.mean() - 1 / p) / math.sqrt(var_mean + var_inverse)
    assert abs(z) < 4, (draws.mean(), 1 / p, z)
    first = (draws == 1).mean()
    z_first = (first - p) / math.sqrt(p * (1 - p) / R + p * (1 - p) / M)
    assert abs(z_first) < 4, (first, p, z_first)
    assert draws.min() >= 1


# --- the set-learner protocol --------------------------------------------------------------


def test_results_do_not_depend_on_how_calls_are_cut():
    task = _short_parity()
    data = training_set(task)
    whole = built(task.spec(), 9, architecture="a1")
    n_whole, s_whole, _ = fit_to_candidate(whole, data)
    for allowance in (1, 2, 5, 7):
        cut = built(task.spec(), 9, architecture="a1")
        total, steps = 0, 0
        while True:
            work = cut.fit(data, allowance)
            assert 1 <= work.sequences <= allowance
            total += work.sequences
            steps += work.time_steps
            if work.check:
                break
        assert (total, steps) == (n_whole, s_whole)
        assert cut.diagnostics() == whole.diagnostics()
        assert np.array_equal(cut.weights()[0], whole.weights()[0])


def test_a_rejected_candidate_is_followed_by_the_next_draw():
    """If the harness's criterion rejects a candidate, the next fit call goes on drawing: two
    candidates in a row are the first two draws the reference accepts."""
    task = _short_parity()
    data = training_set(task)
    learner = built(task.spec(), 1, architecture="a1")
    fit_to_candidate(learner, data)
    first = learner.diagnostics()["draws"]
    fit_to_candidate(learner, data)
    second = learner.diagnostics()["draws"]
    assert second > first and learner.diagnostics()["candidates"] == 2
    thetas = draw_stream(1, 8, 100.0, second)
    Ws, _ = reference_nets("a1", thetas)
    final = ref.final_outputs_many(Ws, 1, "logistic", data.inputs, data.lengths)
    ok = (np.abs(final - data.extras["reference"][None]) < 0.1).all(axis=(1, 2))
    assert list(np.flatnonzero(ok)[:2] + 1) == [first, second]


def test_max_draws_stops_the_search():
    task = make_task(Parity, min_length=20, max_length=30, n_train=20)
    data = training_set(task)
    learner = built(task.spec(), 0, architecture="a1", max_draws=1500)
    total = 0
    while True:
        work = learner.fit(data, 700)
        total += work.sequences
        if work.stopped:
            break
        assert not work.check  # parity of 20-30 steps is never solved in 1,500 draws here
    assert learner.diagnostics()["draws"] == 1500
    assert learner.diagnostics()["sequences_evaluated"] == total
    again = learner.fit(data, 700)
    assert again.stopped and again.sequences == 0


def test_draws_span_chunks():
    """More draws than one chunk: the stream continues in the next chunk of the generator."""
    task = make_task(Parity, min_length=20, max_length=30, n_train=20)
    data = training_set(task)
    learner = built(task.spec(), 3, architecture="a1", max_draws=DRAW_CHUNK + 5)
    fit_to_candidate(learner, data)
    assert learner.diagnostics()["draws"] == DRAW_CHUNK + 5
    W, _ = learner.weights()
    last = draw_stream(3, 8, 100.0, DRAW_CHUNK + 5)[-1]
    want, _ = reference_nets("a1", last[None])
    assert np.array_equal(W, want[0])


def test_conformance_kit():
    """The kit on A2 and on the parity task's sequences (tests/test_conformance.py runs it
    with the learner's test_params on the kit's toy task). The latch nets take one input and
    one output only, so the kit's sizing check does not apply to them."""
    check_learner(Guessing, {"architecture": "a2", "hidden": 3},
                  task=make_task(Parity, min_length=8, max_length=12, n_train=10))


def test_latch_nets_refuse_other_shapes():
    from seqbench.errors import ParamError

    for arch in ("latch1", "latch2"):
        with pytest.raises(ParamError, match="one unit with one input"):
            built(TaskSpec(2, 1), architecture=arch)


# --- through the harness -------------------------------------------------------------------


@pytest.mark.parametrize("task, task_params, learner_params, budget", [
    ("latch", {"variant": "II"}, {"architecture": "latch2"}, 5_000),
    ("parity", {"min_length": 30, "max_length": 40}, {"architecture": "a2", "hidden": 10,
                                                       "self_connections": False}, 30_000),
])
def test_short_trials(task, task_params, learner_params, budget):
    from seqbench.plugins import get_registry

    registry = get_registry()
    spec = TrialSpec(task=task, learner="guessing",
                     task_params=resolve_params(registry.task(task).params, task_params, task),
                     learner_params=resolve_params(Guessing.params, learner_params, "guessing"),
                     seed=0, trial=0, budget=budget)
    result = run_trial(spec, registry)
    assert result.status == "solved", result.error or result.stop_reason
    assert 0 < result.sequences_to_success <= budget
    assert result.diagnostics["draws"] >= 1
    assert result.diagnostics["sequences_evaluated"] == result.sequences
    assert result.metrics["train_error"] == 0.0
    assert 0.0 <= result.metrics["test_error"] <= 1.0
    assert result.n_weights == {"latch": 3, "parity": 43}[task]
