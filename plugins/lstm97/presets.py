"""The paper's LSTM97 configurations, with the published figures of each (PAPER.md §2.3, §2.9)."""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

# Experiment 1, embedded Reber grammar: Table 1 (results) and Table 10 rows 1-1 ... 1-5 (set-up).
# Connectivity F, only gates biased, weights in [-0.2, 0.2], input-gate biases random ("r").
_EXP1 = [
    # name, blocks, block size, output-gate biases, learning rate, paper % success, success after
    ("exp1-4x1-lr0.1", 4, 1, (-1.0, -2.0, -3.0, -4.0), 0.1, 1.00, 39_740),
    ("exp1-3x2-lr0.1", 3, 2, (-1.0, -2.0, -3.0), 0.1, 1.00, 21_730),
    ("exp1-3x2-lr0.2", 3, 2, (-1.0, -2.0, -3.0), 0.2, 0.97, 14_060),
    ("exp1-4x1-lr0.5", 4, 1, (-1.0, -2.0, -3.0, -4.0), 0.5, 0.97, 9_500),
    ("exp1-3x2-lr0.5", 3, 2, (-1.0, -2.0, -3.0), 0.5, 1.00, 8_440),
]

EXP1_BUDGET = 100_000  # the paper states no cap for LSTM; its slowest row averages 39,740

PRESETS = [
    Preset(
        name=name,
        learner="lstm97",
        task="reber",
        learner_params={
            "blocks": blocks, "block_size": size, "output_gate_bias": ogb,
            "learning_rate": lr, "init_range": 0.2, "bias": "gates", "connectivity": "F",
            "g": "sym2", "h": "sym1", "output_gate": True, "update": "step",
        },
        budget=EXP1_BUDGET,
        trials=30,
        paper=PaperRow(
            table="Table 1", success_rate=rate, sequences_to_success=after, trials=30,
            note=f"LSTM, {blocks} blocks of size {size}, learning rate {lr}"
            + ("; per-trial range 3,800-24,100" if name == "exp1-3x2-lr0.5" else ""),
        ),
        source="PAPER.md §2.3 (Table 1), §2.9 (Table 10 row 1-%d)" % (i + 1),
        description=f"Table 10 row 1-{i + 1}: {blocks}x{size} blocks, output-gate biases "
        f"{', '.join(f'{b:g}' for b in ogb)}, lr {lr}",
        default=(name == "exp1-3x2-lr0.5"),
        experiment="exp1",
    )
    for i, (name, blocks, size, ogb, lr, rate, after) in enumerate(_EXP1)
]
