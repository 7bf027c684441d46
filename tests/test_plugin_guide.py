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
                                           "docs/examples/sum_sign.py",
                                           "docs/examples/ridge_reservoir.py"]
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


def test_the_guides_set_learner_passes_the_kit_and_runs_through_compare(tmp_path):
    """The ridge readout of §9, installed as a distribution: the conformance kit, then
    ``seqbench compare`` beside a stream learner on Reber (its fixed set) and on lag-2a, and the
    one-line refusal on a task judged by its training history."""
    from seqbench.testing import check_learner

    sources = {path: code for path, code in FILE_BLOCK.findall(GUIDE)}
    namespace: dict = {}
    exec(compile(sources["docs/examples/ridge_reservoir.py"], "ridge_reservoir.py", "exec"),
         namespace)
    outcome = check_learner(namespace["RidgeReservoir"])
    skipped = {k for k, v in outcome.items() if v != "passed"}
    assert skipped <= {"check_learner_gradient", "check_learner_causal"}, outcome
    env = make_plugin_dist(tmp_path / "dist", "seqbench_ridge", {
        "ridge-reservoir": sources["docs/examples/ridge_reservoir.py"]})
    db = str(tmp_path / "s.db")
    out = run_cli(["compare", "--task", "lag-2a", "--learners", "ridge-reservoir,lstm", "--trials",
                   "2", "--budget", "200", "-t", "p=4", "--db", db, "--format", "json", "-q",
                   "--jobs", "2"], env)
    assert out.returncode == 0, out.stderr
    rows = {r["learner"]: r for r in json.loads(out.stdout)["rows"]}
    ridge = rows["ridge-reservoir"]
    assert ridge["successes"] == 2 and ridge["sequences_to_success"]["mean"] == 2.0
    assert rows["lstm97"]["trials"] == 2 and not rows["lstm97"]["errors"]
    refused = run_cli(["compare", "--task", "adding", "--learners", "ridge-reservoir",
                       "--db", db], env)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("seqbench: error")]
    assert refused.returncode == 2 and len(errors) == 1 and "training history" in errors[0]
