"""Gers, Schmidhuber & Cummins (2000), Table 2: LSTM on the continual embedded Reber grammar
(docs/protocol.md §12, docs/learners.md §2.9).

Every row uses the paper's net: 4 blocks of 2 cells, 7 inputs and 7 outputs; gates and cells
read the inputs and the cells of the previous step (no gate-to-gate recurrence); the outputs read
the inputs and the cells; gates and outputs are biased, cells are not; weights uniform in
[-0.2, 0.2]; input- and output-gate biases -0.5, -1.0, -1.5, -2.0 by block, forget-gate biases
+0.5, +1.0, +1.5, +2.0; learning rate 0.5, set afresh at every training stream. With forget gates
that is 424 weights, without them 360.
"""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

GERS_BUDGET = 30_000  # training streams
GERS_TRIALS = 100
#: Gers 2000 reports the best of several state-decay factors without naming it (docs/learners.md
#: §2.9); this one halves a state in about 7 steps, a string's length
STATE_DECAY = 0.9

_NET = {
    "blocks": 4, "block_size": 2, "output_gate": True, "connectivity": "F",
    "recurrence": "cells", "output_shortcuts": True, "bias": "gates+outputs",
    "init_range": 0.2, "input_gate_bias": (-0.5, -1.0, -1.5, -2.0),
    "output_gate_bias": (-0.5, -1.0, -1.5, -2.0), "learning_rate": 0.5,
    "g": "sym2", "h": "sym1", "update": "step", "construction": "fixed",
}
_FORGET = {"forget_gate": True, "forget_gate_bias": (0.5, 1.0, 1.5, 2.0)}

_ROWS = [
    # name, learner options, task options, paper % perfect, paper's words, description
    ("gers2000-std-resets", {}, {"resets": True}, 0.74, "standard LSTM with external resets "
     "at string boundaries: 74 % perfect", "1997 cells, external resets"),
    ("gers2000-std", {}, {}, 0.0, "standard LSTM without resets: fails (no perfect solution "
     "reported)", "1997 cells, no resets"),
    ("gers2000-std-decay", {"state_decay": STATE_DECAY}, {}, 0.0, "standard LSTM with state "
     "decay (best of several factors): performs poorly (no perfect solution reported)",
     f"1997 cells, states decayed by {STATE_DECAY} per step"),
    ("gers2000-forget", _FORGET, {}, 0.18, "LSTM with forget gates: 18 % perfect",
     "forget gates"),
    ("gers2000-forget-lrdecay", {**_FORGET, "learning_rate_decay": 0.99}, {}, 0.62,
     "LSTM with forget gates and learning-rate decay 0.99 per step: 62 % perfect",
     "forget gates, learning rate x 0.99 per step"),
]

PRESETS = [
    Preset(
        name=name,
        learner="lstm97",
        task="continual-reber",
        learner_params={**_NET, **options},
        task_params=task_params,
        budget=GERS_BUDGET,
        trials=GERS_TRIALS,
        paper=PaperRow(table="Gers et al. 2000, Table 2", success_rate=rate, trials=100,
                       note=words + "; success = perfect (10^6 successive correct symbols)"),
        source="docs/protocol.md §12; docs/learners.md §2.9; Gers, Schmidhuber & Cummins 2000, "
        "Sec. 4, Table 2",
        description=description,
        default=(name == "gers2000-forget"),
        experiment="gers2000",
    )
    for name, options, task_params, rate, words, description in _ROWS
]
