"""The errors seqbench raises for bad input, each meant to be shown to a user as one line."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SeqbenchError(Exception):
    """A problem the user can fix; the CLI prints its message as a single line, no traceback."""


class UnknownNameError(SeqbenchError, KeyError):
    """A task, learner, preset, parameter or plugin name that does not exist."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str = ""):
        valid = sorted(set(valid))
        self.kind, self.name, self.valid = kind, name, valid
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f" {where}" if where else ""
        choices = ", ".join(valid) if valid else "(none)"
        super().__init__(f"unknown {kind} {name!r}{where}.{hint} Valid: {choices}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class ParamError(SeqbenchError, ValueError):
    """A parameter value of the wrong type or out of its range."""


class StoreError(SeqbenchError):
    """The result store cannot be opened, read or written."""
