"""Declared parameters of tasks and learners: defaults, types, ranges, and their validation.

A plugin declares its parameters once, as a mapping of names to :class:`Param`. The harness uses
the declaration to fill in defaults, to coerce values typed on the command line, to reject bad
values with a one-line message, and to build the canonical form of a trial spec that its resume
key is hashed from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import ParamError, UnknownNameError

_KINDS = ("int", "float", "bool", "str", "floats", "ints")


@dataclass(frozen=True)
class Param:
    """One declared parameter.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``str``, ``floats`` or ``ints`` (the last two
    are tuples, written ``-1,-2,-3`` on the command line). ``low``/``high`` bound numbers (and
    every element of a tuple) inclusively; ``choices`` restricts strings; ``length`` fixes a
    tuple's length when it is known in advance.
    """

    default: Any
    doc: str
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    length: int | None = None
    nullable: bool = False
    #: the value that reproduces what the plugin did before this parameter existed; a trial
    #: with this value keeps the resume key it had then (see :func:`neutral_names`)
    neutral: Any = None
    has_neutral: bool = False

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"Param kind must be one of {_KINDS}, not {self.kind!r}")

    def describe(self) -> str:
        """A short human description of the accepted values."""
        if self.choices:
            rng = "one of " + "|".join(self.choices)
        elif self.low is not None or self.high is not None:
            lo = "-inf" if self.low is None else f"{self.low:g}"
            hi = "inf" if self.high is None else f"{self.high:g}"
            rng = f"{self.kind} in [{lo}, {hi}]"
        else:
            rng = self.kind
        return rng + (" or none" if self.nullable else "")

    def coerce(self, name: str, value: Any, owner: str = "") -> Any:
        """Return ``value`` converted to this parameter's kind, or raise :class:`ParamError`."""
        where = f" of {owner}" if owner else ""
        # a string naming one of the choices (lstm97's bias "none") is that choice, not None
        spelled_none = (isinstance(value, str) and value.strip().lower() in ("none", "null")
                        and not (self.choices and value.strip() in self.choices))
        if value is None or spelled_none:
            if self.nullable:
                return None
            raise ParamError(f"parameter {name!r}{where} may not be none; expected {self.describe()}")
        try:
            if self.kind in ("floats", "ints"):
                out = self._coerce_tuple(value)
            else:
                out = self._coerce_scalar(self.kind, value)
        except (TypeError, ValueError) as exc:
            raise ParamError(
                f"parameter {name!r}{where} got {value!r}: expected {self.describe()}"
            ) from exc
        self._check_range(name, where, out)
        return out

    def _coerce_tuple(self, value: Any) -> tuple:
        item_kind = "float" if self.kind == "floats" else "int"
        if isinstance(value, str):
            parts = [p for p in value.replace(";", ",").split(",") if p.strip()]
        elif isinstance(value, (list, tuple)):
            parts = list(value)
        else:
            parts = [value]
        out = tuple(self._coerce_scalar(item_kind, p) for p in parts)
        if self.length is not None and len(out) != self.length:
            raise ValueError(f"needs {self.length} values")
        return out

    @staticmethod
    def _coerce_scalar(kind: str, value: Any) -> Any:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
                return False
            if isinstance(value, (int, float)) and value in (0, 1):
                return bool(value)
            raise ValueError("not a boolean")
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError("bool is not an int")
            if isinstance(value, str):
                value = value.strip().replace("_", "")
                f = float(value)
            else:
                f = float(value)
            if not math.isfinite(f) or f != int(f):
                raise ValueError("not an integer")
            return int(f)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError("bool is not a float")
            f = float(value.strip() if isinstance(value, str) else value)
            if not math.isfinite(f):
                raise ValueError("not finite")
            return f
        if not isinstance(value, str):
            raise ValueError("not a string")
        return value.strip()

    def _check_range(self, name: str, where: str, value: Any) -> None:
        if value is None:
            return
        if self.choices is not None and value not in self.choices:
            raise ParamError(
                f"parameter {name!r}{where} got {value!r}: expected one of {', '.join(self.choices)}"
            )
        items = value if isinstance(value, tuple) else (value,)
        for v in items:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                continue
            if (self.low is not None and v < self.low) or (self.high is not None and v > self.high):
                raise ParamError(f"parameter {name!r}{where} got {v!r}: expected {self.describe()}")


@dataclass(frozen=True)
class ParamSet:
    """The declared parameters of one task or learner, in declaration order."""

    params: Mapping[str, Param] = field(default_factory=dict)

    def defaults(self) -> dict[str, Any]:
        return {k: p.default for k, p in self.params.items()}

    def resolve(self, given: Mapping[str, Any], owner: str) -> dict[str, Any]:
        """Defaults overlaid with ``given``, every value validated; unknown names are errors."""
        out = self.defaults()
        for key, value in given.items():
            if key not in self.params:
                raise UnknownNameError("parameter", key, self.params, where=f"for {owner}")
            out[key] = self.params[key].coerce(key, value, owner)
        return out


def resolve_params(declared: Mapping[str, Param], given: Mapping[str, Any], owner: str) -> dict:
    """Validate ``given`` against ``declared`` and fill in defaults (see :meth:`ParamSet.resolve`)."""
    return ParamSet(declared).resolve(given, owner)


def parse_assignments(items: tuple[str, ...] | list[str], what: str = "-p") -> dict[str, str]:
    """Turn ``["a=1", "b=x,y"]`` from the command line into ``{"a": "1", "b": "x,y"}``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParamError(f"{what} expects key=value, got {item!r}")
        out[key.strip()] = value
    return out


def to_jsonable(value: Any) -> Any:
    """Parameter values in the form they are hashed and stored in (tuples become lists)."""
    if isinstance(value, tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return float(value)
    return value


def neutral(default: Any, doc: str, kind: str = "float", **kw: Any) -> Param:
    """A parameter added to an existing plugin whose default keeps the old behaviour: while a
    trial uses that value, the parameter stays out of the trial's resume key, so trials stored
    before it existed are still found. (``Param(..., neutral=v, has_neutral=True)`` for a
    neutral value other than the default.)"""
    return Param(default, doc, kind, neutral=default, has_neutral=True, **kw)


def neutral_names(declared: Mapping[str, Param], values: Mapping[str, Any]) -> frozenset[str]:
    """The parameters in ``values`` that sit at their declared neutral value."""
    return frozenset(k for k, p in declared.items()
                     if p.has_neutral and k in values
                     and to_jsonable(values[k]) == to_jsonable(p.neutral))
