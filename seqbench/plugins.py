"""The plugin host: finds plugins through the ``seqbench`` entry-point group and registers them.

Every plugin, built-in or third-party, is loaded the same way. Loading never stops at a broken
plugin: an import error, a hook with a wrong signature, a hook that raises or a name registered
twice is recorded on that plugin (see ``seqbench plugins``) and the others load as usual.

Environment switches (pytest's habits):

``SEQBENCH_DISABLE_PLUGIN_AUTOLOAD=1``
    load only the plugins that ship with seqbench itself, no third-party entry points;
``SEQBENCH_PLUGINS=a,b``
    load only the named plugins (entry-point names);
``SEQBENCH_BLOCK_PLUGINS=a,b``
    never load the named plugins.
"""

from __future__ import annotations

import inspect
import os
import sys
from dataclasses import dataclass, field
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .contracts import Learner, Preset, Task
from .errors import UnknownNameError

ENTRY_POINT_GROUP = "seqbench"
HOST_DISTRIBUTION = "seqbench"
HOOK_KINDS = {
    "seqbench_register_tasks": "tasks",
    "seqbench_register_learners": "learners",
    "seqbench_register_presets": "presets",
}


@dataclass
class PluginRecord:
    """What is known about one plugin after loading: where it came from and what it registered."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    source: str  # "built-in" (ships with seqbench), "entry point" (third party) or "direct"
    hooks: list[str] = field(default_factory=list)
    tasks: list[str] = field(default_factory=list)
    learners: list[str] = field(default_factory=list)
    presets: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: problems that do not stop the plugin from loading (e.g. a parameter default that does
    #: not validate against its own declaration)
    warnings: list[str] = field(default_factory=list)
    status: str = "loaded"  # loaded | failed | blocked | disabled

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "distribution": self.distribution,
            "module": self.module,
            "status": self.status,
            "hooks": self.hooks,
            "tasks": self.tasks,
            "learners": self.learners,
            "presets": self.presets,
            "error": "; ".join(self.errors) or None,
            "warnings": list(self.warnings),
        }

    def problems(self) -> str:
        """Errors and warnings as one string ("" when there are none)."""
        return "; ".join([*self.errors, *self.warnings])


class Registry:
    """All tasks, learners and presets the loaded plugins offer, by name."""

    def __init__(self) -> None:
        self.tasks: dict[str, type[Task]] = {}
        self.learners: dict[str, type[Learner]] = {}
        self.aliases: dict[str, str] = {}
        self.presets: dict[tuple[str, str], Preset] = {}
        self.plugins: list[PluginRecord] = []
        #: problems of the loading as a whole (not of one plugin), e.g. unknown names in
        #: $SEQBENCH_PLUGINS; each is one line
        self.warnings: list[str] = []
        self.owner: dict[tuple[str, str], str] = {}  # (kind, name) -> plugin name
        #: the pluggy manager the plugins were registered with (for hooks called later)
        self.plugin_manager: pluggy.PluginManager | None = None

    # -- lookups -------------------------------------------------------------------------------
    def task(self, name: str) -> type[Task]:
        """The task class called ``name``, or a one-line error listing the valid names."""
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownNameError("task", name, self.tasks) from None

    def learner_name(self, name: str) -> str:
        """The canonical name of learner ``name`` (which may be an alias)."""
        if name in self.learners:
            return name
        if name in self.aliases:
            return self.aliases[name]
        raise UnknownNameError("learner", name, [*self.learners, *self.aliases])

    def learner(self, name: str) -> type[Learner]:
        return self.learners[self.learner_name(name)]

    def presets_for(self, learner: str, task: str | None = None) -> list[Preset]:
        """Presets of ``learner`` (canonical name), optionally only those for ``task``."""
        return [
            p for (ln, _), p in self.presets.items()
            if ln == learner and (task is None or p.task == task)
        ]

    def preset(self, learner: str, name: str, task: str | None = None) -> Preset:
        learner = self.learner_name(learner)
        found = self.presets.get((learner, name))
        if found is None or (task is not None and found.task != task):
            valid = [p.name for p in self.presets_for(learner, task)]
            where = f"for learner {learner!r}" + (f" on task {task!r}" if task else "")
            raise UnknownNameError("preset", name, valid, where=where)
        return found

    def default_preset(self, learner: str, task: str) -> Preset | None:
        """The preset marked default for this learner on this task, if any."""
        for p in self.presets_for(self.learner_name(learner), task):
            if p.default:
                return p
        return None

    # -- registration ----------------------------------------------------------------------------
    def _claim(self, kind: str, name: str, record: PluginRecord) -> bool:
        owner = self.owner.get((kind, name))
        if owner is not None:
            record.errors.append(f"{kind} {name!r} is already registered by plugin {owner!r}")
            return False
        self.owner[(kind, name)] = record.name
        return True

    def _register_task(self, record: PluginRecord, cls: Any) -> None:
        if not (inspect.isclass(cls) and issubclass(cls, Task) and cls.name):
            record.errors.append(f"register_tasks got {cls!r}, not a Task subclass with a name")
            return
        if self._claim("task", cls.name, record):
            self.tasks[cls.name] = cls
            record.tasks.append(cls.name)
            record.warnings.extend(param_default_problems("task", cls))

    def _register_learner(self, record: PluginRecord, cls: Any) -> None:
        if not (inspect.isclass(cls) and issubclass(cls, Learner) and cls.name):
            record.errors.append(f"register_learners got {cls!r}, not a Learner subclass with a name")
            return
        names = (cls.name, *cls.aliases)
        taken = [n for n in names if ("learner", n) in self.owner]
        if taken:
            record.errors.append(
                f"learner name {taken[0]!r} is already registered by plugin "
                f"{self.owner[('learner', taken[0])]!r}"
            )
            return
        for n in names:
            self.owner[("learner", n)] = record.name
        self.learners[cls.name] = cls
        self.aliases.update({a: cls.name for a in cls.aliases})
        record.learners.append(cls.name)
        record.warnings.extend(param_default_problems("learner", cls))

    def _register_preset(self, record: PluginRecord, preset: Any) -> None:
        if not isinstance(preset, Preset):
            record.errors.append(f"register_presets got {preset!r}, not a Preset")
            return
        key = f"{preset.learner}/{preset.name}"
        if self._claim("preset", key, record):
            self.presets[(preset.learner, preset.name)] = preset
            record.presets.append(key)

    def plugin_of(self, kind: str, name: str) -> PluginRecord | None:
        """The record of the plugin that registered ``kind`` ``name`` (e.g. "learner", "lstm97")."""
        owner = self.owner.get((kind, name))
        return next((r for r in self.plugins if r.name == owner), None)

    def version_of(self, kind: str, name: str) -> str:
        """The version of the plugin that provides ``name``; part of every trial's resume key."""
        record = self.plugin_of(kind, name)
        return (record.version if record else None) or "unversioned"

    def check_presets(self) -> None:
        """Drop presets whose learner or task is missing, recording why on their plugin: one
        short message per plugin and kind of missing name, however many presets it drops."""
        by_name = {r.name: r for r in self.plugins}
        dropped: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (plugin, kind) -> presets
        for key, preset in list(self.presets.items()):
            if preset.learner not in self.learners:
                missing = ("learner", preset.learner)
            elif preset.task not in self.tasks:
                missing = ("task", preset.task)
            else:
                continue
            del self.presets[key]
            owner = self.owner.get(("preset", f"{key[0]}/{key[1]}"), "")
            dropped.setdefault((owner, missing[0]), []).append((preset.name, missing[1]))
        for (owner, kind), items in dropped.items():
            record = by_name.get(owner)
            if record is None:
                continue
            if len(items) == 1:
                (preset_name, missing_name), = items
                record.errors.append(
                    f"preset {preset_name!r} names unknown {kind} {missing_name!r}")
                continue
            names = list(dict.fromkeys(n for _, n in items))
            record.errors.append(
                f"{len(items)} presets dropped: they name {kind}s that are not loaded "
                f"({_short_list(names)})")


