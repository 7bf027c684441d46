"""Statistics of trial outcomes against values computed by hand on made-up trials."""

from __future__ import annotations

import math

import pytest

from seqbench import stats
from seqbench.report import flat_row, paired_lines, paired_tests, render, table_rows

Z = 1.959963984540054  # the normal 97.5 % quantile


def test_wilson_interval_matches_its_closed_form():
    k, n = 6, 30
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / (1 + Z * Z / n)
    low, high = stats.wilson_interval(k, n)
    assert low == pytest.approx(centre - half, abs=1e-9)
    assert high == pytest.approx(centre + half, abs=1e-9)


def test_wilson_interval_at_the_edges_is_not_degenerate():
    # 0/10: [0, z²/(n+z²)]; 10/10: [n/(n+z²), 1]
    assert stats.wilson_interval(0, 10) == pytest.approx((0.0, Z * Z / (10 + Z * Z)), abs=1e-9)
    assert stats.wilson_interval(10, 10) == pytest.approx((10 / (10 + Z * Z), 1.0), abs=1e-9)
    assert stats.wilson_interval(0, 0) is None


# five trials: solved at 10, unsolved after 20, solved at 20, solved at 30, unsolved after 40
TIMES = [10, 20, 20, 30, 40]
SOLVED = [True, False, True, True, False]


def test_kaplan_meier_censors_unsolved_trials_where_they_stopped():
    at, fraction = stats.kaplan_meier(TIMES, SOLVED)
    # at 10: 1 of 5 at risk solves -> 0.8 unsolved; at 20: 1 of 4 (the trial censored at 20 is
    # still at risk there) -> 0.6; at 30: 1 of 2 -> 0.3
    assert list(at) == [10, 20, 30]
    assert fraction == pytest.approx([0.2, 0.4, 0.7])


def test_kaplan_meier_quartiles_and_one_that_is_never_reached():
    assert stats.km_quantile(TIMES, SOLVED, 0.25) == 20
    assert stats.km_quantile(TIMES, SOLVED, 0.5) == 30
    assert stats.km_quantile(TIMES, SOLVED, 0.75) is None
    assert stats.km_quantile([5, 5], [False, False], 0.5) is None


def test_mcnemar_exact_is_a_binomial_test_on_the_discordant_pairs():
    # 7 vs 1 discordant: two-sided p = 2 * P(X <= 1), X ~ Bin(8, 1/2) = 2 * 9/256
    assert stats.mcnemar_exact(7, 1) == pytest.approx(18 / 256)
    assert stats.mcnemar_exact(3, 3) == pytest.approx(1.0)
    assert stats.mcnemar_exact(0, 0) is None


def test_who_was_first_counts_an_unsolved_trial_as_slower_and_two_as_a_tie():
    assert stats.faster((True, 100), (True, 200)) == 1
    assert stats.faster((True, 300), (True, 200)) == -1
    assert stats.faster((True, 300), (False, None)) == 1
    assert stats.faster((False, None), (True, 5)) == -1
    assert stats.faster((False, None), (False, None)) == 0
    assert stats.faster((True, 7), (True, 7)) == 0


def test_paired_test_uses_only_shared_trial_indices():
    a = {0: (True, 10), 1: (True, 50), 2: (False, None), 3: (True, 5), 9: (True, 1)}
    b = {0: (True, 20), 1: (False, None), 2: (False, None), 3: (True, 8)}
    t = stats.paired_test(a, b)
    assert (t.trials, t.only_a, t.only_b) == (4, 1, 0)
    assert (t.a_first, t.b_first, t.ties) == (3, 0, 1)
    assert t.sign_p == pytest.approx(2 * (1 / 8))  # 3 of 3 untied: 2 * P(X = 3 | Bin(3, 1/2))
    assert t.mcnemar_p == pytest.approx(1.0)


def _row(learner, outcomes, seed=0, task_params=None):
    return {"task": "reber", "learner": learner, "preset": None, "overrides": {},
            "seed": seed, "task_params": task_params or {"n": 1}, "outcomes": outcomes}


