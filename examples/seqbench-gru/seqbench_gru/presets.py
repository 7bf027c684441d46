"""Presets of this plugin. Copy-memory is not in the 1997 paper and Arjovsky et al. publish
loss curves, not success rates, so no preset carries a PaperRow; none was tuned."""

from seqbench.contracts import Preset

SOURCE = "Arjovsky, Shah & Bengio (2016) §4.1 for the task; sizes and rates chosen, not tuned"

PRESETS = [
    Preset(
        name="copy-memory-h32", learner="gru", task="copy-memory",
        learner_params={"hidden": 32, "learning_rate": 0.05, "clip": 1.0},
        budget=100_000, trials=10, source=SOURCE, default=True,
        description="GRU of 32 units, clipped full-BPTT steps",
    ),
    Preset(
        name="copy-memory-4x2", learner="lstm97", task="copy-memory",
        learner_params={"blocks": 4, "block_size": 2, "learning_rate": 0.5},
        budget=100_000, trials=10, source=SOURCE, default=True,
        description="the 1997 LSTM with 4 blocks of 2 cells, from a third-party plugin",
    ),
]
