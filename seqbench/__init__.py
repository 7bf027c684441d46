"""seqbench: recurrent learning algorithms head to head on the long-time-lag problems of
Hochreiter & Schmidhuber's "Long Short-Term Memory" (Neural Computation, 1997)."""

__version__ = "0.1.0"

from . import jitcache as _jitcache  # noqa: E402

# before any kernel module is imported: compiled kernels are cached under a stamp of the whole
# source tree, so an edit of a helper in another module never reuses a stale kernel
_jitcache.install()


def load(path=None):
    """The results of a store (default ``$SEQBENCH_DB`` or ``./seqbench.db``): its trials,
    learning curves and summary rows, without rerunning anything (:mod:`seqbench.results`)."""
    from .results import load as _load

    return _load(path)
