"""seqbench: recurrent learning algorithms head to head on the long-time-lag problems of
Hochreiter & Schmidhuber's "Long Short-Term Memory" (Neural Computation, 1997)."""

__version__ = "0.1.0"
