"""lstm-vanilla configurations on temporal-order (6a) and reber (docs/lstm_vanilla.md §5).

No paper row: H&S97 never ran a forget-gate, peephole LSTM, and Greff et al. 2017 ran their
variants on speech, handwriting and music, not on these tasks. The sizes and rates are our own
choices, stated and justified in docs/lstm_vanilla.md §5.
"""

from __future__ import annotations

from seqbench.contracts import Preset

PRESETS = [
    Preset(
        name="greff-6a-8b-lr0.1",
        learner="lstm-vanilla",
        task="temporal-order",
        learner_params={"variant": "vanilla", "blocks": 8, "learning_rate": 0.1,
                        "momentum": 0.9, "init": "normal", "init_scale": 0.3,
                        "forget_gate_bias": 2.0},
        task_params={"variant": "a"},
        paper=None,
        source="docs/lstm_vanilla.md §5 (no paper row: neither H&S97 nor Greff et al. 2017 ran "
        "this net on Exp. 6)",
        description="not a paper row: vanilla LSTM (Greff et al. 2017) with 8 one-cell blocks "
        "(604 weights) on Task 6a, full BPTT, Nesterov momentum 0.9, lr 0.1, weights N(0, 0.3²), "
        "forget-gate biases +2",
        default=True,
        experiment="",
    ),
    Preset(
        name="greff-reber-6b-lr0.05",
        learner="lstm-vanilla",
        task="reber",
        learner_params={"variant": "vanilla", "blocks": 6, "learning_rate": 0.05,
                        "momentum": 0.9, "init": "normal", "init_scale": 0.3,
                        "forget_gate_bias": 0.0},
        trials=30,
        paper=None,
        source="docs/lstm_vanilla.md §5 (no paper row: neither H&S97 nor Greff et al. 2017 ran "
        "this net on Exp. 1)",
        description="not a paper row: vanilla LSTM (Greff et al. 2017) with 6 one-cell blocks, "
        "as many cells as LSTM97's 3x2 row (403 weights), full BPTT, Nesterov momentum 0.9, "
        "lr 0.05, weights N(0, 0.3²)",
        default=True,
        experiment="",
    ),
]
