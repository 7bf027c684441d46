"""The paper's RTRL configurations (H&S97 Table 1 and Table 2; docs/learners.md §4.6)."""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

from ..recurrent.presets import EXP1_BUDGET, EXP2A_BUDGET, EXP2A_TRIALS

_SMITH_ZIPSER = ("Smith & Zipser (1989), quoted by the paper: success rate only 'some fraction' "
                 "(they list successful trials only, and made short-lag strings more likely)")

EXP1 = [
    Preset(
        name=f"exp1-{hidden}h-lr{lr:g}",
        learner="rtrl",
        task="reber",
        learner_params={"architecture": "fully_recurrent", "hidden": hidden, "bias": False,
                        "learning_rate": lr, "init_range": 0.2, "update": "step",
                        "teacher_forcing": False},
        budget=EXP1_BUDGET,
        trials=30,
        paper=PaperRow(table="Table 1", success_rate=None, sequences_to_success=after,
                       note=_SMITH_ZIPSER + f"; ≈{weights} weights"),
        source="docs/protocol.md §2.3; docs/learners.md §4.6; H&S97 Sec. 5.1, Table 1",
        description=f"fully recurrent Williams-Zipser net, {hidden} hidden + 7 output units, "
        f"no biases ({weights} weights), on-line RTRL, lr {lr:g}",
        default=default,
        experiment="exp1",
    )
    for hidden, lr, after, weights, default in ((3, 0.05, 173_000, 170, False),
                                                (12, 0.1, 25_000, 494, True))
]

# Exp. 2a: one self-recurrent hidden unit, p+1 non-recurrent outputs, no biases: (p+2)^2 weights.
# Williams-Zipser timing (self_loop_wz): the paper writes conventional nets as reading every unit
# at t-1 (H&S97 Sec. 3.1) and gives its three-phase step for cells and gates; README "Table 2"
# reports both readings (docs/learners.md §1.2).
_EXP2A = [
    # p, lr, paper success rate, success after (None: never), note
    (4, 1.0, 14 / 18, 1_043_000, "the text says 7/9 of the trials"),
    (4, 4.0, 10 / 18, 892_000, ""),
    (4, 10.0, 4 / 18, 254_000, ""),
    (10, 1.0, 0.0, None, "the paper tried learning rates 1.0-10.0, all failed (>5,000,000)"),
    (100, 1.0, 0.0, None, "the paper tried learning rates 1.0-10.0, all failed (>5,000,000)"),
]

EXP2A = [
    Preset(
        name=f"exp2a-p{p}-lr{lr:g}",
        learner="rtrl",
        task="lag-2a",
        learner_params={"architecture": "self_loop_wz", "hidden": 1, "bias": False,
                        "learning_rate": lr, "init_range": 0.2, "update": "step",
                        "teacher_forcing": False},
        task_params={"p": p},
        budget=EXP2A_BUDGET,
        trials=EXP2A_TRIALS,
        paper=PaperRow(table="Table 2", success_rate=rate, sequences_to_success=after,
                       trials=EXP2A_TRIALS, note=note, extra={"weights": (p + 2) ** 2}),
        source="docs/protocol.md §3.6; docs/learners.md §4.6; H&S97 Sec. 5.2, Table 2",
        description=f"one self-recurrent hidden unit, {p + 1} non-recurrent logistic outputs, "
        f"layers see all layers below, no biases ({(p + 2) ** 2} weights), Williams-Zipser timing "
        f"(outputs read the previous step's hidden unit), on-line RTRL, lr {lr:g}",
        default=(p == 4 and lr == 1.0),
        experiment="exp2a",
    )
    for p, lr, rate, after, note in _EXP2A
]

PRESETS = EXP1 + EXP2A
