"""Built-in learner plugin ``lstm97``: the 1997 LSTM and the paper's presets for it.

Registration imports only NumPy; the numba kernel is loaded when a network is first built.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import LSTM97

    register(LSTM97)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS
    from .presets_exp3_6 import PRESETS as PRESETS_EXP3_6
    from .presets_gers2000 import PRESETS as PRESETS_GERS2000

    for preset in (*PRESETS, *PRESETS_EXP3_6, *PRESETS_GERS2000):
        register(preset)
