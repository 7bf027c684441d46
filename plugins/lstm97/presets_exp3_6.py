"""The paper's LSTM97 configurations for Experiments 3-6, one preset per row of Tables 4-9, with
the published figures of each (docs/protocol.md §4-§7, docs/learners.md §2.8; set-up from
H&S97 Table 10).

Common to all: connectivity F, g in [-2, 2] (``sym2``), h in [-1, 1] (``sym1``), weights uniform
in [-0.1, 0.1], on-line updates every step. The paper states no training cap for these
experiments; each preset's ``budget`` is about 10x the published mean sequences to success, a
cap that only a trial far slower than the paper's average reaches.
"""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

_COMMON = {"connectivity": "F", "g": "sym2", "h": "sym1", "init_range": 0.1,
           "output_gate": True, "update": "step"}


def _budget(paper_mean: float) -> int:
    """About 10x the paper's mean, rounded up to a round number of sequences."""
    step = 10_000 if paper_mean < 100_000 else 100_000
    return int(-(-10 * paper_mean // step) * step)


def _lstm(blocks, size, bias, igb, ogb, lr) -> dict:
    return {**_COMMON, "blocks": blocks, "block_size": size, "bias": bias,
            "input_gate_bias": igb, "output_gate_bias": ogb, "learning_rate": lr}


# Exp. 3 (Tables 4-6; Table 10 rows 3a-3c): 3 blocks of size 1, hidden units biased (b1), output
# unbiased; input-gate biases -1, -3, -5, output-gate biases -2, -4, -6.
_EXP3_NET = dict(blocks=3, size=1, bias="hidden", igb=(-1.0, -3.0, -5.0), ogb=(-2.0, -4.0, -6.0))
_EXP3 = [
    # variant, table, T, N, ST1 mean, ST2 mean (3c: its single stop), fraction misclassified, 3c av. diff
    ("a", "Table 4", 100, 3, 27_380, 39_850, 0.000195, None),
    ("a", "Table 4", 100, 1, 58_370, 64_330, 0.000117, None),
    ("a", "Table 4", 1000, 3, 446_850, 452_460, 0.000078, None),
    ("b", "Table 5", 100, 3, 41_740, 43_250, 0.00828, None),
    ("b", "Table 5", 100, 1, 74_950, 78_430, 0.01500, None),
    ("b", "Table 5", 1000, 1, 481_060, 485_080, 0.01207, None),
    ("c", "Table 6", 100, 3, None, 269_650, 0.00558, 0.014),
    ("c", "Table 6", 100, 1, None, 565_640, 0.00441, 0.012),
]


def _exp3(variant, table, T, N, st1, stop, misclassified, diff) -> Preset:
    lr = 0.1 if variant == "c" else 1.0
    extra = {"fraction_misclassified": misclassified, "n_weights": 102}
    if st1 is not None:
        extra["st1_sequences"] = st1
    if diff is not None:
        extra["av_difference_to_mean"] = diff
    stop_name = "3c rule" if variant == "c" else "ST2"
    return Preset(
        name=f"exp3{variant}-T{T}-N{N}",
        learner="lstm97",
        task="two-sequence",
        learner_params=_lstm(_EXP3_NET["blocks"], _EXP3_NET["size"], _EXP3_NET["bias"],
                             _EXP3_NET["igb"], _EXP3_NET["ogb"], lr),
        task_params={"variant": variant, "T": T, "N": N},
        budget=_budget(stop),
        trials=10,
        paper=PaperRow(table=table, success_rate=None, sequences_to_success=stop, trials=10,
                       note=f"sequences to {stop_name}; the paper gives no success rate",
                       extra=extra),
        source=f"docs/protocol.md §4.3; H&S97 Sec. 5.3 ({table}), Table 10 row 3{variant}",
        description=f"Task 3{variant}, T={T}, N={N}: 3 blocks of size 1, lr {lr:g}",
        default=(variant, T, N) == ("a", 100, 3),
        experiment=f"exp3{variant}",
    )


# Exp. 4 (Table 7; Table 10 rows 4-1..4-3): 2 blocks of size 2, all non-input units biased,
# input-gate biases -3, -6, output-gate biases random, lr 0.5.
_EXP4 = [(100, 1, 74_000), (500, 0, 209_000), (1000, 1, 853_000)]


def _exp4(T, wrong, after) -> Preset:
    return Preset(
        name=f"exp4-T{T}",
        learner="lstm97",
        task="adding",
        learner_params=_lstm(2, 2, "all", (-3.0, -6.0), (), 0.5),
        task_params={"T": T},
        budget=_budget(after),
        trials=10,
        paper=PaperRow(
            table="Table 7", success_rate=None, sequences_to_success=after, trials=10,
            note="ST3(0.01); average test error always < 0.01, never more than 3 wrong"
            + ("; per-trial range 370,000-2,020,000" if T == 1000 else ""),
            extra={"minimal_lag": T // 2, "wrong_of_2560": wrong, "n_weights": 93}),
        source="docs/protocol.md §5.3; H&S97 Sec. 5.4 (Table 7), Table 10 row 4",
        description=f"adding, T={T}: 2 blocks of size 2, input-gate biases -3, -6, lr 0.5",
        default=(T == 100),
        experiment="exp4",
    )


# Exp. 5 (Table 8; Table 10 row 5): as Exp. 4 but random input-gate biases and lr 0.1. The two
# n_seq rows are two presets: each row's test figures belong to its own stopping point.
_EXP5 = [(140, 139, 0.0223, 482_000), (13, 14, 0.0139, 1_273_000)]


def _exp5(n_seq, wrong, mse, after) -> Preset:
    return Preset(
        name=f"exp5-T100-nseq{n_seq}",
        learner="lstm97",
        task="multiplication",
        learner_params=_lstm(2, 2, "all", (), (), 0.1),
        task_params={"T": 100, "n_seq": n_seq},
        budget=_budget(after),
        trials=10,
        paper=PaperRow(
            table="Table 8", success_rate=None, sequences_to_success=after, trials=10,
            note=f"fewer than {n_seq} of the last 2000 sequences wrong; the size of the "
            "paper's 'MSE' column (0.0223 with 139 of 2560 over 0.04) suggests a mean absolute "
            "rather than a mean squared error",
            extra={"minimal_lag": 50, "wrong_of_2560": wrong, "mse": mse, "n_weights": 93}),
        source="docs/protocol.md §6.3; H&S97 Sec. 5.5 (Table 8), Table 10 row 5",
        description=f"multiplication, T=100, n_seq={n_seq}: 2 blocks of size 2, lr 0.1",
        default=(n_seq == 13),
        experiment="exp5",
    )


# Exp. 6 (Table 9; Table 10 rows 6a, 6b): blocks of size 2, all non-input units biased,
# output-gate biases random.
_EXP6 = [
    ("a", 2, (-2.0, -4.0), 0.5, 20, 1, 31_390, 156),
    ("b", 3, (-2.0, -4.0, -6.0), 0.1, 10, 2, 571_100, 308),
]


def _exp6(variant, blocks, igb, lr, trials, wrong, after, weights) -> Preset:
    return Preset(
        name=f"exp6{variant}",
        learner="lstm97",
        task="temporal-order",
        learner_params=_lstm(blocks, 2, "all", igb, (), lr),
        task_params={"variant": variant},
        budget=_budget(after),
        trials=trials,
        paper=PaperRow(
            table="Table 9", success_rate=None, sequences_to_success=after, trials=trials,
            note="ST3(0.1); average test error < 0.1, at most 3 wrong",
            extra={"wrong_of_2560": wrong, "n_weights": weights}),
        source="docs/protocol.md §7.3; H&S97 Sec. 5.6 (Table 9), Table 10 row 6%s" % variant,
        description=f"Task 6{variant}: {blocks} blocks of size 2, lr {lr:g}",
        default=(variant == "a"),
        experiment=f"exp6{variant}",
    )


PRESETS = ([_exp3(*row) for row in _EXP3] + [_exp4(*row) for row in _EXP4]
           + [_exp5(*row) for row in _EXP5] + [_exp6(*row) for row in _EXP6])
