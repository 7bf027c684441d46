"""The paper's ELM configuration (H&S97 Table 1; docs/learners.md §5.2)."""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

from ..recurrent.presets import EXP1_BUDGET

PRESETS = [
    Preset(
        name="exp1-15h",
        learner="elman",
        task="reber",
        learner_params={"hidden": 15, "bias": False, "learning_rate": 0.1, "momentum": 0.0,
                        "init_range": 0.2, "context_init": 0.0},
        budget=EXP1_BUDGET,
        trials=30,
        paper=PaperRow(table="Table 1", success_rate=0.0, sequences_to_success=None,
                       note="Cleeremans et al. (1989): no success within 200,000 strings; "
                       "≈435 weights; learning rate not given (0.1 here is an assumption, "
                       "docs/learners.md §5.2)",
                       extra={"budget": 200_000}),
        source="docs/protocol.md §2.3; docs/learners.md §5.2; H&S97 Sec. 5.1, Table 1",
        description="Elman net 7-15-7 without biases (435 weights), Elman's procedure, "
        "lr 0.1 (assumed), no momentum",
        default=True,
        experiment="exp1",
    ),
]
