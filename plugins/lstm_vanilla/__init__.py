"""Built-in learner plugin ``lstm-vanilla``: Greff et al. (2017)'s vanilla LSTM and its eight
variants, trained by full BPTT with Nesterov momentum (docs/lstm_vanilla.md).

Registration imports only NumPy; the numba kernel is loaded when the learner first runs.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import LSTMVanilla

    register(LSTMVanilla)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
