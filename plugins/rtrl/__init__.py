"""Built-in learner plugin ``rtrl``: real-time recurrent learning, and the paper's presets for it.

Registration imports only NumPy; the numba kernel is loaded when the learner first runs.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import RTRL

    register(RTRL)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
