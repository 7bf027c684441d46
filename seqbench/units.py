"""What a task counts: its unit of work in tables, progress lines and figures.

A task of the block protocol counts the training sequences it presents; a continual task
(:mod:`seqbench.continual`) counts training streams, each of which runs until the first wrong
prediction or the training cap.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Units:
    """How a task's results name its unit of work: sequences for the block protocol, training
    streams for a continual task (where a trial's curve point is one training stream)."""

    noun: str = "sequences"  #: the unit, as in "solved after 6,820 sequences"
    count: str = "sequences presented"  #: the x axis of the KM and curve figures
    to_success: str = "sequences to success"  #: the y axis of the success figure
    error: str = "mean training error"  #: the left curve panel (two-panel figure)
    correct: str = "fraction of training sequences correct"  #: the right curve panel
    #: instead of those two panels, a continual task's single one: each training stream's
    #: length, read back from the stored error rate (one mistake over the symbols presented)
    length: str | None = None


BLOCK_UNITS = Units()
CONTINUAL_UNITS = Units(
    noun="training streams",
    count="training streams presented",
    to_success="training streams to success",
    length="symbols predicted right before a training stream's first mistake",
)


def units_for(task: str) -> Units:
    """The units of ``task`` (a task name): :data:`CONTINUAL_UNITS` when the installed task plugin
    follows the continual protocol, else (also when the plugin is not installed) the block
    protocol's."""
    from .continual import is_continual

    try:
        from .plugins import get_registry

        cls = get_registry().tasks.get(task)
    except Exception:
        cls = None
    return CONTINUAL_UNITS if cls is not None and is_continual(cls) else BLOCK_UNITS


__all__ = ["BLOCK_UNITS", "CONTINUAL_UNITS", "Units", "units_for"]
