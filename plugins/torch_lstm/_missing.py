"""The error raised when torch-lstm is built without PyTorch installed (imported only then)."""

from __future__ import annotations

from seqbench.errors import SeqbenchError
from seqbench.testing.support import SkipCheck


class TorchMissingError(SeqbenchError, SkipCheck):
    """torch is not installed. A SeqbenchError, so the command line prints it as one line; also
    the conformance kit's SkipCheck, so the kit (and pytest) report torch-lstm's checks as
    skipped with the install hint instead of failed where the optional dependency is absent."""
