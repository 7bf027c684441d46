"""Built-in learner plugin ``rcc``: Recurrent Cascade-Correlation (Fahlman 1991) as a set
learner, and its Experiment 1 preset.

Registration imports only NumPy; the numba kernels are loaded when the learner first runs.
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import RCC

    register(RCC)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
