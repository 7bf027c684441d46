"""Built-in learner plugin ``guessing``: random weight guessing (Hochreiter & Schmidhuber 1996;
Schmidhuber, Hochreiter & Bengio 2001) and its presets on the latch, parity and 2-sequence
problems.

Registration imports only NumPy; the numba kernel is loaded when the learner is built.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import Guessing

    register(Guessing)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
