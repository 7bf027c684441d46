"""One test per hookspec: each hook registers what it should, through a real entry point."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import plugins_json, run_cli

from seqbench import hookspecs

TESTS = Path(__file__).parent
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("seqbench_"))

PLUGIN = """
import click
from fakes import FirstBit, Oracle
from seqbench.contracts import PaperRow, Preset
from seqbench.hookspecs import hookimpl

@hookimpl
def seqbench_register_tasks(register):
    register(FirstBit)

@hookimpl
def seqbench_register_learners(register):
    register(Oracle)

@hookimpl
def seqbench_register_presets(register):
    register(Preset(name="quick", learner="oracle", task="first-bit", task_params={"need": 3},
                    trials=3, budget=50, default=True, experiment="toy",
                    paper=PaperRow(table="none", success_rate=1.0, sequences_to_success=3)))

@hookimpl
def seqbench_register_commands(cli):
    @cli.command()
    def hello():
        "Say hello from a plugin."
        click.echo("hello from a plugin command")
"""

WRONG_SIGNATURE = """
from seqbench.hookspecs import hookimpl

@hookimpl
def seqbench_register_tasks(register, extra_argument):
    pass
"""


@pytest.fixture
def env(plugin_dist):
    e = plugin_dist("hooky", {"hooky": PLUGIN, "wrong": WRONG_SIGNATURE})
    e["PYTHONPATH"] = os.pathsep.join([e["PYTHONPATH"], str(TESTS)])
    return e


def test_every_hookspec_is_covered_here():
    assert HOOKS == ["seqbench_register_commands", "seqbench_register_learners",
                     "seqbench_register_presets", "seqbench_register_tasks"]


def test_seqbench_register_tasks(env):
    tasks = json.loads(run_cli(["list", "tasks", "--json"], env).stdout)
    assert "first-bit" in {t["name"] for t in tasks}
    assert plugins_json(env)["hooky"]["tasks"] == ["first-bit"]


def test_seqbench_register_learners(env):
    learners = json.loads(run_cli(["list", "learners", "--json"], env).stdout)
    assert "oracle" in {x["name"] for x in learners}


def test_seqbench_register_presets(env, tmp_path):
    out = run_cli(["compare", "--task", "first-bit", "--learners", "oracle", "--format", "json",
                   "--db", str(tmp_path / "h.db"), "-q"], env)
    row = json.loads(out.stdout)["rows"][0]
    assert row["preset"] == "quick" and row["trials"] == 3
    assert row["sequences_to_success"]["max"] == 3 and row["paper"]["sequences_to_success"] == 3
    reproduced = run_cli(["reproduce", "toy", "--db", str(tmp_path / "h.db"), "-q",
                          "--format", "json"], env)
    assert json.loads(reproduced.stdout)["rows"][0]["trials"] == 3
    assert "3 trials reused" in reproduced.stderr


def test_seqbench_register_commands(env):
    assert "hello" in run_cli(["--help"], env).stdout
    assert run_cli(["hello"], env).stdout.strip() == "hello from a plugin command"


def test_hook_with_a_wrong_signature_is_reported(env):
    record = plugins_json(env)["wrong"]
    assert record["status"] == "failed" and "extra_argument" in record["error"]
