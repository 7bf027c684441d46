"""The ``rcc`` learner (Recurrent Cascade-Correlation): kernels against the NumPy reference, the
candidate gradient against finite differences, the cache and freezing, the set-learner protocol
(counting, resumable fits, stopping), and a trial through the harness."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from seqbench_learners.rcc import reference as ref
from seqbench_learners.rcc.learner import RCC, patience_rule
from seqbench_tasks.reber import EmbeddedReber

from seqbench.blocks import SequenceBlock
from seqbench.contracts import TaskSpec
from seqbench.params import resolve_params
from seqbench.trial import TrialSpec, run_trial, stream, task_streams_for

SMALL = {"max_units": 3, "candidates": 4, "outlimit": 6, "inlimit": 6, "output_patience": 2,
         "input_patience": 2}


def make(seed=0, spec=None, **params):
    learner = RCC(**resolve_params(RCC.params, {**SMALL, **params}, "rcc"))
    learner.build(spec or TaskSpec(7, 7), stream(seed, "init", 0))
    return learner


def reber_run(n=16, seed=0):
    task = EmbeddedReber(**resolve_params(EmbeddedReber.params, {"n_train": n, "n_test": n},
                                          "reber"))
    spec = TrialSpec(task="reber", learner="rcc", task_params=task.params, learner_params={},
                     seed=seed, trial=0, budget=1)
    return task.start(task_streams_for(spec, task))


def random_block(rng, lengths, m, K):
    n, T = len(lengths), max(lengths)
    x = rng.normal(size=(n, T, m))
    y = rng.uniform(size=(n, T, K))
    return SequenceBlock(x, y, np.ones((n, T), bool), np.array(lengths))


def random_net(rng, m, K, H, scale=1.0):
    hw = rng.uniform(-scale, scale, (H, 1 + m + H))
    hs = rng.uniform(-scale, scale, H)
    ow = rng.uniform(-scale, scale, (K, 1 + m + H))
    return hw, hs, ow


def install_net(learner, hw, hs, ow):
    """Put a given cascade into a built learner (tests only)."""
    H, n = len(hs), ow.shape[1]
    learner._hw[:H, :hw.shape[1]] = hw
    learner._hs[:H] = hs
    learner._H = H
    learner._ow[:, :n] = ow


def case_values(rng, lengths, m, hw, hs):
    """Time-ordered values rows of a cascade over random sequences, and their breaks."""
    x = rng.normal(size=(sum(lengths), m))
    breaks = np.zeros(len(x), bool)
    breaks[np.concatenate(([0], np.cumsum(lengths)[:-1]))] = True
    values, start = [], 0
    for L in lengths:
        v, _ = ref.forward(hw, hs, np.zeros((1, 1 + m + len(hs))), x[start:start + L])
        values.append(v)
        start += L
    return np.concatenate(values), breaks


# -- kernels against the reference ------------------------------------------------------------

@pytest.mark.parametrize("target_range", [(0.0, 1.0), (-1.0, 3.0)])
def test_forward_kernel_matches_reference(target_range):
    rng = np.random.default_rng(1)
    m, K, H = 3, 2, 3
    learner = make(spec=TaskSpec(m, K, target_range=target_range), max_units=5)
    hw, hs, ow = random_net(rng, m, K, H, 1.5)
    install_net(learner, hw, hs, ow)
    block = random_block(rng, [5, 1, 8, 3], m, K)
    out = learner.predict(block)
    low, high = target_range
    for q, L in enumerate(block.lengths):
        _, sym = ref.forward(hw, hs, ow, block.inputs[q, :L])
        np.testing.assert_allclose(out[q, :L], low + (sym + 0.5) * (high - low), rtol=0,
                                   atol=1e-12)
        assert np.all(out[q, L:] == 0.0)


def test_output_epoch_kernel_matches_reference():
    from seqbench_learners.rcc.kernel import output_epoch

    rng = np.random.default_rng(2)
    m, K, H, C = 3, 4, 2, 40
    hw, hs, ow = random_net(rng, m, K, H)
    values, _ = case_values(rng, [10, 20, 10], m, hw, hs)
    targets = rng.choice([-0.5, 0.5], size=(C, K))
    mask = rng.uniform(size=C) < 0.8
    for raw in (False, True):
        slopes, errors, sum_err = np.zeros((K, values.shape[1])), np.zeros((C, K)), np.zeros(K)
        bits, true_err, sse = output_epoch(values, values.shape[1], targets, mask, ow, slopes,
                                           errors, sum_err, 0.1, 0.4, False, raw)
        e_ref, s_ref, bits_ref, true_ref = ref.output_epoch(values, targets, mask, ow, 0.1, 0.4,
                                                            raw)
        np.testing.assert_allclose(errors, e_ref, rtol=0, atol=1e-12)
        np.testing.assert_allclose(slopes, s_ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(sum_err, e_ref.sum(axis=0), atol=1e-12)
        assert bits == bits_ref and true_err == pytest.approx(true_ref, rel=1e-12)
        assert sse == pytest.approx(np.sum(e_ref ** 2), rel=1e-12)


def _pool_problem(seed, ws_scale=1.0, Kc=3):
    rng = np.random.default_rng(seed)
    m, K, H = 3, 2, 2
    hw, hs, _ = random_net(rng, m, K, H)
    lengths = [6, 1, 9, 4]
    values, breaks = case_values(rng, lengths, m, hw, hs)
    errors = rng.normal(size=(len(values), K)) * 0.2
    n = values.shape[1]
    cw = rng.uniform(-1, 1, (Kc, n + 1))
    cw[:, n] *= ws_scale
    return values, breaks, errors, cw


def _kernel_pool(values, breaks, errors, cw, signs, train=True):
    from seqbench_learners.rcc.kernel import candidate_epoch

    Kc, n = cw.shape[0], values.shape[1]
    K = errors.shape[1]
    cor, sum_v = np.zeros((Kc, K)), np.zeros(Kc)
    slopes, dv, vprev = np.zeros((Kc, n + 1)), np.zeros((Kc, n + 1)), np.zeros(Kc)
    candidate_epoch(values, n, breaks, errors, errors.mean(axis=0), 1.0 / np.sum(errors ** 2),
                    cw, signs, train, cor, sum_v, slopes, dv, vprev)
    return slopes, cor, sum_v


def test_candidate_epoch_kernel_matches_reference():
    values, breaks, errors, cw = _pool_problem(3)
    n = values.shape[1]
    signs = np.array([[1.0, -1.0], [-1.0, -1.0], [0.0, 1.0]])  # a 0 counts as + (cascor1)
    slopes, cor, sum_v = _kernel_pool(values, breaks, errors, cw, signs)
    for u in range(len(cw)):
        sigma = np.where(signs[u] < 0, -1.0, 1.0)
        want = ref.candidate_slopes(values, breaks, errors, cw[u, :n], cw[u, n], sigma)
        np.testing.assert_allclose(slopes[u], want, rtol=1e-12, atol=1e-12)
        v = ref.candidate_values(values, breaks, cw[u, :n], cw[u, n])
        np.testing.assert_allclose(cor[u], v @ errors, rtol=1e-12, atol=1e-12)
        assert sum_v[u] == pytest.approx(v.sum(), rel=1e-12, abs=1e-12)
    # without training only the covariance sums are made
    no_slopes, cor2, _ = _kernel_pool(values, breaks, errors, cw, signs, train=False)
    assert np.all(no_slopes == 0.0) and np.array_equal(cor, cor2)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_candidate_gradient_equals_central_finite_differences(seed):
    """The slopes are −∂S/∂w of S = Σ_o |Σ_p (V_p − V̄)(E_po − Ē_o)| / SSE (the per-output
    covariance over the sum of squared residuals, cascor1's normalisation), for every candidate
    weight, the self-recurrent one included, with the signs taken from the current covariances
    (the learner uses the previous epoch's, cascor1's stale-sign trick)."""
    values, breaks, errors, cw = _pool_problem(seed, ws_scale=1.5)
    n = values.shape[1]
    covs = np.array([ref.covariances(ref.candidate_values(values, breaks, w[:n], w[n]), errors)
                     for w in cw])
    slopes, _, _ = _kernel_pool(values, breaks, errors, cw, covs)
    h = 1e-6
    for u in range(len(cw)):
        numeric = np.zeros(n + 1)
        for i in range(n + 1):
            plus, minus = cw[u].copy(), cw[u].copy()
            plus[i] += h
            minus[i] -= h
            numeric[i] = (ref.score(values, breaks, errors, plus[:n], plus[n])
                          - ref.score(values, breaks, errors, minus[:n], minus[n])) / (2 * h)
        np.testing.assert_allclose(slopes[u], -numeric, rtol=1e-6, atol=1e-9)
        assert abs(numeric[n]) > 1e-4  # the self-weight really is tested


def test_without_self_weights_the_recursion_is_cascor1s_feedforward_slope():
    """With w_s = 0 the derivative of V is f'(net)·I: the slope is cascor1's COMPUTE-SLOPES sum
    Σ_p dir_p f'(V_p) I_ip of feed-forward Cascade-Correlation."""
    values, breaks, errors, cw = _pool_problem(7, ws_scale=0.0)
    n = values.shape[1]
    covs = np.array([ref.covariances(ref.sym_sigmoid(values @ w[:n]), errors) for w in cw])
    slopes, cor, _ = _kernel_pool(values, breaks, errors, cw, covs)
    sse = np.sum(errors ** 2)
    centred = errors - errors.mean(axis=0)
    for u in range(len(cw)):
        v = ref.sym_sigmoid(values @ cw[u, :n])  # no recurrence: values are feed-forward
        direction = -(centred * np.where(covs[u] < 0, -1.0, 1.0)).sum(axis=1) / sse
        want = (direction * (0.25 - v ** 2)) @ values
        np.testing.assert_allclose(slopes[u, :n], want, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(cor[u], v @ errors, rtol=1e-12, atol=1e-14)


# -- the learner's cache, installation and freezing -------------------------------------------

def fit_epochs(learner, data, until):
    """Fit one epoch per call until ``until(learner)``; returns the Work records."""
    works = []
    for _ in range(100_000):
        if until(learner):
            return works
        works.append(learner.fit(data, len(data)))
        assert works[-1].sequences == len(data)
    raise AssertionError("condition never met")


def test_cached_activations_after_installation_equal_a_fresh_forward_pass():
    data = reber_run().training_set()
    learner = make(max_units=3)
    seen = []
    fit_epochs(learner, data, lambda lr: lr.units == 3)
    hw, hs = learner._hw[:3, :11], learner._hs[:3]
    ow = learner._ow[:, :11]
    start, cache = 0, learner._data["values"]
    for q, L in enumerate(data.lengths):
        values, out = ref.forward(hw, hs, ow, data.inputs[q, :L])
        np.testing.assert_allclose(cache[start:start + L, :11], values, rtol=0, atol=1e-12)
        seen.append(out)
        start += L
    assert start == len(cache)
    predicted = learner.predict(data)
    for q, L in enumerate(data.lengths):
        np.testing.assert_allclose(predicted[q, :L], seen[q] + 0.5, atol=1e-12)


def test_install_freezes_the_best_candidate_with_output_weights_from_its_covariance():
    data = reber_run().training_set()
    learner = make(weight_multiplier=0.5)
    records = []
    original = learner._install

    def spy():
        u, n = learner._best, learner._n
        best = int(np.argmax(np.abs(learner._prev_cor).sum(axis=1)))
        w, cov = learner._cw[u].copy(), learner._prev_cor[u].copy()
        original()
        # the highest Σ_o |covariance| of the last pass, its weights (self-weight included)
        # frozen as it stands after its last Quickprop step
        assert u == best
        h = learner.units - 1
        assert np.array_equal(learner._hw[h, :n], w[:n]) and learner._hs[h] == w[n]
        assert np.all(learner._hw[h, n:] == 0.0)
        # its output weights start at −(covariance of the last pass) · multiplier
        np.testing.assert_array_equal(learner._ow[:, n], -0.5 * cov)
        # and its column of the cache is its value at every case, in time order
        d = learner._data
        v = ref.candidate_values(d["values"], d["breaks"], w[:n], w[n])
        np.testing.assert_allclose(d["values"][:, n], v, rtol=0, atol=1e-12)
        records.append(u)

    learner._install = spy
    fit_epochs(learner, data, lambda lr: lr.units == 2)
    assert len(records) == 2


def test_a_frozen_units_weights_never_change():
    data = reber_run().training_set()
    learner = make(max_units=3)
    frozen = {}

    def watch(lr):
        for h in range(lr.units):
            frozen.setdefault(h, (lr._hw[h].copy(), float(lr._hs[h])))
        for h, (w, s) in frozen.items():
            assert np.array_equal(lr._hw[h], w) and lr._hs[h] == s, f"unit {h} changed"
        return lr._phase == "done"

    fit_epochs(learner, data, watch)
    assert len(frozen) == 3


def test_candidate_training_raises_the_best_score():
    # Quickprop minimises the accumulated slopes, −∂S/∂w: the pool climbs its score
    data = reber_run().training_set()
    learner = make(inlimit=30, input_patience=0)
    scores = []
    original = learner._adjust_correlations

    def spy():
        original()
        scores.append(learner._best_score)

    learner._adjust_correlations = spy
    fit_epochs(learner, data, lambda lr: lr.units == 1)
    assert len(scores) == 31 and scores[-1] > 1.5 * scores[0]


def test_candidate_epoch_covariances_use_the_chosen_mean_error():
    data = reber_run().training_set()
    for mode in ("output", "overall"):
        learner = make(error_mean=mode)
        fit_epochs(learner, data, lambda lr: lr._phase == "candidate" and lr._cand_i >= 0)
        d, n = learner._data, learner._n
        E = d["errors"]
        mean = E.mean(axis=0) if mode == "output" else np.full(E.shape[1], E.mean())
        # the correlations epoch ran on the pool's initial weights, untouched by Quickprop
        for u in range(len(learner._cw)):
            v = ref.candidate_values(d["values"], d["breaks"], learner._cw[u, :n],
                                     learner._cw[u, n])
            want = (v @ E - v.sum() * mean) / np.sum(E ** 2)
            np.testing.assert_allclose(learner._prev_cor[u], want, rtol=1e-10, atol=1e-14)


def test_n_weights_counts_the_cascade():
    learner = make(max_units=5)
    assert learner.n_weights == 7 * 8
    rng = np.random.default_rng(0)
    install_net(learner, *random_net(rng, 7, 7, 2))
    # unit 1: bias, 7 inputs, self (9); unit 2: + unit 1 (10); outputs 7 x (1 + 7 + 2)
    assert learner.n_weights == 9 + 10 + 70


# -- the set-learner protocol -----------------------------------------------------------------

def state(learner):
    return (learner._ow.copy(), learner._hw.copy(), learner._hs.copy(), learner._cw.copy(),
            learner._cd.copy(), learner._od.copy(), learner._op.copy(), learner.units,
            learner.output_epochs, learner.candidate_epochs, learner._phase)


def same_state(a, b):
    for x, y in zip(state(a), state(b)):
        assert (np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y)


def drive(learner, data, total, chunks):
    """Fit until ``total`` sequences are presented, each call allowed the next chunk size."""
    presented, i = 0, 0
    while presented < total:
        allowance = min(chunks[i % len(chunks)], total - presented)
        i += 1
        work = learner.fit(data, allowance)
        assert 0 <= work.sequences <= allowance
        if allowance < len(data):
            assert work.sequences == 0 and work.time_steps == 0
        presented += work.sequences
        if work.stopped:
            break
    return presented


def test_fit_gives_the_same_net_however_the_allowance_is_cut():
    data = reber_run().training_set()
    n = len(data)
    total = 30 * n  # into the third unit's candidate phase
    one = make()
    assert drive(one, data, total, [10 ** 9]) == total
    for chunks in ([3 * n, 7 * n + 5], [n, 2 * n - 1, 5], [17 * n]):
        other = make()
        assert drive(other, data, total, chunks) == total
        same_state(one, other)
        assert np.array_equal(one.predict(data), other.predict(data))


def test_work_counts_every_pass_and_small_allowances_do_nothing():
    data = reber_run().training_set()
    learner = make()
    assert learner.fit(data, len(data) - 1) == type(learner.fit(data, 0))(0, 0)
    sequences = steps = 0
    while True:
        work = learner.fit(data, 5 * len(data) + 3)
        sequences += work.sequences
        steps += work.time_steps
        epochs = learner.output_epochs + learner.candidate_epochs
        assert sequences == epochs * len(data)
        assert steps == epochs * data.n_steps
        if work.stopped:
            break
    diag = learner.diagnostics()
    assert diag["epochs"] == diag["output_epochs"] + diag["candidate_epochs"]
    assert diag["units"] == 3 and RCC.work_units == ("epochs",)
    # a candidate phase is one correlations epoch plus at most inlimit training epochs
    assert 3 * 2 <= diag["candidate_epochs"] <= 3 * (1 + 6)


def test_checks_come_after_each_output_phase_and_the_cap_stops_after_one_more():
    data = reber_run().training_set()
    learner = make(max_units=2)
    checks = []
    while True:
        before = (learner._phase, learner.units)
        work = learner.fit(data, 10 ** 9)
        checks.append((before, learner._phase, learner.units, work.check, work.stopped))
        if work.stopped:
            break
    # every return is a check at the end of an output phase: 3 phases for 2 units
    assert [c[3] for c in checks] == [True] * 3
    assert [c[1] for c in checks] == ["candidate", "candidate", "done"]
    assert checks[-1][2] == 2
    assert learner.fit(data, 10 ** 9).stopped
    # check_at="epoch": a check after every output epoch
    learner = make(check_at="epoch")
    work = learner.fit(data, 10 ** 9)
    assert work.check and work.sequences == len(data) and learner.output_epochs == 1


def test_no_error_bits_is_victory_and_ends_training():
    # the target is the current input: no memory needed; outputs learn to be within 0.4
    rng = np.random.default_rng(0)
    n, T, m = 8, 5, 3
    sym = rng.integers(m, size=(n, T))
    x = np.eye(m)[sym]
    block = SequenceBlock(x, x.copy(), np.ones((n, T), bool), np.full(n, T))
    learner = make(spec=TaskSpec(m, m), output_patience=0, outlimit=1000)
    work = learner.fit(block, 10 ** 9)
    assert work.check and work.stopped and learner.victory and learner.units == 0
    out = learner.predict(block)
    assert np.all(np.abs(out - x) < 0.4)


def test_determinism_copy_and_seed():
    data = reber_run().training_set()
    a, b = make(), make()
    a.fit(data, 40 * len(data))
    twin = copy.deepcopy(a)
    b.fit(data, 40 * len(data))
    same_state(a, b)
    twin.fit(data, 10 * len(data))
    same_state(a, b)  # training the copy left the original alone
    b.fit(data, 10 * len(data))
    same_state(twin, b)  # and the copy continues exactly as the original would
    assert not np.array_equal(make(seed=1).predict(data), make().predict(data))


def test_another_training_set_keeps_the_units_and_rebuilds_the_caches():
    # cascor1's CHANGED-TRAINING-SET (the harness never does this; the kit's checks do)
    run = reber_run()
    learner = make()
    fit_epochs(learner, run.training_set(), lambda lr: lr.units == 1 and lr._phase == "candidate")
    frozen = learner._hw[0].copy()
    work = learner.fit(run.test_set, len(run.test_set))
    assert work.sequences == len(run.test_set)
    assert learner.units == 1 and np.array_equal(learner._hw[0], frozen)
    assert learner._phase == "output" and learner.output_epochs > 0
    d, n = learner._data, learner._n
    assert d["n_seq"] == len(run.test_set) and d["n_cases"] == run.test_set.n_steps
    v = ref.candidate_values(d["values"], d["breaks"], learner._hw[0, :n - 1], learner._hs[0])
    np.testing.assert_allclose(d["values"][:, n - 1], v, rtol=0, atol=1e-12)


def test_predict_resets_state_at_every_sequence():
    rng = np.random.default_rng(3)
    learner = make(spec=TaskSpec(3, 2), max_units=4)
    install_net(learner, *random_net(rng, 3, 2, 4, 2.0))
    block = random_block(rng, [4, 6, 2], 3, 2)
    together = learner.predict(block)
    for i in range(3):
        alone = learner.predict(block.take(np.array([i])))
        L = block.lengths[i]
        assert np.array_equal(together[i, :L], alone[0, :L])


def test_patience_rule_hand_trace():
    # output phase: quit starts at patience 3; threshold 0.1
    state = (True, 0.0, 3)
    trace = []
    for k, value in enumerate([10.0, 9.5, 8.0, 7.9, 7.8, 7.7], start=1):
        *state, stagnant = patience_rule(*state, value, k, 3, 0.1)
        trace.append((state[1], state[2], stagnant))
    assert trace == [
        (10.0, 3, False),  # first epoch: remember
        (10.0, 3, False),  # |9.5 − 10| = 0.5 <= 1.0: no significant change; 2 < 3
        (8.0, 6, False),  # |8 − 10| = 2 > 1: remember, quit at 3 + 3
        (8.0, 6, False),  # 4 < 6
        (8.0, 6, False),  # 5 < 6
        (8.0, 6, True),  # 6 >= 6: stagnant
    ]
    assert patience_rule(True, 0.0, 0, 5.0, 1, 0, 0.1) == (True, 0.0, 0, False)  # patience 0


def test_a_trial_through_the_harness():
    from seqbench.plugins import load_registry

    registry = load_registry()
    task_params = resolve_params(EmbeddedReber.params, {"n_train": 16, "n_test": 16}, "reber")
    spec = TrialSpec(task="reber", learner="rcc", task_params=task_params,
                     learner_params=resolve_params(RCC.params, SMALL, "rcc"), seed=0, trial=0,
                     budget=200 * 16)
    result = run_trial(spec, registry)
    assert result.status in ("solved", "stopped", "budget_exhausted"), result.error
    diag = result.diagnostics
    assert set(diag) >= {"units", "epochs", "output_epochs", "candidate_epochs"}
    assert result.sequences == diag["epochs"] * 16 or result.status == "solved"
    assert result.time_steps > 0 and result.ns_per_step is not None