def test_rows_are_paired_only_when_they_saw_the_same_data():
    a = _row("a", [[0, True, 10], [1, True, 20]])
    b = _row("b", [[0, False, None], [1, True, 30]])
    other_seed = _row("c", [[0, True, 1]], seed=1)
    other_task = _row("d", [[0, True, 1]], task_params={"n": 2})
    (only,) = paired_tests([a, b, other_seed, other_task])
    assert (only["a"], only["b"], only["only_a"], only["a_first"]) == ("a", "b", 1, 2)


def test_tables_show_the_interval_and_the_censored_quartiles():
    row = {**_row("lstm97", [[i, i < 6, 1000 * (i + 1) if i < 6 else None] for i in range(30)]),
           "n_weights": 276, "trials": 30, "successes": 6, "success_rate": 0.2,
           "success_interval": list(stats.wilson_interval(6, 30)),
           "sequences_to_success": {"mean": 3500.0},
           "sequences_km": {"q25": None, "q50": None, "q75": None}, "budget": 100_000,
           "test_error": None, "wall_s_per_trial": 1.0, "ns_per_step": 900.0, "paper": None,
           "statuses": {"solved": 6, "budget_exhausted": 24}}
    table = render([row], "table")
    assert "20% [10-37]" in table and ">100,000–>100,000" in table


def test_a_timed_out_trial_orders_a_pair_only_when_the_other_was_solved_before_it_stopped():
    stopped_at_500 = (False, None, 500)
    assert stats.faster(stopped_at_500, (True, 400)) == -1
    assert stats.faster((True, 400), stopped_at_500) == 1
    assert stats.faster(stopped_at_500, (True, 600)) is None  # it might have been first
    assert stats.faster(stopped_at_500, (False, None)) is None  # it might still have solved
    assert stats.faster(stopped_at_500, (False, None, 900)) is None
    assert stats.faster((True, 400, None), (False, None)) == 1  # an explicit "not timed out"


def test_paired_test_leaves_out_what_a_timed_out_trial_leaves_open():
    a = {0: (True, 10), 1: (True, 50), 2: (True, 700), 3: (False, None)}
    b = {0: (False, None), 1: (False, None, 100), 2: (False, None, 100), 3: (False, None, 90)}
    t = stats.paired_test(a, b)
    # McNemar sees only trial 0; the sign test trials 0 and 1 (50 < 100), not 2 or 3
    assert (t.trials, t.only_a, t.only_b, t.undecided) == (4, 1, 0, 3)
    assert (t.a_first, t.b_first, t.ties, t.unordered) == (2, 0, 0, 2)
    line = paired_lines([{"a": "a", "b": "b", **vars(t)}])[0]
    assert "3 pairs with a timed-out trial left out of McNemar, 2 of them also" in line


def test_the_table_bounds_the_success_rate_when_trials_timed_out():
    from seqbench.report import summarise
    from seqbench.runner import Config

    config = Config(task="reber", task_params={}, learner="x", learner_params={}, preset=None,
                    budget=1000, trials=4, seed=0)

    def trial(i, status, seqs, solved_at=None):
        return {"trial": i, "status": status, "sequences": seqs, "sequences_to_success": solved_at,
                "wall_s": 1.0, "ns_per_step": 1.0, "n_weights": 3, "check_every": 1,
                "metrics": {}, "diagnostics": {}}

    rows = [trial(0, "solved", 100, 100), trial(1, "timeout", 300), trial(2, "timeout", 50),
            trial(3, "budget_exhausted", 1000)]
    row = summarise(config, rows)
    assert row["success_rate"] == 0.25 and row["success_if_timed_out_solve"] == 0.75
    assert row["success_if_timed_out_solve_interval"] == list(stats.wilson_interval(3, 4))
    assert row["outcomes"][1] == [1, False, None, 300]
    header, (cells,) = table_rows([row])
    assert cells[header.index("if timed out solve")] == "75% [30-95]"
    assert cells[header.index("timed out")] == "2"
    flat = flat_row(row)
    assert flat["success_if_timed_out_solve"] == 0.75 and flat["success_if_timed_out_solve_low"]
    untimed = summarise(config, [trial(0, "solved", 100, 100), trial(1, "budget_exhausted", 1000)])
    assert untimed["success_if_timed_out_solve"] is None
    assert "if timed out solve" not in table_rows([untimed])[0]
