"""Quickprop as Fahlman's cascor1 applies it (``QUICKPROP-UPDATE``), against sequences of steps
computed by hand on quadratics E(w) = ½ a (w − w*)², slope a (w − w*); one case per branch.

shrink = mu / (1 + mu) = 2/3 for mu = 2 throughout. Every number below was worked out on paper
and is exact in binary floating point or compared to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest
from seqbench_learners.rcc.quickprop import quickprop_step, quickprop_update, shrink_factor


def run(w0, target, eps, mu=2.0, decay=0.0, a=1.0, steps=4):
    """Weights visited by Quickprop on ½ a (w − target)², one weight, from rest."""
    w, d, s, p = (np.array([w0], float), np.zeros(1), np.zeros(1), np.zeros(1))
    path = [float(w[0])]
    for _ in range(steps):
        s[:] = a * (w - target)
        quickprop_update(w, d, s, p, eps, decay, mu)
        path.append(float(w[0]))
    return path


def test_shrink_factor():
    assert shrink_factor(2.0) == pytest.approx(2.0 / 3.0)
    assert shrink_factor(1.75) == pytest.approx(1.75 / 2.75)


def test_first_step_is_plain_gradient_descent():
    # d = 0: step = −eps·s. From w = 0 toward w* = 1 (s = −1), eps = 0.5: step 0.5.
    assert quickprop_step(0.0, -1.0, 0.0, 0.5, 2.0) == pytest.approx(0.5)
    assert quickprop_step(0.0, 3.0, -7.0, 0.25, 2.0) == pytest.approx(-0.75)  # p is ignored
    assert run(0.0, 1.0, eps=0.5, steps=1) == [0.0, 0.5]


def test_sign_test_adds_the_gradient_term_and_the_quadratic_jump_lands_on_the_minimum():
    # w* = 1, eps = 0.5.
    # 1: d = 0, s = −1: step 0.5 -> w = 0.5.
    # 2: d = 0.5 > 0, s = −0.5 < 0: the slope still points along the last step, so the sign
    #    test adds −eps·s = 0.25; s = −0.5 > shrink·p = −2/3: quadratic jump
    #    d·s/(p − s) = 0.5·(−0.5)/(−1 + 0.5) = 0.5; step 0.75 -> w = 1.25.
    # 3: d = 0.75, s = 0.25 > 0: no gradient term; s > shrink·p = −1/3: jump
    #    0.75·0.25/(−0.5 − 0.25) = −0.25 -> w = 1.0, the minimum (a secant step on a parabola).
    # 4: s = 0: d < 0, s >= shrink·p = 1/6? no: jump d·0/(p − 0) = 0 -> stays at 1.
    path = run(0.0, 1.0, eps=0.5, steps=4)
    assert path == pytest.approx([0.0, 0.5, 1.25, 1.0, 1.0], abs=1e-12)


def test_shrink_factor_branch_caps_the_step_at_mu_times_the_last():
    # w* = 10, eps = 0.1: the slope shrinks slowly, so Quickprop takes the capped step.
    # 1: s = −10: step 1 -> w = 1.
    # 2: d = 1, s = −9 <= shrink·p = −20/3: capped, mu·d = 2, plus the gradient term
    #    −eps·s = 0.9 (slope still negative): step 2.9 -> w = 3.9.
    # 3: d = 2.9, s = −6.1 <= shrink·(−9) = −6: capped again: 5.8 + 0.61 = 6.41 -> w = 10.31.
    # 4: d = 6.41, s = 0.31 > 0: no gradient term; 0.31 > shrink·(−6.1): jump
    #    6.41·0.31/(−6.1 − 0.31) = −0.31 -> w = 10, the minimum.
    path = run(0.0, 10.0, eps=0.1, steps=4)
    assert path == pytest.approx([0.0, 1.0, 3.9, 10.31, 10.0], abs=1e-12)


def test_negative_steps_mirror_positive_ones():
    # The d < 0 branch: the same two problems reflected through 0 give the reflected paths.
    assert run(0.0, -1.0, eps=0.5, steps=4) == pytest.approx(
        [0.0, -0.5, -1.25, -1.0, -1.0], abs=1e-12)
    assert run(0.0, -10.0, eps=0.1, steps=4) == pytest.approx(
        [0.0, -1.0, -3.9, -10.31, -10.0], abs=1e-12)


def test_each_branch_of_the_rule():
    eps, mu = 0.5, 2.0
    # d < 0, s > 0: gradient term −eps·s = −0.5; s = 1 >= shrink·p = 4/3? no: jump
    # d·s/(p − s) = −1·1/(2 − 1) = −1. Step −1.5.
    assert quickprop_step(-1.0, 1.0, 2.0, eps, mu) == pytest.approx(-1.5)
    # d < 0, s > 0, s >= shrink·p (1 >= 2/3·1.2 = 0.8): capped mu·d = −2, plus −0.5: −2.5.
    assert quickprop_step(-1.0, 1.0, 1.2, eps, mu) == pytest.approx(-2.5)
    # d < 0, s < 0 (the slope turned): no gradient term; s = −1 < shrink·p = 2/3: jump
    # −1·(−1)/(1 + 1) = 0.5.
    assert quickprop_step(-1.0, -1.0, 1.0, eps, mu) == pytest.approx(0.5)
    # d > 0, s < 0: gradient term +0.5; s = −1 <= shrink·(−1.2) = −0.8: capped mu·d = 2: 2.5.
    assert quickprop_step(1.0, -1.0, -1.2, eps, mu) == pytest.approx(2.5)
    # d > 0, s > 0 (turned): no gradient term; s = 1 > shrink·(−1) : jump 1·1/(−1 − 1) = −0.5.
    assert quickprop_step(1.0, 1.0, -1.0, eps, mu) == pytest.approx(-0.5)
    # p = s = 0 after a step: cascor1's 6/1/90 fix sends it to the capped branch (>=, <=).
    assert quickprop_step(-1.0, 0.0, 0.0, eps, mu) == pytest.approx(-2.0)
    assert quickprop_step(1.0, 0.0, 0.0, eps, mu) == pytest.approx(2.0)
    # p = s != 0 in the quadratic branch (d < 0, p = s < 0): the divisor is replaced by 1
    # (cascor1 would divide by zero): step d·s = 0.5.
    assert quickprop_step(-1.0, -0.5, -0.5, eps, mu) == pytest.approx(0.5)
    assert quickprop_step(1.0, 0.5, 0.5, eps, mu) == pytest.approx(0.5)


def test_weight_decay_is_added_to_the_slope_and_remembered():
    # s = slope + decay·w: w = 2, slope −1, decay 0.25 -> s = −0.5; first step −eps·s = 0.25.
    w, d = np.array([2.0]), np.zeros(1)
    s, p = np.array([-1.0]), np.zeros(1)
    quickprop_update(w, d, s, p, 0.5, 0.25, 2.0)
    assert w[0] == pytest.approx(2.25) and d[0] == pytest.approx(0.25)
    assert p[0] == pytest.approx(-0.5)  # the previous slope includes the decay term
    assert s[0] == 0.0  # the slope accumulator is cleared for the next epoch


def test_weight_decay_moves_the_fixed_point_to_the_penalised_minimum():
    # E + ½·decay·w² with E = ½(w − 1)²: minimum at 1/(1 + decay); the secant steps on this
    # parabola land on it (decay 0.25: w = 0.8). Hand trace, eps 0.5:
    # 1: s = −1 + 0 = −1: step 0.5 -> 0.5.   2: s = −0.5 + 0.125 = −0.375, p = −1:
    #    gradient term 0.1875; −0.375 > −2/3: jump 0.5·(−0.375)/(−1 + 0.375) = 0.3 -> 0.9875.
    # 3: s = −0.0125 + 0.246875 = 0.234375 > 0: jump 0.4875·0.234375/(−0.375 − 0.234375)
    #    = −0.1875 -> 0.8.
    path = run(0.0, 1.0, eps=0.5, decay=0.25, steps=3)
    assert path == pytest.approx([0.0, 0.5, 0.9875, 0.8], abs=1e-12)


def test_update_works_elementwise_on_views():
    # the learner updates column slices of its output-weight matrix in place
    w = np.zeros((2, 4))
    d, s, p = np.zeros_like(w), np.ones_like(w), np.zeros_like(w)
    quickprop_update(w[:, :3], d[:, :3], s[:, :3], p[:, :3], 0.5, 0.0, 2.0)
    assert np.array_equal(w[:, :3], np.full((2, 3), -0.5)) and np.all(w[:, 3] == 0.0)
    assert np.all(s[:, :3] == 0.0) and np.all(s[:, 3] == 1.0)
