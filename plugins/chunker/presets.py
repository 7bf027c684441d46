"""The chunker's configurations of the 1997 LSTM paper (Sec. 5.2: Task 2a, Table 2; Task 2b).

"Both net architectures like RTRL's, but one has an additional output for predicting the
hidden unit of the other one": each net is the Table 2 RTRL net (one self-recurrent hidden unit,
p+1 non-recurrent logistic outputs, layers fed by all layers below, no biases) in the
Williams-Zipser timing of the RTRL presets; learning rate 1.0, weights in [−0.2, 0.2]; the
paper's cap of 5 million sequences and 18 trials per row.
"""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

from ..recurrent.presets import EXP2A_BUDGET, EXP2A_TRIALS

_PARAMS = {"learning_rate": 1.0, "learning_rate_c": None, "init_range": 0.2,
           "surprise": "winner", "epsilon": 0.25, "output": "automatizer",
           "readout": "previous", "state_target": "next"}

_DESCRIPTION = ("automatizer A (one self-recurrent hidden unit, p+1 outputs and one predicting "
                "C's hidden unit; (p+3)(p+2) weights) and chunker C (the RTRL net, (p+2)^2 "
                "weights), Williams-Zipser timing, no biases; C steps and learns only on "
                "inputs A's most active output failed to predict; both on-line RTRL, lr 1.0")

PRESETS = [
    Preset(
        name="exp2a-p100",
        learner="chunker",
        task="lag-2a",
        learner_params=_PARAMS,
        task_params={"p": 100},
        budget=EXP2A_BUDGET,
        trials=EXP2A_TRIALS,
        paper=PaperRow(table="Table 2", success_rate=0.33, sequences_to_success=32_400,
                       trials=EXP2A_TRIALS,
                       note="CH, p = 100, lr 1.0: 33 % (6 of 18 trials); 10506 weights as "
                       "reported, which is A's count alone (C has 10404 more)",
                       extra={"weights": 10506}),
        source="docs/protocol.md §3.6; docs/learners.md §7; H&S97 Sec. 5.2 (Task 2a, Table 2); "
        "Schmidhuber 1992, "
        "Neural Computation 4(2)",
        description=_DESCRIPTION,
        default=True,
        experiment="exp2a",
    ),
    Preset(
        name="exp2b-p100",
        learner="chunker",
        task="lag-2b",
        learner_params=_PARAMS,
        task_params={"p": 100},
        budget=EXP2A_BUDGET,
        trials=EXP2A_TRIALS,
        paper=PaperRow(table="Sec. 5.2 text (Task 2b)", success_rate=0.0,
                       sequences_to_success=None, trials=None,
                       note="'the chunker fails' on 2b (no trial count or budget given): the "
                       "random middle symbols leave nothing to compress"),
        source="docs/protocol.md §3.6; docs/learners.md §7; H&S97 Sec. 5.2 (Task 2b)",
        description="as exp2a-p100 on random middle symbols",
        default=True,
        experiment="exp2b",
    ),
]
