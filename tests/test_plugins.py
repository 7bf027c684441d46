"""The plugin host: entry-point loading, broken plugins, blocking and listing."""

from __future__ import annotations

import json

import pytest
from helpers import plugins_json, run_cli

from seqbench.contracts import Learner
from seqbench.errors import UnknownNameError
from seqbench.hookspecs import hookimpl
from seqbench.plugins import load_registry

BROKEN = "raise RuntimeError('boom at import')\n"

EXTRA_LEARNER = """
from seqbench.contracts import Learner
from seqbench.hookspecs import hookimpl

class Echo(Learner):
    name = "echo"
    summary = "outputs its input"

@hookimpl
def seqbench_register_learners(register):
    register(Echo)
"""


def test_builtins_come_through_entry_points():
    plugins = plugins_json()
    assert plugins["reber"]["source"] == "built-in" and plugins["reber"]["tasks"] == ["reber"]
    assert plugins["lstm97"]["learners"] == ["lstm97"]
    assert plugins["lstm97"]["version"] and plugins["lstm97"]["error"] is None
    assert "seqbench_register_presets" in plugins["lstm97"]["hooks"]


def test_plugin_that_raises_on_import_is_listed_and_the_rest_work(plugin_dist):
    env = plugin_dist("thirdparty", {"broken": BROKEN, "echo": EXTRA_LEARNER})
    plugins = plugins_json(env)
    assert plugins["broken"]["status"] == "failed"
    assert "boom at import" in plugins["broken"]["error"]
    assert plugins["broken"]["source"] == "entry point"
    assert plugins["echo"]["learners"] == ["echo"] and plugins["echo"]["version"] == "1.2.3"
    listed = run_cli(["list", "learners", "--json"], env)
    assert listed.returncode == 0
    assert {"echo", "lstm97"} <= {x["name"] for x in json.loads(listed.stdout)}
    assert "plugin 'broken' failed to load" in listed.stderr  # one warning line
    assert len([l for l in listed.stderr.splitlines() if "broken" in l]) == 1


def test_autoload_switch_and_block_list(plugin_dist):
    env = plugin_dist("thirdparty", {"echo": EXTRA_LEARNER})
    off = plugins_json({**env, "SEQBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert off["echo"]["status"] == "disabled" and off["lstm97"]["status"] == "loaded"
    blocked = plugins_json({**env, "SEQBENCH_BLOCK_PLUGINS": "lstm97"})
    assert blocked["lstm97"]["status"] == "blocked" and blocked["echo"]["status"] == "loaded"
    only = plugins_json({**env, "SEQBENCH_PLUGINS": "reber,echo"})
    assert only["lstm97"]["status"] == "disabled" and only["reber"]["status"] == "loaded"


class _Dup(Learner):
    name = "lstm97"


class DuplicatePlugin:
    @hookimpl
    def seqbench_register_learners(self, register):
        register(_Dup)


def test_duplicate_name_is_refused_and_reported():
    registry = load_registry(extra_plugins=(DuplicatePlugin(),))
    assert registry.learners["lstm97"] is not _Dup
    record = registry.plugins[-1]
    assert "already registered" in record.errors[0]


def test_unknown_names_give_the_valid_choices():
    registry = load_registry()
    with pytest.raises(UnknownNameError) as info:
        registry.learner("lstn")
    msg = str(info.value)
    assert "unknown learner 'lstn'" in msg and "Did you mean 'lstm'" in msg and "lstm97" in msg
    with pytest.raises(UnknownNameError, match="unknown task 'rebr'.*reber"):
        registry.task("rebr")
    assert registry.learner_name("lstm") == "lstm97"


@pytest.mark.parametrize("argv", [["--help"], ["plugins"], ["plugins", "--json"],
                                  ["list", "learners"], ["list", "tasks"], ["list", "presets"]])
def test_listing_does_not_import_numba(argv):
    code = ("import sys; from seqbench.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit: pass\n"
            "print('NUMBA', 'numba' in sys.modules)")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "NUMBA False" in out.stdout


RAISING_HOOK = """
from seqbench.hookspecs import hookimpl

@hookimpl
def seqbench_register_learners(register):
    raise ValueError("hook blew up")
"""

DUPLICATE_LEARNER = """
from seqbench.contracts import Learner
from seqbench.hookspecs import hookimpl

class Impostor(Learner):
    name = "lstm97"

@hookimpl
def seqbench_register_learners(register):
    register(Impostor)
"""


def test_raising_hook_and_duplicate_name_through_entry_points(plugin_dist):
    env = plugin_dist("faulty", {"raiser": RAISING_HOOK, "impostor": DUPLICATE_LEARNER})
    plugins = plugins_json(env)
    assert plugins["raiser"]["status"] == "failed" and "hook blew up" in plugins["raiser"]["error"]
    assert "already registered by plugin 'lstm97'" in plugins["impostor"]["error"]
    assert plugins["lstm97"]["learners"] == ["lstm97"] and plugins["lstm97"]["error"] is None
    listed = run_cli(["list", "learners", "--json"], env)
    lstm = next(x for x in json.loads(listed.stdout) if x["name"] == "lstm97")
    assert lstm["summary"].startswith("1997 LSTM")  # the built-in, not the impostor
    assert len([l for l in listed.stderr.splitlines() if l.startswith("seqbench: plugin")]) == 2
