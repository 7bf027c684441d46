"""Budgets and paper rows shared by the presets of the gradient baselines."""

from __future__ import annotations

#: Exp. 1 training budget (sequences) of the baselines' reber presets, the same cap as lstm97's.
#: The issue's comparison (4 learners x 10 trials, 2 cores) then fits in 15 minutes: the
#: 12-hidden RTRL net costs ~35 us per step. The paper reports 25,000-200,000 sequences.
EXP1_BUDGET = 100_000
#: Exp. 2a: the paper's cap of 5 million sequences, and its 18 trials per row (Table 2).
EXP2A_BUDGET = 5_000_000
EXP2A_TRIALS = 18