def _short_list(names: list[str], limit: int = 6) -> str:
    """``a, b, c`` or ``a, b, c, ... (12 in all)``."""
    if len(names) <= limit:
        return ", ".join(names)
    return ", ".join(names[:limit]) + f", ... ({len(names)} in all)"


def param_default_problems(kind: str, cls: type) -> list[str]:
    """One message per declared parameter of ``cls`` whose default does not validate as
    itself: outside its range or choices, or of another type than its kind (``Param(1, ...,
    "float")``: the default ``1`` validates as ``1.0``). Such a plugin still loads."""
    from .params import Param

    declared = getattr(cls, "params", None)
    owner = f"{kind} {getattr(cls, 'name', '?')!r}"
    if not hasattr(declared, "items"):
        return [f"{owner} declares params as {type(declared).__name__}, not a mapping of Param"]
    out = []
    for key, param in declared.items():
        if not isinstance(param, Param):
            out.append(f"{owner}: parameter {key!r} is declared as {type(param).__name__}, "
                       "not a Param")
            continue
        try:
            coerced = param.coerce(key, param.default, getattr(cls, "name", ""))
        except Exception as exc:
            out.append(f"{owner}: default of parameter {key!r} is invalid: {exc}")
            continue
        if coerced != param.default or type(coerced) is not type(param.default):
            out.append(
                f"{owner}: default of parameter {key!r} is {param.default!r} "
                f"({type(param.default).__name__}), which validates as {coerced!r} "
                f"({type(coerced).__name__}); declare it as {coerced!r}")
    return out


