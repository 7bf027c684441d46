"""Built-in learner plugin ``chunker``: the two-net neural sequence chunker (Schmidhuber 1992),
the "CH" of the 1997 LSTM paper's Table 2, and its presets.

Registration imports only NumPy; the numba kernel is loaded when the learner first runs.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import Chunker

    register(Chunker)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
