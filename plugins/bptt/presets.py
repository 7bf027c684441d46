"""BPTT configurations: the paper's Exp. 2a row (H&S97 Table 2; docs/learners.md §3.3) and a reber
default."""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

from ..recurrent.presets import EXP1_BUDGET, EXP2A_BUDGET, EXP2A_TRIALS

PRESETS = [
    Preset(
        name="exp1-12h-lr0.1",
        learner="bptt",
        task="reber",
        learner_params={"architecture": "fully_recurrent", "hidden": 12, "bias": False,
                        "learning_rate": 0.1, "init_range": 0.2, "window": 0},
        budget=EXP1_BUDGET,
        trials=30,
        paper=None,
        source="docs/protocol.md §2.3 (H&S97 Table 1 has no BPTT row); net and rate of the RTRL "
        "12-hidden row",
        description="not a paper row: the paper ran no BPTT on Exp. 1. Epochwise BPTT (one "
        "update per string) on the 12-hidden fully recurrent net of the RTRL row (494 weights), "
        "lr 0.1",
        default=True,
        experiment="exp1",
    ),
    Preset(
        name="exp2a-p100-lr1",
        learner="bptt",
        task="lag-2a",
        learner_params={"architecture": "self_loop_wz", "hidden": 1, "bias": False,
                        "learning_rate": 1.0, "init_range": 0.2, "window": 0},
        task_params={"p": 100},
        budget=EXP2A_BUDGET,
        trials=EXP2A_TRIALS,
        paper=PaperRow(table="Table 2", success_rate=0.0, sequences_to_success=None,
                       trials=EXP2A_TRIALS,
                       note="the paper tried learning rates 1.0-10.0, all failed (>5,000,000); "
                       "truncation depth not stated, read as full BPTT (docs/learners.md §3.3)",
                       extra={"weights": 10404}),
        source="docs/protocol.md §3.6; docs/learners.md §3.3; H&S97 Sec. 5.2, Table 2",
        description="the RTRL net of Exp. 2a at p = 100 (10404 weights, Williams-Zipser "
        "timing), epochwise BPTT, lr 1.0",
        default=True,
        experiment="exp2a",
    ),
]
