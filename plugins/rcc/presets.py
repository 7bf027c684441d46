"""RCC on Experiment 1 (embedded Reber grammar), beside Table 1's RCC row.

Table 1 of Hochreiter & Schmidhuber (1997, §5.1) quotes Fahlman (1991): RCC solved the embedded
Reber grammar in 50 % of its trials, after 182,000 "sequences", with 7-9 hidden units
(≈119-198 weights, an estimate). The paper does not say how RCC's epochs over the 256 training
strings became sequences; counted as here (one epoch, output or candidate, presents all 256
strings), 182,000 sequences are 711 epochs.
"""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

#: 2,000,000 sequences (7,812 epochs of 256 strings) is eleven times the paper's 182,000 and
#: more than the cap on units can use: a unit costs at most outlimit + 1 + inlimit epochs
#: (output phase, correlations epoch, candidate training: 201 epochs, 51,456 sequences with the
#: limits below), so 22 units and the last output phase end by 4,522 epochs (1,157,632
#: sequences); the budget never cuts a trial short, trials end solved or ``stopped`` at the cap.
EXP1_RCC_BUDGET = 2_000_000

PRESETS = [
    Preset(
        name="exp1-rcc",
        learner="rcc",
        task="reber",
        learner_params={
            # cascor1's defaults: Quickprop constants, weight range, prime offset, threshold
            "output_epsilon": 0.35, "output_mu": 2.0, "output_decay": 0.0001,
            "input_epsilon": 1.0, "input_mu": 2.0, "input_decay": 0.0,
            "weight_range": 1.0, "weight_multiplier": 1.0, "sigmoid_prime_offset": 0.1,
            "score_threshold": 0.4, "raw_error": False, "output_type": "sigmoid",
            # recurrent cascor's sequence set-up (its Morse-code example): a pool of 16,
            # longer patience, finer change thresholds, 100-epoch phase limits
            "candidates": 16, "output_patience": 30, "output_change_threshold": 0.001,
            "input_patience": 25, "input_change_threshold": 0.005,
            "outlimit": 100, "inlimit": 100,
            # cascor1's net of 30 units, less the bias and 7 inputs
            "max_units": 22,
            "error_mean": "output", "check_at": "phase",
        },
        budget=EXP1_RCC_BUDGET,
        trials=30,
        paper=PaperRow(
            table="Table 1", success_rate=0.5, sequences_to_success=182_000, trials=None,
            note="RCC (Fahlman 1991), 7-9 hidden units, ≈119-198 weights (estimates); the "
            "conversion of RCC's epochs to sequences is not given (182,000 sequences = 711 "
            "epochs of 256 strings as counted here)",
            extra={"hidden_units": "7-9"},
        ),
        source="docs/protocol.md §2.3; docs/learners.md §6; H&S97 Sec. 5.1, Table 1; "
        "Fahlman (1991); Fahlman's cascor1 (Lisp) defaults",
        description="RCC, pool of 16 candidates, Quickprop (cascor1 constants), patience "
        "30/25, up to 22 hidden units; judged after every output phase",
        default=True,
        experiment="exp1",
    ),
]