def _unknown_names_warning(var: str, given: set[str] | None, known: list[str]) -> str | None:
    """One line naming the names in ``$var`` that are no plugin, and the valid ones."""
    unknown = sorted((given or set()) - set(known))
    if not unknown:
        return None
    return (f"seqbench: ${var} names unknown plugin{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(map(repr, unknown))}; valid: {', '.join(sorted(known)) or '(none)'}")


def _env_list(var: str) -> set[str] | None:
    raw = os.environ.get(var)
    if raw is None or not raw.strip():
        return None
    return {p.strip() for p in raw.split(",") if p.strip()}


def _distribution_name(ep) -> str | None:
    dist = getattr(ep, "dist", None)
    return dist.metadata["Name"] if dist is not None else None


def _load_order(ep) -> tuple[bool, str]:
    """Built-ins first, then third-party plugins by name: on a name clash the built-in keeps its
    name and the newcomer is the one reported, whatever the plugins are called."""
    return ((_distribution_name(ep) or "").lower() != HOST_DISTRIBUTION, ep.name)


def _new_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager("seqbench")
    pm.add_hookspecs(hookspecs)
    return pm


def load_registry(extra_plugins: tuple[ModuleType | object, ...] = ()) -> Registry:
    """Load every plugin reachable through entry points (subject to the env switches).

    ``extra_plugins`` are plugin objects (modules or instances with hook functions) registered
    directly, after the entry points; tests use this to add a fake plugin.
    """
    registry = Registry()
    pm = _new_manager()
    autoload_off = os.environ.get("SEQBENCH_DISABLE_PLUGIN_AUTOLOAD", "").strip() not in ("", "0")
    only = _env_list("SEQBENCH_PLUGINS")
    blocked = _env_list("SEQBENCH_BLOCK_PLUGINS") or set()

    loaded: list[tuple[PluginRecord, object]] = []
    seen: set[str] = set()
    for ep in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=_load_order):
        if ep.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = _distribution_name(ep)
        builtin = (dist_name or "").lower() == HOST_DISTRIBUTION
        record = PluginRecord(
            name=ep.name,
            module=ep.value,
            distribution=dist_name,
            version=dist.version if dist is not None else None,
            source="built-in" if builtin else "entry point",
        )
        registry.plugins.append(record)
        if ep.name in blocked:
            record.status = "blocked"
            continue
        if (only is not None and ep.name not in only) or (autoload_off and not builtin and only is None):
            record.status = "disabled"
            continue
        try:
            plugin = ep.load()
        except BaseException as exc:  # a plugin must not take the CLI down, whatever it raises
            if isinstance(exc, KeyboardInterrupt):
                raise
            record.status = "failed"
            record.errors.append(f"import failed: {type(exc).__name__}: {exc}")
            continue
        loaded.append((record, plugin))

    entry_point_names = [r.name for r in registry.plugins]
    for var, given in (("SEQBENCH_PLUGINS", only), ("SEQBENCH_BLOCK_PLUGINS", blocked)):
        line = _unknown_names_warning(var, given, entry_point_names)
        if line:
            registry.warnings.append(line)

    for obj in extra_plugins:
        name = getattr(obj, "__name__", type(obj).__name__)
        record = PluginRecord(name=name, module=name, distribution=None, version=None, source="direct")
        registry.plugins.append(record)
        loaded.append((record, obj))

    for record, plugin in loaded:
        try:
            pm.register(plugin, name=record.name)
        except Exception as exc:  # pluggy.PluginValidationError for a wrong hook signature
            record.status = "failed"
            record.errors.append(f"invalid plugin: {exc}")
            continue
        _call_hooks(pm, registry, record, plugin)

    registry.check_presets()
    registry.plugin_manager = pm
    return registry


