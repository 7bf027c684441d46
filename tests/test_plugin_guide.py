"""The plugin author's guide (docs/plugins.md) shows code that runs: its complete examples are
the files in docs/examples (checked equal), they work as an installed distribution through the
CLI, and its testing snippet runs."""

from __future__ import annotations

import json
import re
from pathlib import Path

from helpers import make_plugin_dist, run_cli

ROOT = Path(__file__).resolve().parent.parent
GUIDE = (ROOT / "docs" / "plugins.md").read_text()
FILE_BLOCK = re.compile(r"<!-- file: (\S+) -->\n```python\n(.*?)```\n", re.S)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```\n", re.S)


def test_the_guides_complete_examples_are_the_tested_files():
    blocks = FILE_BLOCK.findall(GUIDE)
    assert [path for path, _ in blocks] == ["docs/examples/reservoir.py",
                                           "docs/examples/sum_sign.py"]
    for path, code in blocks:
        assert code == (ROOT / path).read_text(), f"docs/plugins.md's copy of {path} is stale"


def test_the_guides_testing_snippet_runs():
    namespace: dict = {}
    for path, code in FILE_BLOCK.findall(GUIDE):
        exec(compile(code, path, "exec"), namespace)
    snippet = next(b for b in PYTHON_BLOCK.findall(GUIDE) if "check_task(SumSign" in b)
    exec(compile(snippet, "docs/plugins.md", "exec"), namespace)


def test_the_guides_plugins_install_list_and_compare(tmp_path):
    sources = {path: code for path, code in FILE_BLOCK.findall(GUIDE)}
    env = make_plugin_dist(tmp_path / "dist", "seqbench_reservoir", {
        "reservoir": sources["docs/examples/reservoir.py"],
        "sum-sign": sources["docs/examples/sum_sign.py"],
    })
    listed = run_cli(["plugins", "--json"], env)
    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)}
    assert plugins["reservoir"]["learners"] == ["reservoir"]
    assert plugins["sum-sign"]["tasks"] == ["sum-sign"]
    out = run_cli(["compare", "--task", "sum-sign", "--learners", "reservoir,lstm", "--trials",
                   "2", "--budget", "300", "-t", "length=5", "--db", str(tmp_path / "s.db"),
                   "--format", "json", "-q"], env)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["learner"] for r in rows] == ["reservoir", "lstm97"]
    assert all(r["trials"] == 2 and not r["errors"] for r in rows)
