"""The task plugins of Exps. 3-6: their generators follow the paper's descriptions, are seeded,
and the LSTM97 presets have the paper's weight counts and run end to end."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqbench.params import resolve_params
from seqbench.plugins import get_registry
from seqbench.trial import TrialSpec, run_trial
from seqbench_tasks.adding import marked_pairs_block
from seqbench_tasks.temporal_order import RELEVANT, SYMBOLS, temporal_order_block
from seqbench_tasks.two_sequence import two_sequence_block

SEEDS = st.integers(0, 2**32 - 1)
FAST = settings(max_examples=15, deadline=None)


def valid_steps(block):
    return np.arange(block.inputs.shape[1])[None, :] < block.lengths[:, None]


# --- Exp. 3 ---------------------------------------------------------------------------------


@FAST
@given(seed=SEEDS, T=st.integers(2, 300), N=st.integers(1, 5), variant=st.sampled_from("abc"))
def test_two_sequence_lengths_signal_and_targets(seed, T, N, variant):
    N = min(N, T)
    b = two_sequence_block(np.random.default_rng(seed), 64, T, N, variant)
    assert ((b.lengths >= T) & (b.lengths <= T + T // 10)).all()
    sign = np.where(b.extras["class1"], 1.0, -1.0)
    head = b.inputs[:, :N, 0]
    if variant == "b":
        assert not np.allclose(head, sign[:, None])  # noise on the signal, too
    else:
        np.testing.assert_array_equal(head, np.broadcast_to(sign[:, None], head.shape))
    hi, lo = (1.0, 0.0) if variant != "c" else (0.2, 0.8)
    clean = np.where(b.extras["class1"], hi, lo)
    np.testing.assert_array_equal(b.extras["reference"][:, 0], clean)
    final = b.targets[np.arange(64), b.lengths - 1, 0]
    if variant == "c":
        assert not np.array_equal(final, clean)
    else:
        np.testing.assert_array_equal(final, clean)
    assert b.target_mask.sum() == 64 and b.target_mask[np.arange(64), b.lengths - 1].all()
    assert not b.inputs[~valid_steps(b)].any()


def test_two_sequence_noise_variances_and_class_balance():
    rng = np.random.default_rng(1)
    a = two_sequence_block(rng, 4000, 100, 3, "a")
    noise = a.inputs[:, 3:, 0][valid_steps(a)[:, 3:]]
    assert noise.mean() == pytest.approx(0.0, abs=0.005)
    assert noise.var() == pytest.approx(0.2, rel=0.02)
    assert a.extras["class1"].mean() == pytest.approx(0.5, abs=0.03)
    b = two_sequence_block(rng, 4000, 100, 3, "b")
    head_noise = b.inputs[:, :3, 0] - np.where(b.extras["class1"], 1.0, -1.0)[:, None]
    assert head_noise.var() == pytest.approx(0.2, rel=0.05)
    c = two_sequence_block(rng, 4000, 100, 1, "c")
    target_noise = c.targets[np.arange(4000), c.lengths - 1, 0] - c.extras["reference"][:, 0]
    assert target_noise.mean() == pytest.approx(0.0, abs=0.015)
    assert target_noise.var() == pytest.approx(0.1, rel=0.06)


# --- Exps. 4 and 5 ----------------------------------------------------------------------------


@FAST
@given(seed=SEEDS, T=st.integers(12, 400), problem=st.sampled_from(["adding", "multiplication"]))
def test_marked_pairs_positions_markers_and_targets(seed, T, problem):
    n = 64
    b = marked_pairs_block(np.random.default_rng(seed), n, T, problem)
    rows, last = np.arange(n), b.lengths - 1
    assert ((b.lengths >= T) & (b.lengths <= T + T // 10)).all()
    value, marker = b.inputs[..., 0], b.inputs[..., 1]
    p1, p2 = b.extras["positions"].T
    assert ((p1 >= 0) & (p1 <= 9)).all() and (p1 != p2).all()
    assert ((p2 >= 1) & (p2 <= T // 2)).all()
    assert ((marker == 1.0).sum(axis=1) == 2).all()
    assert (marker[rows, p1] == 1.0).all() and (marker[rows, p2] == 1.0).all()
    assert (marker[rows, last] == -1.0).all()
    assert (marker[p1 != 0, 0] == -1.0).all()
    assert ((marker == -1.0).sum(axis=1) == np.where(p1 == 0, 1, 2)).all()
    low = -1.0 if problem == "adding" else 0.0
    assert ((value[valid_steps(b)] >= low) & (value[valid_steps(b)] <= 1.0)).all()
    first_pair_value = 0.0 if problem == "adding" else 1.0
    assert (value[p1 == 0, 0] == first_pair_value).all()
    x1, x2 = value[rows, p1], value[rows, p2]
    expected = 0.5 + (x1 + x2) / 4 if problem == "adding" else x1 * x2
    np.testing.assert_allclose(b.targets[rows, last, 0], expected)
    assert b.target_mask.sum() == n and not b.inputs[~valid_steps(b)].any()


def test_x2_is_uniform_over_the_first_T_half_minus_one_unmarked_pairs():
    T = 20  # X2 among 9 unmarked pairs: 1..10 without X1's
    b = marked_pairs_block(np.random.default_rng(2), 20000, T, "adding")
    p1, p2 = b.extras["positions"].T
    for x1 in (0, 5):
        allowed = set(range(1, T // 2 + 1)) - {x1}
        picked = p2[p1 == x1]
        allowed = sorted(allowed)[: T // 2 - 1]
        assert set(np.unique(picked)) == set(allowed)
        counts = np.bincount(picked)[allowed]
        assert counts.min() > 0.7 * counts.mean()
    assert np.bincount(p1, minlength=10).min() > 0.08 * len(p1)


# --- Exp. 6 -----------------------------------------------------------------------------------


@FAST
@given(seed=SEEDS, variant=st.sampled_from("ab"))
def test_temporal_order_sequences(seed, variant):
    n = 64
    b = temporal_order_block(np.random.default_rng(seed), n, variant)
    rows, last = np.arange(n), b.lengths - 1
    assert ((b.lengths >= 100) & (b.lengths <= 110)).all()
    valid = valid_steps(b)
    assert (b.inputs.sum(axis=2) == valid).all()  # one-hot on every real step
    symbol = b.inputs.argmax(axis=2)
    assert (symbol[:, 0] == SYMBOLS.index("E")).all()
    assert (symbol[rows, last] == SYMBOLS.index("B")).all()
    positions = b.extras["positions"]  # 1-based
    for k, (lo, hi) in enumerate(RELEVANT[variant]):
        assert ((positions[:, k] >= lo) & (positions[:, k] <= hi)).all()
    relevant = symbol[rows[:, None], positions - 1]
    np.testing.assert_array_equal(relevant, SYMBOLS.index("X") + b.extras["is_y"])
    others = valid.copy()
    others[:, 0] = False
    others[rows, last] = False
    others[rows[:, None], positions - 1] = False
    assert (symbol[others] < 4).all()  # a, b, c, d elsewhere
    for i in range(n):  # class number: the X/Y order in binary, first symbol most significant
        expected = int("".join("1" if y else "0" for y in b.extras["is_y"][i]), 2)
        target = b.targets[i, last[i]]
        assert target.argmax() == expected and target.sum() == 1.0
    assert b.target_mask.sum() == n


def test_temporal_order_classes_and_positions_are_balanced():
    b = temporal_order_block(np.random.default_rng(3), 8000, "b")
    share = np.bincount(b.extras["label"], minlength=8) / 8000
    np.testing.assert_allclose(share, 1 / 8, atol=0.02)
    assert b.extras["is_y"].mean() == pytest.approx(0.5, abs=0.02)
    for k, (lo, hi) in enumerate(RELEVANT["b"]):
        assert set(np.unique(b.extras["positions"][:, k])) == set(range(lo, hi + 1))


# --- seeding ------------------------------------------------------------------------------------

GENERATORS = {
    "3a": lambda rng: two_sequence_block(rng, 8, 100, 3, "a"),
    "3c": lambda rng: two_sequence_block(rng, 8, 100, 1, "c"),
    "adding": lambda rng: marked_pairs_block(rng, 8, 100, "adding"),
    "multiplication": lambda rng: marked_pairs_block(rng, 8, 100, "multiplication"),
    "6b": lambda rng: temporal_order_block(rng, 8, "b"),
}


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_same_seed_same_data_other_seed_other_data(name):
    gen = GENERATORS[name]
    a, b, c = (gen(np.random.default_rng(s)) for s in (7, 7, 8))
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.targets, b.targets)
    assert a.inputs.shape != c.inputs.shape or not np.array_equal(a.inputs, c.inputs)


# --- presets ------------------------------------------------------------------------------------

EXPERIMENTS = ("exp3a", "exp3b", "exp3c", "exp4", "exp5", "exp6a", "exp6b")
PAPER_WEIGHTS = {"two-sequence": 102, "adding": 93, "multiplication": 93,
                 ("temporal-order", "a"): 156, ("temporal-order", "b"): 308}


def exp3_6_presets():
    registry = get_registry()
    return registry, [p for (_, _), p in registry.presets.items() if p.experiment in EXPERIMENTS]


def resolved(registry, preset):
    task = registry.task(preset.task)
    learner = registry.learner(preset.learner)
    return (resolve_params(task.params, preset.task_params, preset.task),
            resolve_params(learner.params, preset.learner_params, preset.learner))


def test_every_table_row_has_a_preset():
    _, presets = exp3_6_presets()
    per_experiment = {e: sum(p.experiment == e for p in presets) for e in EXPERIMENTS}
    assert per_experiment == {"exp3a": 3, "exp3b": 3, "exp3c": 2, "exp4": 3, "exp5": 2,
                              "exp6a": 1, "exp6b": 1}
    for p in presets:
        assert p.paper.sequences_to_success and p.budget >= 9 * p.paper.sequences_to_success
        assert p.trials == p.paper.trials == (20 if p.experiment == "exp6a" else 10)


def test_presets_have_the_papers_weight_counts():
    registry, presets = exp3_6_presets()
    for p in presets:
        task_params, learner_params = resolved(registry, p)
        assert learner_params["init_range"] == 0.1
        learner = registry.learner(p.learner)(**learner_params)
        learner.build(registry.task(p.task)(**task_params).spec(), np.random.default_rng(0))
        key = (p.task, task_params["variant"]) if p.task == "temporal-order" else p.task
        assert learner.n_weights == PAPER_WEIGHTS[key], p.name
        assert p.paper.extra["n_weights"] == learner.n_weights


def test_one_default_preset_per_task_and_adding_defaults_to_T100():
    registry, presets = exp3_6_presets()
    for task in ("two-sequence", "adding", "multiplication", "temporal-order"):
        assert sum(p.default for p in presets if p.task == task) == 1
    assert registry.default_preset("lstm", "adding").name == "exp4-T100"


# --- end to end ---------------------------------------------------------------------------------

SMOKE = [("exp3c-T100-N1", {"check_every": 100}), ("exp4-T100", {}),
         ("exp5-T100-nseq13", {}), ("exp6b", {})]


@pytest.mark.parametrize("preset_name,extra", SMOKE)
def test_lstm97_runs_a_tiny_trial_of_each_task(preset_name, extra):
    registry = get_registry()
    preset = registry.preset("lstm97", preset_name)
    task_params, learner_params = resolved(registry, preset)
    task_params.update(extra)
    spec = TrialSpec(preset.task, "lstm97", task_params, learner_params, seed=0, trial=0,
                     budget=250, preset=preset_name)
    result = run_trial(spec, registry)
    assert result.status == "budget_exhausted", result.error
    assert result.sequences == 250 and result.time_steps >= 250 * 100
    assert result.check_every == extra.get("check_every", 0)
    assert result.metrics["test_sequences"] == 2560
    assert 0.0 <= result.metrics["test_error"] <= 1.0
    assert {"test_mae", "test_mse", "test_wrong"} <= set(result.metrics)
