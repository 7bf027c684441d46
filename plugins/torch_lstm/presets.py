"""torch-lstm's preset on the embedded Reber grammar (Experiment 1's size; no paper row: the
paper has no PyTorch LSTM)."""

from __future__ import annotations

from seqbench.contracts import Preset

from ..lstm97.presets import EXP1_BUDGET

PRESETS = [
    Preset(
        name="exp1-h4",
        learner="torch-lstm",
        task="reber",
        learner_params={"hidden": 4, "learning_rate": 0.5, "momentum": 0.0, "init_range": 0.2,
                        "loss": "squared", "dtype": "float64"},
        budget=EXP1_BUDGET,
        trials=30,
        paper=None,
        source="seqbench's own configuration at the size of H&S97 Sec. 5.1 / Table 1 (LSTM97 "
        "exp1-3x2-lr0.5: 276 weights); the paper has no such row",
        description="nn.LSTM 7-4-7 (forget gate, 243 weights), full BPTT, one SGD step per "
        "sequence, lr 0.5, weights in [-0.2, 0.2], squared error",
        default=True,
        experiment="",
    ),
]
