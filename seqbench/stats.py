"""Statistics of trial outcomes, used by every table: intervals, censored medians, paired tests.

A trial ends solved after some number of sequences, or unsolved (its budget ran out, the learner
stopped, it diverged); an unsolved trial tells us only that success would have come later than
the sequences it ran, so it is *censored* there. Trials are paired across learners: trial ``i``
of every learner on one task sees the same data, so two learners are compared trial by trial.

* :func:`wilson_interval`: the success rate's 95 % Wilson score interval (good coverage even at
  0/n and n/n, unlike the normal approximation).
* :func:`kaplan_meier`: the fraction of trials solved within ``t`` sequences, with unsolved
  trials censored at the sequences they ran; its quartiles (:func:`km_quantile`) are the median
  and spread of sequences to success that do not pretend unsolved trials were solved, nor
  ignore them as the paper's mean over successes does.
* :func:`mcnemar_exact`: do two learners succeed equally often on the same trials? An exact
  binomial test on the discordant pairs (solved by one and not the other).
* :func:`sign_test_faster`: which of two learners reaches success first on the same trial? A
  trial solved by one only counts for it; both unsolved, or equal counts, is a tie; a two-sided
  binomial test on the non-tied trials.

A trial stopped by its wall-clock limit (``timeout``) is censored before its budget: whether it
would have succeeded within the budget is unknown. The paired tests leave out the pairs such a
trial leaves undecided (:func:`faster`), rather than count it as failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

CONFIDENCE = 0.95


def wilson_interval(successes: int, trials: int, confidence: float = CONFIDENCE
                    ) -> tuple[float, float] | None:
    """Wilson score interval of a success rate; None without trials."""
    if trials <= 0:
        return None
    ci = binomtest(int(successes), int(trials)).proportion_ci(confidence, method="wilson")
    return float(ci.low), float(ci.high)


def kaplan_meier(times: Sequence[float], solved: Sequence[bool]) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier estimate of the fraction of trials solved by ``t`` sequences.

    ``times[i]`` is trial i's sequences to success when ``solved[i]``, else the sequences it ran
    (censored there). Returns the distinct success times and the fraction solved just after
    each, a non-decreasing step function (0 before the first).
    """
    times = np.asarray(times, dtype=float)
    solved = np.asarray(solved, dtype=bool)
    at = np.unique(times[solved])
    unsolved_fraction, fractions = 1.0, []
    for t in at:
        at_risk = int(np.sum(times >= t))  # a trial censored at t was still running at t
        events = int(np.sum((times == t) & solved))
        unsolved_fraction *= 1.0 - events / at_risk
        fractions.append(1.0 - unsolved_fraction)
    return at, np.asarray(fractions)


def km_quantile(times: Sequence[float], solved: Sequence[bool], q: float) -> float | None:
    """The sequences by which a fraction ``q`` of trials is solved (Kaplan-Meier); None when
    the estimate never reaches ``q`` (too many trials unsolved)."""
    at, fraction = kaplan_meier(times, solved)
    reached = np.flatnonzero(fraction >= q - 1e-12)
    return float(at[reached[0]]) if len(reached) else None


@dataclass(frozen=True)
class PairedTest:
    """Two learners compared on their shared trial indices."""

    trials: int  #: shared trial indices
    only_a: int  #: solved by A, not by B (McNemar's discordant pairs)
    only_b: int
    mcnemar_p: float | None  #: exact McNemar p-value (None without discordant pairs)
    a_first: int  #: trials on which A reached success first
    b_first: int
    ties: int
    sign_p: float | None  #: two-sided sign test p-value (None without untied trials)
    #: shared trials left out of McNemar's test because a timed-out trial's outcome is unknown
    undecided: int = 0
    #: shared trials left out of the sign test for the same reason (the other one was not
    #: solved before the timed-out one stopped)
    unordered: int = 0


def mcnemar_exact(only_a: int, only_b: int) -> float | None:
    """Exact McNemar test: two-sided binomial test of ``only_a`` of the discordant pairs."""
    n = only_a + only_b
    return float(binomtest(only_a, n, 0.5).pvalue) if n else None


def _timed_out_at(outcome: tuple) -> float | None:
    """The sequences a timed-out (censored) trial ran, None for a trial that ended on its own:
    the optional third entry of an outcome ``(solved, sequences to success[, timed out at])``."""
    return outcome[2] if len(outcome) > 2 and not outcome[0] else None


def faster(a: tuple, b: tuple) -> int | None:
    """+1 if outcome ``a`` = (solved, sequences to success[, timed out at]) reached success
    before ``b``, −1 if after, 0 for a tie (both unsolved, or solved after equally many
    sequences); None when a timed-out trial leaves it open (the other was not solved by the
    sequences where it stopped)."""
    ca, cb = _timed_out_at(a), _timed_out_at(b)
    if ca is not None or cb is not None:
        if ca is not None and cb is None and b[0] and b[1] <= ca:
            return -1
        if cb is not None and ca is None and a[0] and a[1] <= cb:
            return 1
        return None
    (sa, ta), (sb, tb) = a[:2], b[:2]
    if sa and sb:
        return int(np.sign(tb - ta))
    return int(sa) - int(sb)


def sign_test_faster(a_first: int, b_first: int) -> float | None:
    """Two-sided sign test on the untied trials."""
    n = a_first + b_first
    return float(binomtest(a_first, n, 0.5).pvalue) if n else None


def paired_test(a: dict[int, tuple], b: dict[int, tuple]) -> PairedTest:
    """Compare two learners' outcomes, each ``{trial index: (solved, sequences to success[,
    timed out at])}``, on the trial indices they share; a pair with a timed-out trial counts
    in McNemar's test not at all, in the sign test only where its order is known."""
    shared = sorted(set(a) & set(b))
    decided = [i for i in shared
               if _timed_out_at(a[i]) is None and _timed_out_at(b[i]) is None]
    only_a = sum(a[i][0] and not b[i][0] for i in decided)
    only_b = sum(b[i][0] and not a[i][0] for i in decided)
    verdicts = [faster(a[i], b[i]) for i in shared]
    a_first, b_first = verdicts.count(1), verdicts.count(-1)
    return PairedTest(
        trials=len(shared), only_a=only_a, only_b=only_b, mcnemar_p=mcnemar_exact(only_a, only_b),
        a_first=a_first, b_first=b_first, ties=verdicts.count(0),
        sign_p=sign_test_faster(a_first, b_first), undecided=len(shared) - len(decided),
        unordered=verdicts.count(None))
