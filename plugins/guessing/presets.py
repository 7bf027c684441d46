"""Random weight guessing as the guessing papers configured it (experiment ``guess``).

Sources: Schmidhuber, Hochreiter & Bengio, "Evaluating benchmark problems by random guessing"
(2001) for the latch and parity figures; Hochreiter & Schmidhuber, "LSTM can solve hard long
time lag problems" (NIPS 9, 1996) for the set-up (weights uniform in [-100, 100], 100 training
sequences of 500-600 steps, ABS(0.1) at the sequence end, logistic units). The papers count
**draws** (they call them trials), not sequences: the figures are in ``extra["draws"]`` and
the note, and ``sequences_to_success`` is left empty. A table row shows the measured mean draws
of the solved trials under "own work".

Every budget is at least 20 times the expected number of sequences presented (each draw runs
its training sequences until the first wrong one).
"""

from __future__ import annotations

from seqbench.contracts import PaperRow, Preset

SOURCE_2001 = ("docs/protocol.md §8.4; docs/learners.md §8; Schmidhuber, Hochreiter & Bengio "
               "2001, 'Evaluating benchmark problems by random guessing'")
#: A1 as the 2001 text gives it: "each hidden unit has a bias" (of A2 it says all units are);
#: the output unit has none (7 weights with one hidden unit)
A1 = {"architecture": "a1", "hidden": 1, "activation": "logistic", "output_bias": False}
A2 = {"architecture": "a2", "hidden": 10, "activation": "logistic"}


def _row(table: str, draws: float, note: str, trials: int | None = None) -> PaperRow:
    return PaperRow(table=table, success_rate=None, sequences_to_success=None, trials=trials,
                    note=f"mean {draws:,g} draws{f' ({trials} runs)' if trials else ''}; "
                    + note, extra={"draws": draws})


PRESETS = [
    Preset(
        name="guess-latch-I",
        learner="guessing",
        task="latch",
        learner_params={"architecture": "latch1", "accept": "sign"},
        task_params={"variant": "I", "rule": "paper"},
        budget=100_000,
        trials=40,
        paper=_row("2001, latch variant I", 6, "3 free parameters: the self-weight of one tanh "
                   "unit and the first input of each class; judged by the sign of the final "
                   "output (see the latch task)", trials=40),
        source=SOURCE_2001,
        description="latch variant I: one tanh unit, free self-weight and class inputs "
        "(3 parameters), sign rule (search and task)",
        default=True,
        experiment="guess",
    ),
    Preset(
        name="guess-latch-II",
        learner="guessing",
        task="latch",
        learner_params={"architecture": "latch2"},
        task_params={"variant": "II", "rule": "paper"},
        budget=100_000,
        trials=40,
        paper=_row("2001, latch variant II", 22, "one tanh unit with self, input and bias "
                   "weights; targets +-1, ABS(0.1)"),
        source=SOURCE_2001,
        description="latch variant II: one tanh unit, self/input/bias weights (3), ABS(0.1)",
        experiment="guess",
    ),
    Preset(
        name="guess-parity-a1",
        learner="guessing",
        task="parity",
        learner_params=A1,
        budget=1_000_000,
        trials=40,
        paper=_row("2001, parity", 2906, "A1 with one hidden unit (the 2001 paper calls it "
                   "Bengio et al.'s 1994 architecture), no noise. The text gives A1's hidden "
                   "units a bias and says all of A2's units are biased, so A1's output unit "
                   "has none here (7 weights; -p output_bias=true: 8)"),
        source=SOURCE_2001,
        description="parity, A1: one hidden and one output logistic unit, fully recurrent, "
        "three-phase step, biased hidden unit (7 weights)",
        default=True,
        experiment="guess",
    ),
    Preset(
        name="guess-parity-a2",
        learner="guessing",
        task="parity",
        learner_params=A2,
        budget=1_000_000,
        trials=40,
        paper=_row("2001, parity", 2797, "A2: 10 hidden units, each seeing the input, the "
                   "output unit and itself; no noise"),
        source=SOURCE_2001,
        description="parity, A2: 10 hidden units seeing input, output and themselves; the "
        "output sees all units (53 weights)",
        experiment="guess",
    ),
    Preset(
        name="guess-parity-a2-noself",
        learner="guessing",
        task="parity",
        learner_params={**A2, "self_connections": False},
        budget=1_000_000,
        trials=40,
        paper=_row("2001, parity", 250, "A2 without the hidden units' self-connections; no "
                   "noise"),
        source=SOURCE_2001,
        description="parity, A2 without hidden self-connections (43 weights)",
        experiment="guess",
    ),
    Preset(
        name="guess-parity-a1-noise",
        learner="guessing",
        task="parity",
        learner_params=A1,
        task_params={"noise": 0.2},
        budget=5_000_000,
        trials=40,
        paper=_row("2001, parity", 41_400, "A1, inputs with uniform noise in [-0.2, 0.2] "
                   "(Bengio et al.'s noisy variant)"),
        source=SOURCE_2001,
        description="noisy parity (uniform [-0.2, 0.2] on every input), A1 with one hidden "
        "unit (8 weights)",
        experiment="guess",
    ),
    Preset(
        name="guess-2seq-3a",
        learner="guessing",
        task="two-sequence",
        learner_params={**A1, "sample_size": 100},
        task_params={"variant": "a", "T": 100, "N": 3},
        budget=1_000_000,
        trials=40,
        paper=PaperRow(table="LSTM97 §5.3 (text)", note="the 1997 paper says guessing solves "
                       "task 3a faster than LSTM (27,380-446,850 sequences) and the methods "
                       "of Bengio et al.; no draw count is given for this set-up"),
        source="Hochreiter & Schmidhuber 1997 §5.3; set-up of the guessing papers (A1, "
        "weights in [-100, 100], 100 training sequences)",
        description="2-sequence problem 3a (T=100, N=3), A1 with one hidden unit (8 weights), "
        "fitted on the first 100 sequences of the stream, judged by the task's ST2",
        default=True,
        experiment="guess",
    ),
]
