"""Where each GRU weight sits in the flat weight vector (shared by kernel, reference, learner).

Order: input weights W (3H x I, rows update gate z, reset gate r, candidate n), recurrent
weights U (3H x H, same rows), biases b (3H), output weights V (O x H), output biases c (O).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    """Sizes of a GRU network and the offsets of its weight groups in the flat vector."""

    n_inputs: int
    n_hidden: int
    n_outputs: int

    @property
    def w_end(self) -> int:
        return 3 * self.n_hidden * self.n_inputs

    @property
    def u_end(self) -> int:
        return self.w_end + 3 * self.n_hidden * self.n_hidden

    @property
    def b_end(self) -> int:
        return self.u_end + 3 * self.n_hidden

    @property
    def v_end(self) -> int:
        return self.b_end + self.n_outputs * self.n_hidden

    @property
    def n_weights(self) -> int:
        return self.v_end + self.n_outputs

    def split(self, w):
        """Views (W, U, b, V, c) of the flat vector ``w`` (NumPy arrays)."""
        n_in, H, n_out = self.n_inputs, self.n_hidden, self.n_outputs
        return (w[:self.w_end].reshape(3 * H, n_in), w[self.w_end:self.u_end].reshape(3 * H, H),
                w[self.u_end:self.b_end], w[self.b_end:self.v_end].reshape(n_out, H),
                w[self.v_end:])
