"""Optional learner plugin ``torch-lstm``: a standard PyTorch LSTM (``torch.nn.LSTM`` with a
logistic ``nn.Linear`` output layer) trained by full backpropagation through time, one plain SGD
step per sequence, and its preset on the embedded Reber grammar.

Registration imports only NumPy and seqbench; torch is imported when the learner is built, so
``seqbench plugins`` and ``seqbench --help`` work without it. Building the learner without torch
installed is a one-line error that says how to install it (``pip install 'seqbench[torch]'``).
"""

from seqbench.hookspecs import hookimpl


@hookimpl
def seqbench_register_learners(register):
    from .learner import TorchLSTM

    register(TorchLSTM)


@hookimpl
def seqbench_register_presets(register):
    from .presets import PRESETS

    for preset in PRESETS:
        register(preset)