def _call_hooks(pm: pluggy.PluginManager, registry: Registry, record: PluginRecord, plugin) -> None:
    """Call this plugin's registration hooks one by one, so a failure stays with the plugin."""
    adders = {
        "tasks": registry._register_task,
        "learners": registry._register_learner,
        "presets": registry._register_preset,
    }
    for hook_name in sorted(h.name for h in pm.get_hookcallers(plugin) or []):
        record.hooks.append(hook_name)
        kind = HOOK_KINDS.get(hook_name)
        if kind is None:
            continue
        impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if i.plugin is plugin]
        for impl in impls:
            try:
                impl.function(register=lambda obj, _k=kind: adders[_k](record, obj))
            except Exception as exc:
                record.errors.append(f"{hook_name} raised {type(exc).__name__}: {exc}")
    if record.errors and not (record.tasks or record.learners or record.presets):
        record.status = "failed"


_REGISTRY: Registry | None = None


def get_registry() -> Registry:
    """The process-wide registry, loaded on first use."""
    global _REGISTRY
    if _REGISTRY is None:
        _REGISTRY = load_registry()
    return _REGISTRY


def reset_registry(registry: Registry | None = None) -> None:
    """Forget (or replace) the process-wide registry; tests use this."""
    global _REGISTRY
    _REGISTRY = registry


def plugin_warnings(registry: Registry) -> list[str]:
    """One line per plugin that failed to load, had a registration refused or declares a
    parameter default that does not validate; one line per problem of the loading as a whole
    (unknown names in $SEQBENCH_PLUGINS or $SEQBENCH_BLOCK_PLUGINS)."""
    return [*getattr(registry, "warnings", []), *(
        f"seqbench: plugin {r.name!r} {'failed to load' if r.status == 'failed' else 'has problems'}: "
        + r.problems()
        for r in registry.plugins
        if r.errors or r.warnings
    )]


def emit_plugin_warnings(registry: Registry) -> None:
    for line in plugin_warnings(registry):
        print(line, file=sys.stderr)


__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginRecord",
    "Registry",
    "emit_plugin_warnings",
    "get_registry",
    "load_registry",
    "param_default_problems",
    "plugin_warnings",
    "reset_registry",
]
