"""seqbench: recurrent learning algorithms head to head on the long-time-lag problems of
Hochreiter & Schmidhuber's "Long Short-Term Memory" (Neural Computation, 1997)."""

__version__ = "0.1.0"


def load(path=None):
    """The results of a store (default ``$SEQBENCH_DB`` or ``./seqbench.db``): its trials,
    learning curves and summary rows, without rerunning anything (:mod:`seqbench.results`)."""
    from .results import load as _load

    return _load(path)
