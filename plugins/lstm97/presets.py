"""The paper's LSTM97 configurations, with the published figures of each (docs/learners.md §2.8)."""

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
        source="docs/protocol.md §2.3; H&S97 Sec. 5.1, Table 1, Table 10 row 1-%d" % (i + 1),
        description=f"Table 10 row 1-{i + 1}: {blocks}x{size} blocks, output-gate biases "
        f"{', '.join(f'{b:g}' for b in ogb)}, lr {lr}",
        default=(name == "exp1-3x2-lr0.5"),
        experiment="exp1",
    )
    for i, (name, blocks, size, ogb, lr, rate, after) in enumerate(_EXP1)
]

# Experiment 2a/2b (docs/protocol.md §3; H&S97 Sec. 5.2, Table 10 rows 2a/2b): one memory cell
# with an input gate and no output gate, connectivity B, no biases, g logistic, h identity,
# learning rate 1.0, weights in [-0.2, 0.2]; the cell is added by sequential construction once the
# error stops decreasing.
EXP2_BUDGET = 5_000_000  # "training stops after 5 million sequence presentations"
_EXP2AB_PARAMS = {
    "blocks": 1, "block_size": 1, "output_gate": False, "connectivity": "B", "bias": "none",
    "learning_rate": 1.0, "init_range": 0.2, "g": "logistic", "h": "identity",
    "update": "step", "construction": "sequential", "grow_window": 100, "grow_tolerance": 0.01,
}

PRESETS += [
    Preset(
        name="exp2a-p100",
        learner="lstm97",
        task="lag-2a",
        learner_params=_EXP2AB_PARAMS,
        task_params={"p": 100},
        budget=EXP2_BUDGET,
        trials=18,
        paper=PaperRow(table="Table 2", success_rate=1.0, sequences_to_success=5_040, trials=18,
                       note="LSTM, delay p = 100, learning rate 1.0, 10504 weights"),
        source="docs/protocol.md §3.6; docs/learners.md §2.7; H&S97 Sec. 5.2 (Task 2a, Table 2), "
        "Table 10 row 2a",
        description="1 cell + input gate (no output gate), connectivity B, no biases, g logistic, "
        "h identity, lr 1.0, sequential construction",
        default=True,
        experiment="exp2a",
    ),
    Preset(
        name="exp2b-p100",
        learner="lstm97",
        task="lag-2b",
        learner_params=_EXP2AB_PARAMS,
        task_params={"p": 100},
        budget=EXP2_BUDGET,
        trials=18,
        paper=PaperRow(table="Sec. 5.2 text (Task 2b)", success_rate=1.0,
                       sequences_to_success=5_680, trials=18,
                       note="LSTM always succeeds; mean over 18 trials; no table in the paper"),
        source="docs/protocol.md §3.6; docs/learners.md §2.7; H&S97 Sec. 5.2 (Task 2b), "
        "Table 10 row 2b",
        description="as exp2a-p100 on random middle symbols",
        default=True,
        experiment="exp2b",
    ),
]

# Experiment 2c (docs/protocol.md §3.3; H&S97 Table 3; Table 10 rows 2c-1 ... 2c-9): 2 blocks of
# size 1 with output gates, connectivity F, no biases, h sym1 in [-1,1], g sym2 in [-2,2], lr 0.01.
_EXP2C = [  # q, p, # weights (paper), success after (paper)
    (50, 50, 364, 30_000),
    (100, 100, 664, 31_000),
    (200, 200, 1264, 33_000),
    (500, 500, 3064, 38_000),
    (1000, 1000, 6064, 49_000),
    (1000, 500, 3064, 49_000),
    (1000, 200, 1264, 75_000),
    (1000, 100, 664, 135_000),
    (1000, 50, 364, 203_000),
]

PRESETS += [
    Preset(
        name=f"exp2c-q{q}-p{p}",
        learner="lstm97",
        task="lag-2c",
        learner_params={
            "blocks": 2, "block_size": 1, "output_gate": True, "connectivity": "F",
            "bias": "none", "learning_rate": 0.01, "init_range": 0.2, "g": "sym2", "h": "sym1",
            "update": "step", "construction": "fixed",
        },
        task_params={"q": q, "p": p},
        budget=EXP2_BUDGET,
        trials=20,
        paper=PaperRow(table="Table 3", success_rate=None, sequences_to_success=after, trials=20,
                       note=f"q = {q}, p = {p}, q/p = {q // p}, {weights} weights; success rate "
                       "not tabulated", extra={"n_weights": weights}),
        source=f"docs/protocol.md §3.6; H&S97 Sec. 5.2 (Task 2c, Table 3), Table 10 row 2c-{i + 1}",
        description=f"2 blocks of size 1, connectivity F, no biases, lr 0.01, q = {q}, p = {p}",
        default=(q == 100 and p == 100),
        experiment="exp2c",
    )
    for i, (q, p, weights, after) in enumerate(_EXP2C)
]
